//! The change history over HTTP, on the in-memory store and on DynamoDB: one entry per change
//! that answered 2xx, none for a refused request or a replay, and the merge patches rebuild the
//! company as `GET` returned it at every version.

use crate::common::{canonical, every_page, full, header, problem, Api};
use reqwest::header::{ETAG, LOCATION};
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn history(api: &Api, id: &str, query: &str) -> Value {
    let r = api.get(format!("/companies/{id}/history{query}")).await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

async fn snapshot(api: &Api, id: &str) -> Value {
    api.get(format!("/companies/{id}")).read_json().await
}

async fn every_change_has_one_entry_that_rebuilds_the_company(api: Api) {
    let mut snapshots = Vec::new();
    let created = api.create(&full()).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let location = format!("/companies/{id}");
    snapshots.push(created);

    let r = api
        .patch(&location)
        .merge_patch(&json!({"declared_billing": "2500.00", "tax_id": null}))
        .if_match("\"1\"")
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    snapshots.push(snapshot(&api, &id).await);

    // Refused requests write no entry.
    problem(
        api.patch(&location)
            .merge_patch(&json!({"company_name": "x"}))
            .if_match("\"1\"")
            .await,
        412,
    )
    .await;
    let invalid = json!({"phone": "abc"});
    problem(api.patch(&location).merge_patch(&invalid).await, 400).await;
    let path = format!("/companies/{id}/bank-accounts");
    let existing = json!({"bank_code": "336", "agency": "1290-0", "account_number": "1243"});
    problem(api.post(&path).json(&existing).await, 409).await;

    let replacement = json!({
        "company_name": "Acme Ltda", "phone": "11978235674", "declared_billing": "99.90",
        "address": {"street": "Rua A", "city": "Recife", "state": "PE", "postal_code": "50000-000"}
    });
    let r = api.put(&location).json(&replacement).await;
    assert_eq!(r.status(), StatusCode::OK);
    snapshots.push(snapshot(&api, &id).await);

    // An account added with a key, then the same request again: one entry.
    let account = json!({"bank_code": "260", "agency": "0001", "account_number": "98765432-1"});
    let r = api.post(&path).idempotency_key("h-1").json(&account).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let account_path = header(&r, LOCATION);
    snapshots.push(snapshot(&api, &id).await);
    let replay = api.post(&path).idempotency_key("h-1").json(&account).await;
    assert_eq!(replay.headers()["idempotent-replayed"], "true");

    let r = api
        .patch(&account_path)
        .json(&json!({"agency": "0002"}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    snapshots.push(snapshot(&api, &id).await);
    let r = api.delete(&account_path).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    snapshots.push(snapshot(&api, &id).await);

    assert_eq!(api.delete(&location).await.status(), StatusCode::NO_CONTENT);

    // Readable after the delete: newest first, one entry per version.
    let page = history(&api, &id, "?limit=100").await;
    assert_eq!(page["next_cursor"], Value::Null);
    let mut entries = page["items"].as_array().unwrap().clone();
    entries.reverse();
    let operations: Vec<&str> = entries
        .iter()
        .map(|e| e["operation"].as_str().unwrap())
        .collect();
    assert_eq!(
        operations,
        [
            "create",
            "update",
            "replace",
            "add-bank-account",
            "update-bank-account",
            "delete-bank-account",
            "delete"
        ]
    );
    for (i, entry) in entries.iter().enumerate() {
        assert_eq!(entry["version"], i as u64 + 1);
        assert_eq!(entry["actor"], "anonymous");
        assert!(
            entry["request_id"].as_str().unwrap().starts_with("local-"),
            "{entry}"
        );
        assert!(entry["at"].as_str().unwrap().ends_with('Z'));
    }
    assert_eq!(
        entries[1]["changes"],
        json!({"declared_billing": "2500.00", "tax_id": null})
    );
    assert_eq!(entries[6]["changes"], Value::Null);

    // The patches, oldest first from {}, rebuild the company at every version.
    let mut state = json!({});
    for (entry, snapshot) in entries.iter().zip(&snapshots) {
        json_patch::merge(&mut state, &entry["changes"]);
        assert_eq!(state, canonical(snapshot), "version {}", entry["version"]);
    }

    // Pages of 3: the same entries, each once.
    let path = format!("/companies/{id}/history?limit=3");
    let (mut walked, _) = every_page(&api, &path).await;
    walked.reverse();
    assert_eq!(walked, entries);

    // Bounds and errors.
    problem(
        api.get(format!("/companies/{id}/history?limit=0")).await,
        400,
    )
    .await;
    problem(
        api.get(format!("/companies/{id}/history?cursor=forged"))
            .await,
        400,
    )
    .await;
    problem(
        api.get(format!("/companies/{}/history", uuid::Uuid::now_v7()))
            .await,
        404,
    )
    .await;
    problem(api.get("/companies/not-a-uuid/history").await, 404).await;
}

/// A company created again with the same CNPJ is another company with its own history.
async fn a_recreated_company_has_its_own_history(api: Api) {
    let first = api.create(&full()).await;
    let first_id = first["id"].as_str().unwrap();
    assert_eq!(
        api.delete(format!("/companies/{first_id}")).await.status(),
        StatusCode::NO_CONTENT
    );
    let second = api.create(&full()).await;
    let second_id = second["id"].as_str().unwrap();
    assert_ne!(first_id, second_id);
    let page = history(&api, second_id, "").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["operation"], "create");
    assert_eq!(
        history(&api, first_id, "").await["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

/// A PATCH or PUT that leaves the company as it is writes nothing: the same version and
/// `updated`, no history entry; `If-Match` and validation still apply. The first real change
/// after it is version 2.
async fn a_change_that_changes_nothing_writes_nothing(api: Api) {
    let created = api.create(&full()).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let location = format!("/companies/{id}");
    let etag_1 = "\"1\"";
    let unchanged = |r: reqwest::Response| async move {
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(header(&r, ETAG), "\"1\"");
        r.json::<Value>().await.unwrap()
    };

    // The values as first written (an unnormalised phone, the amount as a number).
    let same =
        json!({"phone": full()["phone"], "declared_billing": 1235.690, "tax_id": "60746948000112"});
    assert_eq!(
        unchanged(
            api.patch(&location)
                .merge_patch(&same)
                .if_match(etag_1)
                .await
        )
        .await,
        created
    );
    assert_eq!(
        unchanged(api.patch(&location).merge_patch(&json!({})).await).await,
        created
    );
    assert_eq!(
        unchanged(api.put(&location).json(&full()).if_match(etag_1).await).await,
        created
    );
    let account = &created["bank_accounts"][0];
    let account_path = format!(
        "/companies/{id}/bank-accounts/{}",
        account["id"].as_str().unwrap()
    );
    let r = api
        .patch(&account_path)
        .json(&json!({"agency": account["agency"]}))
        .await;
    assert_eq!(unchanged(r).await, *account);

    // Still checked: a stale version, an invalid value.
    problem(
        api.patch(&location)
            .merge_patch(&same)
            .if_match("\"2\"")
            .await,
        412,
    )
    .await;
    let invalid = json!({"phone": "abc"});
    problem(api.patch(&location).merge_patch(&invalid).await, 400).await;

    assert_eq!(snapshot(&api, &id).await, created);
    let page = history(&api, &id, "").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");

    let r = api
        .patch(&location)
        .merge_patch(&json!({"declared_billing": "1235.70"}))
        .if_match(etag_1)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, ETAG), "\"2\"");
    let page = history(&api, &id, "").await;
    assert_eq!(page["items"][0]["version"], 2);
    assert_eq!(
        page["items"][0]["changes"],
        json!({"declared_billing": "1235.70"})
    );
}

e2e!(
    every_change_has_one_entry_that_rebuilds_the_company,
    a_recreated_company_has_its_own_history,
    a_change_that_changes_nothing_writes_nothing,
);
