//! The harness of the `api` test binary: the local API and requests to it ([`app`]), its
//! captured logs ([`logs`]), the proxies in front of DynamoDB Local ([`recorder`],
//! [`fault_proxy`]), sample companies ([`fixtures`]), and assertions on answers. `trace_logs.rs`
//! includes `app.rs`, `logs.rs` and `fixtures.rs` alone; the importer's tests, the two proxies.

pub mod app;
pub mod fault_proxy;
pub mod fixtures;
pub mod logs;
pub mod recorder;

use std::sync::Arc;

use reqwest::header::CONTENT_TYPE;
use reqwest::{Response, StatusCode};
use serde_json::{Map, Value};

pub use app::{Api, Request};
pub use fixtures::{acme, full};
pub use logs::{assert_logs_masked, logs_contain};

/// Prints the failures logged so far (for debugging a test).
pub fn dump_errors() {
    let logs = logs::captured();
    for line in logs.lines().filter(|l| l.contains("request failed")) {
        eprintln!("{line}");
    }
}

/// Runs `n` requests at once (one task each) and returns their results in order.
pub async fn concurrently<T, F, Fut>(api: &Arc<Api>, n: usize, request: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(Arc<Api>, usize) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    let tasks: Vec<_> = (0..n)
        .map(|i| tokio::spawn(request(Arc::clone(api), i)))
        .collect();
    let mut results = Vec::with_capacity(n);
    for task in tasks {
        results.push(task.await.unwrap());
    }
    results
}

/// Every item of the paginated listing at `path` (a path with a query), following
/// `next_cursor` to the last page, with the size of each page.
pub async fn every_page(api: &Api, path: &str) -> (Vec<Value>, Vec<usize>) {
    let (mut all, mut sizes) = (Vec::new(), Vec::new());
    let mut next = path.to_owned();
    loop {
        let r = api.get(&next).await;
        assert_eq!(r.status(), StatusCode::OK, "{next}");
        let body: Value = r.json().await.unwrap();
        let items = body["items"].as_array().unwrap();
        sizes.push(items.len());
        all.extend(items.iter().cloned());
        match body["next_cursor"].as_str() {
            Some(cursor) => next = format!("{path}&cursor={cursor}"),
            None => return (all, sizes),
        }
    }
}

/// The names of `companies`.
pub fn names(companies: &[Value]) -> Vec<String> {
    companies
        .iter()
        .map(|c| c["company_name"].as_str().unwrap().to_owned())
        .collect()
}

/// The company as the history rebuilds it: `GET`'s body less `updated`, `version` and nulls.
pub fn canonical(company: &Value) -> Value {
    fn strip(v: &Value) -> Value {
        match v {
            Value::Object(map) => Value::Object(
                map.iter()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, v)| (k.clone(), strip(v)))
                    .collect::<Map<_, _>>(),
            ),
            other => other.clone(),
        }
    }
    let mut c = company.clone();
    let map = c.as_object_mut().unwrap();
    map.remove("updated");
    map.remove("version");
    strip(&c)
}

pub fn header(r: &Response, name: reqwest::header::HeaderName) -> String {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// Asserts a problem+json answer with `status`, returning its body.
pub async fn problem(r: Response, status: u16) -> Value {
    assert_eq!(r.status().as_u16(), status, "{:?}", r.headers());
    assert_eq!(header(&r, CONTENT_TYPE), "application/problem+json");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], status);
    assert!(
        body["type"].is_string() && body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
    body
}

pub fn error_fields(body: &Value) -> Vec<String> {
    let mut f: Vec<String> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect();
    f.sort();
    f
}

/// Runs each named scenario, an `async fn(Api)`, twice: on the in-memory store and on
/// DynamoDB (skipped without DynamoDB Local), each request through a recorder that holds the
/// calls to the functions' IAM grants; then checks that the logs hold no unmasked value.
macro_rules! e2e {
    (@on_both_stores [$attr:meta] $($test:ident $run:expr),*) => {
        mod memory {
            $(#[$attr]
            async fn $test() {
                let store = companies_store::MemoryStore::new();
                ($run)($crate::common::Api::start(store.clone()).await, store).await;
                $crate::common::assert_logs_masked();
            })*
        }
        mod dynamodb {
            $(#[$attr]
            async fn $test() {
                if let Some(store) = companies_store::testing::dynamo_store("e2e").await {
                    let recorder = $crate::common::recorder::Recorder::start().await;
                    let api = $crate::common::Api::start(recorder.store_for(&store).await).await;
                    ($run)(api, store).await;
                    $crate::common::assert_logs_masked();
                    recorder.assert_within_grants();
                }
            })*
        }
    };
    ($($test:ident),* $(,)?) => {
        e2e!(@on_both_stores [tokio::test] $($test |api, _store| super::$test(api)),*);
    };
}

/// The same for scenarios that also look at the store, `async fn(Api, S)`, on two worker
/// threads.
macro_rules! e2e_with_store {
    ($($test:ident),* $(,)?) => {
        e2e!(@on_both_stores [tokio::test(flavor = "multi_thread", worker_threads = 2)]
             $($test super::$test),*);
    };
}
