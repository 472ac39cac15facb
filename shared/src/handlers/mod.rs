//! One function per operation: `(store, Request) -> Result<Response, Problem>`. Each is generic
//! over only the store capabilities it uses, the same ones its IAM policy grants (see
//! [`crate::operations`]). The runner turns a [`Problem`] into its response and logs it, in one
//! place ([`crate::telemetry::observe`]).

mod bank_accounts;
mod banks;
mod companies;
pub mod write;

pub use bank_accounts::{add_bank_account, delete_bank_account, update_bank_account};
pub use banks::get_banks;
pub use companies::{
    create_company, delete_company, get_company, list_companies, update_company, DEFAULT_LIMIT,
    MAX_LIMIT,
};

use lambda_http::{Body, Response};

use crate::http::idempotency::Idempotency;
use crate::http::Problem;
use crate::store::IdempotencyReader;

/// What every handler returns.
pub type Handled = Result<Response<Body>, Problem>;

/// Media types of whole documents and of merge patches.
const JSON: &[&str] = &["application/json"];
const MERGE_PATCH: &[&str] = &["application/merge-patch+json", "application/json"];

/// The answer to give when a write made with an `Idempotency-Key` failed: the answer of its
/// twin (a request with the same key that got there first, whose write caused this failure),
/// the documented 409 while that twin is still in flight, or `failure` itself.
async fn twin_answer<S: IdempotencyReader>(
    store: &S,
    idempotency: Option<&Idempotency>,
    failure: Problem,
    key_taken: bool,
) -> Handled {
    if idempotency.is_none() {
        return Err(failure);
    }
    match replay_if_used(store, idempotency).await? {
        Some(replayed) => Ok(replayed),
        None if key_taken => Err(Problem::idempotency_in_flight()),
        None => Err(failure),
    }
}

/// Replays the stored answer for a key already used, if there is one.
async fn replay_if_used<S: IdempotencyReader>(
    store: &S,
    idempotency: Option<&Idempotency>,
) -> Result<Option<Response<Body>>, Problem> {
    let Some(idem) = idempotency else {
        return Ok(None);
    };
    match store.idempotency_record(idem.key()).await? {
        Some(record) => idem.replay(&record).map(Some),
        None => Ok(None),
    }
}
