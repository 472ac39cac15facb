//! The store contract: one suite, run on the in-memory store and on DynamoDB (the local
//! server `make test` starts). Both must behave identically.

use std::collections::HashSet;

use companies::search::{NameQuery, Search};
use companies::{input, now, Audit, ChangeKind, Cnpj, Company};
use companies_store::testing::MarkerAudit;
use companies_store::{
    unix_now, CompanyImporter, IdempotencyRecord, LegacyImport, MemoryStore, Store, StoreError,
    StoredAnswer,
};
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

async fn create_then_get_returns_the_same_company<S: Store>(store: S) {
    let c = company("Acme");
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

async fn create_never_overwrites<S: Store>(store: S) {
    let c = company("Acme");
    store.create(&c, None, None).await.unwrap();
    let mut other = company("Other");
    other.id = c.id;
    assert!(matches!(
        store.create(&other, None, None).await,
        Err(StoreError::AlreadyExists)
    ));
    assert_eq!(store.get(c.id).await.unwrap().unwrap().company_name, "Acme");
}

async fn replace_is_conditional_on_the_version<S: Store>(store: S) {
    let c = company("Acme");
    store.create(&c, None, None).await.unwrap();
    let v2 = next_version(&c, "Acme 2");
    store.replace(&c, &v2, None, None).await.unwrap();
    assert_eq!(store.get(c.id).await.unwrap(), Some(v2.clone()));

    let stale = next_version(&c, "lost update");
    assert!(matches!(
        store.replace(&c, &stale, None, None).await,
        Err(StoreError::VersionConflict)
    ));
    assert_eq!(
        store.get(c.id).await.unwrap(),
        Some(v2),
        "a failed replace writes nothing"
    );

    let ghost = company("Ghost");
    let ghost_next = next_version(&ghost, "Ghost 2");
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

async fn concurrent_replaces_of_one_version_let_exactly_one_win<S: Store + Clone + 'static>(
    store: S,
) {
    let c = company("Acme");
    store.create(&c, None, None).await.unwrap();
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let store = store.clone();
            let (current, next) = (c.clone(), next_version(&c, &format!("writer {i}")));
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

async fn delete_reports_missing_and_stale<S: Store>(store: S) {
    let c = company("Acme");
    store.create(&c, None, None).await.unwrap();
    assert!(matches!(
        store.delete(&company("Ghost"), None).await,
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
    let mut c = company(name);
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

async fn a_cnpj_belongs_to_one_company_at_a_time<S: Store>(store: S) {
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

async fn idempotency_records_are_written_with_the_company<S: Store>(store: S) {
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
    let a2 = next_version(&a, "A2");
    store
        .replace(&a, &a2, Some(&record("k3", unix_now() + 3600)), None)
        .await
        .unwrap();
    assert!(store.idempotency_record("k3").await.unwrap().is_some());
    let a3 = next_version(&a2, "A3");
    assert!(matches!(
        store.replace(&a2, &a3, Some(&live), None).await,
        Err(StoreError::IdempotencyKeyTaken)
    ));
    assert_eq!(store.get(a.id).await.unwrap(), Some(a2));

    // An expired record is gone for readers and writers alike.
    let expired = record("k4", unix_now() - 1);
    store
        .create(&company("D"), Some(&expired), None)
        .await
        .unwrap();
    assert_eq!(store.idempotency_record("k4").await.unwrap(), None);
    let fresh = record("k4", unix_now() + 3600);
    store
        .create(&company("E"), Some(&fresh), None)
        .await
        .unwrap();
    assert_eq!(store.idempotency_record("k4").await.unwrap(), Some(fresh));
}

async fn list_walks_every_company_once_newest_first<S: Store>(store: S) {
    let empty = store.list(5, None).await.unwrap();
    assert!(empty.items.is_empty() && empty.next_after.is_none());

    let mut created = Vec::new();
    for i in 0..7 {
        let c = company(&format!("C{i}"));
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

async fn list_continues_past_a_deleted_cursor_company<S: Store>(store: S) {
    let mut ids = Vec::new();
    for i in 0..5 {
        let c = company(&format!("C{i}"));
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

fn audit(kind: ChangeKind) -> Audit {
    Audit {
        operation: kind,
        actor: "tester".into(),
        request_id: "r-1".into(),
        lambda_request_id: None,
    }
}

async fn history_is_written_with_the_change<S: Store>(store: S) {
    let c = company("Acme");
    let created = audit(ChangeKind::Create).created(&c);
    store.create(&c, None, Some(&created)).await.unwrap();
    let v2 = next_version(&c, "Acme 2");
    let changed = audit(ChangeKind::Update).changed(&c, &v2);
    store.replace(&c, &v2, None, Some(&changed)).await.unwrap();

    // A write that fails its condition leaves no entry.
    let stale = next_version(&c, "lost");
    let lost = audit(ChangeKind::Update).changed(&c, &stale);
    assert!(matches!(
        store.replace(&c, &stale, None, Some(&lost)).await,
        Err(StoreError::VersionConflict)
    ));

    let deleted = audit(ChangeKind::Delete).deleted(&v2, now());
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

/// Every company `query` lists, page by page of `limit`, with the page sizes.
async fn walk_by_name<S: Store>(
    store: &S,
    query: &NameQuery,
    limit: usize,
) -> (Vec<Company>, Vec<usize>) {
    let (mut all, mut sizes, mut after) = (Vec::new(), Vec::new(), None::<String>);
    loop {
        let page = store.by_name(query, limit, after.as_deref()).await.unwrap();
        sizes.push(page.items.len());
        all.extend(page.items);
        match page.next_after {
            Some(next) => after = Some(next),
            None => return (all, sizes),
        }
    }
}

fn search(q: &str) -> NameQuery {
    NameQuery::Matching(Search::parse(q).unwrap())
}

fn names(companies: &[Company]) -> Vec<&str> {
    companies.iter().map(|c| c.company_name.as_str()).collect()
}

async fn search_matches_word_prefixes_in_name_order<S: Store + MarkerAudit>(store: S) {
    let mut created = Vec::new();
    for name in [
        "Transportes Sao Jose",
        "Padaria São João Ltda",
        "Padaria Paulista",
        "AÇOUGUE DO ZÉ",
        "Açougue Central",
        "Sao Joaquim Ferragens",
    ] {
        let c = company(name);
        store.create(&c, None, None).await.unwrap();
        created.push(c);
    }
    let find = |q: &'static str| {
        let store = &store;
        async move { names(&walk_by_name(store, &search(q), 20).await.0).join(" | ") }
    };
    assert_eq!(
        find("sao jo").await,
        "Padaria São João Ltda | Sao Joaquim Ferragens | Transportes Sao Jose"
    );
    assert_eq!(find("SÃO JOÃO").await, "Padaria São João Ltda");
    assert_eq!(find("paul").await, "Padaria Paulista");
    assert_eq!(find("ista").await, "");
    assert_eq!(find("acougue").await, "Açougue Central | AÇOUGUE DO ZÉ");
    assert_eq!(find("ze acou").await, "AÇOUGUE DO ZÉ");
    assert_eq!(find("padaria jose").await, "");
    assert_eq!(
        find("ferragenss").await,
        "",
        "a query word longer than any name word"
    );
    let all = walk_by_name(&store, &NameQuery::All, 20).await.0;
    assert_eq!(
        names(&all).join(" | "),
        "Açougue Central | AÇOUGUE DO ZÉ | Padaria Paulista | Padaria São João Ltda | \
         Sao Joaquim Ferragens | Transportes Sao Jose"
    );
    // Items come back whole.
    assert!(all.iter().all(|c| created.contains(c)));
    assert_eq!(
        store.name_index().await.unwrap(),
        companies_store::testing::expected_name_index(&created)
    );
}

async fn pages_by_name_are_complete_and_ordered<S: Store>(store: S) {
    // Equal names too: the id breaks the tie.
    let mut created = Vec::new();
    for i in [7, 3, 11, 0, 5, 5, 9, 1, 12, 2, 8, 4, 10, 6] {
        let c = company(&format!("Padaria {i:02}"));
        store.create(&c, None, None).await.unwrap();
        created.push(c);
    }
    store.create(&company("Mercado"), None, None).await.unwrap();
    let mut expected: Vec<(String, Uuid)> = created
        .iter()
        .map(|c| (c.company_name.clone(), c.id))
        .collect();
    expected.sort();
    let (found, sizes) = walk_by_name(&store, &search("pad"), 4).await;
    let found: Vec<(String, Uuid)> = found
        .iter()
        .map(|c| (c.company_name.clone(), c.id))
        .collect();
    assert_eq!(found, expected);
    assert_eq!(sizes, [4, 4, 4, 2]);
    let (all, sizes) = walk_by_name(&store, &NameQuery::All, 5).await;
    assert_eq!(all.len(), 15);
    assert_eq!(
        sizes,
        [5, 5, 5],
        "an exact multiple ends without an empty page"
    );
    assert_eq!(all[0].company_name, "Mercado");
}

async fn a_rename_or_delete_moves_the_company_in_the_index<S: Store + MarkerAudit>(store: S) {
    let c = company("Padaria Velha");
    store.create(&c, None, None).await.unwrap();
    let renamed = next_version(&c, "Mercado Novo");
    store.replace(&c, &renamed, None, None).await.unwrap();
    assert!(walk_by_name(&store, &search("velha"), 10)
        .await
        .0
        .is_empty());
    assert_eq!(
        walk_by_name(&store, &search("nov"), 10).await.0,
        std::slice::from_ref(&renamed)
    );
    // A change that keeps the name keeps the entries.
    let mut doc = renamed.to_document();
    doc.insert("phone".into(), json!("11912345678"));
    let rephoned = renamed.replaced_by(input::company(&doc).unwrap(), now());
    store
        .replace(&renamed, &rephoned, None, None)
        .await
        .unwrap();
    assert_eq!(
        walk_by_name(&store, &search("mercado"), 10).await.0,
        std::slice::from_ref(&rephoned)
    );
    assert_eq!(
        store.name_index().await.unwrap(),
        companies_store::testing::expected_name_index([&rephoned])
    );
    store.delete(&rephoned, None).await.unwrap();
    assert!(walk_by_name(&store, &search("mercado"), 10)
        .await
        .0
        .is_empty());
    assert!(walk_by_name(&store, &NameQuery::All, 10).await.0.is_empty());
    assert!(store.name_index().await.unwrap().is_empty());
}

async fn a_rename_of_long_names_leaves_no_stale_entry<S: Store + MarkerAudit>(store: S) {
    let old =
        "Associação dos Moradores e Amigos do Bairro Jardim São Paulo e Adjacências de Campinas";
    let new = "Cooperativa Habitacional dos Trabalhadores Metalúrgicos Unidos de Ribeirão Preto e \
               Franca Ltda";
    // More entries than one transaction holds with the company: some go after it.
    let terms = |n: &str| companies::search::index_terms(n).len();
    assert!(
        terms(old) + terms(new) > 98,
        "{} + {}",
        terms(old),
        terms(new)
    );
    let c = company(old);
    store.create(&c, None, None).await.unwrap();
    let renamed = next_version(&c, new);
    store.replace(&c, &renamed, None, None).await.unwrap();
    assert!(walk_by_name(&store, &search("adjacencias"), 10)
        .await
        .0
        .is_empty());
    assert_eq!(
        walk_by_name(&store, &search("metalurgicos ribeirao"), 10)
            .await
            .0,
        std::slice::from_ref(&renamed)
    );
    assert_eq!(
        store.name_index().await.unwrap(),
        companies_store::testing::expected_name_index([&renamed])
    );
}

async fn an_import_is_written_once_with_its_legacy_marker<S: Store + CompanyImporter>(store: S) {
    let c = company("Padaria Importada");
    let entry = audit(ChangeKind::Import).imported(
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
    let other = company("Padaria Importada");
    let other_entry = audit(ChangeKind::Import).imported(&other, 17, None, now());
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

async fn a_reimport_carries_a_row_change_over_with_its_marker<
    S: Store + CompanyImporter + MarkerAudit,
>(
    store: S,
) {
    let c = company("Padaria Importada");
    let first = audit(ChangeKind::Import).imported(&c, 17, None, now());
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
    let next = next_version(&c, "Panificadora Central");
    let second = audit(ChangeKind::Import).reimported(&c, &next, 17, None);
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
    let stale = next_version(&c, "Padaria Outra");
    let entry = audit(ChangeKind::Import).reimported(&c, &stale, 17, None);
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
    let after = next_version(&next, "Padaria Depois");
    let entry = audit(ChangeKind::Import).reimported(&next, &after, 17, None);
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
async fn a_walk_of_the_legacy_markers_meets_each_once<S: Store + CompanyImporter>(store: S) {
    let mut expected = std::collections::BTreeMap::new();
    for legacy_id in 1..=120 {
        let c = company(&format!("Importada {legacy_id}"));
        let entry = audit(ChangeKind::Import).imported(&c, legacy_id, None, now());
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
        .create(&company("Criada pela API"), None, None)
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
                if let Some(store) = companies_store::testing::dynamo_store("contract").await {
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
    a_cnpj_belongs_to_one_company_at_a_time,
    idempotency_records_are_written_with_the_company,
    list_walks_every_company_once_newest_first,
    list_continues_past_a_deleted_cursor_company,
    history_is_written_with_the_change,
    search_matches_word_prefixes_in_name_order,
    pages_by_name_are_complete_and_ordered,
    a_rename_or_delete_moves_the_company_in_the_index,
    a_rename_of_long_names_leaves_no_stale_entry,
    an_import_is_written_once_with_its_legacy_marker,
    a_reimport_carries_a_row_change_over_with_its_marker,
    a_walk_of_the_legacy_markers_meets_each_once,
);
