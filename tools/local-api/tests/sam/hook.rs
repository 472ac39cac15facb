//! The pre-traffic hook as CodeDeploy runs it, on the packaged functions: `sam local
//! start-lambda` serves the functions' Invoke API (the versions to check), a stand-in here plays
//! CodeDeploy's `PutLifecycleEventHookExecutionStatus`, and `sam local invoke` runs the
//! packaged hook with CodeDeploy's event (`events/hooks/pre-traffic.json`). A good build is
//! reported Succeeded; a build whose `get-company` answers 500 (its table is gone) is reported
//! Failed, naming it.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::*;
use companies_edge::deploy_hook::target_variable;
use companies_edge::operations::OPERATIONS;

/// What the stand-in for CodeDeploy was told.
type Reports = Arc<Mutex<Vec<Value>>>;

/// A stand-in for CodeDeploy's status call on a free port: its URL and what it was sent.
async fn codedeploy() -> (String, Reports) {
    let reports = Reports::default();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let kept = Arc::clone(&reports);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let kept = Arc::clone(&kept);
            tokio::spawn(async move {
                let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let kept = Arc::clone(&kept);
                    async move {
                        let target = req
                            .headers()
                            .get("x-amz-target")
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned);
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        let mut report: Value = serde_json::from_slice(&body).unwrap_or_default();
                        report["target"] = json!(target);
                        kept.lock().unwrap().push(report);
                        Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from_static(
                            b"{}",
                        ))))
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (url, reports)
}

/// env.json for the hook: the local endpoints, and each operation's function by the name
/// `start-lambda` serves it under (its logical id).
fn hook_env(name: &str, lambda: &str, codedeploy: &str) -> PathBuf {
    let mut vars = json!({
        "AWS_ENDPOINT_URL_LAMBDA": lambda, "AWS_ENDPOINT_URL_CODEDEPLOY": codedeploy,
        "STAGE": "local",
    });
    for op in OPERATIONS {
        vars[target_variable(op)] = json!(op.function_id());
    }
    let path = root().join(format!("target/sam-local/{name}.json"));
    std::fs::write(&path, json!({"PreTrafficHook": vars}).to_string()).unwrap();
    path
}

/// Runs the packaged hook once against `sam local start-lambda` serving the functions with
/// `functions_env`; what it answered and what CodeDeploy was told.
async fn run_hook(image: &str, functions_env: &Path, name: &str) -> (Value, Vec<Value>) {
    let lambda = start(image, functions_env, "start-lambda", name);
    let port: u16 = lambda.url.rsplit(':').next().unwrap().parse().unwrap();
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "sam local start-lambda did not listen (target/sam-local/{name}.log)"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (codedeploy_url, reports) = codedeploy().await;
    let env = hook_env(&format!("{name}-env"), &lambda.url, &codedeploy_url);
    let event = root().join("events/hooks/pre-traffic.json");
    // `sam local invoke` blocks: run it off the runtime that serves the stand-in.
    let image = image.to_owned();
    let output =
        tokio::task::spawn_blocking(move || invoke(&image, &env, "PreTrafficHook", &event))
            .await
            .unwrap();
    let outcome = answer(&output);
    drop(lambda);
    let reports = reports.lock().unwrap().clone();
    (outcome, reports)
}

#[tokio::test]
async fn the_pre_traffic_hook_passes_a_good_build_and_fails_one_answering_500() {
    let Some((_, image)) = prepared() else { return };
    let store = dynamo_store("sam-hook").await.expect("DynamoDB Local");
    let event: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("events/hooks/pre-traffic.json")).unwrap(),
    )
    .unwrap();
    let reported = |status: &str| {
        json!({
            "deploymentId": event["DeploymentId"],
            "lifecycleEventHookExecutionId": event["LifecycleEventHookExecutionId"],
            "status": status,
            "target": "CodeDeploy_20141006.PutLifecycleEventHookExecutionStatus",
        })
    };

    let good = env_file(&store, "hook-good", &[]);
    let (outcome, reports) = run_hook(&image, &good, "hook-good").await;
    assert_eq!(outcome["succeeded"], true, "{outcome}");
    let probed: Vec<&str> = outcome["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["operation"].as_str().unwrap())
        .collect();
    let operations: Vec<&str> = OPERATIONS.iter().map(|op| op.name).collect();
    assert_eq!(probed, operations);
    assert_eq!(reports, [reported("Succeeded")]);

    let broken = env_file(
        &store,
        "hook-broken",
        &[("GetCompanyFunction", "TABLE_NAME", "no-such-table")],
    );
    let (outcome, reports) = run_hook(&image, &broken, "hook-broken").await;
    assert_eq!(outcome["succeeded"], false, "{outcome}");
    let failed: Vec<(&str, &str)> = outcome["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| Some((f["operation"].as_str()?, f["problem"].as_str()?)))
        .collect();
    assert_eq!(failed.len(), 1, "{outcome}");
    assert_eq!(failed[0].0, "get-company");
    assert!(
        failed[0].1.starts_with("expected 404, got 500"),
        "{}",
        failed[0].1
    );
    assert_eq!(reports, [reported("Failed")]);
}
