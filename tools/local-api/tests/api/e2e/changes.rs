//! Changing and deleting: PATCH merges, PUT replaces, DELETE removes, `If-Match` guards
//! each, and concurrent writers lose nothing.

use std::sync::Arc;

use crate::common::{acme, concurrently, error_fields, full, header, problem, Api};
use reqwest::header::ETAG;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn patch_merges_and_bumps_the_version(api: Api) {
    let c = api.create(&full()).await;
    let id = c["id"].as_str().unwrap();
    let location = format!("/companies/{id}");
    let account_id = c["bank_accounts"][0]["id"].clone();
    let patch = json!({"company_name": "Renamed", "tax_id": null, "address": {"city": "Campinas", "complement": "Sala 2"},
                       "declared_billing": "0.1"});
    let r = api.patch(&location).merge_patch(&patch).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, ETAG), "\"2\"");
    let p: Value = r.json().await.unwrap();
    assert_eq!(
        (
            p["company_name"].as_str(),
            p["tax_id"].clone(),
            p["version"].as_u64()
        ),
        (Some("Renamed"), Value::Null, Some(2))
    );
    assert_eq!(p["address"]["city"], "Campinas");
    assert_eq!(
        p["address"]["street"], "Avenida Paulista",
        "nested objects merge"
    );
    assert_eq!(p["declared_billing"], "0.10");
    assert_eq!(
        p["bank_accounts"][0]["id"], account_id,
        "untouched accounts keep their id"
    );
    assert_eq!(p["created"], c["created"]);
    assert!(p["updated"].as_str().unwrap() >= c["updated"].as_str().unwrap());

    // As `application/json` too.
    let r = api
        .patch(&location)
        .json(&json!({"bank_accounts": []}))
        .await;
    assert_eq!(
        r.json::<Value>().await.unwrap()["bank_accounts"],
        json!([]),
        "the list is replaced"
    );

    // Invalid patches write nothing.
    for (bad, status) in [
        (json!({"company_name": null}), 400),
        (json!({"declared_billing": -1}), 400),
        (json!({"version": 9}), 400),
        (
            json!({"address": {"state": "XX", "street": "a", "city": "b", "postal_code": "01310100"}}),
            400,
        ),
        (
            json!({"bank_accounts": [{"bank_code": "001", "agency": "1", "account_number": "1"},
                                   {"bank_code": "001", "agency": "1", "account_number": "1"}]}),
            409,
        ),
    ] {
        problem(api.patch(&location).merge_patch(&bad).await, status).await;
    }
    problem(
        api.patch(&location)
            .content_type("text/plain")
            .body("{}")
            .await,
        415,
    )
    .await;
    let now = api.get(&location).read_json().await;
    assert_eq!(now["version"], 3);
}

async fn if_match_guards_every_write(api: Api) {
    let c = api.create(&acme()).await;
    let id = c["id"].as_str().unwrap();
    let location = format!("/companies/{id}");
    problem(
        api.patch(&location)
            .merge_patch(&json!({"company_name": "X"}))
            .if_match("\"7\"")
            .await,
        412,
    )
    .await;
    problem(
        api.put(&location).json(&acme()).if_match("\"0\"").await,
        412,
    )
    .await;
    problem(api.delete(&location).if_match("\"2\"").await, 412).await;
    problem(
        api.patch(&location)
            .merge_patch(&json!({"company_name": "X"}))
            .if_match("W/\"1\"")
            .await,
        412,
    )
    .await;
    let unchanged = api.get(&location).read_json().await;
    assert_eq!(unchanged, c, "nothing written");

    let r = api
        .patch(&location)
        .merge_patch(&json!({"company_name": "X"}))
        .if_match("\"1\"")
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = api
        .patch(&location)
        .merge_patch(&json!({"company_name": "Y"}))
        .if_match("\"1\"")
        .await;
    problem(r, 412).await;
    let r = api.put(&location).json(&full()).if_match("\"2\"").await;
    assert_eq!(
        (r.status(), header(&r, ETAG)),
        (StatusCode::OK, "\"3\"".to_owned())
    );
    problem(
        api.patch(&location)
            .merge_patch(&json!({}))
            .if_match("not-a-tag")
            .await,
        400,
    )
    .await;
    assert_eq!(
        api.delete(&location).if_match("\"3\"").await.status(),
        StatusCode::NO_CONTENT
    );
    problem(api.get(&location).await, 404).await;
}

async fn put_replaces_the_whole_company(api: Api) {
    let c = api.create(&full()).await;
    let id = c["id"].as_str().unwrap();
    let location = format!("/companies/{id}");
    let r = api.put(&location).json(&acme()).await;
    assert_eq!(r.status(), StatusCode::OK);
    let p: Value = r.json().await.unwrap();
    assert_eq!(
        (p["id"].clone(), p["created"].clone(), p["version"].clone()),
        (c["id"].clone(), c["created"].clone(), json!(2))
    );
    assert_eq!(
        (
            p["tax_id"].clone(),
            p["address"].clone(),
            p["bank_accounts"].clone()
        ),
        (Value::Null, Value::Null, json!([]))
    );
    let body = problem(
        api.put(&location)
            .json(&json!({"company_name": "Only a name"}))
            .await,
        400,
    )
    .await;
    assert_eq!(error_fields(&body), ["declared_billing", "phone"]);
    let mut with_id = acme();
    with_id["created"] = json!("2020-01-01T00:00:00Z");
    problem(api.put(&location).json(&with_id).await, 400).await;
    let now = api.get(&location).read_json().await;
    assert_eq!(now, p);
}

async fn delete_removes_the_company(api: Api) {
    let c = api.create(&acme()).await;
    let id = c["id"].as_str().unwrap();
    let location = format!("/companies/{id}");
    let r = api.delete(&location).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(r.bytes().await.unwrap().is_empty());
    problem(api.get(&location).await, 404).await;
    problem(api.delete(&location).await, 404).await;
    let list = api.get("/companies").read_json().await;
    assert_eq!(list["items"], json!([]));
}

async fn concurrent_updates_never_lose_one(api: Api) {
    // (Writers pinning one If-Match: data_safety/races.rs, 50 of them.) Without If-Match,
    // conflicts are retried on fresh state; every success is a distinct version and none is lost.
    let id = api.create(&acme()).await["id"].as_str().unwrap().to_owned();
    let location = format!("/companies/{id}");
    let api = Arc::new(api);
    let outcomes = concurrently(&api, 8, |api, i| {
        let location = location.clone();
        async move {
            let r = api
                .patch(&location)
                .merge_patch(&json!({"declared_billing": i}))
                .await;
            (r.status().as_u16(), header(&r, ETAG))
        }
    })
    .await;
    let mut ok_versions = Vec::new();
    for (status, etag) in outcomes {
        assert!(status == 200 || status == 409, "{status}");
        if status == 200 {
            ok_versions.push(etag);
        }
    }
    let unique: std::collections::HashSet<_> = ok_versions.iter().collect();
    assert_eq!(
        unique.len(),
        ok_versions.len(),
        "two writers got the same version: {ok_versions:?}"
    );
    let now = api.get(&location).read_json().await;
    assert_eq!(
        now["version"].as_u64().unwrap(),
        1 + ok_versions.len() as u64
    );
}

e2e!(
    patch_merges_and_bumps_the_version,
    if_match_guards_every_write,
    put_replaces_the_whole_company,
    delete_removes_the_company,
    concurrent_updates_never_lose_one,
);
