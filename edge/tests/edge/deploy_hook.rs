//! The pre-traffic hook against stand-ins for Lambda's Invoke and CodeDeploy's
//! `PutLifecycleEventHookExecutionStatus`. The stand-in Lambda runs the operations' real
//! handlers (the registry's `dispatch`, an in-memory store) for versions named `good-…`, and
//! misbehaves for others: `broken-…` answers 500 as a version that lost its table would,
//! `crashing-…` raises a function error, `wrong-…` answers 200 with a body of the wrong shape.
//! The hook reports Succeeded only when every probe got the right answer, and its probes write
//! nothing. (`scripts/sam-local.sh test` runs the same hook on the packaged functions through
//! `sam local start-lambda`.)

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use companies_edge::deploy_hook::aws::{Aws, Credentials};
use companies_edge::deploy_hook::{handle, HookEvent};
use companies_edge::operations::{dispatch, Operation, OPERATIONS};
use companies_edge::runner::lambda::Error;
use companies_store::testing::sample_company;
use companies_store::{CompanyCreator, CompanyLister, MemoryStore};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;

/// What the stand-ins saw.
#[derive(Default)]
struct Seen {
    /// Functions invoked, in order.
    invoked: Vec<String>,
    /// Bodies CodeDeploy was sent.
    reports: Vec<Value>,
    /// Requests without a SigV4 signature for their service.
    unsigned: Vec<String>,
    /// Reports still to answer with a 500.
    refuse_reports: u32,
}

struct StandIn {
    store: MemoryStore,
    seen: Mutex<Seen>,
}

fn signed_for(req: &hyper::Request<hyper::body::Incoming>, service: &str) -> bool {
    req.headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| {
            a.starts_with("AWS4-HMAC-SHA256 Credential=test/")
                && a.contains(&format!("/sa-east-1/{service}/aws4_request"))
        })
}

/// The API Gateway v2 response of the operation `name`'s real handler to `event`.
async fn run_handler(store: &MemoryStore, operation: &Operation, event: &str) -> Value {
    let request = lambda_http::request::from_str(event).unwrap();
    let handled = dispatch(store, operation.handler, request).await;
    let (response, _) = companies_edge::http::IntoResponse::into_parts(handled);
    let headers: serde_json::Map<String, Value> = response
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap())))
        .collect();
    let body = match response.body() {
        lambda_http::Body::Text(t) => t.clone(),
        lambda_http::Body::Binary(b) => String::from_utf8(b.clone()).unwrap(),
        _ => String::new(),
    };
    json!({"statusCode": response.status().as_u16(), "headers": headers, "body": body, "isBase64Encoded": false})
}

async fn answer(
    standin: Arc<StandIn>,
    req: hyper::Request<hyper::body::Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    let reply = |status: u16, body: Value| {
        hyper::Response::builder()
            .status(status)
            .body(Full::new(Bytes::from(body.to_string())))
            .unwrap()
    };
    if let Some(function) = path
        .strip_prefix("/2015-03-31/functions/")
        .and_then(|p| p.strip_suffix("/invocations"))
    {
        let function = function.to_owned();
        if !signed_for(&req, "lambda") {
            standin.seen.lock().unwrap().unsigned.push(function.clone());
        }
        let body = req.into_body().collect().await.unwrap().to_bytes();
        let event = String::from_utf8(body.to_vec()).unwrap();
        standin.seen.lock().unwrap().invoked.push(function.clone());
        let (kind, name) = function.split_once('-').unwrap();
        let operation = OPERATIONS.iter().find(|op| op.name == name).unwrap();
        return match kind {
            "good" => reply(200, run_handler(&standin.store, operation, &event).await),
            // Never answers (a version stuck at start-up, say).
            "hanging" => std::future::pending().await,
            "broken" => reply(
                200,
                json!({"statusCode": 500, "headers": {"content-type": "application/problem+json"},
                       "body": json!({"type": "about:blank", "title": "Internal Server Error", "status": 500}).to_string()}),
            ),
            "wrong" => reply(
                200,
                json!({"statusCode": 200, "headers": {"content-type": "text/html"}, "body": "<html></html>"}),
            ),
            _ => {
                let mut r = reply(
                    200,
                    json!({"errorType": "Runtime.ExitError", "errorMessage": "exit"}),
                );
                r.headers_mut()
                    .insert("x-amz-function-error", "Unhandled".parse().unwrap());
                r
            }
        };
    }
    let target = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if !signed_for(&req, "codedeploy") {
        standin.seen.lock().unwrap().unsigned.push(target.clone());
    }
    assert_eq!(
        target,
        "CodeDeploy_20141006.PutLifecycleEventHookExecutionStatus"
    );
    let body = req.into_body().collect().await.unwrap().to_bytes();
    let report: Value = serde_json::from_slice(&body).unwrap();
    let mut seen = standin.seen.lock().unwrap();
    seen.reports.push(report);
    if seen.refuse_reports > 0 {
        seen.refuse_reports -= 1;
        return reply(500, json!({"__type": "InternalFailure"}));
    }
    reply(200, json!({"lifecycleEventHookExecutionId": "e-1"}))
}

