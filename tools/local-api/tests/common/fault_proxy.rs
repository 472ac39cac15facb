//! A proxy in front of DynamoDB Local that does to calls what DynamoDB does under load, as the
//! test switches it: throttling, 500s and 503s, cancelled transactions, transaction conflicts,
//! replies lost after the write committed (or answered "in progress"), connections closed
//! without an answer, cut bodies, stalls, batch reads left wholly or partly unprocessed, calls
//! held while another writer acts, calls denied (IAM or KMS). Used by the local API's fault
//! and model tests and the importer's (which includes this file and `recorder.rs` by path).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use serde_json::{json, Value};
use tokio::sync::Notify;

use super::recorder::{pass_through, read, serve_proxy};

/// What the proxy does to a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Answers `ThrottlingException` (400).
    Throttle,
    /// Answers `InternalServerError` (500).
    ServerError,
    /// Answers a bare 503 `ServiceUnavailable`.
    Unavailable,
    /// Cancels a transaction because a partition was throttled (worth a retry after a back-off).
    CancelThrottled,
    /// Cancels a transaction because another one held an item (worth a retry).
    CancelConflict,
    /// Answers `TransactionConflictException` (400), as DynamoDB does to a single-item write on
    /// an item that a transaction in flight holds.
    Conflict,
    /// Forwards the call (it commits), then holds the reply past the SDK's attempt timeout.
    LoseReply,
    /// Forwards the call and answers 200 with half of its body.
    CutBody,
    /// Closes the connection without an answer and without forwarding the call, as a load
    /// balancer does to a kept-alive connection it has dropped while the function was frozen.
    HangUp,
    /// Forwards the call (it commits), then closes the connection without an answer.
    HangUpAfterCommit,
    /// Forwards a transaction (it commits), then answers `TransactionInProgressException`
    /// (400), as DynamoDB does to a retry, with the same client request token, of a transaction
    /// still committing: the retry's outcome is unknown to the caller.
    InProgressAfterCommit,
    /// Waits this many milliseconds, then forwards the call.
    Delay(u64),
    /// Answers a BatchGetItem with nothing read and every key unprocessed, as DynamoDB does
    /// when it throttles a batch.
    Unprocessed,
    /// Reads the first half of a BatchGetItem's keys and answers the rest unprocessed, as
    /// DynamoDB does when it throttles part of a batch (or its answer would pass 16 MB).
    PartlyUnprocessed,
    /// Holds the call (tells the test through `held`) until the test says `release`, then
    /// forwards it: what a slow call looks like to a writer racing it.
    Hold,
    /// Answers `AccessDeniedException` (400), as DynamoDB does when the caller's IAM policy
    /// does not grant the action, or the table's KMS key may not be used.
    Deny,
}

/// A fault for calls whose `X-Amz-Target` ends with `target` ("" = every call), `times` times.
#[derive(Debug, Clone, Copy)]
struct Fault {
    kind: Kind,
    target: &'static str,
    /// Calls to `target` let through before the fault applies.
    skip: u32,
    times: u32,
}

/// `times` for a fault that never wears off.
pub const ALWAYS: u32 = u32::MAX;

/// An HTTP proxy in front of DynamoDB Local whose behaviour the test switches.
pub struct FaultProxy {
    pub url: String,
    fault: Arc<Mutex<Option<Fault>>>,
    pub signals: Arc<Signals>,
}

