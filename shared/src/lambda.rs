//! What every Lambda `main` shares: logging, the DynamoDB store built once per instance, and the
//! runtime loop with one access-log line and one embedded-metrics document per request.

use std::future::Future;
use std::time::Instant;

use lambda_http::request::RequestContext;
use lambda_http::{service_fn, Error, Request, RequestExt};
use metrics_cloudwatch_embedded::{Builder, Collector};

use crate::http::IntoResponse;
use crate::store::{Deadlined, DynamoStore};
use crate::telemetry::{self, RequestInfo, METRICS_NAMESPACE};

/// When `COMPANIES_INIT_PHASES` is set (the benchmark harness sets it for its breakdown of
/// start-up), writes how long the phase `name` took as one JSON line on stderr.
fn phase(name: &str, value: u128) {
    static ON: std::sync::LazyLock<bool> =
        std::sync::LazyLock::new(|| std::env::var_os("COMPANIES_INIT_PHASES").is_some());
    if *ON {
        eprintln!(r#"{{"init_phase":"{name}","us":{value}}}"#);
    }
}

/// Installs logging and builds the store from the Lambda environment (`TABLE_NAME`, region,
/// credentials, endpoint: see [`DynamoStore::from_env`]).
pub async fn init() -> Result<DynamoStore, Error> {
    let main_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0);
    phase("main_at_unix", main_at);
    let started = Instant::now();
    telemetry::init();
    phase("logging", started.elapsed().as_micros());
    let started = Instant::now();
    let store = DynamoStore::from_env().map_err(Error::from)?;
    phase("client", started.elapsed().as_micros());
    Ok(store)
}

/// Serves `handler` on the Lambda runtime with a store whose calls share the invocation's time
/// budget (its deadline less [`crate::store::deadline::ANSWER_MARGIN`]).
pub async fn serve<'s, S, F, Fut>(
    function: &'static str,
    store: &'s S,
    handler: F,
) -> Result<(), Error>
where
    S: Sync,
    F: Fn(Deadlined<'s, S>, Request) -> Fut,
    Fut: Future + Send,
    Fut::Output: IntoResponse,
{
    run(function, |req: Request| {
        let deadline_ms = req.lambda_context_ref().map_or(0, |c| c.deadline);
        handler(Deadlined::for_lambda(store, deadline_ms), req)
    })
    .await
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

/// Serves `handler` on the Lambda runtime until the instance is shut down. A handler returns
/// a response or a [`crate::http::Problem`]; [`telemetry::observe`] turns the latter into its
/// response and logs it, here and in the local API alike.
pub async fn run<F, Fut>(function: &'static str, handler: F) -> Result<(), Error>
where
    F: Fn(Request) -> Fut,
    Fut: Future + Send,
    Fut::Output: IntoResponse,
{
    let started = Instant::now();
    let stage = std::env::var("STAGE").unwrap_or_else(|_| "local".into());
    let metrics = metrics_collector(function, stage)?;
    phase("metrics", started.elapsed().as_micros());
    let first = std::sync::atomic::AtomicBool::new(true);
    let first = &first;
    lambda_http::run(service_fn(|req: Request| {
        let request_id = req
            .lambda_context_ref()
            .map(|c| c.request_id.clone())
            .unwrap_or_default();
        let route = route_key(&req);
        let path = req.uri().path().to_owned();
        let response = handler(req);
        async move {
            let started = Instant::now();
            let info = RequestInfo {
                function,
                request_id: &request_id,
                route: &route,
                path: &path,
            };
            let response = telemetry::observe(info, response).await;
            if first.swap(false, std::sync::atomic::Ordering::Relaxed) {
                phase("first_request", started.elapsed().as_micros());
            }
            if let Err(e) = metrics
                .set_property("request_id", request_id.as_str())
                .flush(std::io::stdout().lock())
            {
                tracing::warn!(error = %e, "could not write metrics");
            }
            Ok::<_, Error>(response)
        }
    }))
    .await
}
