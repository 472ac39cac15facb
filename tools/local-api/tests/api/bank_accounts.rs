//! End-to-end: bank accounts as their own resource and the bank registry, over HTTP, on the
//! in-memory store and on DynamoDB, including concurrent writers.

use std::sync::Arc;

use crate::common::{acme, concurrently, error_fields, header, problem, Api, Request};
use reqwest::header::{ETAG, LOCATION};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// A distinct account; its number is long enough for the log-masking check to recognise it.
fn account(n: u32) -> Value {
    json!({"bank_code": "341", "agency": "0001", "account_number": account_number(n)})
}

fn account_number(n: u32) -> String {
    format!("{:08}-{}", 4_100_000 + n, n % 10)
}

fn accounts_path(id: &str) -> String {
    format!("/companies/{id}/bank-accounts")
}

impl Api {
    fn add_account(&self, id: &str, body: &Value) -> Request {
        self.post(accounts_path(id)).json(body)
    }

    fn patch_account(&self, id: &str, account: &str, body: &Value) -> Request {
        let path = format!("{}/{account}", accounts_path(id));
        self.patch(path).merge_patch(body)
    }

    fn delete_account(&self, id: &str, account: &str) -> Request {
        self.delete(format!("{}/{account}", accounts_path(id)))
    }

    async fn company(&self, id: &str) -> Value {
        let r = self.get(format!("/companies/{id}")).await;
        assert_eq!(r.status(), StatusCode::OK);
        r.json().await.unwrap()
    }
}

