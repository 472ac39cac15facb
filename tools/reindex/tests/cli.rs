//! `companies-reindex` on DynamoDB Local: a table whose name index drifted in every way it can
//! (filed by an earlier folding, entries lost, entries of an old name and of a deleted company
//! left behind) is reported by a dry run without a write, set right by a run, and found clean
//! by the next.

use std::collections::BTreeSet;
use std::process::{Command, Output};

use companies::search::{self, NameQuery, Search};
use companies::{input, now, Company};
use companies_store::dynamo::items;
use companies_store::testing::{expected_name_index, file_raw};
use companies_store::{CompanyCreator, CompanyLister, DynamoStore};
use serde_json::{json, Value};
use uuid::Uuid;

fn company(name: &str) -> Company {
    let doc = json!({"company_name": name, "phone": "11978235674", "declared_billing": "10.00"});
    Company::create(input::company(doc.as_object().unwrap()).unwrap(), now())
}

fn reindex(store: &DynamoStore, args: &[&str]) -> (Output, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_companies-reindex"))
        .args(["--table", store.table()])
        .args(args)
        .output()
        .unwrap();
    let report = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out, report)
}

async fn unfile(store: &DynamoStore, c: &Company, terms: &[&str]) {
    for term in terms {
        let key = search::name_key(&c.company_name);
        store
            .delete_raw(items::name_entry_key(term, &key, c.id))
            .await
            .unwrap();
    }
}

async fn found(store: &DynamoStore, q: &str) -> Vec<String> {
    let query = NameQuery::Matching(Search::parse(q).unwrap());
    let page = store.by_name(&query, 100, None).await.unwrap();
    page.items.into_iter().map(|c| c.company_name).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drifted_index_is_reported_then_set_right_then_found_clean() {
    let Some(store) = companies_store::testing::dynamo_store("reindex").await else {
        return;
    };
    let cartorio = company("Cartório do 1º Ofício");
    let paulista = company("Padaria Paulista");
    let mercado = company("Mercado Novo");
    let healthy = company("Loja Inteira");
    for c in [&cartorio, &paulista, &mercado, &healthy] {
        store.create(c, None, None).await.unwrap();
    }
    // Filed by the release that kept `º` (NFD folding): its entries are all elsewhere.
    let all_terms: Vec<String> = search::index_terms(&cartorio.company_name)
        .into_iter()
        .collect();
    let all_terms: Vec<&str> = all_terms.iter().map(String::as_str).collect();
    unfile(&store, &cartorio, &all_terms).await;
    let old = ["cartorio", "do", "1º", "oficio"];
    let cartorio_old = file_raw(&store, cartorio.id, &old, "cartorio.do.1º.oficio").await;
    // Two entries lost; a failed clean-up's entries of an old name; a deleted company's.
    unfile(&store, &paulista, &["pau", "paulista"]).await;
    let velha = file_raw(&store, mercado.id, &["padaria", "velha"], "padaria.velha").await;
    let ghost = file_raw(&store, Uuid::now_v7(), &["fantasma"], "fantasma").await;
    assert!(found(&store, "1o oficio").await.is_empty());
    assert!(found(&store, "pau").await.is_empty());
    let drifted = store.name_index().await.unwrap();
    let companies = [&cartorio, &paulista, &mercado, &healthy];
    let wanted = expected_name_index(companies);
    assert_ne!(drifted, wanted);

    let (out, report) = reindex(&store, &["--dry-run"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert_eq!(report["dry_run"], true);
    assert_eq!(report["companies"], 4);
    assert_eq!(report["companies_repaired"], 4);
    let cartorio_new = search::index_terms(&cartorio.company_name).len();
    assert_eq!(report["entries_deleted"], cartorio_old + velha + ghost);
    assert_eq!(report["entries_written"], cartorio_new + 2);
    assert_eq!(
        store.name_index().await.unwrap(),
        drifted,
        "a dry run wrote"
    );

    let (out, report) = reindex(&store, &["--segments", "3", "--concurrency", "2"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(report["companies_repaired"], 4);
    assert_eq!(report["failed"], json!([]));
    let repaired: BTreeSet<String> = report["repairs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["company"].as_str().unwrap().to_owned())
        .collect();
    assert!(!repaired.contains(&healthy.id.to_string()));
    assert_eq!(store.name_index().await.unwrap(), wanted);
    assert_eq!(found(&store, "1o oficio").await, ["Cartório do 1º Ofício"]);
    assert_eq!(found(&store, "1º").await, ["Cartório do 1º Ofício"]);
    assert_eq!(found(&store, "pau").await, ["Padaria Paulista"]);
    assert!(found(&store, "velha").await.is_empty());

    let (out, report) = reindex(&store, &[]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(report["companies_repaired"], 0);
    assert_eq!(report["entries"], wanted.len());

    let (out, _) = reindex(&store, &["--segments", "0"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}
