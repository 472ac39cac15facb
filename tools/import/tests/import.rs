//! `companies-import` against a real PostgreSQL (the cluster `scripts/postgres.sh` starts) and
//! DynamoDB Local, read back through the API: exact mapping, every legacy quirk refused or mapped
//! as documented, re-runs that write nothing, a SIGKILL mid-run resumed to the same result as a
//! clean run, runs through the local API's fault proxy (throttling, conflicts, lost replies)
//! ending as a clean run, a denied write stopping the run, and `legacy_id` lookups.

// The fault proxy of the local API's tests, and the pass-through proxy it is built on.
#[allow(dead_code)]
#[path = "../../local-api/tests/common/fault_proxy.rs"]
mod fault_proxy;
#[allow(dead_code)]
#[path = "../../local-api/tests/common/recorder.rs"]
mod recorder;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use companies_store::testing::expected_name_index;
use companies_store::DynamoStore;
use fault_proxy::{FaultProxy, Kind};
use serde_json::{json, Value};
use tokio::net::TcpListener;

/// The Flask service's schema, and rows covering every quirk.
const SCHEMA: &str = include_str!("fixtures/schema.sql");
const ROWS: &str = include_str!("fixtures/legacy.sql");

fn fixture() -> String {
    format!("{SCHEMA}\n{ROWS}")
}

/// The cluster's URL, or `None` (skip) when none runs; `REQUIRE_POSTGRES=1` makes that a failure.
fn cluster() -> Option<String> {
    match std::env::var("DATABASE_URL") {
        Ok(url) => Some(url),
        Err(_) => {
            assert!(
                std::env::var("REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "REQUIRE_POSTGRES=1 but DATABASE_URL is not set"
            );
            eprintln!("DATABASE_URL is not set: skipping (run through scripts/postgres.sh)");
            None
        }
    }
}

/// A new database on the cluster holding `sql`; its URL.
async fn legacy_database(cluster: &str, sql: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "legacy_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let (admin, conn) = tokio_postgres::connect(cluster, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let url = match cluster.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => panic!("unexpected DATABASE_URL {cluster}"),
    };
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client.batch_execute(sql).await.unwrap();
    url
}

/// Everything one test needs: the legacy database, an empty table, the API over it.
struct Setup {
    database: String,
    store: DynamoStore,
    api: String,
    http: reqwest::Client,
    rejects: PathBuf,
}

async fn setup(sql: &str) -> Option<Setup> {
    let cluster = cluster()?;
    let store = companies_store::testing::dynamo_store("import").await?;
    let database = legacy_database(&cluster, sql).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(local_api::serve_with_budget(
        listener,
        Arc::new(store.clone()),
        Duration::from_secs(8),
    ));
    let rejects = std::env::temp_dir().join(format!("{}.jsonl", store.table()));
    Some(Setup {
        database,
        store,
        api,
        http: reqwest::Client::new(),
        rejects,
    })
}

impl Setup {
    fn command(&self, extra: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_companies-import"));
        cmd.args(["--from", &self.database, "--table", self.store.table()])
            .env("HISTORY_RETENTION_DAYS", "30")
            .arg("--rejects")
            .arg(&self.rejects)
            .args(extra);
        cmd
    }

    /// Runs the importer to its end: exit status, summary (stdout), stderr.
    fn import(&self, extra: &[&str]) -> (i32, Value, String) {
        finish(self.command(extra))
    }

    /// The lines of the rejects file with `code`.
    fn rejects_coded(&self, code: &str) -> Vec<Value> {
        let mut lines = self.rejects();
        lines.retain(|r| r["code"] == code);
        lines
    }

