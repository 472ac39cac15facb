//! A restore rehearsal on DynamoDB Local. A table filled through the store (companies with
//! CNPJs and bank accounts, renamed, imported from legacy rows, deleted) is copied item by item
//! into a new table of the same definition, as a restore lands it, and the copy is given the
//! half-applied transactions a restore can hold: a company without its name index entries, an
//! entry of no company, a CNPJ marker without its company, a company without its CNPJ marker,
//! a legacy marker without its company, a company without its latest history entry.
//! `companies-reindex --repair` reports each under its kind (a dry run first, writing nothing),
//! sets them right, and finds nothing the second time; then the local API on the repaired copy
//! answers a client's reads over HTTP (each company, the deleted ones' 404, the listing, the
//! name search, a history), and the store's writes work on it.

use std::process::{Command, Output};

use companies::history::{merge_diff, representation};
use companies::search;
use companies::{input, now, Audit, ChangeKind, Cnpj, Company};
use companies_store::dynamo::items;
use companies_store::dynamo::repair::REPAIR_ACTOR;
use companies_store::testing::{dynamo_store, file_raw, renamed, sample_company, test_audit};
use companies_store::{
    CompanyCreator, CompanyDeleter, CompanyImporter, CompanyLister, CompanyUpdater, DynamoStore,
    HistoryReader, StoreError,
};
use serde_json::{json, Value};
use uuid::Uuid;

/// The valid CNPJ whose first twelve characters are `base`.
fn cnpj(base: &str) -> Cnpj {
    (0..100)
        .find_map(|n| Cnpj::parse(&format!("{base}{n:02}")).ok())
        .unwrap()
}

fn company(name: &str, tax_id: Option<&Cnpj>) -> Company {
    let mut c = sample_company(name);
    c.tax_id = tax_id.cloned();
    c
}

fn audit(kind: ChangeKind) -> Audit {
    test_audit(kind)
}

async fn create(store: &DynamoStore, c: &Company) {
    let entry = audit(ChangeKind::Create).created(c);
    store.create(c, None, Some(&entry)).await.unwrap();
}

async fn replace(store: &DynamoStore, current: &Company, next: &Company) {
    let entry = audit(ChangeKind::Replace).changed(current, next);
    store
        .replace(current, next, None, Some(&entry))
        .await
        .unwrap();
}

async fn import(store: &DynamoStore, c: &Company, legacy_id: i64) {
    let entry = audit(ChangeKind::Import).imported(c, legacy_id, None, now());
    let digest = format!("digest-{legacy_id}");
    store.import(c, legacy_id, &digest, &entry).await.unwrap();
}

async fn delete(store: &DynamoStore, c: &Company) {
    let entry = audit(ChangeKind::Delete).deleted(c, now());
    store.delete(c, Some(&entry)).await.unwrap();
}

/// `company` with only its first bank account.
fn one_account_less(c: &Company) -> Company {
    let mut doc = c.to_document();
    let first = doc["bank_accounts"][0].clone();
    doc.insert("bank_accounts".into(), json!([first]));
    c.replaced_by(input::company(&doc).unwrap(), now())
}

fn repair(store: &DynamoStore, args: &[&str]) -> (Output, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_companies-reindex"))
        .args(["--table", store.table(), "--repair"])
        .args(["--history-retention-days", "30"])
        .args(args)
        .output()
        .unwrap();
    let report = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out, report)
}

/// The local API (`make run`'s) serving `store`: its base URL.
async fn api_on(store: &DynamoStore) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(local_api::serve(
        listener,
        std::sync::Arc::new(store.clone()),
    ));
    url
}

/// `GET base+path`: status, `ETag` and JSON body (`null` when there is none).
async fn get(base: &str, path: &str) -> (u16, Option<String>, Value) {
    let answer = reqwest::get(format!("{base}{path}")).await.unwrap();
    let status = answer.status().as_u16();
    let etag = answer
        .headers()
        .get("etag")
        .map(|e| e.to_str().unwrap().to_owned());
    let body = answer.json().await.unwrap_or(Value::Null);
    (status, etag, body)
}

/// The names the API finds for `q`.
async fn found(base: &str, q: &str) -> Vec<String> {
    let (status, _, page) = get(
        base,
        &format!("/companies?q={}&limit=100", q.replace(' ', "+")),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["company_name"].as_str().unwrap().to_owned())
        .collect()
}

