//! What only real DynamoDB and AWS do, shown on the DynamoDB-backed API through a proxy in front
//! of DynamoDB Local that behaves the way DynamoDB does under load: throttling, 500s and 503s,
//! cancelled transactions, transaction conflicts on single-item writes (once and persistently),
//! replies lost after the write committed, connections closed without an answer (before and after
//! the write committed), cut response bodies, stalls, slow-but-successful calls that exhaust
//! the request's time budget, a call held while another writer acts, and calls denied (IAM or
//! KMS). The client never gets internal text; a transient fault is retried or answered 503 +
//! Retry-After with nothing written; a denial, which no retry cures, is a 500 problem with its
//! cause logged; a write whose reply was lost is answered as if it ran once, and the table shows
//! it landed once. The same proxy (`common/fault_proxy.rs`) tests `companies-reindex`'s writes,
//! and the importer's (`tools/import/tests/import.rs`).

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::fault_proxy::{FaultProxy, Kind, ALWAYS};
use common::{acme, full, header, Api};
use companies_store::DynamoStore;
use reqwest::header::{ETAG, LOCATION};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// A 503 problem with Retry-After that leaks nothing internal.
async fn assert_unavailable(r: reqwest::Response) {
    if r.status() != 503 {
        common::dump_errors();
    }
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.headers()["retry-after"], "1");
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let text = r.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["status"], 503);
    for leak in [
        "Throttling",
        "injected",
        "dispatch",
        "Dynamo",
        "timeout",
        "Transaction",
        "budget",
    ] {
        assert!(!text.contains(leak), "internal text {leak:?} in {text}");
    }
}

/// A call AWS denies (IAM, or the table's KMS key) is no passing fault: it is not retried, the
/// answer is a 500 that names nothing internal, nothing is written, and the log line carries
/// the cause for whoever deploys the fix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_call_is_a_500_logged_with_its_cause_and_nothing_written() {
    let Some((proxy, api, truth)) = setup(Duration::from_secs(8)).await else {
        return;
    };
    let id = api.create(&acme()).await["id"].as_str().unwrap().to_owned();
    let before = stored_company(&truth, &id).await;
    // One denial each: a retry would get through, so a 500 also shows there was none.
    let billing = json!({"declared_billing": "99.00"});
    for (target, path, patch) in [
        ("GetItem", format!("/companies/{id}"), None),
        ("Query", "/companies?q=acme".to_owned(), None),
        ("BatchGetItem", "/companies?sort=name".to_owned(), None),
        (
            "TransactWriteItems",
            format!("/companies/{id}"),
            Some(&billing),
        ),
    ] {
        proxy.set(Kind::Deny, target, 1);
        let r = match patch {
            None => api.get(&path).await,
            Some(patch) => api.patch(&id, patch, None).await,
        };
        assert!(proxy.used_up(), "{target}: the denial was not met");
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR, "{target}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let text = r.text().await.unwrap();
        for leak in ["AccessDenied", "injected", "Dynamo", "Item", "Query"] {
            assert!(!text.contains(leak), "internal text {leak:?} in {text}");
        }
    }
    proxy.set(Kind::Deny, "TransactWriteItems", 1);
    let r = api.post(&full()).await;
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(stored_company(&truth, &id).await, before, "nothing written");
    assert_eq!(company_count(&truth).await, 1, "nothing created");
    assert!(
        common::logs_contain("AccessDeniedException"),
        "the cause is not logged"
    );
    common::assert_logs_masked();
}

/// The company `id` as the table holds it.
async fn stored_company(truth: &Api, id: &str) -> Value {
    truth
        .get(&format!("/companies/{id}"))
        .await
        .json()
        .await
        .unwrap()
}

async fn company_count(api: &Api) -> usize {
    let page: Value = api.get("/companies?limit=100").await.json().await.unwrap();
    page["items"].as_array().unwrap().len()
}

/// A fault proxy in front of DynamoDB Local, a store of the test table through it, and one
/// straight to DynamoDB Local to look at what the table holds.
async fn proxied_store() -> Option<(FaultProxy, DynamoStore, DynamoStore)> {
    let direct = companies_store::testing::dynamo_store("faults").await?;
    let proxy = FaultProxy::start().await;
    let store = DynamoStore::connect_to(direct.table(), Some(&proxy.url)).await;
    Some((proxy, store, direct))
}

