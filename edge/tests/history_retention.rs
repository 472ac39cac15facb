//! History over its retention, as an API caller reads it through the history handler: on the
//! in-memory store and on DynamoDB (the local server `make test` starts).

use companies::{input, now, Audit, ChangeKind, Company};
use companies_store::{MemoryStore, Store};
use serde_json::json;
use uuid::Uuid;

fn company(name: &str) -> Company {
    let doc = json!({
        "company_name": name, "phone": "11978235674",
        "declared_billing": "9999999999.99",
        "address": {"street": "Av. Paulista", "number": "1000", "city": "São Paulo", "state": "SP",
                    "postal_code": "01310-100"},
        "bank_accounts": [{"bank_code": "336", "agency": "1290-0", "account_number": "1243"},
                          {"bank_code": "001", "agency": "0001-9", "account_number": "12345-X"}]
    });
    Company::create(input::company(doc.as_object().unwrap()).unwrap(), now())
}

fn next_version(c: &Company, name: &str) -> Company {
    let mut doc = c.to_document();
    doc.insert("company_name".into(), json!(name));
    c.replaced_by(input::company(&doc).unwrap(), now())
}

fn audit(kind: ChangeKind) -> Audit {
    Audit {
        operation: kind,
        actor: "tester".into(),
        request_id: "r-1".into(),
        lambda_request_id: None,
    }
}

/// The history an API caller gets for `id`, oldest first, read `limit` entries a page.
async fn trail<S: Store>(store: &S, id: Uuid, limit: usize) -> Vec<serde_json::Value> {
    use lambda_http::{Body, Request, RequestExt};
    use std::collections::HashMap;
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query = HashMap::from([("limit".to_owned(), limit.to_string())]);
        if let Some(c) = cursor.take() {
            query.insert("cursor".to_owned(), c);
        }
        let req = Request::default()
            .with_path_parameters(HashMap::from([("id".to_owned(), id.to_string())]))
            .with_query_string_parameters(query);
        let answer = companies_edge::handlers::history::get_company_history(store, req)
            .await
            .unwrap();
        let Body::Text(text) = answer.body() else {
            panic!("no JSON body");
        };
        let page: serde_json::Value = serde_json::from_str(text).unwrap();
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    items.reverse();
    items
}

/// Retention counts from each entry's own time, so the first entries of a long-lived company
/// expire while later ones stay. What is left still rebuilds the company: the oldest entry
/// left answers with the whole company at its version (`rebased`), at every page size, and no
/// entry gives its stored snapshot away.
async fn a_trail_past_its_retention_still_rebuilds_the_company<S: Store>(store: S) {
    let doc = company("Antiga Ltda").to_document();
    let long_ago = now() - time::Duration::days(6 * 365);
    let v1 = Company::create(input::company(&doc).unwrap(), long_ago);
    store
        .create(&v1, None, Some(&audit(ChangeKind::Create).created(&v1)))
        .await
        .unwrap();
    let v2 = next_version(&v1, "Antiga e Nova Ltda");
    let e2 = audit(ChangeKind::Update).changed(&v1, &v2);
    store.replace(&v1, &v2, None, Some(&e2)).await.unwrap();
    let v3 = next_version(&v2, "Nova Ltda");
    let e3 = audit(ChangeKind::Replace).changed(&v2, &v3);
    store.replace(&v2, &v3, None, Some(&e3)).await.unwrap();

    // The create entry, six years old, is past the five years kept.
    let kept = store.history(v1.id, 10, None).await.unwrap();
    assert_eq!(
        kept.items.iter().map(|e| e.version).collect::<Vec<_>>(),
        [3, 2]
    );
    for limit in [1, 2, 3] {
        let entries = trail(&store, v1.id, limit).await;
        assert_eq!(entries.len(), 2, "limit {limit}");
        assert_eq!(entries[0]["rebased"], true, "limit {limit}: {}", entries[0]);
        assert!(entries[1].get("rebased").is_none(), "limit {limit}");
        assert!(entries.iter().all(|e| e.get("snapshot").is_none()));
        let mut state = json!({});
        for entry in &entries {
            json_patch::merge(&mut state, &entry["changes"]);
        }
        let expected = serde_json::Value::Object(companies::history::representation(&v3));
        assert_eq!(
            state, expected,
            "limit {limit}: replay does not give the company"
        );
    }

    // A company whose trail is whole answers it as written: no entry rebased.
    let young = company("Nova Empresa");
    store
        .create(
            &young,
            None,
            Some(&audit(ChangeKind::Create).created(&young)),
        )
        .await
        .unwrap();
    let entries = trail(&store, young.id, 1).await;
    assert_eq!(entries.len(), 1);
    assert!(entries[0].get("rebased").is_none());
}

#[tokio::test]
async fn memory() {
    a_trail_past_its_retention_still_rebuilds_the_company(MemoryStore::new()).await;
}

#[tokio::test]
async fn dynamodb() {
    if let Some(store) = companies_store::testing::dynamo_store("retention").await {
        a_trail_past_its_retention_still_rebuilds_the_company(store).await;
    }
}
