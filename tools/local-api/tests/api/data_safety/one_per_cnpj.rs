//! One company per CNPJ, through updates, deletes and concurrent creates, with every CNPJ
//! marker belonging to the live company that holds it.

use std::sync::Arc;

use super::{all_companies, assert_no_orphan_markers, with_cnpj, CNPJ, CNPJ_DIGITS, OTHER_CNPJ};
use crate::common::{concurrently, error_fields, problem, Api};
use companies_store::testing::MarkerAudit;
use companies_store::Store;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn one_company_per_cnpj<S: Store + MarkerAudit>(api: Api, store: S) {
    let a = api.create(&with_cnpj("A", Some(CNPJ))).await;
    let a_id = a["id"].as_str().unwrap().to_owned();
    let a_location = format!("/companies/{a_id}");
    let p = problem(
        api.post("/companies")
            .json(&with_cnpj("B", Some(CNPJ_DIGITS)))
            .await,
        409,
    )
    .await;
    assert_eq!(error_fields(&p), ["tax_id"]);
    assert!(p["errors"][0]["message"].as_str().unwrap().contains(&a_id));

    let b = api.create(&with_cnpj("B", Some(OTHER_CNPJ))).await;
    let b_id = b["id"].as_str().unwrap().to_owned();
    let b_location = format!("/companies/{b_id}");
    problem(
        api.patch(&b_location)
            .merge_patch(&json!({"tax_id": CNPJ}))
            .await,
        409,
    )
    .await;
    problem(
        api.put(&b_location).json(&with_cnpj("B", Some(CNPJ))).await,
        409,
    )
    .await;
    let unchanged = api.get(&b_location).read_json().await;
    assert_eq!(unchanged, b, "a refused update writes nothing");

    // Lookup through the marker, in any punctuation.
    for form in [CNPJ, CNPJ_DIGITS] {
        let found = api
            .get(format!("/companies?tax_id={form}"))
            .read_json()
            .await;
        assert_eq!(found["items"], json!([a]));
        assert_eq!(found["next_cursor"], Value::Null);
    }
    problem(api.get("/companies?tax_id=60746948000113").await, 400).await;
    problem(
        api.get(format!("/companies?tax_id={CNPJ_DIGITS}&limit=5"))
            .await,
        400,
    )
    .await;

    // Clearing A's CNPJ frees it for B; deleting B frees it again.
    assert_eq!(
        api.patch(&a_location)
            .merge_patch(&json!({"tax_id": null}))
            .await
            .status(),
        StatusCode::OK
    );
    let none = api
        .get(format!("/companies?tax_id={CNPJ_DIGITS}"))
        .read_json()
        .await;
    assert_eq!(none["items"], json!([]));
    assert_eq!(
        api.patch(&b_location)
            .merge_patch(&json!({"tax_id": CNPJ}))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        api.delete(&b_location).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.patch(&a_location)
            .merge_patch(&json!({"tax_id": CNPJ}))
            .await
            .status(),
        StatusCode::OK
    );
    assert_no_orphan_markers(&api, &store).await;
    assert_eq!(
        store
            .find_by_tax_id(&companies::Cnpj::parse(CNPJ).unwrap())
            .await
            .unwrap()
            .unwrap()
            .to_string(),
        a_id
    );
}

async fn fifty_concurrent_creates_with_one_cnpj<S: Store + MarkerAudit>(api: Api, store: S) {
    let api = Arc::new(api);
    let statuses = concurrently(&api, 50, |api, i| async move {
        api.post("/companies")
            .json(&with_cnpj(&format!("C{i}"), Some(CNPJ)))
            .await
            .status()
            .as_u16()
    })
    .await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        49,
        "{statuses:?}"
    );
    assert_eq!(all_companies(&api).await.len(), 1);
    assert_no_orphan_markers(&api, &store).await;
}

async fn cnpj_churn_leaves_no_orphan_marker<S: Store + MarkerAudit>(api: Api, store: S) {
    let cnpjs = [CNPJ, OTHER_CNPJ, "00.000.000/0001-91", "04.902.979/0001-44"];
    let api = Arc::new(api);
    concurrently(&api, 24, |api, i| async move {
        let r = api
            .post("/companies")
            .json(&with_cnpj(&format!("C{i}"), Some(cnpjs[i % cnpjs.len()])))
            .await;
        if r.status() != StatusCode::CREATED {
            return;
        }
        let id = r.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let location = format!("/companies/{id}");
        let _ = api
            .patch(&location)
            .merge_patch(&json!({"tax_id": cnpjs[(i + 1) % cnpjs.len()]}))
            .await;
        if i % 3 == 0 {
            let _ = api
                .patch(&location)
                .merge_patch(&json!({"tax_id": null}))
                .await;
        }
        if i % 2 == 0 {
            let _ = api.delete(&location).await;
        }
    })
    .await;
    assert_no_orphan_markers(&api, &store).await;
}

e2e_with_store!(
    one_company_per_cnpj,
    fifty_concurrent_creates_with_one_cnpj,
    cnpj_churn_leaves_no_orphan_marker,
);
