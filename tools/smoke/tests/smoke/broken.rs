//! Against APIs that break the contract: each run fails (exit 1), naming the step and what
//! was wrong, and a failed `--write` run removes the company it made.

use companies_store::MemoryStore;
use hyper::Method;

use super::common::{local, names, reply, smoke, StandIn};

#[tokio::test]
async fn a_server_error_fails_naming_the_step() {
    let api = StandIn::start(|_| async {
        reply(
            500,
            "application/problem+json",
            r#"{"type":"about:blank","title":"Internal Server Error","status":500,"detail":"Something went wrong."}"#,
        )
    })
    .await;
    let run = smoke(&["--url", &api.url], &[]).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains(
            "smoke: step \"list banks\": expected 200, got 500: Internal Server Error (Something went wrong.)"
        ),
        "{run:?}"
    );
    assert!(run.stdout.starts_with("FAIL  list banks"), "{run:?}");
    // The first failure ends the run.
    assert_eq!(api.hits(), 1);
}

#[tokio::test]
async fn a_body_that_is_not_json_fails_naming_the_step() {
    let api = StandIn::start(|_| async { reply(200, "text/html", "<html>It works!</html>") }).await;
    let run = smoke(&["--url", &api.url], &[]).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains(
            "step \"list banks\": content type: expected application/json, got text/html"
        ),
        "{run:?}"
    );

    // JSON by its content type, but not JSON.
    let api = StandIn::start(|_| async { reply(200, "application/json", "<html>") }).await;
    let run = smoke(&["--url", &api.url], &[]).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr
            .contains("step \"list banks\": the body is not JSON, though sent as application/json"),
        "{run:?}"
    );
}

#[tokio::test]
async fn a_page_without_its_cursor_fails_naming_the_step() {
    let store = MemoryStore::new();
    let api = StandIn::start(move |req| {
        let store = store.clone();
        async move {
            if req.uri().path() == "/companies" && req.method() == Method::GET {
                return reply(200, "application/json", r#"{"items": []}"#);
            }
            local(&store, req).await
        }
    })
    .await;
    let run = smoke(&["--url", &api.url], &[]).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains("ok    list banks"), "{run:?}");
    // The stand-in also drops the security headers the API sets on every answer.
    assert!(
        run.stderr.contains(
            "step \"list companies\": header cache-control: expected \"no-store\", got none"
        ),
        "{run:?}"
    );
}

#[tokio::test]
async fn a_problem_without_its_fields_fails_naming_the_step() {
    let store = MemoryStore::new();
    let api = StandIn::start(move |req| {
        let store = store.clone();
        async move {
            if req.uri().path().starts_with("/companies/") {
                return reply(404, "application/json", r#"{"message":"Not Found"}"#);
            }
            local(&store, req).await
        }
    })
    .await;
    let run = smoke(&["--url", &api.url], &[]).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains(
            "step \"get an unknown company\": content type: expected application/problem+json, got application/json"
        ),
        "{run:?}"
    );
}

#[tokio::test]
async fn a_failed_write_step_is_named_and_the_runs_company_removed() {
    let store = MemoryStore::new();
    let served = store.clone();
    let api = StandIn::start(move |req| {
        let store = served.clone();
        async move {
            if req.method() == Method::PATCH {
                return reply(
                    412,
                    "application/problem+json",
                    r#"{"type":"about:blank","title":"Precondition Failed","status":412,"detail":"The company changed."}"#,
                );
            }
            local(&store, req).await
        }
    })
    .await;
    let run = smoke(&["--url", &api.url, "--write"], &[]).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains(
            "smoke: step \"patch with If-Match\": expected 200, got 412: Precondition Failed"
        ),
        "{run:?}"
    );
    assert!(run.stderr.contains("deleted this run's company"), "{run:?}");
    assert!(names(&store).await.is_empty(), "{run:?}");
}

#[tokio::test]
async fn a_replay_that_creates_again_fails_naming_the_step() {
    let store = MemoryStore::new();
    let served = store.clone();
    let api = StandIn::start(move |req| {
        let store = served.clone();
        async move {
            // An API that ignores Idempotency-Key: the second POST is a new company, or here a
            // CNPJ conflict, since the document is the same.
            let (mut parts, body) = req.into_parts();
            parts.headers.remove("idempotency-key");
            local(&store, hyper::Request::from_parts(parts, body)).await
        }
    })
    .await;
    let run = smoke(&["--url", &api.url, "--write"], &[]).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr
            .contains("smoke: step \"replay the create\": expected 201, got 409"),
        "{run:?}"
    );
    assert!(names(&store).await.is_empty(), "{run:?}");
}

/// An API mounted under a base path (a custom domain's `v1` mapping) whose `Location` leaves
/// the base path out: following it leads out of the API, and the create step says so.
#[tokio::test]
async fn a_location_outside_the_apis_base_path_fails_naming_the_step() {
    let store = MemoryStore::new();
    let served = store.clone();
    let api = StandIn::start(move |req| {
        let store = served.clone();
        async move {
            let (mut parts, body) = req.into_parts();
            let unmounted = parts.uri.path_and_query().map_or("/", |p| p.as_str());
            let Some(inner) = unmounted.strip_prefix("/v1") else {
                return reply(404, "text/plain", "not under /v1");
            };
            parts.uri = inner.parse().unwrap();
            local(&store, hyper::Request::from_parts(parts, body)).await
        }
    })
    .await;
    let url = format!("{}/v1", api.url);
    let run = smoke(&["--url", &url, "--write"], &[]).await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr
            .contains("smoke: step \"create\": Location \"/companies/"),
        "{run:?}"
    );
    assert!(
        run.stderr
            .contains(&format!("not to the company at {url}/companies/")),
        "{run:?}"
    );
    assert!(names(&store).await.is_empty(), "{run:?}");
}