#[derive(Default)]
pub struct Signals {
    /// Told when a write whose reply is being held has committed upstream.
    pub committed: Notify,
    /// Told when a call is held (`Kind::Hold`).
    pub held: Notify,
    /// Lets a held call go on.
    pub release: Notify,
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

/// The fault that applies to a call to `target`, counting it.
fn take(fault: &Mutex<Option<Fault>>, target: &str) -> Option<Kind> {
    let mut slot = fault.lock().unwrap();
    let f = slot.as_mut()?;
    if !target.ends_with(f.target) || f.times == 0 {
        return None;
    }
    if f.skip > 0 {
        f.skip -= 1;
        return None;
    }
    if f.times != ALWAYS {
        f.times -= 1;
    }
    Some(f.kind)
}

async fn forward(
    client: &reqwest::Client,
    req: hyper::Request<Incoming>,
    fault: &Mutex<Option<Fault>>,
    signals: &Signals,
) -> Option<hyper::Response<Full<Bytes>>> {
    let target = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let (parts, bytes) = read(req).await;
    let kind = take(fault, &target);
    match kind {
        Some(Kind::HangUp) => return None,
        Some(Kind::Delay(ms)) => tokio::time::sleep(Duration::from_millis(ms)).await,
        Some(Kind::Hold) => {
            signals.held.notify_one();
            signals.release.notified().await;
        }
        _ => {
            if let Some(answer) = canned_fault(kind, &target, &bytes) {
                return Some(answer);
            }
        }
    }
    let (bytes, held) = match kind {
        Some(Kind::PartlyUnprocessed) => hold_back_half(bytes),
        _ => (bytes, None),
    };
    let (builder, mut body) = pass_through(client, &parts.headers, bytes).await;
    if let Some(held) = held {
        let mut answer: Value = serde_json::from_slice(&body).unwrap_or_default();
        answer["UnprocessedKeys"] = held;
        body = Bytes::from(answer.to_string());
    }
    match kind {
        // The write has committed upstream; the client gives up waiting for its answer.
        Some(Kind::LoseReply) => {
            signals.committed.notify_one();
            tokio::time::sleep(Duration::from_millis(2_500)).await;
        }
        Some(Kind::HangUpAfterCommit) => return None,
        Some(Kind::InProgressAfterCommit) => {
            return Some(canned(400, "TransactionInProgressException", ""))
        }
        Some(Kind::CutBody) => body = body.slice(..body.len() / 2),
        _ => {}
    }
    Some(builder.body(Full::new(body)).unwrap())
}

/// A BatchGetItem that asks for the first half of each table's keys, and the rest as its
/// answer's `UnprocessedKeys` (`None`, and the call unchanged, for fewer than two keys).
fn hold_back_half(bytes: Bytes) -> (Bytes, Option<Value>) {
    let mut request: Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let mut held = serde_json::Map::new();
    if let Some(tables) = request["RequestItems"].as_object_mut() {
        for (table, wanted) in tables.iter_mut() {
            let Some(keys) = wanted["Keys"].as_array_mut().filter(|k| k.len() > 1) else {
                continue;
            };
            let rest = keys.split_off(keys.len() / 2);
            let mut unprocessed = wanted.clone();
            unprocessed["Keys"] = Value::Array(rest);
            held.insert(table.clone(), unprocessed);
        }
    }
    if held.is_empty() {
        return (bytes, None);
    }
    (Bytes::from(request.to_string()), Some(Value::Object(held)))
}

/// The answer the proxy makes up instead of forwarding the call, if `kind` is one of those.
fn canned_fault(
    kind: Option<Kind>,
    target: &str,
    bytes: &Bytes,
) -> Option<hyper::Response<Full<Bytes>>> {
    Some(match kind? {
        Kind::Throttle => canned(400, "ThrottlingException", ""),
        Kind::ServerError => canned(500, "InternalServerError", ""),
        Kind::Unavailable => canned(503, "ServiceUnavailable", ""),
        Kind::Deny => canned(400, "AccessDeniedException", ""),
        Kind::CancelThrottled if target.ends_with("TransactWriteItems") => canned(
            400,
            "TransactionCanceledException",
            r#","CancellationReasons":[{"Code":"None"},{"Code":"ThrottlingError"}]"#,
        ),
        Kind::CancelConflict => canned(
            400,
            "TransactionCanceledException",
            r#","CancellationReasons":[{"Code":"None"},{"Code":"TransactionConflict"}]"#,
        ),
        Kind::Conflict => canned(400, "TransactionConflictException", ""),
        Kind::Unprocessed => {
            let request: Value = serde_json::from_slice(bytes).unwrap_or_default();
            let body = json!({"Responses": {}, "UnprocessedKeys": request["RequestItems"]});
            hyper::Response::builder()
                .status(200)
                .header("content-type", "application/x-amz-json-1.0")
                .body(Full::new(Bytes::from(body.to_string())))
                .unwrap()
        }
        _ => return None,
    })
}

impl FaultProxy {
    pub async fn start() -> FaultProxy {
        let fault = Arc::new(Mutex::new(None));
        let signals = Arc::new(Signals::default());
        let (shared, told) = (Arc::clone(&fault), Arc::clone(&signals));
        let client = reqwest::Client::new();
        let url = serve_proxy(move |req| {
            let (fault, told, client) = (Arc::clone(&shared), Arc::clone(&told), client.clone());
            async move { forward(&client, req, &fault, &told).await }
        })
        .await;
        FaultProxy {
            url,
            fault,
            signals,
        }
    }

    /// Applies `kind` to the next `times` calls to `target`.
    pub fn set(&self, kind: Kind, target: &'static str, times: u32) {
        self.set_after(kind, target, 0, times);
    }

    /// Applies `kind` to `times` calls to `target` after letting `skip` of them through.
    pub fn set_after(&self, kind: Kind, target: &'static str, skip: u32, times: u32) {
        *self.fault.lock().unwrap() = Some(Fault {
            kind,
            target,
            skip,
            times,
        });
    }

    pub fn clear(&self) {
        *self.fault.lock().unwrap() = None;
    }

    /// Whether every fault set was used up.
    pub fn used_up(&self) -> bool {
        self.fault.lock().unwrap().is_none_or(|f| f.times == 0)
    }
}
