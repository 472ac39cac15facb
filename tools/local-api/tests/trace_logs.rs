//! At the most verbose level a stage can set (`LogLevel=TRACE`), the logs still hold no
//! unmasked CNPJ or account number: the SDK, hyper and rustls never log bodies. Its own test
//! binary, since the level is read once, when logging is installed.

mod common;

use common::{full, Api};
use companies_store::{MemoryStore, Store};
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn scenario(api: Api) {
    let created = api.create(&full()).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let r = api
        .patch(&id, &json!({"tax_id": "12.ABC.345/01DE-35"}), Some("\"1\""))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = api
        .send_with(
            "POST",
            &format!("/companies/{id}/bank-accounts"),
            &[("idempotency-key", "trace-1")],
            Some(&json!({"bank_code": "260", "agency": "0001", "account_number": "98765432-1"})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let found: Value = api
        .get("/companies?tax_id=12ABC34501DE35")
        .await
        .json()
        .await
        .unwrap();
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
            common::logs_contain("\"level\":\"DEBUG\""),
            "the TRACE level did not take effect"
        );
    }
    common::assert_logs_masked();
}
