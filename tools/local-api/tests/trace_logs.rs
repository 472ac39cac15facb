//! At the most verbose level a stage can set (`LogLevel=TRACE`), the logs still hold no
//! unmasked CNPJ or account number: the SDK, hyper and rustls never log bodies.
//!
//! Not a module of the `api` binary: it sets `AWS_LAMBDA_LOG_LEVEL` for the whole process, and
//! the level is read once, when the first server installs logging (every other suite would run
//! at TRACE). It includes only the parts of the harness it uses: the API and its requests, the
//! log capture, the sample companies.

#[path = "common/logs.rs"]
mod logs;
// Its PUT and DELETE shortcuts go unused here.
#[allow(dead_code)]
#[path = "common/app.rs"]
mod app;
// The minimal company goes unused here.
#[allow(dead_code)]
#[path = "common/fixtures.rs"]
mod fixtures;

use app::Api;
use companies_store::{MemoryStore, Store};
use fixtures::full;
use reqwest::StatusCode;
use serde_json::json;

async fn scenario(api: Api) {
    let created = api.create(&full()).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let r = api
        .patch(format!("/companies/{id}"))
        .merge_patch(&json!({"tax_id": "12.ABC.345/01DE-35"}))
        .if_match("\"1\"")
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = api
        .post(format!("/companies/{id}/bank-accounts"))
        .idempotency_key("trace-1")
        .json(&json!({"bank_code": "260", "agency": "0001", "account_number": "98765432-1"}))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let found = api
        .get("/companies?tax_id=12ABC34501DE35")
        .read_json()
        .await;
    assert_eq!(found["items"][0]["id"], id.as_str());
}

async fn run<S: Store + 'static>(store: S) {
    scenario(Api::start(store).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_at_trace_hold_no_unmasked_cnpj_or_account() {
    // Before the first Api::start installs logging. Nothing else runs in this binary yet.
    std::env::set_var("AWS_LAMBDA_LOG_LEVEL", "TRACE");
    run(MemoryStore::new()).await;
    if let Some(store) = companies_store::testing::dynamo_store("trace").await {
        run(store).await;
        assert!(
            logs::logs_contain("\"level\":\"DEBUG\""),
            "the TRACE level did not take effect"
        );
    }
    logs::assert_logs_masked();
}
