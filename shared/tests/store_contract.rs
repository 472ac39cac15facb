//! The store contract: one suite, run on the in-memory store and on DynamoDB (the local
//! server `make test` starts). Both must behave identically.

use std::collections::HashSet;

use companies::model::{input, now, Company};
use companies::store::{MemoryStore, Store, StoreError};
use serde_json::json;
use uuid::Uuid;

fn company(name: &str) -> Company {
    let doc = json!({
        "company_name": name, "phone": "11978235674", "tax_id": "60.746.948/0001-12",
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

async fn create_then_get_returns_the_same_company<S: Store>(store: S) {
    let c = company("Acme");
    store.create(&c).await.unwrap();
    assert_eq!(store.get(c.id).await.unwrap(), Some(c.clone()));
    assert_eq!(
        store
            .get(c.id)
            .await
            .unwrap()
            .unwrap()
            .declared_billing
            .to_string(),
        "9999999999.99"
    );
    assert_eq!(store.get(Uuid::now_v7()).await.unwrap(), None);
}

async fn create_never_overwrites<S: Store>(store: S) {
    let c = company("Acme");
    store.create(&c).await.unwrap();
    let mut other = company("Other");
    other.id = c.id;
    assert!(matches!(
        store.create(&other).await,
        Err(StoreError::AlreadyExists)
    ));
    assert_eq!(store.get(c.id).await.unwrap().unwrap().company_name, "Acme");
}

async fn replace_is_conditional_on_the_version<S: Store>(store: S) {
    let c = company("Acme");
    store.create(&c).await.unwrap();
    let v2 = next_version(&c, "Acme 2");
    store.replace(&v2, 1).await.unwrap();
    assert_eq!(store.get(c.id).await.unwrap(), Some(v2.clone()));

    let stale = next_version(&c, "lost update");
    assert!(matches!(
        store.replace(&stale, 1).await,
        Err(StoreError::VersionConflict)
    ));
    assert_eq!(
        store.get(c.id).await.unwrap(),
        Some(v2),
        "a failed replace writes nothing"
    );

    let ghost = company("Ghost");
    assert!(matches!(
        store.replace(&ghost, 1).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store.get(ghost.id).await.unwrap(),
        None,
        "replace never creates"
    );
}

async fn concurrent_replaces_of_one_version_let_exactly_one_win<S: Store + Clone + 'static>(
    store: S,
) {
    let c = company("Acme");
    store.create(&c).await.unwrap();
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let store = store.clone();
            let next = next_version(&c, &format!("writer {i}"));
            tokio::spawn(async move { store.replace(&next, 1).await })
        })
        .collect();
    let mut wins = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => wins += 1,
            Err(StoreError::VersionConflict) => {}
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(wins, 1);
    assert_eq!(store.get(c.id).await.unwrap().unwrap().version, 2);
}

async fn delete_reports_missing_and_stale<S: Store>(store: S) {
    let c = company("Acme");
    store.create(&c).await.unwrap();
    assert!(matches!(
        store.delete(Uuid::now_v7(), None).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete(c.id, Some(7)).await,
        Err(StoreError::VersionConflict)
    ));
    assert!(
        store.get(c.id).await.unwrap().is_some(),
        "a failed delete deletes nothing"
    );
    store.delete(c.id, Some(1)).await.unwrap();
    assert_eq!(store.get(c.id).await.unwrap(), None);
    assert!(matches!(
        store.delete(c.id, None).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete(c.id, Some(1)).await,
        Err(StoreError::NotFound)
    ));

    let d = company("Other");
    store.create(&d).await.unwrap();
    store.delete(d.id, None).await.unwrap();
    assert_eq!(store.get(d.id).await.unwrap(), None);
}

async fn list_walks_every_company_once_newest_first<S: Store>(store: S) {
    let empty = store.list(5, None).await.unwrap();
    assert!(empty.items.is_empty() && empty.next_after.is_none());

    let mut created = Vec::new();
    for i in 0..7 {
        let c = company(&format!("C{i}"));
        store.create(&c).await.unwrap();
        created.push(c);
    }
    let mut seen = Vec::new();
    let mut after = None;
    let mut sizes = Vec::new();
    loop {
        let page = store.list(3, after).await.unwrap();
        sizes.push(page.items.len());
        seen.extend(page.items.iter().map(|c| c.id));
        match page.next_after {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(sizes, [3, 3, 1]);
    let newest_first: Vec<Uuid> = created.iter().rev().map(|c| c.id).collect();
    assert_eq!(seen, newest_first);

    // An exact multiple of the page size ends without an empty trailing page.
    let page = store.list(7, None).await.unwrap();
    assert_eq!((page.items.len(), page.next_after), (7, None));
    // Items come back whole.
    assert_eq!(page.items[0], created[6]);
}

async fn list_continues_past_a_deleted_cursor_company<S: Store>(store: S) {
    let mut ids = Vec::new();
    for i in 0..5 {
        let c = company(&format!("C{i}"));
        store.create(&c).await.unwrap();
        ids.push(c.id);
    }
    let first = store.list(2, None).await.unwrap();
    let cursor = first.next_after.unwrap();
    store.delete(cursor, None).await.unwrap();
    let rest = store.list(10, Some(cursor)).await.unwrap();
    let mut all: HashSet<Uuid> = first.items.iter().map(|c| c.id).collect();
    all.extend(rest.items.iter().map(|c| c.id));
    assert_eq!(all, ids.into_iter().collect::<HashSet<_>>());
    assert_eq!(rest.items.len(), 3);
}

macro_rules! contract {
    ($($test:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test]
            async fn $test() {
                super::$test(super::MemoryStore::new()).await;
            })*
        }
        mod dynamodb {
            $(#[tokio::test]
            async fn $test() {
                if let Some(store) = companies::testing::dynamo_store("contract").await {
                    super::$test(store).await;
                }
            })*
        }
    };
}

contract!(
    create_then_get_returns_the_same_company,
    create_never_overwrites,
    replace_is_conditional_on_the_version,
    concurrent_replaces_of_one_version_let_exactly_one_win,
    delete_reports_missing_and_stale,
    list_walks_every_company_once_newest_first,
    list_continues_past_a_deleted_cursor_company,
);
