//! A function binary as Lambda runs it: `get-company` started against a Runtime API played
//! here, DynamoDB Local behind it and a UDP socket as the X-Ray daemon. The trace of each
//! invocation comes from the runtime's `Lambda-Runtime-Trace-Id` header (the function's
//! environment holds no `_X_AMZN_TRACE_ID`): every log line and embedded-metrics document of a
//! request carries that invocation's trace id, the first request of the instance alone counts a
//! cold start, and a sampled request's DynamoDB calls reach the daemon, under the function's
//! segment, before its response does; an unsampled one sends nothing.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::UdpSocket;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::io::AsyncBufReadExt;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use companies_store::testing::{dynamo_store, sample_company};
use companies_store::CompanyCreator;

const SAMPLED: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
const UNSAMPLED: &str =
    "Root=1-6759e988-cd862e3fe1be46a994272794;Parent=63995c3f42cd8ad9;Sampled=0";

/// What the played Runtime API saw of one invocation's answer.
struct Answered {
    request_id: String,
    status: Option<u64>,
    /// Datagrams the daemon held when the answer arrived.
    datagrams: Vec<String>,
}

struct Runtime {
    /// Invocations still to hand out: request id, trace header, event.
    events: Mutex<VecDeque<(String, &'static str, String)>>,
    answers: mpsc::UnboundedSender<Answered>,
    daemon: UdpSocket,
}

fn drain(daemon: &UdpSocket) -> Vec<String> {
    let mut buf = vec![0u8; 70_000];
    let mut out = Vec::new();
    while let Ok(n) = daemon.recv(&mut buf) {
        out.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    out
}

async fn answer(
    runtime: Arc<Runtime>,
    req: hyper::Request<Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    if path.ends_with("/invocation/next") {
        let next = runtime.events.lock().unwrap().pop_front();
        let Some((id, trace, event)) = next else {
            // Nothing more to hand out: park the function until the test ends it.
            std::future::pending::<()>().await;
            unreachable!()
        };
        let deadline = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
            + 30_000;
        return hyper::Response::builder()
            .header("lambda-runtime-aws-request-id", id)
            .header("lambda-runtime-deadline-ms", deadline.to_string())
            .header(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:get-company",
            )
            .header("lambda-runtime-trace-id", trace)
            .body(Full::new(Bytes::from(event)))
            .unwrap();
    }
    // What the daemon holds now is what was sent before the answer was returned.
    let datagrams = drain(&runtime.daemon);
    let body = req.into_body().collect().await.unwrap().to_bytes();
    let request_id = path.split('/').nth(4).unwrap_or_default().to_owned();
    let status = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["statusCode"].as_u64());
    let _ = runtime.answers.send(Answered {
        request_id,
        status,
        datagrams,
    });
    hyper::Response::builder()
        .status(202)
        .body(Full::new(Bytes::from_static(b"{}")))
        .unwrap()
}

fn get_event(id: &str) -> String {
    let mut event: Value =
        serde_json::from_str(include_str!("../../events/get-company.json")).unwrap();
    let path = format!("/companies/{id}");
    event["rawPath"] = json!(path);
    event["requestContext"]["http"]["path"] = json!(path);
    event["pathParameters"]["id"] = json!(id);
    event.to_string()
}

/// The trace id a log line or metrics document carries (top level or in the request's span).
fn trace_id(line: &Value) -> Option<&str> {
    line["trace_id"]
        .as_str()
        .or_else(|| line["span"]["trace_id"].as_str())
}

fn request_id(line: &Value) -> Option<&str> {
    line["request_id"]
        .as_str()
        .or_else(|| line["span"]["request_id"].as_str())
}

#[tokio::test]
async fn each_request_carries_its_invocations_trace_and_a_sampled_one_reaches_the_daemon() {
    let Some(store) = dynamo_store("runner").await else {
        return;
    };
    let company = sample_company("Runner Traced Ltda");
    store.create(&company, None, None).await.unwrap();
    let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").unwrap();

    let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
    daemon.set_nonblocking(true).unwrap();
    let daemon_addr = daemon.local_addr().unwrap();
    let (answers_tx, mut answers) = mpsc::unbounded_channel();
    let event = get_event(&company.id.to_string());
    let runtime = Arc::new(Runtime {
        events: Mutex::new(VecDeque::from([
            ("invocation-1".to_owned(), SAMPLED, event.clone()),
            ("invocation-2".to_owned(), UNSAMPLED, event),
        ])),
        answers: answers_tx,
        daemon,
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let runtime = Arc::clone(&runtime);
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let runtime = Arc::clone(&runtime);
                    async move { Ok::<_, Infallible>(answer(runtime, req).await) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });

    let mut function = tokio::process::Command::new(env!("CARGO_BIN_EXE_get-company"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs([
            ("AWS_LAMBDA_RUNTIME_API", api.to_string()),
            ("AWS_LAMBDA_FUNCTION_NAME", "get-company".into()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256".into()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "1".into()),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME",
                "/aws/lambda/get-company".into(),
            ),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "test".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_XRAY_DAEMON_ADDRESS", daemon_addr.to_string()),
            ("AWS_ENDPOINT_URL_DYNAMODB", endpoint),
            ("TABLE_NAME", store.table().to_owned()),
            ("STAGE", "test".into()),
        ])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = function.stdout.take().unwrap();

    let first = answers.recv().await.unwrap();
    let second = answers.recv().await.unwrap();
    function.kill().await.unwrap();
    server.abort();
    let mut lines = Vec::new();
    let mut reader = tokio::io::BufReader::new(stdout).lines();
    while let Ok(Some(line)) = reader.next_line().await {
        lines.push(line);
    }

    assert_eq!(
        (first.request_id.as_str(), first.status),
        ("invocation-1", Some(200))
    );
    assert_eq!(
        (second.request_id.as_str(), second.status),
        ("invocation-2", Some(200))
    );
    // The sampled request's GetItem reached the daemon before its answer; the other sent nothing.
    assert_eq!(first.datagrams.len(), 1, "{:?}", first.datagrams);
    let (header, doc) = first.datagrams[0].split_once('\n').unwrap();
    assert_eq!(header, r#"{"format": "json", "version": 1}"#);
    let doc: Value = serde_json::from_str(doc).unwrap();
    assert_eq!(doc["trace_id"], "1-5759e988-bd862e3fe1be46a994272793");
    assert_eq!(doc["parent_id"], "53995c3f42cd8ad8");
    assert_eq!(doc["aws"]["operation"], "GetItem");
    assert_eq!(second.datagrams, Vec::<String>::new());

    let traces = [
        ("invocation-1", "1-5759e988-bd862e3fe1be46a994272793"),
        ("invocation-2", "1-6759e988-cd862e3fe1be46a994272794"),
    ];
    let parsed: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    for (request, trace) in traces {
        let of_request: Vec<&Value> = parsed
            .iter()
            .filter(|l| request_id(l) == Some(request))
            .collect();
        let access = of_request
            .iter()
            .filter(|l| l["message"] == "request")
            .count();
        let metrics = of_request
            .iter()
            .filter(|l| l.get("_aws").is_some())
            .count();
        assert_eq!((access, metrics > 0), (1, true), "{request}: {lines:?}");
        for line in &of_request {
            assert_eq!(trace_id(line), Some(trace), "{line}");
        }
    }
    // Every line but the start-up ones belongs to a request.
    let unattributed: Vec<&Value> = parsed.iter().filter(|l| request_id(l).is_none()).collect();
    assert!(unattributed.is_empty(), "{unattributed:?}");
    let cold_starts: Vec<(&str, u64)> = parsed
        .iter()
        .filter_map(|l| Some((request_id(l)?, l["cold_starts"].as_u64()?)))
        .collect();
    assert_eq!(cold_starts, [("invocation-1", 1)]);
    let cold = parsed
        .iter()
        .find(|l| l.get("cold_starts").is_some())
        .unwrap();
    assert_eq!(
        cold["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        json!([["function", "stage"]])
    );
}
