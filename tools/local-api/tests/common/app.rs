//! The local API on an ephemeral port over a given store, and requests to it:
//! `api.patch(path).merge_patch(&body).if_match("\"1\"").await` sends a request and gives
//! the response.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use companies_store::Store;
use reqwest::header::{CONTENT_TYPE, IF_MATCH};
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::Value;
use tokio::net::TcpListener;

use super::logs;

/// The local API, served until dropped.
pub struct Api {
    base: String,
    http: Client,
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
        logs::capture();
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

    /// A request for `path` (with its query, if any), sent when awaited.
    pub fn request(&self, method: Method, path: impl AsRef<str>) -> Request {
        let url = format!("{}{}", self.base, path.as_ref());
        Request(self.http.request(method, url))
    }

    pub fn get(&self, path: impl AsRef<str>) -> Request {
        self.request(Method::GET, path)
    }

    pub fn post(&self, path: impl AsRef<str>) -> Request {
        self.request(Method::POST, path)
    }

    pub fn put(&self, path: impl AsRef<str>) -> Request {
        self.request(Method::PUT, path)
    }

    pub fn patch(&self, path: impl AsRef<str>) -> Request {
        self.request(Method::PATCH, path)
    }

    pub fn delete(&self, path: impl AsRef<str>) -> Request {
        self.request(Method::DELETE, path)
    }

    /// Creates a company and returns its JSON.
    pub async fn create(&self, body: &Value) -> Value {
        let r = self.post("/companies").json(body).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        r.json().await.unwrap()
    }
}

/// A request being built: headers and a body, then `.await` sends it and gives the response
/// (or fails the test when none comes), or `.read_json()` gives the response's body.
#[must_use = "a request is sent when awaited"]
pub struct Request(reqwest::RequestBuilder);

impl Request {
    pub fn header(self, name: &str, value: &str) -> Self {
        Request(self.0.header(name, value))
    }

    pub fn if_match(self, tag: &str) -> Self {
        Request(self.0.header(IF_MATCH, tag))
    }

    pub fn idempotency_key(self, key: &str) -> Self {
        self.header("idempotency-key", key)
    }

    pub fn content_type(self, content_type: &str) -> Self {
        Request(self.0.header(CONTENT_TYPE, content_type))
    }

    /// `text` as the body, as it is, with no content type unless one is set.
    pub fn body(self, text: impl Into<String>) -> Self {
        let text = text.into();
        logs::remember_sensitive(&text);
        Request(self.0.body(text))
    }

    /// `body` as `application/json`.
    pub fn json(self, body: &Value) -> Self {
        self.content_type("application/json").body(body.to_string())
    }

    /// `body` as `application/merge-patch+json`.
    pub fn merge_patch(self, body: &Value) -> Self {
        self.content_type("application/merge-patch+json")
            .body(body.to_string())
    }

    /// Sends it and reads the answer's body as JSON, whatever the status.
    pub async fn read_json(self) -> Value {
        self.await.json().await.unwrap()
    }
}

impl IntoFuture for Request {
    type Output = Response;
    type IntoFuture = Pin<Box<dyn Future<Output = Response> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move { self.0.send().await.unwrap() })
    }
}