/// The DynamoDB-backed API behind a fault proxy, and one straight to DynamoDB Local to look at
/// what the table holds.
async fn setup(budget: Duration) -> Option<(FaultProxy, Api, Api)> {
    let (proxy, store, direct) = proxied_store().await?;
    let api = Api::start_with_budget(store, budget).await;
    let truth = Api::start(direct).await;
    Some((proxy, api, truth))
}

/// The tools' start-up check of the table (local API, importer) waits for a slow
/// `DescribeTable` — DynamoDB Local counts a large table's items to answer it — instead of
/// giving up after a request's attempt timeout (a candidate for why the local API did not come
/// up on bench/scale.sh's table of 1.5 million items).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_table_description_at_start_up_is_waited_for() {
    let Some((proxy, store, _)) = proxied_store().await else {
        return;
    };
    // Every DescribeTable answers later than a request's attempt may take.
    let late = companies_store::dynamo::ATTEMPT_TIMEOUT + Duration::from_millis(500);
    proxy.set(
        Kind::Delay(late.as_millis() as u64),
        "DescribeTable",
        ALWAYS,
    );
    let started = Instant::now();
    let ready = store.ensure_table().await;
    assert!(ready.is_ok(), "{ready:?}");
    assert!(started.elapsed() >= late);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_database_means_503_and_nothing_written() {
    let Some((proxy, api, _)) = setup(Duration::from_secs(8)).await else {
        return;
    };
    let id = api.create(&acme()).await["id"].as_str().unwrap().to_owned();
    for kind in [
        Kind::Throttle,
        Kind::ServerError,
        Kind::Unavailable,
        Kind::CancelThrottled,
        Kind::Conflict,
    ] {
        proxy.set(kind, "", ALWAYS);
        // Every write is a transaction (the company and its history entry), which CancelThrottled
        // hits; ALWAYS outlasts the store's attempts.
        assert_unavailable(api.post(&full()).await).await;
        if kind != Kind::CancelThrottled {
            assert_unavailable(api.get(&format!("/companies/{id}")).await).await;
            assert_unavailable(api.get("/companies").await).await;
        }
        proxy.clear();
        assert_eq!(company_count(&api).await, 1, "{kind:?} wrote something");
    }

    // A cut reply to a read is a 503 too, never a 500; the cause logged names the failure,
    // never the raw answer, which holds the company's CNPJ and bank accounts
    // (assert_logs_masked below).
    let detailed = api.create(&full()).await["id"].as_str().unwrap().to_owned();
    proxy.set(Kind::CutBody, "GetItem", ALWAYS);
    assert_unavailable(api.get(&format!("/companies/{id}")).await).await;
    assert_unavailable(api.get(&format!("/companies/{detailed}")).await).await;
    proxy.clear();
    assert!(
        common::logs_contain("GetItem"),
        "the cut answer's failure is logged"
    );

    // Slow: SDK timeouts give up well inside the 10 s function timeout.
    proxy.set(Kind::Delay(3_000), "", ALWAYS);
    let started = Instant::now();
    assert_unavailable(api.post(&acme()).await).await;
    assert!(
        started.elapsed() < Duration::from_secs(9),
        "{:?}",
        started.elapsed()
    );
    proxy.clear();
    common::assert_logs_masked();
}

/// DynamoDB cancels a transaction that meets another one holding an item; once that clears,
/// the write goes through. (Every write is a transaction: the change and its history entry.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passing_transaction_conflict_is_retried() {
    a_cancelled_transaction_is_retried(Kind::CancelConflict).await;
}

/// The same for a transaction cancelled because a partition was throttled (a hot name index
/// term, a table scaling up): the SDK retries a throttled call but not a transaction cancelled
/// for it, so the store backs off and tries again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passing_throttled_transaction_is_retried() {
    a_cancelled_transaction_is_retried(Kind::CancelThrottled).await;
}

