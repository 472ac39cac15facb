//! A minimal Lambda Runtime API (2018-06-01) server that hands out events one at a time, and
//! the driver's side of it: what the function process asked and answered, and when.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Mutex};

/// What the server tells the driver.
enum Signal {
    /// The function asked for its next event.
    Next(Instant),
    /// The function answered an invocation (its status code, if the payload had one).
    Done(Instant, Option<u64>),
    /// Anything else the function posted (an init or invocation error): its path and body.
    Failed(String),
}

/// What every connection of the server shares: the events the driver queues, the signals it
/// waits for.
struct ServerSide {
    events: Mutex<mpsc::Receiver<String>>,
    signals: mpsc::Sender<Signal>,
}

/// Answers one request of the function's runtime client.
async fn answer(
    server: Arc<ServerSide>,
    req: hyper::Request<Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    let ok = |body: Bytes| hyper::Response::new(Full::new(body));
    if path.ends_with("/runtime/invocation/next") {
        let _ = server.signals.send(Signal::Next(Instant::now())).await;
        let event = server.events.lock().await.recv().await;
        let Some(event) = event else {
            // The driver is done: keep the function parked until it is killed.
            std::future::pending::<()>().await;
            return ok(Bytes::new());
        };
        let deadline = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() + 30_000)
            .unwrap_or(0);
        let mut resp = ok(Bytes::from(event));
        let h = resp.headers_mut();
        let id = uuid::Uuid::new_v4().to_string();
        for (k, v) in [
            ("lambda-runtime-aws-request-id", id.as_str()),
            ("lambda-runtime-deadline-ms", &deadline.to_string()),
            (
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:bench",
            ),
            // Every invocation sampled: the function reports its DynamoDB calls to the
            // daemon `Instance` names, as a traced function in production does.
            (
                "lambda-runtime-trace-id",
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
            ),
            ("content-type", "application/json"),
        ] {
            if let Ok(v) = v.parse() {
                h.insert(k, v);
            }
        }
        return resp;
    }
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let signal = if path.ends_with("/response") {
        let status = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["statusCode"].as_u64());
        Signal::Done(Instant::now(), status)
    } else {
        Signal::Failed(format!("{path}: {}", String::from_utf8_lossy(&body)))
    };
    let _ = server.signals.send(signal).await;
    let mut resp = ok(Bytes::from_static(b"{}"));
    *resp.status_mut() = hyper::StatusCode::ACCEPTED;
    resp
}

/// A Runtime API server on a free loopback port, serving one function process, and the
/// driver's end of it.
pub struct RuntimeApi {
    /// Where the function's runtime client reaches the server (`AWS_LAMBDA_RUNTIME_API`).
    pub addr: SocketAddr,
    events: mpsc::Sender<String>,
    signals: mpsc::Receiver<Signal>,
    server: tokio::task::JoinHandle<()>,
}

impl RuntimeApi {
    /// Starts serving; the server holds each `next` until the driver hands out an event.
    pub async fn start() -> Result<RuntimeApi, String> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| e.to_string())?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let (event_tx, event_rx) = mpsc::channel(1);
        let (signal_tx, signal_rx) = mpsc::channel(16);
        let server_side = Arc::new(ServerSide {
            events: Mutex::new(event_rx),
            signals: signal_tx,
        });
        let server = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let server_side = Arc::clone(&server_side);
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let server_side = Arc::clone(&server_side);
                        async move { Ok::<_, Infallible>(answer(server_side, req).await) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(RuntimeApi {
            addr,
            events: event_tx,
            signals: signal_rx,
            server,
        })
    }

    /// When the function asks for an event.
    pub async fn wait_next(&mut self) -> Result<Instant, String> {
        match tokio::time::timeout(Duration::from_secs(30), self.signals.recv()).await {
            Ok(Some(Signal::Next(at))) => Ok(at),
            Ok(Some(Signal::Failed(e))) => Err(format!("function failed: {e}")),
            Ok(Some(Signal::Done(..))) => Err("unexpected response before next".into()),
            Ok(None) | Err(_) => Err("function never asked for an event (did it start?)".into()),
        }
    }

    /// Hands out one event; the time until the function responds.
    pub async fn invoke(&mut self, event: &str) -> Result<(Duration, Option<u64>), String> {
        let sent = Instant::now();
        self.events
            .send(event.to_owned())
            .await
            .map_err(|e| e.to_string())?;
        loop {
            match tokio::time::timeout(Duration::from_secs(30), self.signals.recv()).await {
                Ok(Some(Signal::Done(at, status))) => return Ok((at - sent, status)),
                Ok(Some(Signal::Next(_))) => continue,
                Ok(Some(Signal::Failed(e))) => return Err(format!("invocation failed: {e}")),
                Ok(None) | Err(_) => return Err("no response within 30 s".into()),
            }
        }
    }

    /// Stops serving.
    pub fn stop(&self) {
        self.server.abort();
    }
}
