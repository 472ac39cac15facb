//! The importer's port: an import is written once with its legacy marker, a re-import
//! carries a row's change over, and a walk of the markers meets each once.

use super::*;

pub async fn an_import_is_written_once_with_its_legacy_marker<S: Store + CompanyImporter>(
    store: S,
) {
    let c = sample_company("Padaria Importada");
    let entry = test_audit(ChangeKind::Import).imported(
        &c,
        17,
        Some("2019-03-04T10:11:12.345678".into()),
        now(),
    );
    store.import(&c, 17, "row-17", &entry).await.unwrap();
    assert_eq!(store.find_by_legacy_id(17).await.unwrap(), Some(c.id));
    assert_eq!(store.find_by_legacy_id(18).await.unwrap(), None);
    assert_eq!(store.get(c.id).await.unwrap(), Some(c.clone()));
    let history = store.history(c.id, 10, None).await.unwrap().items;
    assert_eq!(history, std::slice::from_ref(&entry));
    assert_eq!(history[0].legacy_id, Some(17));
    let found = store
        .by_name(
            &NameQuery::Matching(Search::parse("importada").unwrap()),
            10,
            None,
        )
        .await
        .unwrap();
    assert_eq!(found.items, std::slice::from_ref(&c));
    // The same row again, under the same id or another, is refused: nothing is written twice.
    assert!(matches!(
        store.import(&c, 17, "row-17", &entry).await,
        Err(StoreError::AlreadyExists)
    ));
    let other = sample_company("Padaria Importada");
    let other_entry = test_audit(ChangeKind::Import).imported(&other, 17, None, now());
    assert!(matches!(
        store.import(&other, 17, "row-17", &other_entry).await,
        Err(StoreError::AlreadyExists)
    ));
    assert_eq!(store.get(other.id).await.unwrap(), None);
    // A deleted import keeps its marker, so no later run brings it back.
    store.delete(&c, None).await.unwrap();
    assert_eq!(store.find_by_legacy_id(17).await.unwrap(), Some(c.id));
    assert!(matches!(
        store.import(&c, 17, "row-17", &entry).await,
        Err(StoreError::AlreadyExists)
    ));
    assert_eq!(store.get(c.id).await.unwrap(), None);
}

pub async fn a_reimport_carries_a_row_change_over_with_its_marker<
    S: Store + CompanyImporter + MarkerAudit,
>(
    store: S,
) {
    let c = sample_company("Padaria Importada");
    let first = test_audit(ChangeKind::Import).imported(&c, 17, None, now());
    store.import(&c, 17, "row-17", &first).await.unwrap();
    let marker = |version, source: &str| LegacyImport {
        company: c.id,
        version,
        source: Some(source.to_owned()),
    };
    assert_eq!(
        store.legacy_import(17).await.unwrap(),
        Some(marker(1, "row-17"))
    );
    assert_eq!(store.legacy_import(18).await.unwrap(), None);

    // The row was renamed in the Flask service: the company, its index, its history and the
    // marker move together.
    let next = renamed(&c, "Panificadora Central");
    let second = test_audit(ChangeKind::Import).reimported(&c, &next, 17, None);
    assert_eq!(
        second.changes,
        json!({"company_name": "Panificadora Central"})
    );
    store
        .reimport(&c, &next, 17, "row-17-renamed", &second)
        .await
        .unwrap();
    assert_eq!(store.get(c.id).await.unwrap(), Some(next.clone()));
    assert_eq!(
        store.legacy_import(17).await.unwrap(),
        Some(marker(2, "row-17-renamed"))
    );
    assert_eq!(
        store.history(c.id, 10, None).await.unwrap().items,
        [second.clone(), first]
    );
    assert_eq!(
        store.name_index().await.unwrap(),
        companies_store::testing::expected_name_index([&next])
    );

    // From a version that is no longer the stored one: nothing is written.
    let stale = renamed(&c, "Padaria Outra");
    let entry = test_audit(ChangeKind::Import).reimported(&c, &stale, 17, None);
    assert!(matches!(
        store.reimport(&c, &stale, 17, "row-17-stale", &entry).await,
        Err(StoreError::VersionConflict)
    ));
    assert_eq!(store.get(c.id).await.unwrap(), Some(next.clone()));
    assert_eq!(
        store.legacy_import(17).await.unwrap(),
        Some(marker(2, "row-17-renamed"))
    );
    // Nor once the company is deleted.
    store.delete(&next, None).await.unwrap();
    let after = renamed(&next, "Padaria Depois");
    let entry = test_audit(ChangeKind::Import).reimported(&next, &after, 17, None);
    assert!(matches!(
        store
            .reimport(&next, &after, 17, "row-17-later", &entry)
            .await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.get(c.id).await.unwrap(), None);
    assert_eq!(
        store.legacy_import(17).await.unwrap(),
        Some(marker(2, "row-17-renamed"))
    );
}

/// A walk of the legacy markers meets every imported row once, and nothing else.
pub async fn a_walk_of_the_legacy_markers_meets_each_once<S: Store + CompanyImporter>(store: S) {
    let mut expected = std::collections::BTreeMap::new();
    for legacy_id in 1..=120 {
        let c = sample_company(&format!("Importada {legacy_id}"));
        let entry = test_audit(ChangeKind::Import).imported(&c, legacy_id, None, now());
        let source = format!("row-{legacy_id}");
        store.import(&c, legacy_id, &source, &entry).await.unwrap();
        expected.insert(
            legacy_id,
            LegacyImport {
                company: c.id,
                version: 1,
                source: Some(source),
            },
        );
    }
    store
        .create(&sample_company("Criada pela API"), None, None)
        .await
        .unwrap();
    let mut met = std::collections::BTreeMap::new();
    let mut from = None;
    loop {
        let (page, next) = store.legacy_imports(from).await.unwrap();
        for (legacy_id, marker) in page {
            assert!(met.insert(legacy_id, marker).is_none(), "{legacy_id} twice");
        }
        match next {
            Some(position) => from = Some(position),
            None => break,
        }
    }
    assert_eq!(met, expected);
}