async fn a_cancelled_transaction_is_retried(kind: Kind) {
    let Some((proxy, api, truth)) = setup(Duration::from_secs(8)).await else {
        return;
    };
    proxy.set(kind, "TransactWriteItems", 2);
    let created = api.post(&acme()).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    assert!(proxy.used_up());
    let id = created.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    proxy.set(kind, "TransactWriteItems", 1);
    let patched = api
        .patch(&id, &json!({"company_name": "Acme 2"}), Some("\"1\""))
        .await;
    assert_eq!(patched.status(), StatusCode::OK);
    let company: Value = stored_company(&truth, &id).await;
    assert_eq!(
        (
            company["company_name"].as_str(),
            company["version"].as_u64()
        ),
        (Some("Acme 2"), Some(2))
    );
}

/// The request whose write committed but whose reply was lost (held past the SDK's attempt
/// timeout, so the SDK retried it) is answered as if it ran once, never as a duplicate or as a
/// failed condition of its own making.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_whose_reply_was_lost_is_answered_as_done() {
    each_write_is_answered_as_done_when(Kind::LoseReply, 1).await;
}

/// The same when the connection is closed after the write committed (an I/O error rather than
/// a timeout: the SDK retries it at once, on a new connection).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_whose_connection_dropped_after_it_committed_is_answered_as_done() {
    each_write_is_answered_as_done_when(Kind::HangUpAfterCommit, 1).await;
}

/// The same when the transaction committed and every attempt was answered
/// `TransactionInProgressException` (DynamoDB's answer to a retry, with the same client request
/// token, of a transaction still committing): the SDK gives up, and the store reads the write
/// token back. (A single lost answer never gets that far: the SDK's retry carries the same
/// client request token, which DynamoDB, Local too, answers with the first attempt's success.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_answered_in_progress_after_it_committed_is_answered_as_done() {
    let every_attempt = companies_store::dynamo::MAX_ATTEMPTS;
    each_write_is_answered_as_done_when(Kind::InProgressAfterCommit, every_attempt).await;
}

/// Each write, with `times` of its transaction's attempts meeting `lost`.
async fn each_write_is_answered_as_done_when(lost: Kind, times: u32) {
    let Some((proxy, api, truth)) = setup(Duration::from_secs(8)).await else {
        return;
    };

    // Create: one transaction (the company, its history entry, its name index entries).
    proxy.set(lost, "TransactWriteItems", times);
    let r = api.post(&acme()).await;
    assert!(proxy.used_up(), "the fault was not hit");
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(header(&r, ETAG), "\"1\"");
    let body: Value = r.json().await.unwrap();
    assert_eq!(company_count(&truth).await, 1, "no duplicate");
    let id = body["id"].as_str().unwrap().to_owned();
    let stored: Value = stored_company(&truth, &id).await;
    assert_eq!(stored, body);

    // Create with a CNPJ and an Idempotency-Key: one transaction.
    proxy.set(lost, "TransactWriteItems", times);
    let r = api
        .send_with(
            "POST",
            "/companies",
            &[("idempotency-key", "lost-1")],
            Some(&full()),
        )
        .await;
    assert!(proxy.used_up());
    if r.status() != 201 {
        common::dump_errors();
    }
    assert_eq!(r.status(), StatusCode::CREATED);
    let location = header(&r, LOCATION);
    assert_eq!(company_count(&truth).await, 2, "no duplicate");
    // The key's replay gives the same answer.
    let again = api
        .send_with(
            "POST",
            "/companies",
            &[("idempotency-key", "lost-1")],
            Some(&full()),
        )
        .await;
    assert_eq!(
        (again.status(), header(&again, LOCATION)),
        (StatusCode::CREATED, location.clone())
    );

    // PATCH with If-Match: 200, never a 412 for its own write; the version moved once.
    proxy.set(lost, "TransactWriteItems", times);
    let r = api
        .patch(&id, &json!({"declared_billing": "2500.00"}), Some("\"1\""))
        .await;
    assert!(proxy.used_up());
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, ETAG), "\"2\"");
    let stored: Value = stored_company(&truth, &id).await;
    assert_eq!(
        (
            stored["declared_billing"].as_str(),
            stored["version"].as_u64()
        ),
        (Some("2500.00"), Some(2))
    );

    // PUT without If-Match.
    proxy.set(lost, "TransactWriteItems", times);
    let r = api
        .put(
            &id,
            &json!({"company_name": "Acme Ltda", "phone": "11978235674", "declared_billing": 1}),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let stored: Value = stored_company(&truth, &id).await;
    assert_eq!(stored["version"], 3, "applied once");

    // The three bank-account writes.
    let path = format!("/companies/{id}/bank-accounts");
    let account = json!({"bank_code": "260", "agency": "0001", "account_number": "98765432-1"});
    proxy.set(lost, "TransactWriteItems", times);
    let r = api
        .send_with("POST", &path, &[("if-match", "\"3\"")], Some(&account))
        .await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "never a 409 for its own account"
    );
    let added: Value = r.json().await.unwrap();
    let account_path = format!("{path}/{}", added["id"].as_str().unwrap());
    proxy.set(lost, "TransactWriteItems", times);
    let r = api
        .send_with(
            "PATCH",
            &account_path,
            &[("if-match", "\"4\"")],
            Some(&json!({"agency": "0002"})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    proxy.set(lost, "TransactWriteItems", times);
    let r = api
        .send_with("DELETE", &account_path, &[("if-match", "\"5\"")], None)
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let stored: Value = stored_company(&truth, &id).await;
    assert_eq!(stored["version"], 6);
    assert_eq!(stored["bank_accounts"], json!([]));
    let history: Value = truth
        .get(&format!("/companies/{id}/history"))
        .await
        .json()
        .await
        .unwrap();
    let versions: Vec<u64> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions, [6, 5, 4, 3, 2, 1], "one entry per landed write");

    // DELETE with If-Match (a transaction with its tombstone): 204, never a 404 or 412.
    proxy.set(lost, "TransactWriteItems", times);
    let r = api.delete(&id, Some("\"6\"")).await;
    assert!(proxy.used_up());
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        truth.get(&format!("/companies/{id}")).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(company_count(&truth).await, 1);
    common::assert_logs_masked();
}

