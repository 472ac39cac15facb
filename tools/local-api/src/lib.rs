//! The Docker-free local API: an HTTP server that routes every route of `template.yaml`
//! (see [`companies_edge::routes::routes`]) to the same handlers the Lambdas run.

pub mod docs;
pub mod sample;

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use companies_edge::handlers::Handled;
use companies_edge::http::{Problem, MAX_BODY_BYTES};
use companies_edge::operations::Handler;
use companies_edge::routes::{self, Resolved};
use companies_edge::runner::{observe, within, RequestInfo, LOCAL_BUDGET};
use companies_store::Store;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;
use lambda_http::aws_lambda_events::query_map::QueryMap;
use lambda_http::request::RequestContext;
use lambda_http::{Body, RequestExt};
use tokio::net::TcpListener;
use tokio::time::Instant;

type HttpResponse = hyper::Response<Full<Bytes>>;

/// What a request line resolved to: a handler, or the problem to answer at once.
enum Target {
    Refused(Problem),
    Route(Handler, HashMap<String, String>),
}

fn to_hyper(resp: lambda_http::Response<Body>) -> HttpResponse {
    let (parts, body) = resp.into_parts();
    let bytes = match body {
        Body::Text(s) => Bytes::from(s),
        Body::Binary(b) => Bytes::from(b),
        _ => Bytes::new(),
    };
    hyper::Response::from_parts(parts, Full::new(bytes))
}

/// Answers one request: route it, read a bounded body, build the Lambda request, run the handler
/// within the request's time `budget`.
pub async fn handle<S: Store>(
    store: &S,
    budget: Duration,
    req: hyper::Request<Incoming>,
) -> HttpResponse {
    let host = req
        .headers()
        .get(hyper::header::HOST)
        .map(|h| h.to_str().unwrap_or("\u{fffd}"));
    if !host.is_none_or(allowed_host) {
        // A page on another site whose name now resolves to 127.0.0.1 (DNS rebinding) would
        // otherwise drive this API from the user's browser, whatever table it points at.
        let refused = Problem::forbidden(
            "This local API answers requests for localhost, 127.0.0.1 and [::1] only \
             (LOCAL_API_HOSTS adds names).",
        );
        return to_hyper(companies_edge::http::with_security_headers(
            refused.into_response(),
        ));
    }
    if req.method() == hyper::Method::GET {
        if let Some(page) = docs::serve(req.uri().path(), host) {
            return page;
        }
    }
    let deadline = Instant::now() + budget;
    let request_id = local_request_id();
    let method = req.method().to_string();
    let path = req.uri().path().to_owned();
    let (function, route, response) = match routes::resolve(&method, &path) {
        Resolved::NotFound => (
            "-",
            format!("{method} -"),
            Target::Refused(Problem::not_found("No such route.")),
        ),
        Resolved::MethodNotAllowed(allow) => (
            "-",
            format!("{method} -"),
            Target::Refused(Problem::method_not_allowed(allow)),
        ),
        Resolved::Found(route, params) => (
            route.function,
            format!("{} {}", route.method, route.path),
            Target::Route(route.handler, params),
        ),
    };
    let info = RequestInfo {
        function,
        request_id: &request_id,
        apigw_request_id: Some(&request_id),
        route: &route,
        path: &path,
        trace: None,
    };
    let response = observe(info, async {
        match response {
            Target::Refused(problem) => Err(problem),
            Target::Route(handler, params) => {
                within(
                    deadline,
                    run_route(store, handler, params, &request_id, req),
                )
                .await
            }
        }
    })
    .await;
    to_hyper(response)
}

async fn run_route<S: Store>(
    store: &S,
    handler: Handler,
    params: HashMap<String, String>,
    request_id: &str,
    req: hyper::Request<Incoming>,
) -> Handled {
    let (parts, body) = req.into_parts();
    let bytes = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return Err(Problem::payload_too_large(MAX_BODY_BYTES)),
    };
    let query: QueryMap = parts.uri.query().unwrap_or("").parse().unwrap_or_default();
    let body = if bytes.is_empty() {
        Body::Empty
    } else {
        Body::Binary(bytes.to_vec())
    };
    // As API Gateway does, the request carries its id (history entries record it).
    let mut context = ApiGatewayV2httpRequestContext::default();
    context.request_id = Some(request_id.to_owned());
    let request = lambda_http::Request::from_parts(parts, body)
        .with_path_parameters(params)
        .with_query_string_parameters(query)
        .with_request_context(RequestContext::ApiGatewayV2(context));
    routes::dispatch(store, handler, request).await
}

/// Whether a request's `Host` names this machine's loopback (any port), or a name listed in
/// `LOCAL_API_HOSTS` (comma-separated, e.g. a dev container's name). Browsers always send
/// `Host`; a request without one cannot come from a rebound page.
pub fn allowed_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(v6) => v6
            .split(']')
            .next()
            .map(|a| format!("[{a}]"))
            .unwrap_or_default(),
        None => host.split(':').next().unwrap_or_default().to_owned(),
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if matches!(name.as_str(), "localhost" | "127.0.0.1" | "[::1]") {
        return true;
    }
    std::env::var("LOCAL_API_HOSTS").is_ok_and(|extra| {
        extra
            .split(',')
            .any(|h| !h.trim().is_empty() && h.trim().eq_ignore_ascii_case(&name))
    })
}

/// A unique id for local log lines (Lambda supplies the real one in AWS).
fn local_request_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("local-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Serves HTTP/1.1 on `listener` until the task is dropped, each request with
/// [`LOCAL_BUDGET`] of time (as a Lambda has its deadline).
pub async fn serve<S: Store + 'static>(listener: TcpListener, store: Arc<S>) {
    serve_with_budget(listener, store, LOCAL_BUDGET).await
}

/// Like [`serve`], with another time budget per request.
pub async fn serve_with_budget<S: Store + 'static>(
    listener: TcpListener,
    store: Arc<S>,
    budget: Duration,
) {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                continue;
            }
        };
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let store = Arc::clone(&store);
                async move { Ok::<_, Infallible>(handle(store.as_ref(), budget, req).await) }
            });
            if let Err(e) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %e, "connection closed with an error");
            }
        });
    }
}
