//! Runs after the first, and dry runs: nothing written twice, nothing written at all by a dry
//! run, nothing written without the stage's history retention.

use std::process::Command;

use serde_json::json;

use crate::helpers::{fixture, run_to_end, setup};

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
    let (status, dry, _) = run_to_end(alone);
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
