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

/// The X-Ray trace of an invocation, as Lambda hands it to the runtime
/// (`Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1`): the trace id,
/// the id of the function's segment (the parent of what the function sends) and whether the
/// invocation is sampled (only then is anything sent to the daemon).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceHeader {
    /// `1-<8 hex: epoch seconds>-<24 hex>`.
    pub root: String,
    /// 16 hex digits.
    pub parent: Option<String>,
    pub sampled: bool,
}

impl TraceHeader {
    /// Reads a trace header; `None` without a well-formed `Root`. Fields it does not know
    /// (`Lineage`, …) are ignored; a malformed `Parent` is dropped.
    pub fn parse(header: &str) -> Option<TraceHeader> {
        let (mut root, mut parent, mut sampled) = (None, None, false);
        for field in header.split(';') {
            match field.trim().split_once('=') {
                Some(("Root", v)) if is_trace_id(v) => root = Some(v.to_owned()),
                Some(("Parent", v)) if is_hex(v, 16) => parent = Some(v.to_owned()),
                Some(("Sampled", v)) => sampled = v == "1",
                _ => {}
            }
        }
        Some(TraceHeader {
            root: root?,
            parent,
            sampled,
        })
    }
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `1-<8 hex>-<24 hex>`, as X-Ray requires of a trace id.
fn is_trace_id(s: &str) -> bool {
    let mut parts = s.split('-');
    matches!(
        (parts.next(), parts.next(), parts.next(), parts.next()),
        (Some("1"), Some(time), Some(id), None) if is_hex(time, 8) && is_hex(id, 24)
    )
}

/// What the current task serves: its function and the invocation's trace, if any.
#[derive(Clone)]
struct Serving {
    function: &'static str,
    trace: Option<TraceHeader>,
}

tokio::task_local! {
    /// Set by [`serving`] for the task of a request.
    static SERVING: Serving;
}

/// Runs `work` as serving a request of `function` in the invocation traced by `trace` (what
/// [`current_function`] and [`current_trace`] tell).
pub fn serving<F: Future>(
    function: &'static str,
    trace: Option<TraceHeader>,
    work: F,
) -> impl Future<Output = F::Output> {
    SERVING.scope(Serving { function, trace }, work)
}

/// The function serving the current request, if this task serves one.
pub fn current_function() -> Option<&'static str> {
    SERVING.try_with(|s| s.function).ok()
}

/// The trace of the invocation the current task serves, when it is sampled and names the
/// function's segment (a subsegment sent on its own needs its parent): what the store reports
/// its DynamoDB calls under.
pub fn current_trace() -> Option<TraceHeader> {
    SERVING
        .try_with(|s| s.trace.clone().filter(|t| t.sampled && t.parent.is_some()))
        .ok()
        .flatten()
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
    fn trace_headers_as_lambda_gives_them() {
        let t = TraceHeader::parse(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a:1",
        )
        .unwrap();
        assert_eq!(t.root, "1-5759e988-bd862e3fe1be46a994272793");
        assert_eq!(t.parent.as_deref(), Some("53995c3f42cd8ad8"));
        assert!(t.sampled);
        let unsampled = TraceHeader::parse("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0");
        assert_eq!(
            unsampled.map(|t| (t.sampled, t.parent)),
            Some((false, None))
        );
        for bad in [
            "",
            "Parent=53995c3f42cd8ad8;Sampled=1",
            "Root=5759e988-bd862e3fe1be46a994272793;Sampled=1",
            "Root=1-5759e988-bd862e3fe1be46a99427279;Sampled=1",
            "Root=1-5759e988-bd862e3fe1be46a994272793-00;Sampled=1",
        ] {
            assert_eq!(TraceHeader::parse(bad), None, "{bad}");
        }
        let odd_parent = TraceHeader::parse("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=x\"}");
        assert_eq!(odd_parent.and_then(|t| t.parent), None);
    }

    #[tokio::test]
    async fn only_a_sampled_trace_is_current() {
        let sampled = TraceHeader::parse(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        );
        let seen = serving("get-company", sampled.clone(), async { current_trace() }).await;
        assert_eq!(seen, sampled);
        let orphan = TraceHeader::parse("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1");
        assert_eq!(
            serving("get-company", orphan, async { current_trace() }).await,
            None
        );
        let unsampled = TraceHeader::parse("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0");
        assert_eq!(
            serving("get-company", unsampled, async { current_trace() }).await,
            None
        );
        assert_eq!(current_trace(), None);
        assert_eq!(
            serving("get-banks", None, async { current_function() }).await,
            Some("get-banks")
        );
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
}
