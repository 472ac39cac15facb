//! Reads: listings walk every company once, newest first, and history is written with each
//! change.

use super::*;

pub async fn list_walks_every_company_once_newest_first<S: Store>(store: S) {
    let empty = store.list(5, None).await.unwrap();
    assert!(empty.items.is_empty() && empty.next_after.is_none());

    let mut created = Vec::new();
    for i in 0..7 {
        let c = sample_company(&format!("C{i}"));
        store.create(&c, None, None).await.unwrap();
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

pub async fn list_continues_past_a_deleted_cursor_company<S: Store>(store: S) {
    let mut ids = Vec::new();
    for i in 0..5 {
        let c = sample_company(&format!("C{i}"));
        store.create(&c, None, None).await.unwrap();
        ids.push(c.id);
    }
    let first = store.list(2, None).await.unwrap();
    let cursor = first.next_after.unwrap();
    let gone = store.get(cursor).await.unwrap().unwrap();
    store.delete(&gone, None).await.unwrap();
    let rest = store.list(10, Some(cursor)).await.unwrap();
    let mut all: HashSet<Uuid> = first.items.iter().map(|c| c.id).collect();
    all.extend(rest.items.iter().map(|c| c.id));
    assert_eq!(all, ids.into_iter().collect::<HashSet<_>>());
    assert_eq!(rest.items.len(), 3);
}

pub async fn history_is_written_with_the_change<S: Store>(store: S) {
    let c = sample_company("Acme");
    let created = test_audit(ChangeKind::Create).created(&c);
    store.create(&c, None, Some(&created)).await.unwrap();
    let v2 = renamed(&c, "Acme 2");
    let changed = test_audit(ChangeKind::Update).changed(&c, &v2);
    store.replace(&c, &v2, None, Some(&changed)).await.unwrap();

    // A write that fails its condition leaves no entry.
    let stale = renamed(&c, "lost");
    let lost = test_audit(ChangeKind::Update).changed(&c, &stale);
    assert!(matches!(
        store.replace(&c, &stale, None, Some(&lost)).await,
        Err(StoreError::VersionConflict)
    ));

    let deleted = test_audit(ChangeKind::Delete).deleted(&v2, now());
    store.delete(&v2, Some(&deleted)).await.unwrap();
    // Readable after the delete, newest first, page by page.
    let first = store.history(c.id, 2, None).await.unwrap();
    assert_eq!(first.items, vec![deleted.clone(), changed.clone()]);
    assert_eq!(first.next_before, Some(2));
    let rest = store.history(c.id, 2, first.next_before).await.unwrap();
    assert_eq!(rest.items, vec![created]);
    assert_eq!(rest.next_before, None);
    assert_eq!(
        store.history(c.id, 10, Some(1)).await.unwrap().items,
        vec![]
    );
    let other = store.history(Uuid::now_v7(), 10, None).await.unwrap();
    assert!(other.items.is_empty() && other.next_before.is_none());
}
