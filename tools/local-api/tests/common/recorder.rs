//! A recording proxy in front of DynamoDB Local: notes, per function, each DynamoDB action and
//! the table or index it touched (for `TransactWriteItems`, each part's action), so the tests can
//! hold what the code does against what its IAM policy grants (the operation registry).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use companies_edge::operations::{by_name, Resource};
use companies_store::dynamo::full_table::FUNCTION_HEADER;
use companies_store::DynamoStore;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;

/// The DynamoDB Local the tests run against.
pub fn upstream() -> String {
    std::env::var("AWS_ENDPOINT_URL_DYNAMODB").unwrap()
}

/// Serves HTTP/1.1 on a fresh loopback port with `handle`, until the test ends; its URL. Where
/// `handle` answers `None`, the connection is closed without an answer.
pub async fn serve_proxy<F, Fut>(handle: F) -> String
where
    F: Fn(hyper::Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Option<hyper::Response<Full<Bytes>>>> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let handle = handle.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let response = handle(req);
                    async move { response.await.ok_or(HungUp) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    url
}

/// The proxy closed a connection without answering.
#[derive(Debug)]
struct HungUp;

impl std::fmt::Display for HungUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the proxy hung up")
    }
}

impl std::error::Error for HungUp {}

/// (function, action, resource): `dynamodb:GetItem`, `table` or `index/<name>`.
pub type Call = (String, String, String);

pub struct Recorder {
    pub url: String,
    calls: Arc<Mutex<BTreeSet<Call>>>,
    /// (function, kind of partition key on the table): `COMPANY#`, `NAME#`, …
    partitions: Arc<Mutex<BTreeSet<(String, String)>>>,
}

/// The kind of a partition key value: its prefix up to and including `#` (`COMPANY#…` →
/// `COMPANY#`), or the whole value when it has none.
fn kind_of(pk: &str) -> String {
    match pk.find('#') {
        Some(i) => pk[..=i].to_owned(),
        None => pk.to_owned(),
    }
}

