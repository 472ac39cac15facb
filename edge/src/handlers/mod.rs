//! One function per operation: `(store, Request) -> Result<Response, Problem>`. Each is generic
//! over only the store capabilities it uses, the same ones its IAM policy grants (see
//! [`crate::operations`]). The runner turns a [`Problem`] into its response and logs it, in one
//! place ([`crate::runner::observe`]).

pub mod bank_accounts;
pub mod banks;
pub mod company;
pub mod history;
pub mod write;

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
        _ => Err(Problem::validation(vec![companies::FieldError::new(
            "limit",
            format!("must be a whole number from 1 to {MAX_LIMIT}"),
        )])),
    }
}

use lambda_http::{Body, Request, RequestExt, Response};

use crate::http::idempotency::{actor, caller, Idempotency};
use crate::http::{authenticated, gateway_request_id, Problem};
use companies::{Audit, ChangeKind};
use companies_store::IdempotencyReader;

/// Who makes the change `operation` with `req`: the caller (`anonymous` where the API is
/// open; refused with a 403 behind the authorizer when the token names nobody), API Gateway's
/// request id (the local API's locally) and the Lambda invocation's, which the access log
/// carries too, so an entry and the log lines of its request join either way.
fn audit(req: &Request, operation: ChangeKind) -> Result<Audit, Problem> {
    audit_as(req, operation, authenticated())
}

fn audit_as(req: &Request, operation: ChangeKind, authenticated: bool) -> Result<Audit, Problem> {
    let lambda_request_id = req
        .lambda_context_ref()
        .map(|c| c.request_id.clone())
        .filter(|id| !id.is_empty());
    Ok(Audit {
        operation,
        actor: actor(caller(req), authenticated)?,
        request_id: gateway_request_id(req)
            .or_else(|| lambda_request_id.clone())
            .unwrap_or_default(),
        lambda_request_id,
    })
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

#[cfg(test)]
mod tests {
    use lambda_http::aws_lambda_events::apigw::{
        ApiGatewayRequestAuthorizer, ApiGatewayRequestAuthorizerJwtDescription,
        ApiGatewayV2httpRequestContext,
    };
    use lambda_http::request::RequestContext;
    use lambda_http::Context;

    use super::*;

    /// A request as a function receives it: API Gateway's id, the Lambda's, and the claims.
    fn request(claims: &[(&str, &str)]) -> Request {
        let mut jwt = ApiGatewayRequestAuthorizerJwtDescription::default();
        jwt.claims = claims
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let mut authorizer = ApiGatewayRequestAuthorizer::default();
        authorizer.jwt = Some(jwt);
        let mut ctx = ApiGatewayV2httpRequestContext::default();
        ctx.request_id = Some("apigw-1".into());
        ctx.authorizer = Some(authorizer);
        let mut lambda = Context::default();
        lambda.request_id = "lambda-1".into();
        Request::default()
            .with_request_context(RequestContext::ApiGatewayV2(ctx))
            .with_lambda_context(lambda)
    }

    #[test]
    fn a_change_behind_the_authorizer_needs_a_caller() {
        let nobody = audit_as(&request(&[]), ChangeKind::Create, true);
        assert_eq!(nobody.map(|a| a.actor).unwrap_err().status, 403);
        let empty = audit_as(&request(&[("sub", "")]), ChangeKind::Update, true);
        assert_eq!(empty.map(|a| a.actor).unwrap_err().status, 403);
        let client = audit_as(&request(&[("client_id", "c1")]), ChangeKind::Delete, true);
        assert_eq!(client.map(|a| a.actor).ok().as_deref(), Some("c1"));
        // Where the API is open (the local API, sam local) the change is anonymous.
        let open = audit_as(&request(&[]), ChangeKind::Create, false);
        assert_eq!(open.map(|a| a.actor).ok().as_deref(), Some("anonymous"));
    }

    #[test]
    fn a_change_carries_both_request_ids() {
        let audit = audit_as(&request(&[("sub", "u1")]), ChangeKind::Create, true).unwrap();
        assert_eq!(audit.request_id, "apigw-1");
        assert_eq!(audit.lambda_request_id.as_deref(), Some("lambda-1"));
        // Without API Gateway (a direct invocation), the Lambda's id stands for both.
        let direct = Request::default().with_lambda_context(Context::default());
        let audit = audit_as(&direct, ChangeKind::Create, false).unwrap();
        assert_eq!(audit.lambda_request_id, None);
    }
}
