//! Idempotency keys: a replay gets the first answer, and requests that share a key, even at
//! once, are one request.

use std::collections::HashSet;
use std::sync::Arc;

use super::{all_companies, assert_no_orphan_markers, with_cnpj, CNPJ};
use crate::common::{acme, concurrently, header, problem, Api};
use companies_store::testing::MarkerAudit;
use companies_store::Store;
use reqwest::header::{ETAG, LOCATION};
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn idempotency_key_replays_the_first_answer<S: Store + MarkerAudit>(api: Api, _store: S) {
    let key = "create-acme-1";
    let body = with_cnpj("Acme", Some(CNPJ));
    let first = api
        .post("/companies")
        .idempotency_key(key)
        .json(&body)
        .await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let (location, etag) = (header(&first, LOCATION), header(&first, ETAG));
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first_body = first.text().await.unwrap();

    for k in ["create-acme-1", "\"create-acme-1\""] {
        let again = api.post("/companies").idempotency_key(k).json(&body).await;
        assert_eq!(again.status(), StatusCode::CREATED);
        assert_eq!(
            (header(&again, LOCATION), header(&again, ETAG)),
            (location.clone(), etag.clone())
        );
        assert_eq!(
            header(
                &again,
                reqwest::header::HeaderName::from_static("idempotent-replayed")
            ),
            "true"
        );
        assert_eq!(again.text().await.unwrap(), first_body);
    }
    // Same key, other body: refused, nothing written.
    let other = with_cnpj("Other", None);
    problem(
        api.post("/companies")
            .idempotency_key(key)
            .json(&other)
            .await,
        422,
    )
    .await;
    assert_eq!(all_companies(&api).await.len(), 1);
    // Bad keys are a 400.
    for bad in ["", "has space", &"k".repeat(256)] {
        problem(
            api.post("/companies")
                .idempotency_key(bad)
                .json(&other)
                .await,
            400,
        )
        .await;
    }
    // A request that failed validation stores nothing: the key is still free.
    let invalid = json!({"company_name": "", "phone": "1", "declared_billing": 1});
    let k2 = "second";
    problem(
        api.post("/companies")
            .idempotency_key(k2)
            .json(&invalid)
            .await,
        400,
    )
    .await;
    assert_eq!(
        api.post("/companies")
            .idempotency_key(k2)
            .json(&other)
            .await
            .status(),
        StatusCode::CREATED
    );

    // Bank account adds too.
    let id = location.rsplit('/').next().unwrap().to_owned();
    let account = json!({"bank_code": "260", "agency": "0001", "account_number": "98765432-1"});
    let path = format!("/companies/{id}/bank-accounts");
    let k3 = "add-account";
    let a1 = api.post(&path).idempotency_key(k3).json(&account).await;
    assert_eq!(a1.status(), StatusCode::CREATED);
    let a1_location = header(&a1, LOCATION);
    let a2 = api.post(&path).idempotency_key(k3).json(&account).await;
    assert_eq!(
        (a2.status(), header(&a2, LOCATION)),
        (StatusCode::CREATED, a1_location)
    );
    let company = api.get(&location).read_json().await;
    assert_eq!(company["bank_accounts"].as_array().unwrap().len(), 1);
    assert_eq!(company["version"], 2);
}

async fn concurrent_creates_with_one_key_create_one_company<S: Store + MarkerAudit>(
    api: Api,
    _store: S,
) {
    let api = Arc::new(api);
    let outcomes = concurrently(&api, 20, |api, _| async move {
        let r = api
            .post("/companies")
            .idempotency_key("race")
            .json(&acme())
            .await;
        (r.status().as_u16(), header(&r, LOCATION))
    })
    .await;
    let mut locations = HashSet::new();
    for (status, location) in outcomes {
        assert!(status == 201 || status == 409, "{status}");
        if status == 201 {
            locations.insert(location);
        }
    }
    assert_eq!(
        locations.len(),
        1,
        "every success names the same company: {locations:?}"
    );
    assert_eq!(all_companies(&api).await.len(), 1);
}

/// Requests that share one Idempotency-Key are one request: a twin that lost the race gets the
/// winner's answer (or the documented 409 "in progress"), never a conflict the winner caused.
async fn twins_with_one_key_never_conflict_with_each_other<S: Store + MarkerAudit>(
    api: Api,
    store: S,
) {
    let api = Arc::new(api);
    let locations = twins(&api, "/companies", "twins", with_cnpj("Twins", Some(CNPJ))).await;
    assert_eq!(locations.len(), 1, "{locations:?}");
    let location = locations.into_iter().next().unwrap();
    assert_eq!(all_companies(&api).await.len(), 1);
    assert_no_orphan_markers(&api, &store).await;

    // The same for one bank account added by twins.
    let account = json!({"bank_code": "260", "agency": "0001", "account_number": "98765432-1"});
    let path = format!("{location}/bank-accounts");
    let accounts = twins(&api, &path, "twin-account", account).await;
    assert_eq!(accounts.len(), 1, "{accounts:?}");
    let company = api.get(&location).read_json().await;
    assert_eq!(company["bank_accounts"].as_array().unwrap().len(), 1);
    assert_eq!(company["version"], 2);
}

/// 20 concurrent POSTs of `body` to `path` with the key `key`: the `Location`s of the 201s
/// (replays included). Every other answer must be the documented 409 "in progress".
async fn twins(api: &Arc<Api>, path: &str, key: &'static str, body: Value) -> HashSet<String> {
    let path = path.to_owned();
    let outcomes = concurrently(api, 20, move |api, _| {
        let (body, path) = (body.clone(), path.clone());
        async move {
            let r = api.post(&path).idempotency_key(key).json(&body).await;
            if r.status() == StatusCode::CREATED {
                return Some(header(&r, LOCATION));
            }
            let problem = problem(r, 409).await;
            assert_eq!(
                problem["type"],
                "urn:companies:problem:idempotency-key-in-use"
            );
            None
        }
    })
    .await;
    outcomes.into_iter().flatten().collect()
}

e2e_with_store!(
    idempotency_key_replays_the_first_answer,
    concurrent_creates_with_one_key_create_one_company,
    twins_with_one_key_never_conflict_with_each_other,
);
