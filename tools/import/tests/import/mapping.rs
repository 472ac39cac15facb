//! What a first run makes of the fixture's rows: the valid ones imported exactly and found by
//! their legacy id, every quirk refused or merged with its reason.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::helpers::{fixture, setup, without};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valid_rows_are_imported_exactly_and_found_by_legacy_id() {
    let Some(s) = setup(&fixture()).await else {
        return;
    };
    let (status, summary, stderr) = s.import(&[]);
    assert_eq!(status, 2, "rows were refused: {stderr}");
    assert_eq!(summary["companies_written"], 4, "{summary}");
    assert_eq!(summary["accounts_written"], 4);

    let padaria = s.by_legacy_id(1).await.unwrap();
    let id = padaria["id"].as_str().unwrap().to_owned();
    assert_eq!(
        without(padaria.clone(), "updated"),
        json!({
            "id": id,
            "company_name": "Padaria São João Ltda",
            "phone": "+5511954879564",
            "tax_id": null,
            "address": null,
            "declared_billing": "1234.50",
            "bank_accounts": [
                {"id": padaria["bank_accounts"][0]["id"], "agency": "0001-9", "account_number": "12345-6",
                 "bank": {"code": "001", "name": padaria["bank_accounts"][0]["bank"]["name"]}},
                {"id": padaria["bank_accounts"][1]["id"], "agency": "1290", "account_number": "98765",
                 "bank": {"code": "341", "name": padaria["bank_accounts"][1]["bank"]["name"]}},
            ],
            "created": "2019-03-04T10:11:12.345Z",
            "version": 1,
        })
    );
    assert_eq!(s.get(&format!("/companies/{id}")).await.1, padaria);
    let phone = |c: Option<Value>| c.unwrap()["phone"].as_str().unwrap().to_owned();
    assert_eq!(phone(s.by_legacy_id(2).await), "+5511978235674");
    assert_eq!(phone(s.by_legacy_id(10).await), "+552134567890");
    let acougue = s.by_legacy_id(3).await.unwrap();
    assert_eq!(acougue["declared_billing"], "9999999999.99");
    assert_eq!(acougue["created"], "2018-07-15T08:30:00.500Z");
    assert_eq!(
        acougue["bank_accounts"].as_array().unwrap().len(),
        1,
        "merged"
    );
    for refused in [4, 5, 6, 7, 8, 9, 11] {
        assert_eq!(s.by_legacy_id(refused).await, None, "{refused}");
    }
    // An imported company is found like any other: by name, newest first (by legacy time).
    let (_, found) = s.get("/companies?q=sao+jo").await;
    let names: Vec<&str> = found["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["company_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Padaria São João Ltda", "Transportes Sao Jose"]);
    let (_, newest) = s.get("/companies").await;
    assert_eq!(newest["items"][0]["company_name"], "Mercado Bom Preço");
    // Its first history entry is the import, with the legacy row and its exact time.
    let (status, history) = s.get(&format!("/companies/{id}/history")).await;
    assert_eq!(status, 200);
    let entry = &history["items"][0];
    assert_eq!(entry["operation"], "import");
    assert_eq!(entry["legacy_id"], 1);
    assert_eq!(entry["legacy_created"], "2019-03-04T10:11:12.345678");
    assert_eq!(entry["version"], 1);
    // Bad lookups.
    for bad in [
        "legacy_id=0",
        "legacy_id=abc",
        "legacy_id=-1",
        "legacy_id=2147483648",
    ] {
        assert_eq!(s.get(&format!("/companies?{bad}")).await.0, 400, "{bad}");
    }
    for bad in [
        "legacy_id=1&limit=5",
        "legacy_id=1&tax_id=60746948000112",
        "legacy_id=1&q=a",
    ] {
        assert_eq!(s.get(&format!("/companies?{bad}")).await.0, 400, "{bad}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_quirk_is_refused_or_merged_with_its_reason() {
    let Some(s) = setup(&fixture()).await else {
        return;
    };
    let (status, summary, _) = s.import(&[]);
    assert_eq!(status, 2);
    let reports: BTreeSet<(String, String, i64, String)> = s
        .rejects()
        .iter()
        .map(|r| {
            assert!(r["rule"].as_str().is_some_and(|t| !t.is_empty()), "{r}");
            (
                r["outcome"].as_str().unwrap().to_owned(),
                r["table"].as_str().unwrap().to_owned(),
                r["legacy_id"].as_i64().unwrap(),
                r["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: BTreeSet<(String, String, i64, String)> = [
        ("merged", "company_bank_account", 4, "same-account-twice"),
        ("refused", "client_company", 4, "invalid-phone"),
        ("refused", "client_company", 5, "missing-created"),
        ("refused", "company_bank_account", 6, "invalid-agency"),
        ("refused", "client_company", 6, "refused-account"),
        ("refused", "company_bank_account", 7, "unknown-bank"),
        ("refused", "client_company", 7, "refused-account"),
        ("refused", "client_company", 8, "name-would-be-trimmed"),
        ("refused", "company_bank_account", 9, "orphan-account"),
    ]
    .into_iter()
    .map(|(o, t, id, c)| (o.into(), t.into(), id, c.into()))
    .collect();
    assert_eq!(reports, expected);
    assert_eq!(summary["companies_read"], 9);
    assert_eq!(summary["accounts_read"], 9);
    assert_eq!(summary["merged"], 1);
    assert_eq!(
        summary["refused"],
        json!({"invalid-agency": 1, "invalid-phone": 1, "missing-created": 1,
               "name-would-be-trimmed": 1, "orphan-account": 1, "refused-account": 2,
               "unknown-bank": 1})
    );
    // Account numbers never appear whole in the rejects file.
    let text = std::fs::read_to_string(&s.rejects).unwrap();
    assert!(!text.contains("1234567890"), "{text}");
    // A NULL created is imported when asked for, with the time of the import.
    let (_, summary, _) = s.import(&["--null-created-as-import-time"]);
    assert_eq!(summary["companies_written"], 1);
    let imported = s.by_legacy_id(5).await.unwrap();
    assert_eq!(imported["created"], imported["updated"]);
    let id = imported["id"].as_str().unwrap();
    let (_, history) = s.get(&format!("/companies/{id}/history")).await;
    assert_eq!(history["items"][0]["legacy_created"], Value::Null);
}