/// A connection closed without an answer (what a kept-alive connection dropped by the far end
/// while the function was frozen looks like) is retried on a new connection: the read and the
/// write succeed, the write lands once. When every connection is dropped, the answer is a 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_is_retried_on_a_new_one() {
    let Some((proxy, api, truth)) = setup(Duration::from_secs(8)).await else {
        return;
    };
    let id = api.create(&acme()).await["id"].as_str().unwrap().to_owned();

    proxy.set(Kind::HangUp, "GetItem", 1);
    let r = api.get(&format!("/companies/{id}")).await;
    assert!(proxy.used_up(), "the fault was not hit");
    assert_eq!(r.status(), StatusCode::OK);

    proxy.set(Kind::HangUp, "TransactWriteItems", 2);
    let r = api.post(&full()).await;
    assert!(proxy.used_up());
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(company_count(&truth).await, 2, "landed once");

    proxy.set(Kind::HangUp, "", ALWAYS);
    assert_unavailable(api.get(&format!("/companies/{id}")).await).await;
    assert_unavailable(api.post(&acme()).await).await;
    proxy.clear();
    assert_eq!(company_count(&truth).await, 2, "nothing written");
    common::assert_logs_masked();
}

/// A write whose every reply was lost (the SDK gives up), and which another writer changed
/// again meanwhile: its own version's history entry still holds its token, so it is answered
/// as done (not 503, 412 or applied twice), and the other writer's change stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_reply_overtaken_by_another_writer_is_still_answered_as_done() {
    let Some((proxy, api, truth)) = setup(Duration::from_secs(8)).await else {
        return;
    };
    let api = Arc::new(api);
    let id = api.create(&acme()).await["id"].as_str().unwrap().to_owned();
    proxy.set(Kind::LoseReply, "TransactWriteItems", 3);
    let ours = {
        let (api, id) = (Arc::clone(&api), id.clone());
        tokio::spawn(async move {
            let r = api
                .patch(&id, &json!({"company_name": "Ours"}), Some("\"1\""))
                .await;
            (r.status(), header(&r, ETAG))
        })
    };
    // Our write has committed, its reply is held: another writer changes the company now.
    proxy.signals.committed.notified().await;
    let theirs = truth
        .patch(&id, &json!({"declared_billing": "7.00"}), None)
        .await;
    assert_eq!(theirs.status(), StatusCode::OK);
    let (status, etag) = ours.await.unwrap();
    assert_eq!((status, etag.as_str()), (StatusCode::OK, "\"2\""));
    let stored = stored_company(&truth, &id).await;
    assert_eq!(
        (
            stored["company_name"].as_str(),
            stored["declared_billing"].as_str(),
            stored["version"].as_u64()
        ),
        (Some("Ours"), Some("7.00"), Some(3)),
        "applied once each"
    );
}

