//! The name index under faults: a clean-up that failed after a rename, entries left by an
//! earlier folding, and a reindex through throttling, conflicts, lost replies and renames.

use std::time::Duration;

use super::proxied_store;
use crate::common::fault_proxy::{Kind, ALWAYS};
use crate::common::{every_page, names, Api};
use companies_store::DynamoStore;
use reqwest::StatusCode;
use serde_json::json;

/// A rename between two long names writes the new index entries with the company and deletes
/// the old ones that did not fit right after. When that second write fails, the rename has
/// happened and is answered 200; the stale entries left behind are never returned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_clean_up_after_a_rename_never_shows_the_old_name() {
    use companies_store::CompanyReader;
    let Some((proxy, store, direct)) = proxied_store().await else {
        return;
    };
    let api = Api::start(store).await;
    let old =
        "Associação dos Moradores e Amigos do Bairro Jardim São Paulo e Adjacências de Campinas";
    let new = "Cooperativa Habitacional dos Trabalhadores Metalúrgicos Unidos de Ribeirão Preto e \
               Franca Ltda";
    let body = json!({"company_name": old, "phone": "11978235674", "declared_billing": 1});
    let id = api.create(&body).await["id"].as_str().unwrap().to_owned();
    // The rename's own transaction passes; the clean-up after it fails, every attempt.
    proxy.set_after(Kind::ServerError, "TransactWriteItems", 1, ALWAYS);
    let r = api
        .patch(format!("/companies/{id}"))
        .merge_patch(&json!({"company_name": new}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    proxy.clear();
    let current = direct.get(id.parse().unwrap()).await.unwrap().unwrap();
    let expected = companies_store::testing::expected_name_index([&current]);
    let index = direct.name_index().await.unwrap();
    assert!(
        index.is_superset(&expected) && index.len() > expected.len(),
        "the clean-up did not fail: {} entries",
        index.len()
    );
    for stale in ["adjacencias", "moradores campinas", "associacao"] {
        let page = api.get(format!("/companies?q={stale}")).read_json().await;
        assert_eq!(page["items"], json!([]), "{stale}");
    }
    let page = api.get("/companies?q=metalurgicos").read_json().await;
    assert_eq!(page["items"][0]["company_name"], new);
    let all = api.get("/companies?sort=name").read_json().await;
    assert_eq!(all["items"].as_array().unwrap().len(), 1);
    // A reindex clears them.
    let report = direct.reindex(REINDEX).await.unwrap();
    assert_eq!(report.companies_repaired, 1);
    assert_eq!(report.entries_written, 0);
    assert_eq!(
        report.entries_deleted as usize,
        index.len() - expected.len()
    );
    assert_eq!(direct.name_index().await.unwrap(), expected);
}

/// A company filed by the release that folded with NFD and renamed before the reindex ran: the
/// rename removed the entries the current folding gives the old name, not those the table
/// held, so the old entries stay beside the new ones under the terms both names share. A page
/// then holds two entries of one company; it is read once (BatchGetItem refuses a key named
/// twice: this was a 500 on every such search until a reindex) and returned once, under its
/// current name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_company_with_stale_entries_beside_its_own_is_listed_once() {
    use companies_store::CompanyReader;
    let Some(direct) = companies_store::testing::dynamo_store("faults").await else {
        return;
    };
    let api = Api::start(direct.clone()).await;
    let old = "Cartório do 1º Ofício";
    let company = filed_by_an_earlier_folding(&api, &direct, old, "cartorio.do.1º.oficio").await;
    let id = company.id.to_string();
    // The stale entries sort after the new name's, then (2º after 1º) before them.
    for (new, own_word) in [
        ("Cartório do 1º Ofício de Notas", "notas"),
        ("Cartório do 2º Ofício", "2o"),
    ] {
        let r = api
            .patch(format!("/companies/{id}"))
            .merge_patch(&json!({"company_name": new}))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let current = direct.get(company.id).await.unwrap().unwrap();
        assert!(
            direct.name_index().await.unwrap().len()
                > companies_store::testing::expected_name_index([&current]).len(),
            "no stale entries: the test does not test anything"
        );
        for query in [
            "q=cartorio",
            "q=cart%20of",
            "q=do",
            "sort=name",
            &format!("q={own_word}"),
        ] {
            for limit in [1, 2, 20] {
                let path = format!("/companies?{query}&limit={limit}");
                let (found, _) = every_page(&api, &path).await;
                assert_eq!(names(&found), [new], "{path}");
            }
        }
    }
}

/// What a reindex is run with in these tests.
const REINDEX: companies_store::dynamo::reindex::ReindexOptions =
    companies_store::dynamo::reindex::ReindexOptions {
        dry_run: false,
        segments: 2,
        concurrency: 4,
    };