    fn rejects(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.rejects)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.api))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    /// Runs `sql` on the legacy database: what the Flask service does between two runs.
    async fn legacy(&self, sql: &str) {
        let (client, conn) = tokio_postgres::connect(&self.database, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        client.batch_execute(sql).await.unwrap();
    }

    /// A merge patch through the API.
    async fn patch(&self, id: &str, patch: Value) -> Value {
        let r = self
            .http
            .patch(format!("{}/companies/{id}", self.api))
            .header("content-type", "application/merge-patch+json")
            .body(patch.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    async fn by_legacy_id(&self, id: i32) -> Option<Value> {
        let (status, page) = self.get(&format!("/companies?legacy_id={id}")).await;
        assert_eq!(status, 200);
        page["items"].as_array().unwrap().first().cloned()
    }

    /// Every company, by name (following cursors).
    async fn all(&self) -> Vec<Value> {
        let mut out = Vec::new();
        let mut path = "/companies?sort=name&limit=100".to_owned();
        loop {
            let (status, page) = self.get(&path).await;
            assert_eq!(status, 200);
            out.extend(page["items"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(c) => path = format!("/companies?sort=name&limit=100&cursor={c}"),
                None => return out,
            }
        }
    }
}

/// Runs an importer command to its end: exit status, summary (stdout), stderr.
fn finish(mut command: Command) -> (i32, Value, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&stderr).into_owned();
    let summary = serde_json::from_slice(&stdout)
        .unwrap_or_else(|e| panic!("no summary ({e}); stderr: {stderr}"));
    (status.code().unwrap_or(-1), summary, stderr)
}

/// The summary a dry run gives of what the run that gave `summary` did.
fn as_dry_run(summary: &Value) -> Value {
    let mut dry = summary.clone();
    dry["dry_run"] = json!(true);
    dry
}

fn without(mut company: Value, field: &str) -> Value {
    company.as_object_mut().unwrap().remove(field);
    company
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valid_rows_are_imported_exactly_and_found_by_legacy_id() {
    let Some(s) = setup(&fixture()).await else {
        return;
    };
    let (status, summary, stderr) = s.import(&[]);
    assert_eq!(status, 2, "rows were refused: {stderr}");
    assert_eq!(summary["companies_written"], 4, "{summary}");
    assert_eq!(summary["accounts_written"], 4);

    let padaria = s.by_legacy_id(1).await.unwrap();
    let id = padaria["id"].as_str().unwrap().to_owned();
    assert_eq!(
        without(padaria.clone(), "updated"),
        json!({
            "id": id,
            "company_name": "Padaria São João Ltda",
            "phone": "+5511954879564",
            "tax_id": null,
            "address": null,
            "declared_billing": "1234.50",
            "bank_accounts": [
                {"id": padaria["bank_accounts"][0]["id"], "agency": "0001-9", "account_number": "12345-6",
                 "bank": {"code": "001", "name": padaria["bank_accounts"][0]["bank"]["name"]}},
                {"id": padaria["bank_accounts"][1]["id"], "agency": "1290", "account_number": "98765",
                 "bank": {"code": "341", "name": padaria["bank_accounts"][1]["bank"]["name"]}},
            ],
            "created": "2019-03-04T10:11:12.345Z",
            "version": 1,
        })
    );
    assert_eq!(s.get(&format!("/companies/{id}")).await.1, padaria);
    let phone = |c: Option<Value>| c.unwrap()["phone"].as_str().unwrap().to_owned();
    assert_eq!(phone(s.by_legacy_id(2).await), "+5511978235674");
    assert_eq!(phone(s.by_legacy_id(10).await), "+552134567890");
    let acougue = s.by_legacy_id(3).await.unwrap();
    assert_eq!(acougue["declared_billing"], "9999999999.99");
    assert_eq!(acougue["created"], "2018-07-15T08:30:00.500Z");
    assert_eq!(
        acougue["bank_accounts"].as_array().unwrap().len(),
        1,
        "merged"
    );
    for refused in [4, 5, 6, 7, 8, 9, 11] {
        assert_eq!(s.by_legacy_id(refused).await, None, "{refused}");
    }
    // An imported company is found like any other: by name, newest first (by legacy time).
    let (_, found) = s.get("/companies?q=sao+jo").await;
    let names: Vec<&str> = found["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["company_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Padaria São João Ltda", "Transportes Sao Jose"]);
    let (_, newest) = s.get("/companies").await;
    assert_eq!(newest["items"][0]["company_name"], "Mercado Bom Preço");
    // Its first history entry is the import, with the legacy row and its exact time.
    let (status, history) = s.get(&format!("/companies/{id}/history")).await;
    assert_eq!(status, 200);
    let entry = &history["items"][0];
    assert_eq!(entry["operation"], "import");
    assert_eq!(entry["legacy_id"], 1);
    assert_eq!(entry["legacy_created"], "2019-03-04T10:11:12.345678");
    assert_eq!(entry["version"], 1);
    // Bad lookups.
    for bad in [
        "legacy_id=0",
        "legacy_id=abc",
        "legacy_id=-1",
        "legacy_id=2147483648",
    ] {
        assert_eq!(s.get(&format!("/companies?{bad}")).await.0, 400, "{bad}");
    }
    for bad in [
        "legacy_id=1&limit=5",
        "legacy_id=1&tax_id=60746948000112",
        "legacy_id=1&q=a",
    ] {
        assert_eq!(s.get(&format!("/companies?{bad}")).await.0, 400, "{bad}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_quirk_is_refused_or_merged_with_its_reason() {
    let Some(s) = setup(&fixture()).await else {
        return;
    };
    let (status, summary, _) = s.import(&[]);
    assert_eq!(status, 2);
    let reports: BTreeSet<(String, String, i64, String)> = s
        .rejects()
        .iter()
        .map(|r| {
            assert!(r["rule"].as_str().is_some_and(|t| !t.is_empty()), "{r}");
            (
                r["outcome"].as_str().unwrap().to_owned(),
                r["table"].as_str().unwrap().to_owned(),
                r["legacy_id"].as_i64().unwrap(),
                r["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: BTreeSet<(String, String, i64, String)> = [
        ("merged", "company_bank_account", 4, "same-account-twice"),
        ("refused", "client_company", 4, "invalid-phone"),
        ("refused", "client_company", 5, "missing-created"),
        ("refused", "company_bank_account", 6, "invalid-agency"),
        ("refused", "client_company", 6, "refused-account"),
        ("refused", "company_bank_account", 7, "unknown-bank"),
        ("refused", "client_company", 7, "refused-account"),
        ("refused", "client_company", 8, "name-would-be-trimmed"),
        ("refused", "company_bank_account", 9, "orphan-account"),
    ]
    .into_iter()
    .map(|(o, t, id, c)| (o.into(), t.into(), id, c.into()))
    .collect();
    assert_eq!(reports, expected);
    assert_eq!(summary["companies_read"], 9);
    assert_eq!(summary["accounts_read"], 9);
    assert_eq!(summary["merged"], 1);
    assert_eq!(
        summary["refused"],
        json!({"invalid-agency": 1, "invalid-phone": 1, "missing-created": 1,
               "name-would-be-trimmed": 1, "orphan-account": 1, "refused-account": 2,
               "unknown-bank": 1})
    );
    // Account numbers never appear whole in the rejects file.
    let text = std::fs::read_to_string(&s.rejects).unwrap();
    assert!(!text.contains("1234567890"), "{text}");
    // A NULL created is imported when asked for, with the time of the import.
    let (_, summary, _) = s.import(&["--null-created-as-import-time"]);
    assert_eq!(summary["companies_written"], 1);
    let imported = s.by_legacy_id(5).await.unwrap();
    assert_eq!(imported["created"], imported["updated"]);
    let id = imported["id"].as_str().unwrap();
    let (_, history) = s.get(&format!("/companies/{id}/history")).await;
    assert_eq!(history["items"][0]["legacy_created"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_writes_nothing_and_a_dry_run_writes_nothing_at_all() {
    let Some(s) = setup(&fixture()).await else {
        return;
    };
    // Without a table: the rows are validated, nothing else is read.
    let mut alone = Command::new(env!("CARGO_BIN_EXE_companies-import"));
    alone
        .args(["--from", &s.database, "--dry-run", "--rejects"])
        .arg(&s.rejects)
        .env_remove("TABLE_NAME");
    let (status, dry, _) = finish(alone);
    assert_eq!(status, 2, "refusals are reported by a dry run too");
    assert_eq!(
        (
            &dry["companies_valid"],
            &dry["companies_written"],
            &dry["read_table"]
        ),
        (&json!(4), &json!(0), &json!(false))
    );
    // With one: what a run would write.
    let (status, dry, _) = s.import(&["--dry-run"]);
    assert_eq!(status, 2);
    assert_eq!(
        (
            &dry["companies_valid"],
            &dry["companies_written"],
            &dry["read_table"]
        ),
        (&json!(4), &json!(4), &json!(true))
    );
    assert!(s.all().await.is_empty(), "a dry run wrote something");
    assert!(s.store.name_index().await.unwrap().is_empty());

    s.import(&[]);
    let before = s.all().await;
    let index = s.store.name_index().await.unwrap();
    let (status, again, _) = s.import(&[]);
    assert_eq!(status, 2);
    assert_eq!(again["companies_written"], 0);
    assert_eq!(again["companies_already_present"], 4);
    assert_eq!(again["accounts_already_present"], 4);
    assert_eq!(s.all().await, before, "a second run changed something");
    assert_eq!(s.store.name_index().await.unwrap(), index);
    // A company deleted after the import is not brought back by another run.
    let id = s.by_legacy_id(2).await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = s
        .http
        .delete(format!("{}/companies/{id}", s.api))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let (_, third, _) = s.import(&[]);
    assert_eq!(third["companies_written"], 0);
    assert_eq!(s.by_legacy_id(2).await, None);
}

/// A cut-over: the Flask service kept running after a first run, and a second run (the one
/// made once it stops) must bring over what changed there, without undoing what was changed
/// through the API meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_later_run_brings_over_what_changed_in_the_flask_service_since() {
    let Some(s) = setup(&fixture()).await else {
        return;
    };
    s.import(&["--null-created-as-import-time"]);
    let mut before = Vec::new();
    for row in [1, 2, 3, 10, 5] {
        before.push(s.by_legacy_id(row).await.unwrap());
    }
    let [padaria, transportes, acougue, mercado, mercearia] = &before[..] else {
        unreachable!()
    };
    // Through the API: row 2's company renamed, row 3's billing changed.
    let id = |c: &Value| c["id"].as_str().unwrap().to_owned();
    s.patch(
        &id(transportes),
        json!({"company_name": "Transportes Sao Jose ME"}),
    )
    .await;
    let acougue_now = s
        .patch(&id(acougue), json!({"declared_billing": "10.00"}))
        .await;
    // In the Flask service: row 1's phone and one account's agency changed and an account
    // added; row 10 renamed; row 2's phone changed (its company was changed through the API
    // too); row 4's phone fixed (it was refused); row 5 (imported with the time of the first
    // run as its `created`) given an account.
    s.legacy(
        "UPDATE client_company SET phone = '5511911112222' WHERE id = 1;
         UPDATE company_bank_account SET agency = '0002-7' WHERE id = 2;
         INSERT INTO company_bank_account (id, agency, account_number, bank_code, company_id)
           VALUES (20, '3333', '44444-4', '104', 1), (21, '0042', '88888-8', '260', 5);
         UPDATE client_company SET company_name = 'Supermercado Bom Preço' WHERE id = 10;
         UPDATE client_company SET phone = '11978230000' WHERE id = 2;
         UPDATE client_company SET phone = '11954879564' WHERE id = 4;",
    )
    .await;

    // A dry run says what the run will do, and does none of it.
    let table = s.all().await;
    let (_, preview, _) = s.import(&["--null-created-as-import-time", "--dry-run"]);
    assert_eq!(s.all().await, table, "a dry run wrote");
    let (status, summary, stderr) = s.import(&["--null-created-as-import-time"]);
    assert_eq!(status, 2, "{stderr}");
    assert_eq!(
        (
            &summary["companies_written"],
            &summary["companies_updated"],
            &summary["companies_already_present"]
        ),
        (&json!(1), &json!(3), &json!(1)),
        "{summary}"
    );
    assert_eq!(preview, as_dry_run(&summary));
    assert_eq!(summary["refused"]["changed-on-both-sides"], 1, "{summary}");
    let conflict = s.rejects_coded("changed-on-both-sides");
    assert_eq!(conflict.len(), 1);
    assert_eq!(
        (&conflict[0]["table"], &conflict[0]["legacy_id"]),
        (&json!("client_company"), &json!(2))
    );
    assert!(conflict[0]["rule"]
        .as_str()
        .unwrap()
        .contains(&id(transportes)));

    // Row 1: the same company, a new version holding the row as it is now; the account that
    // kept its row keeps its id, the changed one too (same row), the new one gets its own.
    let padaria_now = s.by_legacy_id(1).await.unwrap();
    assert_eq!(id(&padaria_now), id(padaria));
    assert_eq!(padaria_now["version"], 2);
    assert_eq!(padaria_now["created"], padaria["created"]);
    assert_eq!(padaria_now["phone"], "+5511911112222");
    let accounts = padaria_now["bank_accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 3);
    assert_eq!(accounts[0], padaria["bank_accounts"][0]);
    assert_eq!(accounts[1]["id"], padaria["bank_accounts"][1]["id"]);
    assert_eq!(accounts[1]["agency"], "0002-7");
    assert_eq!(accounts[2]["account_number"], "44444-4");
    let (_, history) = s.get(&format!("/companies/{}/history", id(padaria))).await;
    let entry = &history["items"][0];
    assert_eq!(
        (&entry["version"], &entry["operation"], &entry["legacy_id"]),
        (&json!(2), &json!("import"), &json!(1))
    );
    assert_eq!(
        entry["changes"],
        json!({"phone": "+5511911112222", "bank_accounts": accounts})
    );
    // Row 10: found by its new name, no longer by the old one.
    assert_eq!(
        s.by_legacy_id(10).await.unwrap()["company_name"],
        "Supermercado Bom Preço"
    );
    let (_, found) = s.get("/companies?q=supermercado").await;
    assert_eq!(found["items"][0]["id"], mercado["id"]);
    let (_, found) = s.get("/companies?q=mercado+bom").await;
    assert_eq!(found["items"].as_array().unwrap().len(), 0, "{found}");
    // Row 5: keeps the id and `created` of the first run.
    let mercearia_now = s.by_legacy_id(5).await.unwrap();
    assert_eq!(
        (&mercearia_now["id"], &mercearia_now["created"]),
        (&mercearia["id"], &mercearia["created"])
    );
    assert_eq!(
        mercearia_now["bank_accounts"][0]["account_number"],
        "88888-8"
    );
    // Row 2 keeps what the API made of it; row 3 too (its row did not change); row 4 arrives.
    let transportes_now = s.by_legacy_id(2).await.unwrap();
    assert_eq!(
        (&transportes_now["company_name"], &transportes_now["phone"]),
        (&json!("Transportes Sao Jose ME"), &transportes["phone"])
    );
    assert_eq!(s.by_legacy_id(3).await.unwrap(), acougue_now);
    assert_eq!(s.by_legacy_id(4).await.unwrap()["phone"], "+5511954879564");
    // The index is exactly that of the companies.
    let (companies, index, _) = contents(&s).await;
    let stored = stored(&s, &companies).await;
    assert_eq!(index, expected_name_index(&stored));

    // Once more: nothing left to bring over; the conflict is still reported.
    let table = s.all().await;
    let (status, again, _) = s.import(&["--null-created-as-import-time"]);
    assert_eq!(status, 2);
    assert_eq!(
        (
            &again["companies_written"],
            &again["companies_updated"],
            &again["companies_already_present"],
            &again["refused"]["changed-on-both-sides"]
        ),
        (&json!(0), &json!(0), &json!(5), &json!(1)),
        "{again}"
    );
    assert_eq!(
        s.all().await,
        table,
        "a run with nothing to bring over wrote"
    );
}

/// Rows deleted from the Flask database since they were imported: a run with
/// `--carry-deletions` deletes their companies (with a history entry naming the run), except one
/// changed through the API since (reported, kept); a run without it deletes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_carrying_deletions_deletes_what_the_flask_service_deleted() {
    let Some(s) = setup(&fixture()).await else {
        return;
    };
    s.import(&[]);
    let id = |c: Option<Value>| c.unwrap()["id"].as_str().unwrap().to_owned();
    let (padaria, transportes, acougue, mercado) = (
        id(s.by_legacy_id(1).await),
        id(s.by_legacy_id(2).await),
        id(s.by_legacy_id(3).await),
        id(s.by_legacy_id(10).await),
    );
    // Through the API: row 3's company changed, row 1's deleted.
    let acougue_now = s
        .patch(&acougue, json!({"declared_billing": "10.00"}))
        .await;
    let r = s
        .http
        .delete(format!("{}/companies/{padaria}", s.api))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    // In the Flask service (whose delete leaves the accounts behind): rows 1, 2, 3 and 10.
    s.legacy(
        "UPDATE company_bank_account SET company_id = NULL WHERE company_id IN (1, 2, 3, 10);
         DELETE FROM client_company WHERE id IN (1, 2, 3, 10);",
    )
    .await;

    let before = s.all().await;
    let (_, summary, _) = s.import(&[]);
    assert_eq!(
        (&summary["companies_deleted"], &summary["carry_deletions"]),
        (&json!(0), &json!(false))
    );
    assert_eq!(s.all().await, before, "deleted without --carry-deletions");

    // Four of the few rows imported: a mass deletion, which must be asked for.
    let (_, preview, _) = s.import(&["--carry-deletions", "--allow-mass-delete", "--dry-run"]);
    assert_eq!(s.all().await, before, "a dry run deleted");
    let (status, summary, stderr) = s.import(&["--carry-deletions", "--allow-mass-delete"]);
    assert_eq!(status, 2, "{stderr}");
    assert_eq!(preview, as_dry_run(&summary));
    assert_eq!(
        (&summary["companies_deleted"], &summary["carry_deletions"]),
        (&json!(2), &json!(true)),
        "{summary}"
    );
    assert_eq!(summary["refused"]["changed-on-both-sides"], 1, "{summary}");
    let conflict = s.rejects_coded("changed-on-both-sides");
    assert_eq!(conflict.len(), 1);
    assert_eq!(conflict[0]["legacy_id"], 3);
    let rule = conflict[0]["rule"].as_str().unwrap();
    assert!(rule.contains("deleted from the Flask service") && rule.contains(&acougue));
    // Rows 2 and 10: their companies are gone, each with a history entry of the run.
    for gone in [&transportes, &mercado] {
        assert_eq!(s.get(&format!("/companies/{gone}")).await.0, 404);
        let (_, history) = s.get(&format!("/companies/{gone}/history")).await;
        let entry = &history["items"][0];
        assert_eq!(
            (&entry["operation"], &entry["version"]),
            (&json!("delete"), &json!(2))
        );
        assert!(entry["actor"]
            .as_str()
            .unwrap()
            .starts_with("companies-import"));
    }
    assert_eq!(s.by_legacy_id(2).await, None);
    assert_eq!(s.by_legacy_id(3).await, Some(acougue_now));
    let (companies, index, _) = contents(&s).await;
    assert_eq!(companies.len(), 1, "{companies:?}");
    assert_eq!(index, expected_name_index(&stored(&s, &companies).await));

    // Once more: nothing left to delete; the kept company is still reported.
    let (_, again, _) = s.import(&["--carry-deletions", "--allow-mass-delete"]);
    assert_eq!(again["companies_deleted"], 0);
    assert_eq!(again["refused"]["changed-on-both-sides"], 1);
    assert_eq!(s.all().await.len(), 1);
}

/// `companies` legacy companies with 0–3 accounts each (one in 50 with a bad agency).
fn generated(companies: u32) -> String {
    format!(
        "{SCHEMA}
        INSERT INTO bank (code, name) VALUES ('001', 'Banco do Brasil');
        INSERT INTO client_company (company_name, phone, created, declared_billing)
          SELECT (ARRAY['Padaria','Mercado','Açougue','Farmácia','Oficina'])[1 + g % 5]
                   || ' ' || (ARRAY['São João','Paulista','Central','do Zé','Bom Preço'])[1 + (g / 5) % 5]
                   || ' ' || g,
                 '119' || lpad(g::text, 8, '0'),
                 timestamp '2015-01-01' + g * interval '37 minutes',
                 (g * 13.37)::numeric(12,2)
          FROM generate_series(1, {companies}) g;
        INSERT INTO company_bank_account (agency, account_number, bank_code, company_id)
          SELECT CASE WHEN c.id % 50 = 1 THEN '123245' ELSE lpad((c.id % 9999)::text, 4, '0') END,
                 (c.id * 10 + k)::text, '001', c.id
          FROM client_company c, generate_series(1, 3) k
          WHERE k <= c.id % 4;"
    )
}

/// What the table holds, as the API shows it (without `updated`, the time of writing), with
/// the name index and each company's number of history entries.
async fn contents(
    s: &Setup,
) -> (
    Vec<Value>,
    BTreeSet<(String, String)>,
    BTreeMap<String, usize>,
) {
    let companies: Vec<Value> = s
        .all()
        .await
        .into_iter()
        .map(|c| without(c, "updated"))
        .collect();
    let mut entries = BTreeMap::new();
    for c in &companies {
        let id = c["id"].as_str().unwrap();
        let (_, history) = s.get(&format!("/companies/{id}/history?limit=100")).await;
        entries.insert(id.to_owned(), history["items"].as_array().unwrap().len());
    }
    (companies, s.store.name_index().await.unwrap(), entries)
}

/// The stored companies of `companies` (as the API showed them).
async fn stored(s: &Setup, companies: &[Value]) -> Vec<companies::Company> {
    use companies_store::CompanyReader;
    let mut out = Vec::new();
    for c in companies {
        let id = c["id"].as_str().unwrap().parse().unwrap();
        out.push(s.store.get(id).await.unwrap().unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_mid_way_and_run_again_ends_as_a_clean_run() {
    let sql = generated(1500);
    let Some(killed) = setup(&sql).await else {
        return;
    };
    let mut child = killed
        .command(&["--quiet", "--concurrency", "8"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until it has written a first page of companies, then SIGKILL it.
    loop {
        let (_, page) = killed.get("/companies?limit=100").await;
        if page["items"].as_array().is_some_and(|i| i.len() == 100) {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the import ended before it was killed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let partial = killed.all().await.len();
    assert!(
        (100..1470).contains(&partial),
        "{partial} companies when killed"
    );

    let (status, resumed, _) = killed.import(&["--quiet"]);
    assert_eq!(status, 2, "one in 50 companies has a bad agency");
    assert_eq!(
        resumed["companies_already_present"].as_u64().unwrap()
            + resumed["companies_written"].as_u64().unwrap(),
        1470
    );
    assert!(resumed["companies_already_present"].as_u64().unwrap() >= partial as u64);

    let Some(clean) = setup(&sql).await else {
        return;
    };
    let (_, summary, _) = clean.import(&["--quiet"]);
    assert_eq!(summary["companies_written"], 1470);
    let (companies, index, history) = contents(&killed).await;
    let (clean_companies, clean_index, clean_history) = contents(&clean).await;
    assert_eq!(companies.len(), 1470);
    assert!(
        companies == clean_companies,
        "the resumed table differs from a clean run's"
    );
    assert!(index == clean_index, "the name indexes differ");
    assert!(
        history.values().all(|n| *n == 1),
        "a company has more than one history entry"
    );
    assert_eq!(history.len(), clean_history.len());
    // And the index is exactly that of the companies.
    assert_eq!(
        index,
        expected_name_index(&stored(&killed, &companies).await)
    );
}

/// What AWS does to a long run of writes and DynamoDB Local does not, through the fault proxy
/// (one writer, so the faults meet one company after another): transactions throttled past the
/// SDK's retries (the importer's own back-off then runs), cancelled for a conflict, cancelled
/// for throttling past the store's retries, and committed with their reply lost (held past the
/// attempt timeout, the connection closed, or answered `TransactionInProgressException`), once
/// or on every attempt. Every run ends as a clean run does: the same companies, index and
/// history, and the same summary (a company whose reply was lost is counted written, not
/// "already present").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_gets_through_throttling_conflicts_and_lost_replies() {
    // A lost reply once is answered by the SDK's retry (DynamoDB replays a transaction's
    // ClientRequestToken); on every attempt, the importer must find its write landed.
    let mut faults = FAULTS.to_vec();
    faults.push((Kind::LoseReply, 1));
    let run = Faulted {
        sql: generated(40),
        changes: None,
        args: &[],
        target: "TransactWriteItems",
        skip: 5,
    };
    run.ends_as_a_clean_run(&faults).await;
}

/// The same faults met by a run that brings changes over, on the transactions that carry them
/// (every row changed, one writer: after the first write of a row, refused because it was
/// imported already, comes the one that updates it; the sixth call is an update). Every run
/// ends as a clean catch-up does (an update whose reply was lost is counted updated).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catch_up_gets_through_throttling_conflicts_and_lost_replies() {
    let run = Faulted {
        sql: generated(30),
        changes: Some(
            "UPDATE client_company SET phone = '219' || lpad(id::text, 8, '0');
             UPDATE client_company SET company_name = company_name || ' Filial'
               WHERE id % 3 = 0;",
        ),
        args: &[],
        target: "TransactWriteItems",
        skip: 5,
    };
    let Some(summary) = run.ends_as_a_clean_run(&FAULTS).await else {
        return;
    };
    assert_eq!(
        summary["companies_updated"], summary["companies_valid"],
        "{summary}"
    );
}

/// The same faults met by the deletes of a run that carries deletions over: of 30 rows, the 29
/// valid were imported, then 4 deleted from the source; the 25 left make one write each
/// (refused: imported already) before the first delete. And the Scan that finds them,
/// throttled or failing past the SDK's retries: the importer backs off and reads on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn carried_deletions_get_through_throttling_conflicts_and_lost_replies() {
    let mut run = Faulted {
        sql: generated(30),
        changes: Some(
            "UPDATE company_bank_account SET company_id = NULL WHERE company_id % 7 = 0;
             DELETE FROM client_company WHERE id % 7 = 0;",
        ),
        args: &["--carry-deletions", "--allow-mass-delete"],
        target: "TransactWriteItems",
        skip: 25,
    };
    let Some(summary) = run.ends_as_a_clean_run(&FAULTS).await else {
        return;
    };
    assert_eq!(summary["companies_deleted"], 4, "{summary}");
    (run.target, run.skip) = ("Scan", 0);
    run.ends_as_a_clean_run(&[(Kind::Throttle, 10), (Kind::ServerError, 4)])
        .await;
}

/// The faults of the tests above, and how many calls each meets.
const FAULTS: [(Kind, u32); 6] = [
    (Kind::Throttle, 10),
    (Kind::CancelConflict, 3),
    (Kind::CancelThrottled, 6),
    (Kind::LoseReply, companies_store::dynamo::MAX_ATTEMPTS),
    (
        Kind::HangUpAfterCommit,
        companies_store::dynamo::MAX_ATTEMPTS,
    ),
    (
        Kind::InProgressAfterCommit,
        companies_store::dynamo::MAX_ATTEMPTS,
    ),
];

/// A run of the importer, measured with faults and without.
struct Faulted<'a> {
    /// The source.
    sql: String,
    /// With `changes`, the measured run is the second: an import runs first, then `changes`
    /// are made to the source.
    changes: Option<&'a str>,
    /// Arguments of the measured run.
    args: &'a [&'a str],
    /// The DynamoDB operation the faults meet,
    target: &'static str,
    /// after letting this many calls to it through.
    skip: u32,
}

impl Faulted<'_> {
    /// A fresh database and table, ready for the measured run.
    async fn prepare(&self) -> Option<Setup> {
        let s = setup(&self.sql).await?;
        if let Some(changes) = self.changes {
            s.import(&["--quiet"]);
            s.legacy(changes).await;
        }
        Some(s)
    }

    /// Runs once without faults, then once per fault of `faults` (one writer): every faulted
    /// run must end as the clean one does (exit status, summary, companies, index, history).
    /// The clean run's summary.
    /// The clean run's summary, or `None` when PostgreSQL or DynamoDB Local is not here.
    async fn ends_as_a_clean_run(&self, faults: &[(Kind, u32)]) -> Option<Value> {
        let clean = self.prepare().await?;
        let mut args = vec!["--quiet", "--concurrency", "1"];
        args.extend(self.args);
        let (status, summary, _) = clean.import(&args);
        assert_eq!(status, 2, "one in 50 companies has a bad agency");
        let expected = contents(&clean).await;
        for &(kind, times) in faults {
            let s = self.prepare().await?;
            let proxy = FaultProxy::start().await;
            proxy.set_after(kind, self.target, self.skip, times);
            let mut command = s.command(&args);
            command.env("AWS_ENDPOINT_URL_DYNAMODB", &proxy.url);
            let (code, faulted, stderr) = finish(command);
            assert!(proxy.used_up(), "{kind:?}: not every fault was met");
            assert_eq!((code, &faulted), (status, &summary), "{kind:?}: {stderr}");
            if matches!(kind, Kind::Throttle | Kind::CancelThrottled) {
                assert!(stderr.contains("DynamoDB unavailable"), "{stderr}");
            }
            assert!(
                contents(&s).await == expected,
                "{kind:?}: the table differs from a clean run's"
            );
        }
        Some(summary)
    }
}

/// A write AWS denies (IAM, or the table's KMS key) stops the run at once, without the
/// back-off meant for throttling: exit 1, the cause on stderr with what to do, nothing written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_write_stops_the_run_with_its_cause() {
    let Some(s) = setup(&generated(20)).await else {
        return;
    };
    let proxy = FaultProxy::start().await;
    proxy.set(Kind::Deny, "TransactWriteItems", fault_proxy::ALWAYS);
    let mut command = s.command(&["--quiet"]);
    command.env("AWS_ENDPOINT_URL_DYNAMODB", &proxy.url);
    let (code, summary, stderr) = finish(command);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("AccessDeniedException"), "{stderr}");
    assert!(stderr.contains("once the cause above is fixed"), "{stderr}");
    assert!(
        !stderr.contains("retrying"),
        "a denial was retried: {stderr}"
    );
    assert_eq!(summary["companies_written"], 0);
    assert!(s.all().await.is_empty(), "something was written");
}

/// The importer run as `role` (no password in the URL) on a copy of the fixture, with
/// `query` added to the URL and `env` set; HOME is an empty folder, so no ~/.pgpass or
/// ~/.postgresql/root.crt of the machine's is read. Exit status, stdout, stderr.
struct Connection {
    database: String,
    home: PathBuf,
}

impl Connection {
    async fn new() -> Option<Connection> {
        let cluster = cluster()?;
        let database = legacy_database(&cluster, &fixture()).await;
        let home = std::env::temp_dir().join(format!(
            "import-home-{}",
            database.rsplit('/').next().unwrap()
        ));
        std::fs::create_dir_all(&home).unwrap();
        Some(Connection { database, home })
    }

    fn url(&self, role: &str, host: &str, query: &str) -> String {
        let rest = self.database.split_once('@').unwrap().1;
        let rest = rest.replacen("127.0.0.1", host, 1);
        format!("postgresql://{role}@{rest}{query}")
    }

    fn run(&self, url: &str, env: &[(&str, &str)]) -> (i32, String, String) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_companies-import"));
        command
            .args(["--from", url, "--dry-run", "--quiet", "--rejects"])
            .arg(self.home.join("rejects.jsonl"))
            .env("HOME", &self.home)
            .env_remove("PGPASSWORD")
            .env_remove("PGPASSFILE")
            .env_remove("PGSSLMODE")
            .env_remove("PGSSLROOTCERT")
            .env_remove("DATABASE_URL");
        for (k, v) in env {
            command.env(k, v);
        }
        let out = command.output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

fn test_secret(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is set by scripts/postgres.sh"))
}

/// TLS as libpq's sslmode says, against a server whose certificate a throwaway CA issued for
/// localhost and 127.0.0.1, as a role the server admits over TLS only: verify-full and
/// verify-ca accept it with that CA and refuse it under another CA (or Mozilla's roots);
/// require and prefer encrypt without verifying; disable is refused by the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_importer_speaks_tls_as_sslmode_says() {
    let Some(c) = Connection::new().await else {
        return;
    };
    let (ca, other) = (test_secret("PG_TEST_CA"), test_secret("PG_TEST_OTHER_CA"));
    let password = test_secret("PG_TEST_PASSWORD");
    let env = [("PGPASSWORD", password.as_str())];
    let read = |host: &str, query: String| {
        let (code, stdout, stderr) = c.run(&c.url("tls_reader", host, &query), &env);
        (code, stdout, stderr)
    };
    for (host, query) in [
        (
            "127.0.0.1",
            format!("?sslmode=verify-full&sslrootcert={ca}"),
        ),
        (
            "localhost",
            format!("?sslmode=verify-full&sslrootcert={ca}"),
        ),
        ("127.0.0.1", format!("?sslmode=verify-ca&sslrootcert={ca}")),
        ("127.0.0.1", "?sslmode=require".to_owned()),
        ("127.0.0.1", String::new()),
    ] {
        let (code, stdout, stderr) = read(host, query.clone());
        assert_eq!(code, 2, "{host}{query}: {stderr}");
        let summary: Value = serde_json::from_str(stdout.trim()).unwrap();
        assert!(summary["companies_read"].as_u64() > Some(0), "{summary}");
    }
    for query in [
        format!("?sslmode=verify-full&sslrootcert={other}"),
        format!("?sslmode=verify-ca&sslrootcert={other}"),
        format!("?sslmode=require&sslrootcert={other}"),
        "?sslmode=verify-full".to_owned(),
    ] {
        let (code, _, stderr) = read("127.0.0.1", query.clone());
        assert_eq!(code, 1, "{query} was accepted: {stderr}");
        assert!(stderr.contains("certificate"), "{query}: {stderr}");
        assert!(stderr.contains("tls_reader@127.0.0.1"), "{stderr}");
    }
    let (code, _, stderr) = read("127.0.0.1", "?sslmode=disable".to_owned());
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("no encryption"), "{stderr}");
    // The environment's settings, as libpq reads them.
    let (code, _, stderr) = c.run(
        &c.url("tls_reader", "localhost", ""),
        &[
            ("PGPASSWORD", &password),
            ("PGSSLMODE", "verify-full"),
            ("PGSSLROOTCERT", &ca),
        ],
    );
    assert_eq!(code, 2, "{stderr}");
}

/// The password comes from the URL, PGPASSWORD or the password file (ignored when others may
/// read it), and no message ever shows it: not a failed connection, not --help.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_password_is_read_as_libpq_reads_it_and_never_shown() {
    let Some(c) = Connection::new().await else {
        return;
    };
    let password = test_secret("PG_TEST_PASSWORD");
    let url = c.url("password_reader", "127.0.0.1", "");
    let (code, _, stderr) = c.run(&url, &[]);
    assert_eq!(code, 1, "connected without a password: {stderr}");
    let (code, _, stderr) = c.run(&url, &[("PGPASSWORD", &password)]);
    assert_eq!(code, 2, "{stderr}");
    let passfile = c.home.join("pgpass");
    let port = url.rsplit(':').next().unwrap().split('/').next().unwrap();
    std::fs::write(
        &passfile,
        format!("127.0.0.1:{port}:*:password_reader:{password}\n"),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&passfile, std::fs::Permissions::from_mode(0o600)).unwrap();
    let file = passfile.to_str().unwrap();
    let (code, _, stderr) = c.run(&url, &[("PGPASSFILE", file)]);
    assert_eq!(code, 2, "{stderr}");
    std::fs::set_permissions(&passfile, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, _, stderr) = c.run(&url, &[("PGPASSFILE", file)]);
    assert_eq!(
        code, 1,
        "a password file others can read was used: {stderr}"
    );
    assert!(stderr.contains("ignored"), "{stderr}");
    // ~/.pgpass, as libpq's default.
    std::fs::set_permissions(&passfile, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::rename(&passfile, c.home.join(".pgpass")).unwrap();
    let (code, _, stderr) = c.run(&url, &[]);
    assert_eq!(code, 2, "{stderr}");

    let wrong = url.replacen("password_reader@", "password_reader:Wr0ng-s3cr3t@", 1);
    let (code, stdout, stderr) = c.run(&wrong, &[]);
    assert_eq!(code, 1);
    assert!(
        !format!("{stdout}{stderr}").contains("Wr0ng-s3cr3t"),
        "{stderr}"
    );
    assert!(stderr.contains("password_reader@127.0.0.1"), "{stderr}");

    let help = Command::new(env!("CARGO_BIN_EXE_companies-import"))
        .arg("--help")
        .env("DATABASE_URL", &wrong)
        .env("TABLE_NAME", "companies-prod")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("DATABASE_URL"), "{help}");
    assert!(
        !help.contains("Wr0ng-s3cr3t"),
        "--help shows the password: {help}"
    );
}

/// `--carry-deletions` pointed at a source that lost most of its rows, or all of them (an
/// empty restore, the wrong database), deletes nothing and stops (exit 1) unless
/// `--allow-mass-delete` says it is meant; the dry run shows the counts. A few rows gone (at
/// most 10 % of those imported) are deleted as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_carrying_deletions_refuses_to_empty_the_table() {
    let Some(s) = setup(&generated(20)).await else {
        return;
    };
    let (_, first, _) = s.import(&[]);
    let imported = first["companies_written"].as_u64().unwrap();
    assert!(imported >= 19, "{first}");
    // One row gone (row 1 was refused: its account's agency is too long): at most 10 %,
    // deleted without asking.
    s.legacy("UPDATE company_bank_account SET company_id = NULL WHERE company_id = 5; DELETE FROM client_company WHERE id = 5;")
        .await;
    let (_, summary, stderr) = s.import(&["--carry-deletions"]);
    assert_eq!(summary["companies_deleted"], 1, "{stderr}");
    assert_eq!(summary["mass_delete_refused"], false);
    // Three more (3 of 19): refused, nothing deleted, the counts said.
    s.legacy("UPDATE company_bank_account SET company_id = NULL WHERE company_id IN (2, 3, 4); DELETE FROM client_company WHERE id IN (2, 3, 4);")
        .await;
    let before = s.all().await;
    let (code, preview, _) = s.import(&["--carry-deletions", "--dry-run"]);
    assert_ne!(code, 1, "a dry run is a preview, not a failure");
    assert_eq!(
        (
            &preview["rows_gone"],
            &preview["mass_delete_refused"],
            &preview["companies_deleted"]
        ),
        (&json!(4), &json!(true), &json!(0)),
        "{preview}"
    );
    let (code, summary, stderr) = s.import(&["--carry-deletions"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("--allow-mass-delete") && stderr.contains("refusing"),
        "{stderr}"
    );
    assert_eq!(preview, as_dry_run(&summary));
    assert_eq!(s.all().await, before, "a refused mass deletion deleted");
    // An empty source: refused whatever the share.
    s.legacy("UPDATE company_bank_account SET company_id = NULL; DELETE FROM client_company;")
        .await;
    let (code, summary, stderr) = s.import(&["--carry-deletions"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("holds no company"), "{stderr}");
    assert_eq!(summary["companies_deleted"], 0);
    assert_eq!(s.all().await, before);
    // Asked for: done.
    let (_, summary, stderr) = s.import(&["--carry-deletions", "--allow-mass-delete"]);
    assert_eq!(
        summary["companies_deleted"].as_u64(),
        Some(imported - 1),
        "{stderr}"
    );
    assert!(s.all().await.is_empty());
}

/// A run that writes says how long its history entries are kept (the stage's setting): without
/// it the importer writes nothing, rather than five years of history into a dev table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_writes_needs_the_stages_history_retention() {
    let Some(s) = setup(&fixture()).await else {
        return;
    };
    let mut command = s.command(&["--quiet"]);
    command.env_remove("HISTORY_RETENTION_DAYS");
    let out = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("HistoryRetentionDays"), "{stderr}");
    assert!(s.all().await.is_empty(), "written without a retention");
    let (status, _, stderr) = s.import(&["--quiet", "--history-retention-days", "365"]);
    assert_eq!(status, 2, "{stderr}");
    assert!(!s.all().await.is_empty());
}
