//! Structured logs: one line per event, JSON by default (`AWS_LAMBDA_LOG_FORMAT` = `Text`
//! switches to text), level from `AWS_LAMBDA_LOG_LEVEL`; every line of a request carries its
//! request id (the runner's span), and bank account numbers and CNPJs are masked
//! (`model::mask`) before they are logged. Depends on nothing else in the crate.

use std::future::Future;

use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

tokio::task_local! {
    /// The function serving the request this task works for (set by [`serving`]).
    static FUNCTION: &'static str;
}

/// Runs `work` as serving a request of `function` (what [`current_function`] tells).
pub fn serving<F: Future>(function: &'static str, work: F) -> impl Future<Output = F::Output> {
    FUNCTION.scope(function, work)
}

/// The function serving the current request, if this task serves one.
pub fn current_function() -> Option<&'static str> {
    FUNCTION.try_with(|f| *f).ok()
}

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

/// An error and its causes, each by its message: never a `Debug` dump, which for an SDK error
/// would carry the raw HTTP answer (item data) into the logs.
pub fn causes(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(e) = cause {
        text.push_str(": ");
        text.push_str(&e.to_string());
        cause = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