/// Company `name`, filed as the release that folded with NFD filed it (under `old_key`).
async fn filed_by_an_earlier_folding(
    truth: &Api,
    direct: &DynamoStore,
    name: &str,
    old_key: &str,
) -> companies::Company {
    use companies_store::CompanyReader;
    let body = json!({"company_name": name, "phone": "11978235674", "declared_billing": 1});
    let id = truth.create(&body).await["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let company = direct.get(id).await.unwrap().unwrap();
    let key = companies::search::name_key(name);
    for term in companies::search::index_terms(name) {
        let entry = companies_store::dynamo::items::name_entry_key(&term, &key, id);
        direct.delete_raw(entry).await.unwrap();
    }
    let words: Vec<&str> = old_key.split('.').collect();
    companies_store::testing::file_raw(direct, id, &words, old_key).await;
    company
}

/// A reindex meets what AWS does to a long run of writes: a throttled Scan stops it before it
/// writes anything (run it again); a transaction cancelled for a conflict or for throttling is
/// retried; a transaction whose reply was lost after it committed is not applied twice or
/// reported failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reindex_gets_through_throttling_conflicts_and_lost_replies() {
    let Some((proxy, store, direct)) = proxied_store().await else {
        return;
    };
    let truth = Api::start(direct.clone()).await;
    let mut companies = vec![
        filed_by_an_earlier_folding(
            &truth,
            &direct,
            "Cartório do 1º Ofício",
            "cartorio.do.1º.oficio",
        )
        .await,
    ];
    let drifted = direct.name_index().await.unwrap();
    proxy.set(Kind::Throttle, "Scan", ALWAYS);
    assert!(store.reindex(REINDEX).await.is_err());
    assert_eq!(direct.name_index().await.unwrap(), drifted);

    for (kind, name, old_key) in [
        (Kind::CancelConflict, "2ª Vara Cível", "2ª.vara.civel"),
        (Kind::CancelThrottled, "4ª Promotoria", "4ª.promotoria"),
        (Kind::LoseReply, "3º Tabelionato", "3º.tabelionato"),
    ] {
        companies.push(filed_by_an_earlier_folding(&truth, &direct, name, old_key).await);
        proxy.set(kind, "TransactWriteItems", 1);
        let report = store.reindex(REINDEX).await.unwrap();
        assert!(proxy.used_up(), "{kind:?} was not hit");
        assert!(report.failed.is_empty(), "{kind:?}: {:?}", report.failed);
        assert_eq!(
            direct.name_index().await.unwrap(),
            companies_store::testing::expected_name_index(&companies),
            "{kind:?}"
        );
    }
    let report = store.reindex(REINDEX).await.unwrap();
    assert_eq!(report.companies_repaired, 0);
    for (q, name) in [
        ("1o+oficio", "Cartório do 1º Ofício"),
        ("2a+vara", "2ª Vara Cível"),
        ("3o", "3º Tabelionato"),
        ("4a+promotoria", "4ª Promotoria"),
    ] {
        let page = truth.get(format!("/companies?q={q}")).read_json().await;
        assert_eq!(page["items"][0]["company_name"], name, "{q}");
    }
}

/// A company the API renames while its repair is being written: the repair's transaction
/// holds only while the company is at the version it read, so it is cancelled, and the company
/// is read and compared again. Without that check the repair would file the old name's
/// entries after the rename had moved them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_company_renamed_during_its_repair_is_compared_again() {
    use companies_store::CompanyReader;
    let Some((proxy, store, direct)) = proxied_store().await else {
        return;
    };
    let truth = Api::start(direct.clone()).await;
    let body =
        json!({"company_name": "Padaria Original", "phone": "11978235674", "declared_billing": 1});
    let id = truth.create(&body).await["id"].as_str().unwrap().to_owned();
    let uuid: uuid::Uuid = id.parse().unwrap();
    for term in ["p", "pa", "pad"] {
        let entry = companies_store::dynamo::items::name_entry_key(term, "padaria.original", uuid);
        direct.delete_raw(entry).await.unwrap();
    }
    proxy.set(Kind::Hold, "TransactWriteItems", 1);
    let run = tokio::spawn(async move { store.reindex(REINDEX).await });
    // A guard, not a wait: the repair's transaction arrives at once, or the test fails.
    tokio::time::timeout(Duration::from_secs(30), proxy.signals.held.notified())
        .await
        .expect("the repair wrote nothing");
    let r = truth
        .patch(format!("/companies/{id}"))
        .merge_patch(&json!({"company_name": "Mercado Novo"}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    proxy.signals.release.notify_one();
    let report = run.await.unwrap().unwrap();
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    let current = direct.get(uuid).await.unwrap().unwrap();
    assert_eq!(current.company_name, "Mercado Novo");
    assert_eq!(
        direct.name_index().await.unwrap(),
        companies_store::testing::expected_name_index([&current])
    );
}
