//! The end-to-end harness: the local API on an ephemeral port over a given store, an HTTP
//! client, and assertions on problem+json answers.
#![allow(dead_code)]

pub mod fault_proxy;
pub mod recorder;

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use companies_store::Store;
use reqwest::header::{CONTENT_TYPE, IF_MATCH};
use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Map, Value};
use tokio::net::TcpListener;

/// Every log line the local API wrote during this test binary's run.
static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());
/// Every CNPJ and account number (long enough to be recognisable) sent in a request.
static SENSITIVE: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

struct Capture;

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the production log subscriber, writing into [`LOGS`].
fn capture_logs() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| companies::telemetry::init_with(|| Capture));
}

/// Remembers the sensitive values of a request body: `tax_id` and `account_number` anywhere.
fn remember_sensitive(body: &str) {
    fn walk(v: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    if let (true, Some(s)) = (k == "tax_id" || k == "account_number", v.as_str()) {
                        let normalised: String = s
                            .chars()
                            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
                            .collect();
                        for value in [s.to_owned(), normalised.to_uppercase()] {
                            // Shorter values can occur by chance in ids and timestamps.
                            if value.len() >= 6 {
                                out.insert(value);
                            }
                        }
                        let digits: String =
                            s.chars().filter(char::is_ascii_alphanumeric).collect();
                        if k == "tax_id" && digits.len() == 14 {
                            out.insert(digits.to_uppercase());
                        }
                    }
                    walk(v, out);
                }
            }
            Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            _ => {}
        }
    }
    if let Ok(v) = serde_json::from_str::<Value>(body) {
        walk(&v, &mut SENSITIVE.lock().unwrap());
    }
}

/// Whether any log line written so far contains `text`.
pub fn logs_contain(text: &str) -> bool {
    String::from_utf8_lossy(&LOGS.lock().unwrap()).contains(text)
}

/// Prints the failures logged so far (for debugging a test).
pub fn dump_errors() {
    let logs = String::from_utf8_lossy(&LOGS.lock().unwrap()).into_owned();
    for line in logs.lines().filter(|l| l.contains("request failed")) {
        eprintln!("{line}");
    }
}

/// Fails if any CNPJ or account number sent so far appears unmasked in the logs written so far.
pub fn assert_logs_masked() {
    let logs = String::from_utf8_lossy(&LOGS.lock().unwrap()).into_owned();
    assert!(
        logs.contains("\"message\":\"request\""),
        "no access log lines were captured"
    );
    for value in SENSITIVE.lock().unwrap().iter() {
        assert!(
            !logs.contains(value.as_str()),
            "unmasked {value} in the logs"
        );
    }
}

pub struct Api {
    pub base: String,
    pub http: Client,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Api {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Api {
    pub async fn start<S: Store + 'static>(store: S) -> Api {
        Self::start_with_budget(store, companies_edge::runner::LOCAL_BUDGET).await
    }

    /// The local API with another time budget per request.
    pub async fn start_with_budget<S: Store + 'static>(store: S, budget: Duration) -> Api {
        capture_logs();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(local_api::serve_with_budget(
            listener,
            Arc::new(store),
            budget,
        ));
        Api {
            base,
            http: Client::new(),
            server,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a request with extra headers.
    pub async fn send_with(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Response {
        let mut req = self.http.request(method.parse().unwrap(), self.url(path));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(body) = body {
            let text = body.to_string();
            remember_sensitive(&text);
            req = req.header(CONTENT_TYPE, "application/json").body(text);
        }
        req.send().await.unwrap()
    }

    pub async fn send(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: Option<String>,
        if_match: Option<&str>,
    ) -> Response {
        let mut req = self.http.request(method.parse().unwrap(), self.url(path));
        if let Some(ct) = content_type {
            req = req.header(CONTENT_TYPE, ct);
        }
        if let Some(tag) = if_match {
            req = req.header(IF_MATCH, tag);
        }
        if let Some(body) = body {
            remember_sensitive(&body);
            req = req.body(body);
        }
        req.send().await.unwrap()
    }

    pub async fn post(&self, body: &Value) -> Response {
        self.send(
            "POST",
            "/companies",
            Some("application/json"),
            Some(body.to_string()),
            None,
        )
        .await
    }

    pub async fn patch(&self, id: &str, body: &Value, if_match: Option<&str>) -> Response {
        self.send(
            "PATCH",
            &format!("/companies/{id}"),
            Some("application/merge-patch+json"),
            Some(body.to_string()),
            if_match,
        )
        .await
    }

    pub async fn put(&self, id: &str, body: &Value, if_match: Option<&str>) -> Response {
        self.send(
            "PUT",
            &format!("/companies/{id}"),
            Some("application/json"),
            Some(body.to_string()),
            if_match,
        )
        .await
    }

    pub async fn get(&self, path: &str) -> Response {
        self.send("GET", path, None, None, None).await
    }

    pub async fn delete(&self, id: &str, if_match: Option<&str>) -> Response {
        self.send("DELETE", &format!("/companies/{id}"), None, None, if_match)
            .await
    }

    /// Creates a company and returns its JSON.
    pub async fn create(&self, body: &Value) -> Value {
        let r = self.post(body).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        r.json().await.unwrap()
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

pub fn acme() -> Value {
    json!({"company_name": "Acme", "phone": "11978235674", "declared_billing": 10})
}

pub fn full() -> Value {
    json!({
        "company_name": "My Company", "phone": "+55 (11) 97823-5674", "tax_id": "60.746.948/0001-12",
        "declared_billing": 1235.69,
        "address": {"street": "Avenida Paulista", "number": "1000", "city": "São Paulo", "state": "SP",
                    "postal_code": "01310-100"},
        "bank_accounts": [{"bank_code": "336", "agency": "1290-0", "account_number": "1243"}]
    })
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

/// Runs each named scenario twice, with a handle on the store: in memory and on DynamoDB.
#[macro_export]
macro_rules! e2e_with_store {
    ($($test:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                let store = companies_store::MemoryStore::new();
                super::$test($crate::common::Api::start(store.clone()).await, store).await;
                $crate::common::assert_logs_masked();
            })*
        }
        mod dynamodb {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                if let Some(store) = companies_store::testing::dynamo_store("e2e").await {
                    let recorder = $crate::common::recorder::Recorder::start().await;
                    let api = $crate::common::Api::start(recorder.store_for(&store).await).await;
                    super::$test(api, store).await;
                    $crate::common::assert_logs_masked();
                    recorder.assert_within_grants();
                }
            })*
        }
    };
}

/// Runs each named scenario twice: on the in-memory store and on DynamoDB.
#[macro_export]
macro_rules! e2e {
    ($($test:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test]
            async fn $test() {
                super::$test($crate::common::Api::start(companies_store::MemoryStore::new()).await).await;
                $crate::common::assert_logs_masked();
            })*
        }
        mod dynamodb {
            $(#[tokio::test]
            async fn $test() {
                if let Some(store) = companies_store::testing::dynamo_store("e2e").await {
                    let recorder = $crate::common::recorder::Recorder::start().await;
                    super::$test($crate::common::Api::start(recorder.store_for(&store).await).await).await;
                    $crate::common::assert_logs_masked();
                    recorder.assert_within_grants();
                }
            })*
        }
    };
}
