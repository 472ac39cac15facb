//! One function per operation: `(store, Request) -> Result<Response, Problem>`. Each is generic
//! over only the store capabilities it uses, the same ones its IAM policy grants (see
//! [`crate::operations`]). The runner turns a [`Problem`] into its response and logs it, in one
//! place ([`crate::telemetry::observe`]).

mod bank_accounts;
mod banks;
mod companies;
mod history;
pub mod write;

pub use bank_accounts::{add_bank_account, delete_bank_account, update_bank_account};
pub use banks::get_banks;
pub use companies::{create_company, delete_company, get_company, list_companies, update_company};
pub use history::get_company_history;

/// Page size bounds of listings (companies, history).
pub const DEFAULT_LIMIT: usize = 20;
pub const MAX_LIMIT: usize = 100;

/// The `limit` query parameter: 1 to [`MAX_LIMIT`], [`DEFAULT_LIMIT`] when absent.
fn page_limit(text: Option<&String>) -> Result<usize, Problem> {
    let Some(text) = text else {
        return Ok(DEFAULT_LIMIT);
    };
    match text.parse::<usize>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) && text.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
        _ => Err(Problem::validation(vec![crate::model::FieldError::new(
            "limit",
            format!("must be a whole number from 1 to {MAX_LIMIT}"),
        )])),
    }
}

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};

use crate::http::idempotency::{caller, Idempotency};
use crate::http::Problem;
use crate::model::{Audit, ChangeKind};
use crate::store::IdempotencyReader;

/// Who makes the change `operation` with `req`: the caller (`anonymous` where the API is
/// open, as locally) and the request id (API Gateway's, or the Lambda's, or the local API's).
fn audit(req: &Request, operation: ChangeKind) -> Audit {
    let request_id = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.request_id.clone(),
        _ => None,
    }
    .or_else(|| req.lambda_context_ref().map(|c| c.request_id.clone()))
    .unwrap_or_default();
    Audit {
        operation,
        actor: caller(req).unwrap_or_else(|| "anonymous".to_owned()),
        request_id,
    }
}

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
