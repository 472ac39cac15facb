//! One function per operation: `(store, Request) -> Response`. Each is generic over only the
//! store capabilities it uses, the same ones its IAM policy grants in `template.yaml`.

mod companies;

pub use companies::{create_company, delete_company, get_company, list_companies, update_company};

use lambda_http::{Body, Response};

use crate::http::Problem;
use crate::store::StoreError;

/// Bounded retries of a read-modify-write that lost a race, when the client pinned no version.
pub const MAX_WRITE_ATTEMPTS: usize = 5;

/// Maps a store failure that the handler did not expect to the client's answer. Internal
/// details are logged here and never sent.
fn store_problem(err: StoreError) -> Problem {
    match err {
        StoreError::NotFound => Problem::not_found("No company with that id."),
        StoreError::VersionConflict => Problem::precondition_failed(),
        StoreError::AlreadyExists => {
            tracing::error!("generated id collided with an existing company");
            Problem::internal()
        }
        StoreError::Unavailable(detail) => {
            tracing::warn!(error = %detail, "store unavailable");
            Problem::unavailable()
        }
        StoreError::Internal(detail) => {
            tracing::error!(error = %detail, "store failure");
            Problem::internal()
        }
    }
}

impl From<StoreError> for Problem {
    fn from(err: StoreError) -> Self {
        store_problem(err)
    }
}

fn respond(result: Result<Response<Body>, Problem>) -> Response<Body> {
    result.unwrap_or_else(Problem::into_response)
}
