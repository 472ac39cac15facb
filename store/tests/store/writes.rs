//! Writes: a company is created once, replaced and deleted on condition of its version, holds
//! its CNPJ alone, and is written with its idempotency record.

use super::*;

pub async fn create_then_get_returns_the_same_company<S: Store>(store: S) {
    let c = sample_company("Acme");
    store.create(&c, None, None).await.unwrap();
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

pub async fn create_never_overwrites<S: Store>(store: S) {
    let c = sample_company("Acme");
    store.create(&c, None, None).await.unwrap();
    let mut other = sample_company("Other");
    other.id = c.id;
    assert!(matches!(
        store.create(&other, None, None).await,
        Err(StoreError::AlreadyExists)
    ));
    assert_eq!(store.get(c.id).await.unwrap().unwrap().company_name, "Acme");
}

pub async fn replace_is_conditional_on_the_version<S: Store>(store: S) {
    let c = sample_company("Acme");
    store.create(&c, None, None).await.unwrap();
    let v2 = renamed(&c, "Acme 2");
    store.replace(&c, &v2, None, None).await.unwrap();
    assert_eq!(store.get(c.id).await.unwrap(), Some(v2.clone()));

    let stale = renamed(&c, "lost update");
    assert!(matches!(
        store.replace(&c, &stale, None, None).await,
        Err(StoreError::VersionConflict)
    ));
    assert_eq!(
        store.get(c.id).await.unwrap(),
        Some(v2),
        "a failed replace writes nothing"
    );

    let ghost = sample_company("Ghost");
    let ghost_next = renamed(&ghost, "Ghost 2");
    assert!(matches!(
        store.replace(&ghost, &ghost_next, None, None).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store.get(ghost.id).await.unwrap(),
        None,
        "replace never creates"
    );
}

pub async fn concurrent_replaces_of_one_version_let_exactly_one_win<S: Store + Clone + 'static>(
    store: S,
) {
    let c = sample_company("Acme");
    store.create(&c, None, None).await.unwrap();
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let store = store.clone();
            let (current, next) = (c.clone(), renamed(&c, &format!("writer {i}")));
            tokio::spawn(async move { store.replace(&current, &next, None, None).await })
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

pub async fn delete_reports_missing_and_stale<S: Store>(store: S) {
    let c = sample_company("Acme");
    store.create(&c, None, None).await.unwrap();
    assert!(matches!(
        store.delete(&sample_company("Ghost"), None).await,
        Err(StoreError::NotFound)
    ));
    let mut stale = c.clone();
    stale.version = 7;
    assert!(matches!(
        store.delete(&stale, None).await,
        Err(StoreError::VersionConflict)
    ));
    assert!(
        store.get(c.id).await.unwrap().is_some(),
        "a failed delete deletes nothing"
    );
    store.delete(&c, None).await.unwrap();
    assert_eq!(store.get(c.id).await.unwrap(), None);
    assert!(matches!(
        store.delete(&c, None).await,
        Err(StoreError::NotFound)
    ));
}

fn with_tax_id(name: &str, tax_id: Option<&str>) -> Company {
    let mut c = sample_company(name);
    c.tax_id = tax_id.map(|t| Cnpj::parse(t).unwrap());
    c
}

fn retaxed(c: &Company, tax_id: Option<&str>) -> Company {
    let mut doc = c.to_document();
    match tax_id {
        Some(t) => doc.insert("tax_id".into(), json!(t)),
        None => doc.remove("tax_id"),
    };
    c.replaced_by(input::company(&doc).unwrap(), now())
}

const CNPJ_A: &str = "60746948000112";
const CNPJ_B: &str = "12ABC34501DE35";

pub async fn a_cnpj_belongs_to_one_company_at_a_time<S: Store>(store: S) {
    let a = with_tax_id("A", Some(CNPJ_A));
    store.create(&a, None, None).await.unwrap();
    let cnpj_a = Cnpj::parse(CNPJ_A).unwrap();
    assert_eq!(store.find_by_tax_id(&cnpj_a).await.unwrap(), Some(a.id));

    let b = with_tax_id("B", Some(CNPJ_A));
    assert!(
        matches!(store.create(&b, None, None).await, Err(StoreError::TaxIdTaken(Some(id))) if id == a.id)
    );
    assert_eq!(
        store.get(b.id).await.unwrap(),
        None,
        "a refused create writes nothing"
    );

    // Moving A to another CNPJ frees the first one.
    let a2 = retaxed(&a, Some(CNPJ_B));
    store.replace(&a, &a2, None, None).await.unwrap();
    assert_eq!(store.find_by_tax_id(&cnpj_a).await.unwrap(), None);
    assert_eq!(
        store
            .find_by_tax_id(&Cnpj::parse(CNPJ_B).unwrap())
            .await
            .unwrap(),
        Some(a.id)
    );
    store.create(&b, None, None).await.unwrap();

    // B cannot move onto A's CNPJ; nothing changes.
    let b2 = retaxed(&b, Some(CNPJ_B));
    assert!(
        matches!(store.replace(&b, &b2, None, None).await, Err(StoreError::TaxIdTaken(Some(id))) if id == a.id)
    );
    assert_eq!(store.get(b.id).await.unwrap(), Some(b.clone()));

    // Clearing and deleting free the marker.
    let a3 = retaxed(&a2, None);
    store.replace(&a2, &a3, None, None).await.unwrap();
    assert_eq!(
        store
            .find_by_tax_id(&Cnpj::parse(CNPJ_B).unwrap())
            .await
            .unwrap(),
        None
    );
    store.delete(&b, None).await.unwrap();
    assert_eq!(store.find_by_tax_id(&cnpj_a).await.unwrap(), None);
    let c = with_tax_id("C", Some(CNPJ_A));
    store.create(&c, None, None).await.unwrap();
}

fn record(key: &str, expires_at: i64) -> IdempotencyRecord {
    IdempotencyRecord {
        key: key.into(),
        fingerprint: "f1".into(),
        answer: StoredAnswer {
            status: 201,
            location: Some("/companies/x".into()),
            etag: Some("\"1\"".into()),
            body: "{\"id\":\"x\"}".into(),
        },
        expires_at,
    }
}

pub async fn idempotency_records_are_written_with_the_company<S: Store>(store: S) {
    let live = record("k1", unix_now() + 3600);
    assert_eq!(store.idempotency_record("k1").await.unwrap(), None);
    let a = with_tax_id("A", Some(CNPJ_A));
    store.create(&a, Some(&live), None).await.unwrap();
    assert_eq!(
        store.idempotency_record("k1").await.unwrap(),
        Some(live.clone())
    );

    // The same key and the same CNPJ (a twin of the first request): the taken key is what
    // the store reports, since the request holding it caused the other conflict.
    let twin = with_tax_id("A", Some(CNPJ_A));
    assert!(matches!(
        store.create(&twin, Some(&live), None).await,
        Err(StoreError::IdempotencyKeyTaken)
    ));

    // The same key again: nothing of the second write lands, not even its CNPJ marker.
    let b = with_tax_id("B", Some(CNPJ_B));
    assert!(matches!(
        store.create(&b, Some(&live), None).await,
        Err(StoreError::IdempotencyKeyTaken)
    ));
    assert_eq!(store.get(b.id).await.unwrap(), None);
    assert_eq!(
        store
            .find_by_tax_id(&Cnpj::parse(CNPJ_B).unwrap())
            .await
            .unwrap(),
        None
    );

    // A refused company write does not store the record either.
    let c = with_tax_id("C", Some(CNPJ_A));
    assert!(matches!(
        store
            .create(&c, Some(&record("k2", unix_now() + 3600)), None)
            .await,
        Err(StoreError::TaxIdTaken(_))
    ));
    assert_eq!(store.idempotency_record("k2").await.unwrap(), None);

    // Updates carry records too.
    let a2 = renamed(&a, "A2");
    store
        .replace(&a, &a2, Some(&record("k3", unix_now() + 3600)), None)
        .await
        .unwrap();
    assert!(store.idempotency_record("k3").await.unwrap().is_some());
    let a3 = renamed(&a2, "A3");
    assert!(matches!(
        store.replace(&a2, &a3, Some(&live), None).await,
        Err(StoreError::IdempotencyKeyTaken)
    ));
    assert_eq!(store.get(a.id).await.unwrap(), Some(a2));

    // An expired record is gone for readers and writers alike.
    let expired = record("k4", unix_now() - 1);
    store
        .create(&sample_company("D"), Some(&expired), None)
        .await
        .unwrap();
    assert_eq!(store.idempotency_record("k4").await.unwrap(), None);
    let fresh = record("k4", unix_now() + 3600);
    store
        .create(&sample_company("E"), Some(&fresh), None)
        .await
        .unwrap();
    assert_eq!(store.idempotency_record("k4").await.unwrap(), Some(fresh));
}
