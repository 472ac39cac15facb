//! Each request yields CloudWatch embedded-metric-format documents: request count, latency and
//! errors by status class, with the function and stage as dimensions.
//!
//! A binary of its own: it installs the process-wide metrics recorder, which the requests of
//! any other test in the same process would write to.

use companies_edge::http::{empty, Problem};
use companies_edge::runner::{observe, RequestInfo};
use lambda_http::http::StatusCode;
use serde_json::Value;

fn info(request_id: &str) -> RequestInfo<'_> {
    RequestInfo {
        function: "get-company",
        request_id,
        apigw_request_id: None,
        route: "GET /companies/{id}",
        path: "/companies/x",
        trace: None,
    }
}

#[tokio::test]
async fn requests_are_counted_timed_and_classified() {
    let collector =
        companies_edge::runner::lambda::metrics_collector("get-company", "test".into()).unwrap();
    observe(info("r1"), async { empty(StatusCode::OK) }).await;
    observe(info("r2"), async {
        Problem::not_found("no").into_response()
    })
    .await;
    observe(info("r3"), async {
        Problem::not_found("no").into_response()
    })
    .await;
    let mut out = Vec::new();
    collector
        .set_property("request_id", "r3")
        .flush(&mut out)
        .unwrap();
    let docs: Vec<Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(docs.len(), 2, "one document per status class: {docs:?}");
    for doc in &docs {
        let cw = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(cw["Namespace"], "CompaniesApi");
        assert_eq!(
            cw["Dimensions"][0],
            serde_json::json!(["function", "stage", "status_class"])
        );
        assert_eq!(
            (doc["function"].as_str(), doc["stage"].as_str()),
            (Some("get-company"), Some("test"))
        );
        assert_eq!(doc["request_id"], "r3");
        assert!(doc["_aws"]["Timestamp"].is_u64());
    }
    let by_class = |class: &str| {
        docs.iter()
            .find(|d| d["status_class"] == class)
            .unwrap()
            .clone()
    };
    let ok = by_class("2xx");
    assert_eq!(ok["requests"], 1);
    assert!(ok.get("errors").is_none());
    assert_eq!(ok["latency"].as_array().unwrap().len(), 1);
    let client_errors = by_class("4xx");
    assert_eq!(
        (
            client_errors["requests"].as_u64(),
            client_errors["errors"].as_u64()
        ),
        (Some(2), Some(2))
    );
    assert_eq!(client_errors["latency"].as_array().unwrap().len(), 2);

    // Counters restart after each flush: the next invocation reports only its own request.
    observe(info("r4"), async { empty(StatusCode::CREATED) }).await;
    let mut out = Vec::new();
    collector.flush(&mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains("\"requests\":1"));
}
