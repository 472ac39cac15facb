//! What every Lambda `main` shares: logging, the DynamoDB store built once per instance, and the
//! runtime loop with one access-log line and one embedded-metrics document per request.

use std::future::Future;

use lambda_http::request::RequestContext;
use lambda_http::{service_fn, Error, Request, RequestExt};
use metrics_cloudwatch_embedded::{Builder, Collector};

use crate::http::IntoResponse;
use crate::store::{Deadlined, DynamoStore};
use crate::telemetry::{self, RequestInfo, METRICS_NAMESPACE};

/// Installs logging and builds the store from the environment (`TABLE_NAME`, SDK settings).
pub async fn init() -> Result<DynamoStore, Error> {
    telemetry::init();
    DynamoStore::from_env().await.map_err(Error::from)
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
    let stage = std::env::var("STAGE").unwrap_or_else(|_| "local".into());
    let metrics = metrics_collector(function, stage)?;
    lambda_http::run(service_fn(|req: Request| {
        let request_id = req
            .lambda_context_ref()
            .map(|c| c.request_id.clone())
            .unwrap_or_default();
        let route = route_key(&req);
        let path = req.uri().path().to_owned();
        let response = handler(req);
        async move {
            let info = RequestInfo {
                function,
                request_id: &request_id,
                route: &route,
                path: &path,
            };
            let response = telemetry::observe(info, response).await;
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