/// Stand-ins for Lambda and CodeDeploy on one free port, and the hook's client pointed at it.
async fn stand_ins(store: MemoryStore) -> (Arc<StandIn>, Aws) {
    let standin = Arc::new(StandIn {
        store,
        seen: Mutex::default(),
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let served = Arc::clone(&standin);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let served = Arc::clone(&served);
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let served = Arc::clone(&served);
                    async move { Ok::<_, Infallible>(answer(served, req).await) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    let credentials = Credentials::new("test", "secret", None, None, "test");
    let aws = Aws::new("sa-east-1", credentials, &url, &url).unwrap();
    (standin, aws)
}

/// A deadline the probes never reach.
fn later() -> tokio::time::Instant {
    tokio::time::Instant::now() + std::time::Duration::from_secs(60)
}

fn event() -> HookEvent {
    serde_json::from_value(json!({
        "DeploymentId": "d-EXAMPLE1",
        "LifecycleEventHookExecutionId": "hook-execution-1"
    }))
    .unwrap()
}

/// Every operation's version named `<kind>-<operation>`, but `odd` named `<odd_kind>-…`.
fn targets(odd: Option<(&str, &str)>) -> Vec<(&'static Operation, String)> {
    OPERATIONS
        .iter()
        .map(|op| {
            let kind = match odd {
                Some((name, kind)) if name == op.name => kind,
                _ => "good",
            };
            (op, format!("{kind}-{}", op.name))
        })
        .collect()
}

#[tokio::test]
async fn good_versions_pass_every_probe_and_nothing_is_written() -> Result<(), Error> {
    let store = MemoryStore::default();
    let existing = sample_company("Already Here Ltda");
    store.create(&existing, None, None).await?;
    // Every table of the store as it stands (companies, markers, history, idempotency records).
    let before = format!("{store:?}");
    let (standin, aws) = stand_ins(store).await;
    let outcome = handle(&aws, &targets(None), event(), later()).await?;
    let problems: Vec<_> = outcome
        .findings
        .iter()
        .filter(|f| f.problem.is_some())
        .collect();
    assert!(outcome.succeeded, "{problems:?}");
    {
        let seen = standin.seen.lock().unwrap();
        let expected: Vec<String> = OPERATIONS
            .iter()
            .map(|op| format!("good-{}", op.name))
            .collect();
        assert_eq!(seen.invoked, expected, "one probe per operation");
        assert_eq!(
            seen.reports,
            [
                json!({"deploymentId": "d-EXAMPLE1", "lifecycleEventHookExecutionId": "hook-execution-1", "status": "Succeeded"})
            ]
        );
        assert_eq!(seen.unsigned, Vec::<String>::new());
    }
    let page = standin.store.list(10, None).await?;
    assert_eq!(page.items, [existing], "the probes created nothing");
    assert_eq!(
        format!("{:?}", standin.store),
        before,
        "the probes wrote nothing"
    );
    Ok(())
}

#[tokio::test]
async fn a_version_answering_500_or_the_wrong_shape_or_failing_is_reported_failed(
) -> Result<(), Error> {
    for (operation, kind, says) in [
        (
            "get-company",
            "broken",
            "expected 404, got 500: Internal Server Error",
        ),
        ("list-companies", "broken", "expected 200, got 500"),
        ("get-banks", "wrong", "expected application/json"),
        (
            "delete-company",
            "crashing",
            "the function failed instead of answering",
        ),
    ] {
        let (standin, aws) = stand_ins(MemoryStore::default()).await;
        let outcome = handle(&aws, &targets(Some((operation, kind))), event(), later()).await?;
        assert!(!outcome.succeeded, "{operation} {kind}");
        let failed: Vec<_> = outcome
            .findings
            .iter()
            .filter_map(|f| Some((f.operation, f.problem.as_deref()?)))
            .collect();
        assert_eq!(failed.len(), 1, "{failed:?}");
        assert_eq!(failed[0].0, operation);
        assert!(failed[0].1.contains(says), "{operation}: {}", failed[0].1);
        let seen = standin.seen.lock().unwrap();
        assert_eq!(seen.reports.len(), 1);
        assert_eq!(seen.reports[0]["status"], "Failed");
        assert_eq!(
            seen.invoked.len(),
            OPERATIONS.len(),
            "every probe still ran"
        );
    }
    Ok(())
}

/// A version that never answers is cut off at the hook's deadline (so the hook reports, rather
/// than CodeDeploy waiting out its hour), and a report CodeDeploy refuses once is made again.
#[tokio::test]
async fn a_hanging_version_fails_at_the_deadline_and_a_refused_report_is_retried(
) -> Result<(), Error> {
    let (standin, aws) = stand_ins(MemoryStore::default()).await;
    standin.seen.lock().unwrap().refuse_reports = 1;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(800);
    let outcome = handle(
        &aws,
        &targets(Some(("get-company", "hanging"))),
        event(),
        deadline,
    )
    .await?;
    assert!(!outcome.succeeded);
    let late: Vec<&str> = outcome
        .findings
        .iter()
        .filter(|f| {
            f.problem
                .as_deref()
                .is_some_and(|p| p.contains("ran out of time"))
        })
        .map(|f| f.operation)
        .collect();
    // The hanging one and every one after it in the registry's order.
    let from = OPERATIONS
        .iter()
        .position(|op| op.name == "get-company")
        .unwrap();
    let expected: Vec<&str> = OPERATIONS[from..].iter().map(|op| op.name).collect();
    assert_eq!(late, expected);
    let statuses: Vec<Value> = {
        let seen = standin.seen.lock().unwrap();
        seen.reports.iter().map(|r| r["status"].clone()).collect()
    };
    assert_eq!(
        statuses,
        [json!("Failed"), json!("Failed")],
        "refused once, then made again"
    );
    Ok(())
}
