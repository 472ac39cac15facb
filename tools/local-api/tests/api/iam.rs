//! Permissions proven from the code: every operation runs, through a recording proxy in front
//! of DynamoDB Local, the requests that use each of its grants; each must then have used exactly
//! what its IAM policy (the operation registry, which the template equals) grants — nothing
//! more, and no grant left unused. The e2e suites check the first half on every test as well.

use std::collections::BTreeSet;

use crate::common::recorder::{granted, Recorder};
use crate::common::{assert_logs_masked, full, header, Api};
use companies_edge::operations::OPERATIONS;
use reqwest::header::LOCATION;
use reqwest::StatusCode;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_uses_exactly_what_its_policy_grants() {
    let Some(direct) = companies_store::testing::dynamo_store("iam").await else {
        return;
    };
    let recorder = Recorder::start().await;
    let api = Api::start(recorder.store_for(&direct).await).await;

    // create-company: the key's replay check (GetItem), the company, marker and key (PutItem).
    let r = api
        .post("/companies")
        .idempotency_key("iam-1")
        .json(&full())
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let location = header(&r, LOCATION);
    let id = location.rsplit('/').next().unwrap().to_owned();
    // list-companies: the listing index, a CNPJ through its marker, and a search (the name
    // index on the table, then the companies in one batch).
    assert_eq!(api.get("/companies").await.status(), StatusCode::OK);
    let r = api.get("/companies?q=my+comp").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.json::<Value>().await.unwrap()["items"][0]["id"],
        id.as_str()
    );
    assert_eq!(
        api.get("/companies?tax_id=60746948000112").await.status(),
        StatusCode::OK
    );
    assert_eq!(
        api.get("/companies?legacy_id=17").await.status(),
        StatusCode::OK
    );
    // get-company.
    assert_eq!(api.get(&location).await.status(), StatusCode::OK);
    // update-company: a new CNPJ takes a marker (PutItem) and frees the old one (DeleteItem);
    // a new name moves the company in the name index.
    let r = api
        .patch(&location)
        .merge_patch(&json!({"tax_id": "12.ABC.345/01DE-35", "company_name": "My Renamed Company"}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    // The three bank-account writes.
    let path = format!("{location}/bank-accounts");
    let account = json!({"bank_code": "260", "agency": "0001", "account_number": "98765432-1"});
    let r = api
        .post(&path)
        .idempotency_key("iam-2")
        .json(&account)
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let added: Value = r.json().await.unwrap();
    let account_path = format!("{path}/{}", added["id"].as_str().unwrap());
    let r = api
        .patch(&account_path)
        .json(&json!({"agency": "0002"}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = api.delete(&account_path).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    // get-company-history: the company's partition (Query on the table).
    let r = api.get(format!("{location}/history")).await;
    assert_eq!(r.status(), StatusCode::OK);
    // get-banks: no table at all.
    assert_eq!(api.get("/banks/336").await.status(), StatusCode::OK);
    // delete-company: the company and its marker go (DeleteItem), a tombstone stays (PutItem).
    assert_eq!(api.delete(&location).await.status(), StatusCode::NO_CONTENT);

    recorder.assert_within_grants();
    let calls = recorder.calls();
    for op in OPERATIONS {
        let used: BTreeSet<(String, String)> = calls
            .iter()
            .filter(|(function, _, _)| function == op.name)
            .map(|(_, action, resource)| (action.clone(), resource.clone()))
            .collect();
        assert_eq!(
            used,
            granted(op.name),
            "{}: what it used differs from what its policy grants",
            op.name
        );
        // The partitions it named are exactly those its policy's `dynamodb:LeadingKeys`
        // condition allows: none outside them, none allowed for nothing.
        let allowed: BTreeSet<String> = op
            .partitions
            .iter()
            .map(|p| p.prefix().to_owned())
            .collect();
        assert_eq!(
            recorder.partitions(op.name),
            allowed,
            "{}: the partitions it named differ from those its policy allows",
            op.name
        );
    }
    assert_logs_masked();
}