/// Slow but successful calls cannot outlast the function: when the request's budget runs out
/// the answer is 503 + Retry-After, in time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_calls_that_exhaust_the_budget_mean_503_in_time() {
    let budget = Duration::from_secs(3);
    let Some((proxy, api, truth)) = setup(budget).await else {
        return;
    };
    let id = api.create(&acme()).await["id"].as_str().unwrap().to_owned();
    // Each read takes 1.6 s (under the SDK's 2 s attempt timeout, so none fails); an account
    // add with a key reads twice (the key, the company) before it writes: over the 3 s budget.
    proxy.set(Kind::Delay(1_600), "GetItem", ALWAYS);
    let started = Instant::now();
    let r = api
        .send_with(
            "POST",
            &format!("/companies/{id}/bank-accounts"),
            &[("idempotency-key", "slow")],
            Some(&json!({"bank_code": "260", "agency": "1", "account_number": "12345678"})),
        )
        .await;
    let took = started.elapsed();
    assert_unavailable(r).await;
    assert!(took < budget + Duration::from_millis(500), "{took:?}");
    proxy.clear();
    let stored: Value = stored_company(&truth, &id).await;
    assert_eq!(stored["version"], 1, "nothing written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_database_means_503() {
    if companies_store::testing::dynamo_store("faults")
        .await
        .is_none()
    {
        return;
    }
    // A port nothing listens on: bind one, then close it.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let store = DynamoStore::connect_to("stopped", Some(&format!("http://127.0.0.1:{port}"))).await;
    let api = Api::start(store).await;
    assert_unavailable(api.post(&acme()).await).await;
    assert_unavailable(api.get("/companies").await).await;
    assert_unavailable(
        api.get(&format!("/companies/{}", uuid::Uuid::now_v7()))
            .await,
    )
    .await;
}

/// A search reads its page's companies in one BatchGetItem; DynamoDB may leave some or all keys
/// unprocessed when it throttles: they are asked for again (with back-off), and when DynamoDB
/// keeps refusing, the answer is 503, never a page with companies missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_asks_again_for_keys_left_unprocessed() {
    let Some((proxy, api, _)) = setup(Duration::from_secs(8)).await else {
        return;
    };
    for name in ["Padaria Um", "Padaria Dois", "Padaria Tres"] {
        api.create(&json!({"company_name": name, "phone": "11978235674", "declared_billing": 1}))
            .await;
    }
    // Nothing read twice; then half read each time (what was read is kept across rounds).
    for (kind, times) in [(Kind::Unprocessed, 2), (Kind::PartlyUnprocessed, 2)] {
        proxy.set(kind, "BatchGetItem", times);
        let page: Value = api.get("/companies?q=padaria").await.json().await.unwrap();
        assert!(proxy.used_up(), "{kind:?}: the fault was not hit");
        assert_eq!(
            common::names(page["items"].as_array().unwrap()),
            ["Padaria Dois", "Padaria Tres", "Padaria Um"],
            "{kind:?}"
        );
    }
    proxy.set(Kind::Unprocessed, "BatchGetItem", ALWAYS);
    assert_unavailable(api.get("/companies?sort=name").await).await;
}

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
    let r = api.patch(&id, &json!({"company_name": new}), None).await;
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
        let page: Value = api
            .get(&format!("/companies?q={stale}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(page["items"], json!([]), "{stale}");
    }
    let page: Value = api
        .get("/companies?q=metalurgicos")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"][0]["company_name"], new);
    let all: Value = api.get("/companies?sort=name").await.json().await.unwrap();
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
        let r = api.patch(&id, &json!({"company_name": new}), None).await;
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
                let (found, _) = common::every_page(&api, &path).await;
                assert_eq!(common::names(&found), [new], "{path}");
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
        let page: Value = truth
            .get(&format!("/companies?q={q}"))
            .await
            .json()
            .await
            .unwrap();
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
        .patch(&id, &json!({"company_name": "Mercado Novo"}), None)
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
