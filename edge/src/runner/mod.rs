//! The runners of the handlers: the Lambda runtime ([`lambda`]) and, in `tools/local-api`, the
//! local HTTP server. Both answer every request through [`observe`], the one place that turns
//! a handler's [`Problem`] into its response and logs its internal cause, adds the headers
//! every answer carries, writes the access-log line and records the request's metrics; and both
//! bound a request by one deadline ([`within`]).

pub mod lambda;

use std::future::Future;
use std::time::{Duration, Instant};

use lambda_http::{Body, Response};
use tracing::Instrument;

use crate::http::{with_security_headers, IntoResponse, Problem};
use companies::telemetry::{self, TraceHeader};
use companies_store::StoreError;

/// Metric names and the namespace they are published under.
pub const METRICS_NAMESPACE: &str = "CompaniesApi";
pub const METRIC_REQUESTS: &str = "requests";
pub const METRIC_ERRORS: &str = "errors";
pub const METRIC_LATENCY: &str = "latency";
/// An instance's first request (counted apart: by function and stage only).
pub const METRIC_COLD_STARTS: &str = "cold_starts";

/// Kept free before the Lambda's deadline: time to answer and log after the handler stops.
pub const ANSWER_MARGIN: Duration = Duration::from_millis(1500);
/// The budget of a request on the local API (no Lambda deadline there).
pub const LOCAL_BUDGET: Duration = Duration::from_secs(8);

/// Runs a request's handler until `deadline`: past it, the handler (every store call and retry
/// inside it) is dropped and the answer is 503 + `Retry-After`, which the function gives itself
/// before its timeout cuts it off (API Gateway would turn that into a bare 500). A write cut
/// off this way may still land; the client's retry with the same `Idempotency-Key` (or a fresh
/// `GET`) finds out.
pub async fn within<T>(
    deadline: tokio::time::Instant,
    handler: impl Future<Output = Result<T, Problem>>,
) -> Result<T, Problem> {
    tokio::time::timeout_at(deadline, handler)
        .await
        .unwrap_or_else(|_| {
            Err(StoreError::Unavailable("the request's time budget ran out".into()).into())
        })
}

/// The deadline of a Lambda invocation whose own deadline is `deadline_ms` (milliseconds since
/// the Unix epoch, as the runtime gives it), less [`ANSWER_MARGIN`].
pub fn lambda_deadline(deadline_ms: u64) -> tokio::time::Instant {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    let left = Duration::from_millis(deadline_ms.saturating_sub(now_ms));
    tokio::time::Instant::now() + left.saturating_sub(ANSWER_MARGIN)
}

/// `2xx`, `4xx`, `5xx`, …
pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// What a request is, for its log line.
pub struct RequestInfo<'a> {
    pub function: &'static str,
    /// The Lambda invocation's id (the local API's own id locally).
    pub request_id: &'a str,
    /// API Gateway's id of the request, which its access log and the history entry carry.
    pub apigw_request_id: Option<&'a str>,
    /// The route key, e.g. `PATCH /companies/{id}`.
    pub route: &'a str,
    pub path: &'a str,
    /// The invocation's X-Ray trace (from the runtime's context), if it has one.
    pub trace: Option<TraceHeader>,
}

/// Runs a request's handler inside a span carrying the request id and the X-Ray trace id (so
/// every line it logs has them), as serving its function in its trace (which the store's
/// DynamoDB calls are reported under when it is sampled), turns a problem it returned into its response (logging the problem's internal cause)
/// with the headers every answer carries ([`with_security_headers`]), then writes the
/// request's one access-log line and records its metrics.
pub async fn observe<F, R>(info: RequestInfo<'_>, handler: F) -> Response<Body>
where
    F: Future<Output = R>,
    R: IntoResponse,
{
    let span = tracing::info_span!(
        "request",
        request_id = info.request_id,
        function = info.function,
        trace_id = info.trace.as_ref().map(|t| t.root.as_str()),
    );
    let started = Instant::now();
    let work = handler.instrument(span.clone());
    let (response, cause) = telemetry::serving(info.function, info.trace.clone(), work)
        .await
        .into_parts();
    let response = with_security_headers(response);
    let latency = started.elapsed();
    let status = response.status().as_u16();
    if let Some(cause) = cause {
        span.in_scope(|| match status {
            503 => tracing::warn!(error = %cause, status, "request failed"),
            _ => tracing::error!(error = %cause, status, "request failed"),
        });
    }
    let latency_ms = (latency.as_secs_f64() * 1e6).round() / 1e3;
    span.in_scope(|| {
        tracing::info!(
            route = info.route,
            path = info.path,
            status,
            latency_ms,
            apigw_request_id = info.apigw_request_id,
            "request"
        )
    });
    let class = status_class(status);
    metrics::counter!(METRIC_REQUESTS, "status_class" => class).increment(1);
    if status >= 400 {
        metrics::counter!(METRIC_ERRORS, "status_class" => class).increment(1);
    }
    metrics::histogram!(METRIC_LATENCY, "status_class" => class)
        .record(latency.as_secs_f64() * 1e3);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_classes() {
        assert_eq!(
            [200, 201, 204, 304, 400, 412, 500, 503].map(status_class),
            ["2xx", "2xx", "2xx", "3xx", "4xx", "4xx", "5xx", "5xx"]
        );
    }

    #[tokio::test]
    async fn a_handler_past_its_deadline_answers_unavailable() {
        let now = tokio::time::Instant::now();
        let stuck = std::future::pending::<Result<(), Problem>>();
        let slow = within(now + Duration::from_millis(20), stuck);
        let problem = slow.await.expect_err("cut off");
        assert_eq!(problem.status, 503);
        let quick = within(now + Duration::from_secs(5), async { Ok::<_, Problem>(7) });
        assert_eq!(quick.await.ok(), Some(7));
        // A Lambda deadline already (nearly) reached leaves no budget.
        assert!(lambda_deadline(0) <= tokio::time::Instant::now());
    }
}
