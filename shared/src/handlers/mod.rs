//! One function per operation: `(store, Request) -> Response`. Each is generic over only the
//! store capabilities it uses, the same ones its IAM policy grants in `template.yaml`.

mod bank_accounts;
mod banks;
mod companies;

pub use bank_accounts::{add_bank_account, delete_bank_account, update_bank_account};
pub use banks::get_banks;
pub use companies::{create_company, delete_company, get_company, list_companies, update_company};

use lambda_http::{Body, Response};
use uuid::Uuid;

use crate::http::request::IfMatch;
use crate::http::Problem;
use crate::model::Company;
use crate::store::{CompanyReader, CompanyUpdater, IdempotencyRecord, StoreError};

/// Bounded retries of a read-modify-write that lost a race, when the client pinned no version.
/// A writer only loses to another writer's success, so up to this many concurrent writers of one
/// company all land.
pub const MAX_WRITE_ATTEMPTS: usize = 10;

impl From<StoreError> for Problem {
    /// Maps a store failure the handler did not handle itself. Internal details are logged
    /// here and never sent.
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => company_not_found(),
            StoreError::TaxIdTaken(holder) => Problem::tax_id_taken(holder),
            StoreError::IdempotencyKeyTaken => Problem::idempotency_in_flight(),
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
}

fn company_not_found() -> Problem {
    Problem::not_found("No company with that id.")
}

fn respond(result: Result<Response<Body>, Problem>) -> Response<Body> {
    result.unwrap_or_else(Problem::into_response)
}

/// Reads company `id`, applies `change`, checks `If-Match` and writes the result (with the
/// idempotency record `record` makes of it, if any) on condition that the version is still the
/// one read. When another writer got in between, a client that pinned a version gets 412;
/// otherwise the change is re-applied to the fresh state, a bounded number of times. Nothing is
/// written unless the whole change succeeds.
async fn modify_company<S, T, F, R>(
    store: &S,
    id: Uuid,
    if_match: Option<&IfMatch>,
    mut change: F,
    record: R,
) -> Result<(Company, T), Problem>
where
    S: CompanyReader + CompanyUpdater,
    F: FnMut(&Company) -> Result<(Company, T), Problem>,
    R: Fn(&Company, &T) -> Option<IdempotencyRecord>,
{
    for _ in 0..MAX_WRITE_ATTEMPTS {
        let current = store.get(id).await?.ok_or_else(company_not_found)?;
        // An invalid change is a 400 whatever the version; only a valid one meets If-Match.
        let (next, extra) = change(&current)?;
        if if_match.is_some_and(|m| !m.matches(current.version)) {
            return Err(Problem::precondition_failed());
        }
        let idempotency = record(&next, &extra);
        match store.replace(&current, &next, idempotency.as_ref()).await {
            Ok(()) => {
                tracing::info!(company_id = %id, version = next.version, "company updated");
                return Ok((next, extra));
            }
            Err(StoreError::VersionConflict) if if_match.is_some_and(IfMatch::is_pinned) => {
                return Err(Problem::precondition_failed())
            }
            Err(StoreError::VersionConflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Problem::edit_conflict())
}
