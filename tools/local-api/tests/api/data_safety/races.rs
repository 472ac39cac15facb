//! Many writers on one company at once: every success is a version of the history, and
//! `If-Match` lets exactly one writer of a version win.

use std::sync::Arc;

use crate::common::{acme, concurrently, problem, Api};
use companies_store::testing::MarkerAudit;
use companies_store::Store;
use reqwest::StatusCode;
use serde_json::json;

/// 50 concurrent PATCHes without If-Match: each lands, or says it may not have (a 409 after
/// losing every retry to the others, or a 503 when the request's time budget ran out on a
/// loaded machine); versions 1..=N are contiguous with one history entry each, every 200 is
/// among them, and replaying the entries' patches yields the final company.
async fn fifty_concurrent_patches_leave_a_contiguous_history<S: Store + MarkerAudit>(
    api: Api,
    _store: S,
) {
    let api = Arc::new(api);
    let id = api.create(&acme()).await["id"].as_str().unwrap().to_owned();
    let location = format!("/companies/{id}");
    let outcomes = concurrently(&api, 50, |api, i| {
        let location = location.clone();
        async move {
            // Amounts none of which is the company's (10.00): each patch is a change.
            let r = api
                .patch(&location)
                .merge_patch(&json!({"declared_billing": format!("{i}.01")}))
                .await;
            match r.status() {
                StatusCode::OK => true,
                StatusCode::SERVICE_UNAVAILABLE => {
                    assert_eq!(r.headers()["retry-after"], "1");
                    false
                }
                _ => {
                    let body = problem(r, 409).await;
                    assert_eq!(body["type"], "urn:companies:problem:edit-conflict");
                    false
                }
            }
        }
    })
    .await;
    let landed = outcomes.iter().filter(|ok| **ok).count() as u64;
    assert!(landed > 0, "none of 50 landed");
    let company = api.get(&location).read_json().await;
    let version = company["version"].as_u64().unwrap();
    assert!(
        version > landed,
        "every 200 is a version: {version} vs {landed}"
    );
    let page = api
        .get(format!("/companies/{id}/history?limit=100"))
        .read_json()
        .await;
    let mut entries = page["items"].as_array().unwrap().clone();
    entries.reverse();
    let versions: Vec<u64> = entries
        .iter()
        .map(|e| e["version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions, (1..=version).collect::<Vec<_>>());
    let mut state = json!({});
    for entry in &entries {
        json_patch::merge(&mut state, &entry["changes"]);
    }
    assert_eq!(state["declared_billing"], company["declared_billing"]);
    assert_eq!(state["company_name"], company["company_name"]);
}

async fn fifty_patches_with_one_if_match_let_exactly_one_win<S: Store + MarkerAudit>(
    api: Api,
    _store: S,
) {
    let id = api.create(&acme()).await["id"].as_str().unwrap().to_owned();
    let location = format!("/companies/{id}");
    let api = Arc::new(api);
    let statuses = concurrently(&api, 50, |api, i| {
        let location = location.clone();
        async move {
            let patch = json!({"company_name": format!("writer {i}")});
            api.patch(&location)
                .merge_patch(&patch)
                .if_match("\"1\"")
                .await
                .status()
                .as_u16()
        }
    })
    .await;
    let successes = statuses.iter().filter(|s| **s == 200).count();
    assert_eq!(successes, 1, "{statuses:?}");
    assert_eq!(
        statuses.iter().filter(|s| **s == 412).count(),
        49,
        "{statuses:?}"
    );
    let now = api.get(&location).read_json().await;
    assert_eq!(now["version"].as_u64().unwrap(), successes as u64 + 1);
}

e2e_with_store!(
    fifty_concurrent_patches_leave_a_contiguous_history,
    fifty_patches_with_one_if_match_let_exactly_one_win,
);
