//! Runs that meet what goes wrong in production: a SIGKILL mid-run, DynamoDB throttling,
//! conflicts and lost replies (through the local API's fault proxy), a denied write.

use std::process::Stdio;
use std::time::Duration;

use companies_store::testing::expected_name_index;
use serde_json::Value;

use crate::fault_proxy::{self, FaultProxy, Kind};
use crate::helpers::{contents, generated, run_to_end, setup, stored, Setup};

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
    let run = FaultedRun {
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
    let run = FaultedRun {
        sql: generated(30),
        changes: Some(
            "UPDATE client_company SET phone = '219' || lpad(id::text, 8, '0');
             UPDATE client_company SET company_name = company_name || ' Filial'
               WHERE id % 3 = 0;",
        ),
        // Every row changed: a mass update, meant here.
        args: &["--allow-mass-update"],
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
    let mut run = FaultedRun {
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
struct FaultedRun<'a> {
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

impl FaultedRun<'_> {
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
            let (code, faulted, stderr) = run_to_end(command);
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
    let (code, summary, stderr) = run_to_end(command);
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
