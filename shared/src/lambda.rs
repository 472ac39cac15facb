//! What every Lambda `main` shares: the JSON logger, the DynamoDB store built once per instance,
//! and the runtime loop with one access-log line per request.

use std::future::Future;

use lambda_http::{service_fn, Body, Error, Request, RequestExt, Response};

use crate::store::DynamoStore;
use crate::telemetry;

/// Installs logging and builds the store from the environment (`TABLE_NAME`, SDK settings).
pub async fn init() -> Result<DynamoStore, Error> {
    telemetry::init();
    DynamoStore::from_env().await.map_err(Error::from)
}

/// Serves `handler` on the Lambda runtime until the instance is shut down.
pub async fn run<F, Fut>(function: &'static str, handler: F) -> Result<(), Error>
where
    F: Fn(Request) -> Fut,
    Fut: Future<Output = Response<Body>> + Send,
{
    lambda_http::run(service_fn(|req: Request| {
        let request_id = req
            .lambda_context_ref()
            .map(|c| c.request_id.clone())
            .unwrap_or_default();
        let method = req.method().to_string();
        let path = req.uri().path().to_owned();
        let response = handler(req);
        async move {
            Ok::<_, Error>(
                telemetry::observe(function, &request_id, &method, &path, response).await,
            )
        }
    }))
    .await
}
