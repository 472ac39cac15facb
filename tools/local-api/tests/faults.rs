//! Faults: when DynamoDB is unreachable, throttling, failing or slow, the API answers 503
//! problem+json with Retry-After (never a bare 500, never internal text) and writes nothing.
//! Runs against DynamoDB Local through a fault-injecting proxy, and against a stopped server.

mod common;

use std::convert::Infallible;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{acme, full, Api};
use companies::store::DynamoStore;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::net::TcpListener;

const PASS: u8 = 0;
const THROTTLE: u8 = 1;
const SERVER_ERROR: u8 = 2;
const SLOW: u8 = 3;
const CANCEL_THROTTLED: u8 = 4;

/// An HTTP proxy in front of DynamoDB Local whose behaviour the test switches.
struct FaultProxy {
    url: String,
    mode: Arc<AtomicU8>,
}

fn canned(status: u16, error_type: &str, extra: &str) -> hyper::Response<Full<Bytes>> {
    let body = format!(
        r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{error_type}","message":"injected by the test proxy"{extra}}}"#
    );
    hyper::Response::builder()
        .status(status)
        .header("content-type", "application/x-amz-json-1.0")
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

async fn forward(
    upstream: &str,
    client: &reqwest::Client,
    req: hyper::Request<Incoming>,
    mode: u8,
) -> hyper::Response<Full<Bytes>> {
    let target = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let (parts, body) = req.into_parts();
    let bytes = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    match mode {
        THROTTLE => return canned(400, "ThrottlingException", ""),
        SERVER_ERROR => return canned(500, "InternalServerError", ""),
        CANCEL_THROTTLED if target.ends_with("TransactWriteItems") => {
            return canned(
                400,
                "TransactionCanceledException",
                r#","CancellationReasons":[{"Code":"ThrottlingError"}]"#,
            )
        }
        SLOW => tokio::time::sleep(Duration::from_secs(3)).await,
        _ => {}
    }
    let mut out = client.post(upstream).body(bytes);
    for (name, value) in &parts.headers {
        if name != "host" && name != "content-length" {
            out = out.header(name, value);
        }
    }
    let Ok(resp) = out.send().await else {
        return canned(500, "InternalServerError", "");
    };
    let mut builder = hyper::Response::builder().status(resp.status().as_u16());
    for (name, value) in resp.headers() {
        if name != "content-length" && name != "transfer-encoding" {
            builder = builder.header(name, value);
        }
    }
    builder
        .body(Full::new(resp.bytes().await.unwrap_or_default()))
        .unwrap()
}

impl FaultProxy {
    async fn start(upstream: String) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let mode = Arc::new(AtomicU8::new(PASS));
        let shared = Arc::clone(&mode);
        let client = reqwest::Client::new();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (mode, client, upstream) =
                    (Arc::clone(&shared), client.clone(), upstream.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let (mode, client, upstream) =
                            (Arc::clone(&mode), client.clone(), upstream.clone());
                        async move {
                            Ok::<_, Infallible>(
                                forward(&upstream, &client, req, mode.load(Ordering::SeqCst)).await,
                            )
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        FaultProxy { url, mode }
    }

    fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
    }
}

/// A 503 problem with Retry-After that leaks nothing internal.
async fn assert_unavailable(r: reqwest::Response) {
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.headers()["retry-after"], "1");
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let text = r.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["status"], 503);
    for leak in [
        "Throttling",
        "injected",
        "dispatch",
        "Dynamo",
        "timeout",
        "Transaction",
    ] {
        assert!(!text.contains(leak), "internal text {leak:?} in {text}");
    }
}

async fn company_count(api: &Api) -> usize {
    let page: Value = api.get("/companies?limit=100").await.json().await.unwrap();
    page["items"].as_array().unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_database_means_503_and_nothing_written() {
    let Some(direct) = companies::testing::dynamo_store("faults").await else {
        return;
    };
    let upstream = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").unwrap();
    let proxy = FaultProxy::start(upstream).await;
    let store = DynamoStore::connect_to(direct.table(), Some(&proxy.url)).await;
    let api = Api::start(store).await;

    let id = api.create(&acme()).await["id"].as_str().unwrap().to_owned();
    for mode in [THROTTLE, SERVER_ERROR, CANCEL_THROTTLED] {
        proxy.set(mode);
        // With a CNPJ the create is a transaction (company + marker), which CANCEL_THROTTLED hits.
        assert_unavailable(api.post(&full()).await).await;
        if mode != CANCEL_THROTTLED {
            assert_unavailable(api.get(&format!("/companies/{id}")).await).await;
            assert_unavailable(api.get("/companies").await).await;
        }
        proxy.set(PASS);
        assert_eq!(company_count(&api).await, 1, "mode {mode} wrote something");
    }

    // Slow: SDK timeouts give up well inside the 10 s function timeout.
    proxy.set(SLOW);
    let started = Instant::now();
    assert_unavailable(api.post(&acme()).await).await;
    assert!(
        started.elapsed() < Duration::from_secs(9),
        "{:?}",
        started.elapsed()
    );
    proxy.set(PASS);
    common::assert_logs_masked();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_database_means_503() {
    if companies::testing::dynamo_store("faults").await.is_none() {
        return;
    }
    // A port nothing listens on: bind one, then close it.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let store = DynamoStore::connect_to("stopped", Some(&format!("http://127.0.0.1:{port}"))).await;
    let api = Api::start(store).await;
    assert_unavailable(api.post(&acme()).await).await;
    assert_unavailable(api.get("/companies").await).await;
    assert_unavailable(
        api.get(&format!("/companies/{}", uuid::Uuid::now_v7()))
            .await,
    )
    .await;
}
