//! History over its retention, as an API caller reads it through the history handler: on the
//! in-memory store and on DynamoDB (the local server `make test` starts).

use companies::{input, now, ChangeKind, Company};
use companies_store::testing::{renamed, sample_company, test_audit};
use companies_store::{MemoryStore, Store};
use serde_json::json;
use uuid::Uuid;

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
    let doc = sample_company("Antiga Ltda").to_document();
    let long_ago = now() - time::Duration::days(6 * 365);
    let v1 = Company::create(input::company(&doc).unwrap(), long_ago);
    store
        .create(
            &v1,
            None,
            Some(&test_audit(ChangeKind::Create).created(&v1)),
        )
        .await
        .unwrap();
    let v2 = renamed(&v1, "Antiga e Nova Ltda");
    let e2 = test_audit(ChangeKind::Update).changed(&v1, &v2);
    store.replace(&v1, &v2, None, Some(&e2)).await.unwrap();
    let v3 = renamed(&v2, "Nova Ltda");
    let e3 = test_audit(ChangeKind::Replace).changed(&v2, &v3);
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
    let young = sample_company("Nova Empresa");
    store
        .create(
            &young,
            None,
            Some(&test_audit(ChangeKind::Create).created(&young)),
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