fn ids(report: &Value, path: &[&str], field: &str) -> Vec<Value> {
    let list = path.iter().fold(report, |v, p| &v[*p]);
    list.as_array()
        .unwrap_or_else(|| panic!("{path:?} is not a list in {report}"))
        .iter()
        .map(|entry| entry[field].clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_copy_with_torn_transactions_is_repaired_and_serves() {
    let Some(original) = dynamo_store("restore-source").await else {
        return;
    };
    let (c1, c2, c3, c4, c5) = (
        cnpj("607469480001"),
        cnpj("112223330002"),
        cnpj("12ABC34501DE"),
        cnpj("445556660003"),
        cnpj("778889990004"),
    );
    // Renamed; bank accounts changed; renamed again; never changed; imported; an import torn
    // below; deleted; imported and deleted.
    let aurora = company("Padaria Aurora", Some(&c1));
    let boa_vista = company("Mercado Boa Vista", Some(&c2));
    let central = company("Oficina Central", Some(&c3));
    let delta = company("Farmácia Delta", None);
    let eixo = company("Transportes Eixo", Some(&c4));
    let torneadora = company("Torneadora Parcial", None);
    let gama = company("Loja Gama", Some(&c5));
    let horto = company("Horto Antigo", None);
    for c in [&aurora, &boa_vista, &central, &delta, &gama] {
        create(&original, c).await;
    }
    let aurora_new = renamed(&aurora, "Padaria Aurora Nova");
    replace(&original, &aurora, &aurora_new).await;
    let boa_vista_2 = one_account_less(&boa_vista);
    replace(&original, &boa_vista, &boa_vista_2).await;
    let central_2 = renamed(&central, "Oficina Central Paulista");
    replace(&original, &central, &central_2).await;
    import(&original, &eixo, 101).await;
    import(&original, &torneadora, 102).await;
    import(&original, &horto, 103).await;
    delete(&original, &gama).await;
    delete(&original, &horto).await;

    // The restore: a new table of the same definition, every item copied as it is.
    let copy = dynamo_store("restore-target").await.unwrap();
    let copied = original.copy_into(&copy).await.unwrap();
    assert_eq!(copy.dump().await.unwrap(), original.dump().await.unwrap());
    assert!(copied > 100, "{copied} items");

    // Half-applied transactions.
    let aurora_terms = search::index_terms(&aurora_new.company_name);
    let aurora_key = search::name_key(&aurora_new.company_name);
    for term in &aurora_terms {
        let entry = items::name_entry_key(term, &aurora_key, aurora.id);
        copy.delete_raw(entry).await.unwrap();
    }
    let ghost = file_raw(&copy, Uuid::now_v7(), &["fantasma"], "fantasma").await;
    copy.put_raw(items::marker_item(&c5, gama.id))
        .await
        .unwrap();
    copy.delete_raw(items::tax_id_key(&c2)).await.unwrap();
    copy.delete_raw(items::company_key(torneadora.id))
        .await
        .unwrap();
    copy.delete_raw(items::history_key(torneadora.id, 1))
        .await
        .unwrap();
    copy.delete_raw(items::history_key(central.id, 2))
        .await
        .unwrap();
    let torn = copy.dump().await.unwrap();

    // A dry run reports every fault under its kind and writes nothing.
    let (out, dry) = repair(&copy, &["--dry-run"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let fixed = json!({"name_index": 3, "tax_id_markers": 2, "legacy_markers": 1, "history": 1});
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["fixed"], fixed, "{dry}");
    assert_eq!(copy.dump().await.unwrap(), torn, "a dry run wrote");

    let (out, report) = repair(&copy, &["--segments", "3", "--concurrency", "2"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(report["fixed"], fixed, "{report}");
    assert_eq!(
        (report["unresolved"].clone(), report["failed"].clone()),
        (json!(0), json!([]))
    );
    // The name index: Aurora's entries back, the ghost's and the torn import's gone.
    let names = &report["name_index"];
    assert_eq!(names["entries_written"], aurora_terms.len());
    let torn_terms = search::index_terms(&torneadora.company_name).len();
    assert_eq!(names["entries_deleted"], ghost + torn_terms);
    // The deleted company's marker goes; the company without one gets it; CNPJs masked.
    let markers = &report["tax_id_markers"];
    assert_eq!(ids(markers, &["deleted"], "held_by"), [json!(gama.id)]);
    assert_eq!(ids(markers, &["written"], "company"), [json!(boa_vista.id)]);
    assert_eq!(ids(markers, &["written"], "cnpj"), [json!(c2.masked())]);
    assert_eq!(markers["conflicts"], json!([]));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains(c2.as_str()) && !stdout.contains(c5.as_str()));
    // The torn import's marker goes; the marker of the company deleted since stays.
    let legacy = &report["legacy_markers"];
    assert_eq!(ids(legacy, &["deleted"], "legacy_id"), [json!(102)]);
    assert_eq!(ids(legacy, &["deleted"], "company"), [json!(torneadora.id)]);
    assert_eq!(legacy["of_deleted_companies"], 1);
    assert_eq!(legacy["without_record"], json!([]));
    // The missing entry is written; the deleted companies' histories are no fault.
    let history = &report["history"];
    assert_eq!(ids(history, &["written"], "company"), [json!(central.id)]);
    assert_eq!(ids(history, &["written"], "version"), [json!(2)]);
    assert_eq!(history["companies_missing"], json!([]));
    assert_eq!(history["ahead"], json!([]));

    let (out, again) = repair(&copy, &[]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        again["fixed"],
        json!({"name_index": 0, "tax_id_markers": 0, "legacy_markers": 0, "history": 0})
    );
    assert_eq!(again["unresolved"], 0);

    // The API on the repaired copy, through HTTP as a client reads it: each company at its
    // version, the deleted ones gone, the listing, the name search, a rebuilt history.
    let api = api_on(&copy).await;
    let live = [&aurora_new, &boa_vista_2, &central_2, &delta, &eixo];
    for c in live {
        let (status, etag, body) = get(&api, &format!("/companies/{}", c.id)).await;
        assert_eq!(status, 200, "{}: {body}", c.company_name);
        assert_eq!(etag, Some(c.etag()), "{}", c.company_name);
        assert_eq!(body, serde_json::to_value(c).unwrap());
    }
    for gone in [&torneadora, &gama, &horto] {
        let (status, _, problem) = get(&api, &format!("/companies/{}", gone.id)).await;
        assert_eq!(status, 404, "{}: {problem}", gone.company_name);
        assert_eq!(problem["status"], 404);
    }
    let mut newest_first: Vec<String> = live.iter().map(|c| c.id.to_string()).collect();
    newest_first.sort_by(|a, b| b.cmp(a));
    let (status, _, page) = get(&api, "/companies?limit=100").await;
    assert_eq!(status, 200, "{page}");
    let listed: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, newest_first);
    assert_eq!(page["next_cursor"], Value::Null);
    assert_eq!(found(&api, "aurora").await, ["Padaria Aurora Nova"]);
    assert_eq!(found(&api, "boa vista").await, ["Mercado Boa Vista"]);
    assert!(found(&api, "fantasma").await.is_empty());
    assert!(found(&api, "torneadora").await.is_empty());
    let (status, _, trail) = get(&api, &format!("/companies/{}/history", central.id)).await;
    assert_eq!(status, 200, "{trail}");
    let entries = trail["items"].as_array().unwrap();
    let versions: Vec<u64> = entries
        .iter()
        .map(|e| e["version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions, [2, 1]);
    let trail = copy.history(central.id, 10, None).await.unwrap().items;
    assert_eq!(trail[0].actor, REPAIR_ACTOR);
    let patch = merge_diff(&representation(&central), &representation(&central_2));
    assert_eq!(trail[0].changes, Value::Object(patch));
    let gama_trail = copy.history(gama.id, 10, None).await.unwrap().items;
    assert_eq!(gama_trail[0].operation, ChangeKind::Delete);
    assert_eq!(copy.find_by_legacy_id(101).await.unwrap(), Some(eixo.id));
    assert_eq!(copy.find_by_legacy_id(102).await.unwrap(), None);
    assert_eq!(copy.find_by_legacy_id(103).await.unwrap(), Some(horto.id));
    assert_eq!(copy.find_by_tax_id(&c2).await.unwrap(), Some(boa_vista.id));

    // Writes: the CNPJ the repair freed is taken; those still held are refused; the company
    // whose entry was rebuilt changes again.
    let newcomer = company("Loja Nova Gama", Some(&c5));
    create(&copy, &newcomer).await;
    assert_eq!(copy.find_by_tax_id(&c5).await.unwrap(), Some(newcomer.id));
    for (held, holder) in [(&c2, boa_vista.id), (&c4, eixo.id)] {
        let twin = company("Empresa Gêmea", Some(held));
        let refused = copy.create(&twin, None, None).await;
        assert!(
            matches!(refused, Err(StoreError::TaxIdTaken(Some(id))) if id == holder),
            "{refused:?}"
        );
    }
    let central_3 = renamed(&central_2, "Oficina Central Paulistana");
    replace(&copy, &central_2, &central_3).await;
    assert_eq!(
        copy.history(central.id, 10, None)
            .await
            .unwrap()
            .items
            .len(),
        3
    );
    let (out, after) = repair(&copy, &["--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(after["fixed"]["tax_id_markers"], 0);
}

#[test]
fn a_repair_without_the_stages_history_retention_is_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_companies-reindex"))
        .args(["--table", "any", "--repair"])
        .env_remove("HISTORY_RETENTION_DAYS")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--history-retention-days"));
}