async fn add_update_delete_an_account(api: Api) {
    let id = api.create(&acme()).await["id"].as_str().unwrap().to_owned();
    let r = api
        .add_account(
            &id,
            &json!({"bank_code": "336", "agency": "1290-0", "account_number": "12431243"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(header(&r, ETAG), "\"2\"", "the company's new version");
    let location = header(&r, LOCATION);
    let added: Value = r.json().await.unwrap();
    let account_id = added["id"].as_str().unwrap().to_owned();
    assert_eq!(
        location,
        format!("/companies/{id}/bank-accounts/{account_id}")
    );
    assert_eq!(
        added,
        json!({"id": account_id, "agency": "1290-0", "account_number": "12431243",
               "bank": {"code": "336", "name": "Banco C6 S.A."}})
    );
    let company = api.company(&id).await;
    assert_eq!(company["bank_accounts"], json!([added.clone()]));
    assert_eq!(company["version"], 2);

    let r = api
        .patch_account(
            &id,
            &account_id,
            &json!({"agency": "1290-1", "bank_code": "001"}),
        )
        .if_match("\"2\"")
        .await;
    assert_eq!(
        (r.status(), header(&r, ETAG)),
        (StatusCode::OK, "\"3\"".to_owned())
    );
    let changed: Value = r.json().await.unwrap();
    assert_eq!(changed["id"], account_id, "the account keeps its id");
    assert_eq!(
        (changed["agency"].as_str(), changed["bank"]["code"].as_str()),
        (Some("1290-1"), Some("001"))
    );
    assert_eq!(changed["account_number"], "12431243");
    assert_eq!(api.company(&id).await["bank_accounts"], json!([changed]));

    let r = api.delete_account(&id, &account_id).await;
    assert_eq!(
        (r.status(), header(&r, ETAG)),
        (StatusCode::NO_CONTENT, "\"4\"".to_owned())
    );
    let company = api.company(&id).await;
    assert_eq!(
        (company["bank_accounts"].clone(), company["version"].clone()),
        (json!([]), json!(4))
    );
    problem(api.delete_account(&id, &account_id).await, 404).await;
    problem(
        api.patch_account(&id, &account_id, &json!({"agency": "1"}))
            .await,
        404,
    )
    .await;
}

async fn invalid_and_duplicate_accounts_write_nothing(api: Api) {
    let mut body = acme();
    body["bank_accounts"] =
        json!([{"bank_code": "001", "agency": "0001-9", "account_number": "12345-x"}]);
    let c = api.create(&body).await;
    let id = c["id"].as_str().unwrap();
    let location = format!("/companies/{id}");
    let existing = c["bank_accounts"][0]["id"].as_str().unwrap();

    let bad =
        json!({"bank_code": "999", "agency": "12a", "account_number": "", "iban": "x", "id": "y"});
    let p = problem(api.add_account(id, &bad).await, 400).await;
    assert_eq!(
        error_fields(&p),
        ["account_number", "agency", "bank_code", "iban", "id"]
    );
    problem(api.add_account(id, &json!({})).await, 400).await;
    problem(
        api.post(accounts_path(id))
            .content_type("text/plain")
            .body(account(1).to_string())
            .await,
        415,
    )
    .await;
    problem(
        api.post(accounts_path(id))
            .content_type("application/json")
            .body("{")
            .await,
        400,
    )
    .await;

    // The same account after normalisation: leading zeros and case do not make it new.
    let same = json!({"bank_code": "001", "agency": "1-9", "account_number": "0012345-X"});
    let p = problem(api.add_account(id, &same).await, 409).await;
    assert!(p["detail"].as_str().unwrap().contains(existing));

    let other = api.add_account(id, &account(7)).read_json().await;
    let other_id = other["id"].as_str().unwrap();
    problem(api.patch_account(id, other_id, &same).await, 409).await;
    problem(
        api.patch_account(id, other_id, &json!({"agency": null}))
            .await,
        400,
    )
    .await;
    problem(
        api.patch_account(id, other_id, &json!({"id": "mine"}))
            .await,
        400,
    )
    .await;

    let company = api.company(id).await;
    assert_eq!(company["version"], 2, "only the one valid add wrote");
    assert_eq!(company["bank_accounts"].as_array().unwrap().len(), 2);

    // Inside a company create, PUT or PATCH the same rule holds.
    let dup = json!([same.clone(), {"bank_code": "001", "agency": "0001-9", "account_number": "12345-x"}]);
    let mut body = acme();
    body["bank_accounts"] = dup.clone();
    problem(api.post("/companies").json(&body).await, 409).await;
    problem(api.put(&location).json(&body).await, 409).await;
    problem(
        api.patch(&location)
            .merge_patch(&json!({"bank_accounts": dup}))
            .await,
        409,
    )
    .await;
    assert_eq!(api.company(id).await["version"], 2);
}

async fn unknown_companies_accounts_and_stale_etags(api: Api) {
    let ghost = uuid::Uuid::now_v7().to_string();
    problem(api.add_account(&ghost, &account(1)).await, 404).await;
    problem(api.add_account("not-a-uuid", &account(1)).await, 404).await;
    let id = api.create(&acme()).await["id"].as_str().unwrap().to_owned();
    problem(
        api.patch_account(&id, &ghost, &json!({"agency": "1"}))
            .await,
        404,
    )
    .await;
    problem(api.delete_account(&id, &ghost).await, 404).await;
    problem(api.delete_account(&id, "nope").await, 404).await;

    problem(
        api.add_account(&id, &account(1)).if_match("\"9\"").await,
        412,
    )
    .await;
    let added = api
        .add_account(&id, &account(1))
        .if_match("\"1\"")
        .read_json()
        .await;
    let account_id = added["id"].as_str().unwrap();
    problem(
        api.patch_account(&id, account_id, &json!({"agency": "2"}))
            .if_match("\"1\"")
            .await,
        412,
    )
    .await;
    problem(
        api.delete_account(&id, account_id).if_match("\"1\"").await,
        412,
    )
    .await;
    assert_eq!(
        api.company(&id).await["bank_accounts"],
        json!([added]),
        "nothing written"
    );
    assert_eq!(
        api.delete_account(&id, account_id)
            .if_match("\"2\"")
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
}

async fn at_most_twenty_accounts(api: Api) {
    let mut body = acme();
    body["bank_accounts"] = (0..19).map(account).collect();
    let id = api.create(&body).await["id"].as_str().unwrap().to_owned();
    assert_eq!(
        api.add_account(&id, &account(19)).await.status(),
        StatusCode::CREATED
    );
    let p = problem(api.add_account(&id, &account(20)).await, 409).await;
    assert!(p["detail"].as_str().unwrap().contains("20"));
    assert_eq!(
        api.company(&id).await["bank_accounts"]
            .as_array()
            .unwrap()
            .len(),
        20
    );
}

async fn concurrent_adds_of_different_accounts_all_land(api: Api) {
    let id = api.create(&acme()).await["id"].as_str().unwrap().to_owned();
    let api = Arc::new(api);
    let statuses = concurrently(&api, 10, |api, n| {
        let id = id.clone();
        async move {
            api.add_account(&id, &account(n as u32))
                .await
                .status()
                .as_u16()
        }
    })
    .await;
    assert_eq!(statuses, [201; 10]);
    let company = api.company(&id).await;
    let mut numbers: Vec<String> = company["bank_accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["account_number"].as_str().unwrap().to_owned())
        .collect();
    numbers.sort();
    let mut want: Vec<String> = (0..10).map(account_number).collect();
    want.sort();
    assert_eq!(numbers, want);
    assert_eq!(company["version"], 11);
}

async fn concurrent_adds_of_the_same_account_land_once(api: Api) {
    let id = api.create(&acme()).await["id"].as_str().unwrap().to_owned();
    let api = Arc::new(api);
    let outcomes = concurrently(&api, 10, |api, _| {
        let id = id.clone();
        async move {
            let r = api.add_account(&id, &account(42)).await;
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap();
            (status, body["type"].as_str().unwrap_or("").to_owned())
        }
    })
    .await;
    assert_eq!(
        outcomes.iter().filter(|(s, _)| *s == 201).count(),
        1,
        "{outcomes:?}"
    );
    let duplicate = "urn:companies:problem:duplicate-bank-account";
    let losers: Vec<_> = outcomes.iter().filter(|(s, _)| *s != 201).collect();
    assert!(
        losers.iter().all(|(s, t)| *s == 409 && t == duplicate),
        "{losers:?}"
    );
    let company = api.company(&id).await;
    assert_eq!(company["bank_accounts"].as_array().unwrap().len(), 1);
    assert_eq!(company["version"], 2);
}

async fn the_bank_registry(api: Api) {
    let all = api.get("/banks").read_json().await;
    assert_eq!(all["items"].as_array().unwrap().len(), 511);
    let r = api.get("/banks/336").await;
    assert_eq!(r.status(), StatusCode::OK);
    let c6: Value = r.json().await.unwrap();
    assert_eq!(c6["code"], "336");
    assert_eq!(c6["name"], "Banco C6 S.A.");
    assert!(c6["ispb"].as_str().unwrap().len() == 8 && c6["short_name"].is_string());

    let found = api.get("/banks?q=AMAZ%C3%94NIA").read_json().await;
    let codes: Vec<&str> = found["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"003"), "{codes:?}");
    let by_ispb = api.get("/banks?q=00000000").read_json().await;
    assert_eq!(by_ispb["items"][0]["code"], "001");
    let none = api.get("/banks?q=zzzzzz").read_json().await;
    assert_eq!(none["items"], json!([]));

    problem(api.get("/banks/999").await, 404).await;
    problem(api.get("/banks/abc").await, 404).await;
    problem(api.get(format!("/banks?q={}", "a".repeat(101))).await, 400).await;
    problem(api.get("/banks?name=x").await, 400).await;
    problem(
        api.post("/banks")
            .content_type("application/json")
            .body("{}")
            .await,
        405,
    )
    .await;
}

e2e!(
    add_update_delete_an_account,
    invalid_and_duplicate_accounts_write_nothing,
    unknown_companies_accounts_and_stale_etags,
    at_most_twenty_accounts,
    concurrent_adds_of_different_accounts_all_land,
    concurrent_adds_of_the_same_account_land_once,
    the_bank_registry,
);
