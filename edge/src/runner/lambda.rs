//! The Lambda runner: what every `functions/src/bin/<operation>.rs` hands its handler to. It
//! installs logging, builds the DynamoDB store once per instance, refuses to start an
//! operation the registry does not know (or one that signs cursors without its key), and
//! serves each invocation through [`super::observe`] within the invocation's deadline, with
//! one embedded-metrics document per request.

use std::future::Future;
use std::time::Instant;

use lambda_http::request::RequestContext;
use lambda_http::{service_fn, Request, RequestExt};
use metrics_cloudwatch_embedded::{Builder, Collector};

pub use lambda_http::Error;

use super::{lambda_deadline, observe, within, RequestInfo, METRICS_NAMESPACE, METRIC_COLD_STARTS};
use crate::http::{cursor, IntoResponse, Problem};
use crate::operations::{self, Operation};
use companies::telemetry::{self, TraceHeader};
use companies_store::DynamoStore;

/// When `COMPANIES_INIT_PHASES` is set (the benchmark harness sets it for its breakdown of
/// start-up), writes how long the phase `name` took as one JSON line on stderr.
fn phase(name: &str, value: u128) {
    static ON: std::sync::LazyLock<bool> =
        std::sync::LazyLock::new(|| std::env::var_os("COMPANIES_INIT_PHASES").is_some());
    if *ON {
        eprintln!(r#"{{"init_phase":"{name}","us":{value}}}"#);
    }
}

/// The `main` of a function that reads or writes the table: `function` (the binary's name,
/// an operation of the registry) served by `handler` with the store built from the Lambda
/// environment (see [`DynamoStore::from_env`]). Returns only when it cannot start: the error
/// is the function's init error, as Lambda reports it.
pub fn start<F, Fut>(function: &'static str, handler: F) -> Result<(), Error>
where
    F: Fn(&'static DynamoStore, Request) -> Fut,
    Fut: Future<Output = Result<lambda_http::Response<lambda_http::Body>, Problem>> + Send,
{
    runtime(function)?.block_on(async {
        let store: &'static DynamoStore = Box::leak(Box::new(init(function).await?));
        run(function, |req: Request| {
            let deadline = lambda_deadline(req.lambda_context_ref().map_or(0, |c| c.deadline));
            within(deadline, handler(store, req))
        })
        .await
    })
}

/// The `main` of a function with no table access (its registry entry grants nothing).
pub fn start_without_store<F, Fut>(function: &'static str, handler: F) -> Result<(), Error>
where
    F: Fn(Request) -> Fut,
    Fut: Future + Send,
    Fut::Output: IntoResponse,
{
    runtime(function)?.block_on(async {
        telemetry::init();
        checked(function).map_err(|e| refused(function, e))?;
        run(function, handler).await
    })
}

/// One thread: a function serves one request at a time. Without it `function` cannot start,
/// and says so as every refused start does (logging installed first, for that line).
fn runtime(function: &str) -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            telemetry::init();
            refused(function, e.into())
        })
}

/// The registry's entry for `function`, once its start-up conditions hold: no development
/// switch outside the local stage, and a function that signs cursors needs its key (deployed,
/// never the development key).
fn checked(function: &str) -> Result<&'static Operation, Error> {
    development_switches(
        std::env::var("STAGE").ok().as_deref(),
        std::env::var_os("AWS_SAM_LOCAL").is_some(),
    )?;
    let operation = operations::by_name(function)
        .ok_or_else(|| format!("{function} is not an operation of the registry"))?;
    if operation.signs_cursors {
        cursor::require_key()?;
    }
    Ok(operation)
}

/// Refuses `AWS_SAM_LOCAL` (what `sam local` sets; with it, writes need no caller) unless the
/// stage is `local`: a deployed stage's function started with it would take anonymous writes,
/// so it fails closed, with the init error Lambda shows, whatever the variable's value.
fn development_switches(stage: Option<&str>, sam_local: bool) -> Result<(), String> {
    match stage {
        _ if !sam_local => Ok(()),
        Some("local") => Ok(()),
        other => Err(format!(
            "AWS_SAM_LOCAL is set but STAGE is {}: the development switch is refused outside the local stage",
            other.map_or_else(|| "not set".to_owned(), |s| format!("{s:?}"))
        )),
    }
}

/// Installs logging and builds the store from the Lambda environment (`TABLE_NAME`, region,
/// credentials, endpoint: see [`DynamoStore::from_env`]).
async fn init(function: &str) -> Result<DynamoStore, Error> {
    let main_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0);
    phase("main_at_unix", main_at);
    let started = Instant::now();
    telemetry::init();
    phase("logging", started.elapsed().as_micros());
    checked(function).map_err(|e| refused(function, e))?;
    let started = Instant::now();
    let store = DynamoStore::from_env().map_err(|e| refused(function, Error::from(e)))?;
    phase("client", started.elapsed().as_micros());
    Ok(store)
}