/// The kinds of the table's partition keys one request names (index queries name the index's
/// keys, which `dynamodb:LeadingKeys` on the table does not govern, and are left out).
fn partitions(target: &str, body: &Value) -> Vec<String> {
    let pk = |item: &Value| item["pk"]["S"].as_str().map(kind_of);
    let operation = target.rsplit('.').next().unwrap_or(target);
    match operation {
        "GetItem" | "DeleteItem" | "UpdateItem" => pk(&body["Key"]).into_iter().collect(),
        "PutItem" => pk(&body["Item"]).into_iter().collect(),
        "Query" if body.get("IndexName").is_none() => body["ExpressionAttributeValues"][":pk"]["S"]
            .as_str()
            .map(kind_of)
            .into_iter()
            .collect(),
        "BatchGetItem" => body["RequestItems"]
            .as_object()
            .into_iter()
            .flat_map(|tables| tables.values())
            .flat_map(|t| t["Keys"].as_array().cloned().unwrap_or_default())
            .filter_map(|k| pk(&k))
            .collect(),
        "TransactWriteItems" => body["TransactItems"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|part| {
                let (_, inner) = part.as_object()?.iter().next()?;
                pk(&inner["Item"]).or_else(|| pk(&inner["Key"]))
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The actions and resources one request body stands for.
fn actions(target: &str, body: &Value) -> Vec<(String, String)> {
    let resource = |v: &Value| match v.get("IndexName").and_then(Value::as_str) {
        Some(index) => format!("index/{index}"),
        None => "table".to_owned(),
    };
    let operation = target.rsplit('.').next().unwrap_or(target);
    if operation != "TransactWriteItems" {
        return vec![(format!("dynamodb:{operation}"), resource(body))];
    }
    let parts = body["TransactItems"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    parts
        .iter()
        .filter_map(|part| {
            let (kind, inner) = part.as_object()?.iter().next()?;
            let action = match kind.as_str() {
                "Put" => "PutItem",
                "Delete" => "DeleteItem",
                "Update" => "UpdateItem",
                "ConditionCheck" => "ConditionCheckItem",
                other => other,
            };
            Some((format!("dynamodb:{action}"), resource(inner)))
        })
        .collect()
}

async fn forward(
    client: &reqwest::Client,
    req: hyper::Request<Incoming>,
    calls: &Mutex<BTreeSet<Call>>,
    kinds: &Mutex<BTreeSet<(String, String)>>,
) -> hyper::Response<Full<Bytes>> {
    let (parts, bytes) = read(req).await;
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    if let (Some(function), Some(target)) = (header(FUNCTION_HEADER), header("x-amz-target")) {
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let mut calls = calls.lock().unwrap();
        for (action, resource) in actions(&target, &body) {
            calls.insert((function.clone(), action, resource));
        }
        let mut kinds = kinds.lock().unwrap();
        for kind in partitions(&target, &body) {
            kinds.insert((function.clone(), kind));
        }
    }
    let (builder, body) = pass_through(client, &parts.headers, bytes).await;
    builder.body(Full::new(body)).unwrap()
}

/// A request's head and its whole body.
pub async fn read(req: hyper::Request<Incoming>) -> (hyper::http::request::Parts, Bytes) {
    let (parts, body) = req.into_parts();
    let bytes = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    (parts, bytes)
}

/// Sends a DynamoDB call on to DynamoDB Local as it came, and returns its answer: status and
/// headers (less those the proxy's own framing sets, and the body checksum, which a proxy that
/// changes the body would break) and body. A failure to reach it is a 500.
pub async fn pass_through(
    client: &reqwest::Client,
    headers: &hyper::HeaderMap,
    bytes: Bytes,
) -> (hyper::http::response::Builder, Bytes) {
    let mut out = client.post(upstream()).body(bytes);
    for (name, value) in headers {
        if name != "host" && name != "content-length" {
            out = out.header(name, value);
        }
    }
    let Ok(resp) = out.send().await else {
        return (hyper::Response::builder().status(500), Bytes::new());
    };
    let mut builder = hyper::Response::builder().status(resp.status().as_u16());
    for (name, value) in resp.headers() {
        if name != "content-length" && name != "transfer-encoding" && name != "x-amz-crc32" {
            builder = builder.header(name, value);
        }
    }
    (builder, resp.bytes().await.unwrap_or_default())
}

impl Recorder {
    /// A recorder in front of the DynamoDB Local of `AWS_ENDPOINT_URL_DYNAMODB`.
    pub async fn start() -> Recorder {
        let calls = Arc::new(Mutex::new(BTreeSet::new()));
        let partitions = Arc::new(Mutex::new(BTreeSet::new()));
        let (shared, shared_kinds) = (Arc::clone(&calls), Arc::clone(&partitions));
        let client = reqwest::Client::new();
        let url = serve_proxy(move |req| {
            let (calls, kinds, client) = (
                Arc::clone(&shared),
                Arc::clone(&shared_kinds),
                client.clone(),
            );
            async move { Some(forward(&client, req, &calls, &kinds).await) }
        })
        .await;
        Recorder {
            url,
            calls,
            partitions,
        }
    }

    /// A store on `direct`'s table that goes through this recorder, naming its function.
    pub async fn store_for(&self, direct: &DynamoStore) -> DynamoStore {
        DynamoStore::connect_to(direct.table(), Some(&self.url))
            .await
            .attributed()
    }

    pub fn calls(&self) -> BTreeSet<Call> {
        self.calls.lock().unwrap().clone()
    }

    /// The kinds of table partition keys `function` named.
    pub fn partitions(&self, function: &str) -> BTreeSet<String> {
        self.partitions
            .lock()
            .unwrap()
            .iter()
            .filter(|(f, _)| f == function)
            .map(|(_, kind)| kind.clone())
            .collect()
    }

    /// Fails when a function used an action, or a table or index, its policy does not grant.
    pub fn assert_within_grants(&self) {
        for (function, action, resource) in self.calls() {
            assert!(
                granted(&function).contains(&(action.clone(), resource.clone())),
                "{function} used {action} on {resource}, which its policy does not grant"
            );
        }
    }
}

/// What the operation registry (and so the template) grants `function`.
pub fn granted(function: &str) -> BTreeSet<(String, String)> {
    let op = by_name(function).unwrap_or_else(|| panic!("{function} is not an operation"));
    op.grants
        .iter()
        .map(|g| {
            let resource = match g.on {
                Resource::Table => "table".to_owned(),
                Resource::Index(name) => format!("index/{name}"),
            };
            (g.action.to_owned(), resource)
        })
        .collect()
}
