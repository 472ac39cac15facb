//! Writes that committed but whose answer was lost (held, cut off, or answered "in progress")
//! are answered as if they ran once.

use std::sync::Arc;
use std::time::Duration;

use super::{company_count, setup, stored_company};
use crate::common::fault_proxy::Kind;
use crate::common::{acme, assert_logs_masked, dump_errors, full, header};
use reqwest::header::{ETAG, LOCATION};
use reqwest::StatusCode;
use serde_json::{json, Value};

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
    let r = api.post("/companies").json(&acme()).await;
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
        .post("/companies")
        .idempotency_key("lost-1")
        .json(&full())
        .await;
    assert!(proxy.used_up());
    if r.status() != 201 {
        dump_errors();
    }
    assert_eq!(r.status(), StatusCode::CREATED);
    let location = header(&r, LOCATION);
    assert_eq!(company_count(&truth).await, 2, "no duplicate");
    // The key's replay gives the same answer.
    let again = api
        .post("/companies")
        .idempotency_key("lost-1")
        .json(&full())
        .await;
    assert_eq!(
        (again.status(), header(&again, LOCATION)),
        (StatusCode::CREATED, location.clone())
    );

    // PATCH with If-Match: 200, never a 412 for its own write; the version moved once.
    proxy.set(lost, "TransactWriteItems", times);
    let r = api
        .patch(format!("/companies/{id}"))
        .merge_patch(&json!({"declared_billing": "2500.00"}))
        .if_match("\"1\"")
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
        .put(format!("/companies/{id}"))
        .json(&json!({"company_name": "Acme Ltda", "phone": "11978235674", "declared_billing": 1}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let stored: Value = stored_company(&truth, &id).await;
    assert_eq!(stored["version"], 3, "applied once");

    // The three bank-account writes.
    let path = format!("/companies/{id}/bank-accounts");
    let account = json!({"bank_code": "260", "agency": "0001", "account_number": "98765432-1"});
    proxy.set(lost, "TransactWriteItems", times);
    let r = api.post(&path).if_match("\"3\"").json(&account).await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "never a 409 for its own account"
    );
    let added: Value = r.json().await.unwrap();
    let account_path = format!("{path}/{}", added["id"].as_str().unwrap());
    proxy.set(lost, "TransactWriteItems", times);
    let r = api
        .patch(&account_path)
        .if_match("\"4\"")
        .json(&json!({"agency": "0002"}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    proxy.set(lost, "TransactWriteItems", times);
    let r = api.delete(&account_path).if_match("\"5\"").await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let stored: Value = stored_company(&truth, &id).await;
    assert_eq!(stored["version"], 6);
    assert_eq!(stored["bank_accounts"], json!([]));
    let history = truth
        .get(format!("/companies/{id}/history"))
        .read_json()
        .await;
    let versions: Vec<u64> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions, [6, 5, 4, 3, 2, 1], "one entry per landed write");

    // DELETE with If-Match (a transaction with its tombstone): 204, never a 404 or 412.
    proxy.set(lost, "TransactWriteItems", times);
    let r = api
        .delete(format!("/companies/{id}"))
        .if_match("\"6\"")
        .await;
    assert!(proxy.used_up());
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        truth.get(format!("/companies/{id}")).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(company_count(&truth).await, 1);
    assert_logs_masked();
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
    let location = format!("/companies/{id}");
    proxy.set(Kind::LoseReply, "TransactWriteItems", 3);
    let ours = {
        let (api, location) = (Arc::clone(&api), location.clone());
        tokio::spawn(async move {
            let r = api
                .patch(&location)
                .merge_patch(&json!({"company_name": "Ours"}))
                .if_match("\"1\"")
                .await;
            (r.status(), header(&r, ETAG))
        })
    };
    // Our write has committed, its reply is held: another writer changes the company now.
    proxy.signals.committed.notified().await;
    let theirs = truth
        .patch(&location)
        .merge_patch(&json!({"declared_billing": "7.00"}))
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
