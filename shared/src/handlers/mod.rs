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
