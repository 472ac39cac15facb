//! Structured logs: JSON, one line per event, with the request id; sensitive values masked.

use std::future::Future;
use std::time::Instant;

use lambda_http::{Body, Response};
use tracing::Instrument;
use tracing_subscriber::EnvFilter;

/// Installs the JSON log subscriber. The level comes from `AWS_LAMBDA_LOG_LEVEL` (set by Lambda's
/// advanced logging controls), else `RUST_LOG`, else `info`.
pub fn init() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .ok()
        .map(|l| match l.to_ascii_lowercase().as_str() {
            "fatal" => "error".to_owned(),
            other => other.to_owned(),
        })
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| "info".to_owned());
    let filter = EnvFilter::try_new(&level).unwrap_or_else(|_| EnvFilter::new("info"));
    // A second call (tests) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init();
}

/// Hides all but the last four characters: `60746948000112` → `**********0112`.
pub fn mask(value: &str) -> String {
    let count = value.chars().count();
    value
        .chars()
        .enumerate()
        .map(|(i, c)| if i + 4 < count { '*' } else { c })
        .collect()
}

/// Runs a request's handler inside a span carrying the request id (so every line it logs has
/// it), then writes the one access-log line of the request.
pub async fn observe<F>(
    function: &str,
    request_id: &str,
    method: &str,
    path: &str,
    handler: F,
) -> Response<Body>
where
    F: Future<Output = Response<Body>>,
{
    let span = tracing::info_span!("request", request_id, function);
    let started = Instant::now();
    let response = handler.instrument(span.clone()).await;
    let latency_ms = (started.elapsed().as_secs_f64() * 1e6).round() / 1e3;
    span.in_scope(|| {
        tracing::info!(
            method,
            path,
            status = response.status().as_u16(),
            latency_ms,
            "request"
        )
    });
    response
}

#[cfg(test)]
mod tests {
    #[test]
    fn mask_keeps_only_the_last_four() {
        assert_eq!(super::mask("12345678"), "****5678");
        assert_eq!(super::mask("1234"), "1234");
        assert_eq!(super::mask("12"), "12");
        assert_eq!(super::mask(""), "");
    }
}
