//! Against the local API, which has no authorizer: no credentials needed.

use companies::{input, Company};
use companies_store::{CompanyCreator, HistoryReader, MemoryStore};
use serde_json::{json, Value};
use time::Duration;
use uuid::Uuid;

use super::common::{names, smoke, StandIn};

#[tokio::test]
async fn the_reads_pass_against_the_local_api_without_credentials() {
    let store = MemoryStore::new();
    let api = StandIn::local_api(store.clone()).await;
    let run = smoke(&["--url", &api.url], &[]).await;
    assert_eq!(run.code, 0, "{run:?}");
    for step in [
        "list banks",
        "list companies",
        "get an unknown company",
        "history of an unknown company",
        "the API reference",
    ] {
        let line = run
            .stdout
            .lines()
            .find(|l| l.contains(step))
            .unwrap_or_else(|| panic!("no line for {step}:\n{run:?}"));
        assert!(line.starts_with("ok "), "{line}");
        assert!(line.contains(" ms"), "{line}");
    }
    assert!(run.stdout.contains("smoke: passed: 5 steps"), "{run:?}");
    // Read-only: nothing was written.
    assert!(names(&store).await.is_empty());
}

#[tokio::test]
async fn the_write_round_trip_passes_and_leaves_no_company_behind() {
    let store = MemoryStore::new();
    let api = StandIn::local_api(store.clone()).await;
    let run = smoke(&["--url", &api.url, "--write"], &[]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let steps: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| !l.starts_with("smoke:"))
        .collect();
    assert_eq!(steps.len(), 5 + 10, "{run:?}");
    assert!(steps.iter().all(|l| l.starts_with("ok ")), "{run:?}");
    assert!(run.stdout.contains("no leftover older than 10 minutes"));
    assert!(names(&store).await.is_empty(), "{run:?}");
    // The company lived: created, changed, deleted, each in its history.
    let id = run
        .stdout
        .lines()
        .find(|l| l.starts_with("ok    create "))
        .and_then(|line| line.split("  company ").nth(1))
        .and_then(|rest| rest.split(',').next())
        .and_then(|id| Uuid::parse_str(id).ok())
        .unwrap_or_else(|| panic!("no company id in the output:\n{run:?}"));
    let history = store.history(id, 10, None).await.unwrap();
    let versions: Vec<u64> = history.items.iter().map(|e| e.version).collect();
    assert_eq!(versions, [3, 2, 1]);
}

/// A company as an earlier run (or anyone) left it, created `age` ago.
async fn file(store: &MemoryStore, name: &str, age: Duration) {
    let document = json!({"company_name": name, "phone": "11978235674", "declared_billing": "10"});
    let Value::Object(document) = document else {
        unreachable!()
    };
    let company = Company::create(input::company(&document).unwrap(), companies::now() - age);
    store.create(&company, None, None).await.unwrap();
}

#[tokio::test]
async fn the_cleanup_removes_only_the_suites_own_leftovers_older_than_ten_minutes() {
    let store = MemoryStore::new();
    let old = "smoke-test 0a1b2c3d 2025-01-01T00:00:00Z";
    let young = "smoke-test 4e5f6a7b 2025-01-01T00:09:00Z";
    file(&store, old, Duration::minutes(11)).await;
    // Another run's, still going: younger than ten minutes.
    file(&store, young, Duration::minutes(9)).await;
    // Not the suite's, however old and however close its name.
    file(&store, "Smoke Test Padaria Ltda", Duration::days(30)).await;
    file(&store, "smoke-testing ltda", Duration::days(30)).await;
    let api = StandIn::local_api(store.clone()).await;
    let run = smoke(&["--url", &api.url, "--write"], &[]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let cleanup = run
        .stdout
        .lines()
        .find(|l| l.contains("clean up leftovers"))
        .unwrap();
    assert!(
        cleanup.contains(&format!("removed 1: {old} (")),
        "{cleanup}"
    );
    assert_eq!(
        names(&store).await,
        [
            "Smoke Test Padaria Ltda",
            "smoke-test 4e5f6a7b 2025-01-01T00:09:00Z",
            "smoke-testing ltda"
        ]
    );
}

#[tokio::test]
async fn json_output_is_one_document_of_the_steps() {
    let api = StandIn::local_api(MemoryStore::new()).await;
    let run = smoke(&["--url", &api.url, "--json"], &[]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let report: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(report["passed"], true);
    assert_eq!(report["url"], api.url.as_str());
    let steps = report["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 5);
    assert_eq!(steps[0]["step"], "list banks");
    assert_eq!(steps[0]["status"], 200);
    assert!(steps
        .iter()
        .all(|s| s["result"] == "ok" && s["ms"].is_u64()));
}
