//! Structured logs and metrics. Logs: one line per event, JSON by default (`AWS_LAMBDA_LOG_FORMAT`
//! = `Text` switches to text), level from `AWS_LAMBDA_LOG_LEVEL`, every line of a request
//! carrying its request id; bank account numbers and CNPJs are masked before they are logged.
//! Metrics: per request, CloudWatch embedded metric format through the `metrics` facade
//! (a no-op until [`crate::lambda`] installs the EMF collector).

use std::future::Future;
use std::time::Instant;

use lambda_http::{Body, Response};

use crate::http::IntoResponse;
use tracing::Instrument;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

tokio::task_local! {
    /// The function serving the request this task works for (set by [`observe`]).
    static FUNCTION: &'static str;
}

/// The function serving the current request, if this task serves one.
pub fn current_function() -> Option<&'static str> {
    FUNCTION.try_with(|f| *f).ok()
}

/// Metric names and the namespace they are published under.
pub const METRICS_NAMESPACE: &str = "CompaniesApi";
pub const METRIC_REQUESTS: &str = "requests";
pub const METRIC_ERRORS: &str = "errors";
pub const METRIC_LATENCY: &str = "latency";

/// Installs the log subscriber, writing to stdout.
pub fn init() {
    init_with(std::io::stdout);
}

/// Installs the log subscriber with another writer (tests capture logs this way). A second call
/// keeps the first subscriber.
pub fn init_with<W>(writer: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .ok()
        .map(|l| match l.to_ascii_lowercase().as_str() {
            "fatal" => "error".to_owned(),
            other => other.to_owned(),
        })
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| "info".to_owned());
    // Per-target levels without regular expressions (`Targets`, not `EnvFilter`): a smaller
    // binary and less work at start-up. `RUST_LOG` takes `level` and `target=level` directives.
    let filter: Targets = filter_directives(&level)
        .parse()
        .or_else(|_| filter_directives("info").parse())
        .unwrap_or_default();
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_target(false)
        .with_ansi(false);
    let text = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("text"));
    let _ = if text {
        tracing_subscriber::registry()
            .with(layer.with_filter(filter))
            .try_init()
    } else {
        let json = layer
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false);
        tracing_subscriber::registry()
            .with(json.with_filter(filter))
            .try_init()
    };
}

/// Libraries that can log request and response bodies (CNPJs, account numbers) at debug and
/// trace: they log warnings and errors only, whatever the stage's level.
pub const QUIET_TARGETS: &[&str] = &[
    "aws_config",
    "aws_sdk_dynamodb",
    "aws_sdk_sso",
    "aws_sdk_ssooidc",
    "aws_sdk_sts",
    "aws_sigv4",
    "aws_smithy_runtime",
    "aws_smithy_runtime_api",
    "aws_smithy_types",
    "h2",
    "hyper",
    "hyper_rustls",
    "hyper_util",
    "lambda_http",
    "lambda_runtime",
    "lambda_runtime_api_client",
    "reqwest",
    "rustls",
    "tower",
];

/// The filter for the stage's `level`: the level (or `RUST_LOG` directives) for the
/// application, warnings at most for [`QUIET_TARGETS`], whatever the directives say of them.
pub fn filter_directives(level: &str) -> String {
    let quiet = |d: &&str| {
        let target = d.split(['=', '[']).next().unwrap_or("");
        QUIET_TARGETS
            .iter()
            .any(|q| target == *q || target.starts_with(&format!("{q}::")))
    };
    let mut directives: Vec<String> = level
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty() && !quiet(d))
        .map(str::to_owned)
        .collect();
    directives.extend(QUIET_TARGETS.iter().map(|t| format!("{t}=warn")));
    directives.join(",")
}

/// Hides all but the last four characters, and at least half of them:
/// `60746948000112` → `**********0112`, `1243` → `**43`.
pub fn mask(value: &str) -> String {
    let count = value.chars().count();
    let shown = 4.min(count / 2);
    value
        .chars()
        .enumerate()
        .map(|(i, c)| if i + shown < count { '*' } else { c })
        .collect()
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
    pub request_id: &'a str,
    /// The route key, e.g. `PATCH /companies/{id}`.
    pub route: &'a str,
    pub path: &'a str,
}

/// Runs a request's handler inside a span carrying the request id (so every line it logs has
/// it), turns a problem it returned into its response (logging the problem's internal cause,
/// the one place that does) with the headers every answer carries
/// ([`crate::http::with_security_headers`]), then writes the request's one access-log line and
/// records its metrics.
pub async fn observe<F, R>(info: RequestInfo<'_>, handler: F) -> Response<Body>
where
    F: Future<Output = R>,
    R: IntoResponse,
{
    let span = tracing::info_span!(
        "request",
        request_id = info.request_id,
        function = info.function
    );
    let started = Instant::now();
    let (response, cause) = FUNCTION
        .scope(info.function, handler.instrument(span.clone()))
        .await
        .into_parts();
    let response = crate::http::with_security_headers(response);
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
    fn mask_keeps_at_most_the_last_four_and_never_more_than_half() {
        assert_eq!(mask("60746948000112"), "**********0112");
        assert_eq!(mask("12345678"), "****5678");
        assert_eq!(mask("98765432-1"), "******32-1");
        assert_eq!(mask("1243"), "**43");
        assert_eq!(mask("12"), "*2");
        assert_eq!(mask("1"), "*");
        assert_eq!(mask(""), "");
    }

    #[test]
    fn libraries_that_log_bodies_stay_at_warn_at_every_level() {
        let f = filter_directives("trace");
        assert!(f.starts_with("trace,"));
        assert!(f.contains("aws_smithy_runtime=warn") && f.contains("hyper=warn"));
        let f =
            filter_directives("debug,aws_smithy_runtime=trace,hyper::proto=trace,companies=trace");
        assert!(!f.contains("aws_smithy_runtime=trace"));
        assert!(!f.contains("hyper::proto=trace"));
        assert!(f.contains("companies=trace"));
    }

    #[test]
    fn status_classes() {
        assert_eq!(
            [200, 201, 204, 304, 400, 412, 500, 503].map(status_class),
            ["2xx", "2xx", "2xx", "3xx", "4xx", "4xx", "5xx", "5xx"]
        );
    }
}