/// The message of the log line a function writes when it refuses to start. Lambda publishes
/// no metric of failed starts: the template's metric filters count this line.
pub const START_REFUSED: &str = "start refused";

/// Logs why `function` refuses to start (one JSON line, [`START_REFUSED`]) and hands the error
/// back: returned from `main`, it is the init error Lambda shows.
fn refused(function: &str, error: Error) -> Error {
    tracing::error!(function, reason = %error, "{START_REFUSED}");
    error
}

/// The route key API Gateway matched, e.g. `GET /companies/{id}`.
fn route_key(req: &Request) -> String {
    if let Some(RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref() {
        if let Some(route) = &ctx.route_key {
            return route.clone();
        }
    }
    format!("{} {}", req.method(), req.uri().path())
}

/// Installs the embedded-metrics collector (once per process) with the function and stage as
/// dimensions of every metric.
pub fn metrics_collector(
    function: &'static str,
    stage: String,
) -> Result<&'static Collector, Error> {
    Builder::new()
        .cloudwatch_namespace(METRICS_NAMESPACE)
        .with_dimension("function", function)
        .with_dimension("stage", stage)
        .init()
        .map_err(|e| Error::from(format!("metrics: {e}")))
}

/// Writes the request's embedded-metrics documents to `out`, each carrying its request id and
/// X-Ray trace id (properties, not dimensions: they name the request, not the metric).
pub fn flush_metrics(
    metrics: &Collector,
    request_id: &str,
    trace_id: Option<&str>,
    out: impl std::io::Write,
) -> std::io::Result<()> {
    metrics
        .set_property("request_id", request_id)
        .set_property(
            "trace_id",
            trace_id.map_or(serde_json::Value::Null, Into::into),
        )
        .flush(out)
}

/// Serves `handler` on the Lambda runtime until the instance is shut down, each request
/// through [`observe`].
async fn run<F, Fut>(function: &'static str, handler: F) -> Result<(), Error>
where
    F: Fn(Request) -> Fut,
    Fut: Future + Send,
    Fut::Output: IntoResponse,
{
    let started = Instant::now();
    let stage = std::env::var("STAGE").unwrap_or_else(|_| "local".into());
    let metrics = metrics_collector(function, stage).map_err(|e| refused(function, e))?;
    phase("metrics", started.elapsed().as_micros());
    let first = std::sync::atomic::AtomicBool::new(true);
    let first = &first;
    lambda_http::run(service_fn(|req: Request| {
        let context = req.lambda_context_ref();
        let request_id = context.map(|c| c.request_id.clone()).unwrap_or_default();
        let trace = context
            .and_then(|c| c.xray_trace_id.as_deref())
            .and_then(TraceHeader::parse);
        let route = route_key(&req);
        let apigw_request_id = crate::http::gateway_request_id(&req);
        let path = req.uri().path().to_owned();
        let response = handler(req);
        async move {
            let started = Instant::now();
            let trace_id = trace.as_ref().map(|t| t.root.clone());
            let info = RequestInfo {
                function,
                request_id: &request_id,
                apigw_request_id: apigw_request_id.as_deref(),
                route: &route,
                path: &path,
                trace,
            };
            let response = observe(info, response).await;
            if first.swap(false, std::sync::atomic::Ordering::Relaxed) {
                phase("first_request", started.elapsed().as_micros());
                metrics::counter!(METRIC_COLD_STARTS).increment(1);
            }
            let written = flush_metrics(
                metrics,
                &request_id,
                trace_id.as_deref(),
                std::io::stdout().lock(),
            );
            if let Err(e) = written {
                tracing::warn!(error = %e, "could not write metrics");
            }
            Ok::<_, Error>(response)
        }
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::development_switches;

    #[test]
    fn the_sam_local_switch_is_refused_outside_the_local_stage() {
        assert_eq!(development_switches(Some("local"), true), Ok(()));
        assert_eq!(development_switches(Some("prod"), false), Ok(()));
        assert_eq!(development_switches(None, false), Ok(()));
        for stage in [
            Some("prod"),
            Some("staging"),
            Some("dev"),
            Some(""),
            Some("Local"),
            None,
        ] {
            let refused = development_switches(stage, true).unwrap_err();
            assert!(
                refused.starts_with("AWS_SAM_LOCAL is set but STAGE is"),
                "{refused}"
            );
        }
    }
}
