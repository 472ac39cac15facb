//! Passing faults a retry gets through: cancelled transactions, dropped connections, batch
//! reads left unprocessed.

use std::time::Duration;

use super::{assert_unavailable, company_count, setup, stored_company};
use crate::common::fault_proxy::{Kind, ALWAYS};
use crate::common::{acme, assert_logs_masked, full, names};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// DynamoDB cancels a transaction that meets another one holding an item; once that clears,
/// the write goes through. (Every write is a transaction: the change and its history entry.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passing_transaction_conflict_is_retried() {
    a_cancelled_transaction_is_retried(Kind::CancelConflict).await;
}

/// The same for a transaction cancelled because a partition was throttled (a hot name index
/// term, a table scaling up): the SDK retries a throttled call but not a transaction cancelled
/// for it, so the store backs off and tries again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passing_throttled_transaction_is_retried() {
    a_cancelled_transaction_is_retried(Kind::CancelThrottled).await;
}

async fn a_cancelled_transaction_is_retried(kind: Kind) {
    let Some((proxy, api, truth)) = setup(Duration::from_secs(8)).await else {
        return;
    };
    proxy.set(kind, "TransactWriteItems", 2);
    let created = api.post("/companies").json(&acme()).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    assert!(proxy.used_up());
    let id = created.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    proxy.set(kind, "TransactWriteItems", 1);
    let patched = api
        .patch(format!("/companies/{id}"))
        .merge_patch(&json!({"company_name": "Acme 2"}))
        .if_match("\"1\"")
        .await;
    assert_eq!(patched.status(), StatusCode::OK);
    let company: Value = stored_company(&truth, &id).await;
    assert_eq!(
        (
            company["company_name"].as_str(),
            company["version"].as_u64()
        ),
        (Some("Acme 2"), Some(2))
    );
}

/// A connection closed without an answer (what a kept-alive connection dropped by the far end
/// while the function was frozen looks like) is retried on a new connection: the read and the
/// write succeed, the write lands once. When every connection is dropped, the answer is a 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_is_retried_on_a_new_one() {
    let Some((proxy, api, truth)) = setup(Duration::from_secs(8)).await else {
        return;
    };
    let id = api.create(&acme()).await["id"].as_str().unwrap().to_owned();
    let location = format!("/companies/{id}");

    proxy.set(Kind::HangUp, "GetItem", 1);
    let r = api.get(&location).await;
    assert!(proxy.used_up(), "the fault was not hit");
    assert_eq!(r.status(), StatusCode::OK);

    proxy.set(Kind::HangUp, "TransactWriteItems", 2);
    let r = api.post("/companies").json(&full()).await;
    assert!(proxy.used_up());
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(company_count(&truth).await, 2, "landed once");

    proxy.set(Kind::HangUp, "", ALWAYS);
    assert_unavailable(api.get(&location).await).await;
    assert_unavailable(api.post("/companies").json(&acme()).await).await;
    proxy.clear();
    assert_eq!(company_count(&truth).await, 2, "nothing written");
    assert_logs_masked();
}

/// A search reads its page's companies in one BatchGetItem; DynamoDB may leave some or all keys
/// unprocessed when it throttles: they are asked for again (with back-off), and when DynamoDB
/// keeps refusing, the answer is 503, never a page with companies missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_asks_again_for_keys_left_unprocessed() {
    let Some((proxy, api, _)) = setup(Duration::from_secs(8)).await else {
        return;
    };
    for name in ["Padaria Um", "Padaria Dois", "Padaria Tres"] {
        api.create(&json!({"company_name": name, "phone": "11978235674", "declared_billing": 1}))
            .await;
    }
    // Nothing read twice; then half read each time (what was read is kept across rounds).
    for (kind, times) in [(Kind::Unprocessed, 2), (Kind::PartlyUnprocessed, 2)] {
        proxy.set(kind, "BatchGetItem", times);
        let page = api.get("/companies?q=padaria").read_json().await;
        assert!(proxy.used_up(), "{kind:?}: the fault was not hit");
        assert_eq!(
            names(page["items"].as_array().unwrap()),
            ["Padaria Dois", "Padaria Tres", "Padaria Um"],
            "{kind:?}"
        );
    }
    proxy.set(Kind::Unprocessed, "BatchGetItem", ALWAYS);
    assert_unavailable(api.get("/companies?sort=name").await).await;
}
