//! What only real DynamoDB and AWS do, shown on the DynamoDB-backed API through a proxy in front
//! of DynamoDB Local that behaves the way DynamoDB does under load: throttling, 500s and 503s,
//! cancelled transactions, transaction conflicts on single-item writes (once and persistently),
//! replies lost after the write committed, connections closed without an answer (before and after
//! the write committed), cut response bodies, stalls, slow-but-successful calls that exhaust
//! the request's time budget, a call held while another writer acts, and calls denied (IAM or
//! KMS). The client never gets internal text; a transient fault is retried or answered 503 +
//! Retry-After with nothing written; a denial, which no retry cures, is a 500 problem with its
//! cause logged; a write whose reply was lost is answered as if it ran once, and the table shows
//! it landed once. The same proxy (`common/fault_proxy.rs`) tests `companies-reindex`'s writes,
//! and the importer's (`tools/import/tests/import/`).

mod failures;
mod lost_replies;
mod name_index;
mod retries;
mod xray;

use std::time::Duration;

use crate::common::fault_proxy::FaultProxy;
use crate::common::{dump_errors, Api};
use companies_store::DynamoStore;
use reqwest::StatusCode;
use serde_json::Value;

/// A 503 problem with Retry-After that leaks nothing internal.
async fn assert_unavailable(r: reqwest::Response) {
    if r.status() != 503 {
        dump_errors();
    }
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.headers()["retry-after"], "1");
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let text = r.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["status"], 503);
    for leak in [
        "Throttling",
        "injected",
        "dispatch",
        "Dynamo",
        "timeout",
        "Transaction",
        "budget",
    ] {
        assert!(!text.contains(leak), "internal text {leak:?} in {text}");
    }
}

/// The company `id` as the table holds it.
async fn stored_company(truth: &Api, id: &str) -> Value {
    truth.get(format!("/companies/{id}")).read_json().await
}

async fn company_count(api: &Api) -> usize {
    let page = api.get("/companies?limit=100").read_json().await;
    page["items"].as_array().unwrap().len()
}

/// A fault proxy in front of DynamoDB Local, a store of the test table through it, and one
/// straight to DynamoDB Local to look at what the table holds.
async fn proxied_store() -> Option<(FaultProxy, DynamoStore, DynamoStore)> {
    let direct = companies_store::testing::dynamo_store("faults").await?;
    let proxy = FaultProxy::start().await;
    let store = DynamoStore::connect_to(direct.table(), Some(&proxy.url)).await;
    Some((proxy, store, direct))
}

/// The DynamoDB-backed API behind a fault proxy, and one straight to DynamoDB Local to look at
/// what the table holds.
async fn setup(budget: Duration) -> Option<(FaultProxy, Api, Api)> {
    let (proxy, store, direct) = proxied_store().await?;
    let api = Api::start_with_budget(store, budget).await;
    let truth = Api::start(direct).await;
    Some((proxy, api, truth))
}
