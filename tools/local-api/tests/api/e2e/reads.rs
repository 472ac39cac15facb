//! Reading: unknown ids, routes and methods, the paginated listing, and the headers every
//! answer carries.

use crate::common::{acme, full, header, problem, Api};
use reqwest::header::LOCATION;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn unknown_ids_routes_and_methods(api: Api) {
    let ghost = uuid::Uuid::now_v7().to_string();
    let location = format!("/companies/{ghost}");
    problem(api.get(&location).await, 404).await;
    problem(api.get("/companies/not-a-uuid").await, 404).await;
    problem(
        api.patch(&location)
            .merge_patch(&json!({"company_name": "X"}))
            .await,
        404,
    )
    .await;
    problem(api.put(&location).json(&acme()).await, 404).await;
    problem(api.delete(&location).await, 404).await;
    problem(api.get("/nothing-here").await, 404).await;
    let r = api.delete("/companies").await;
    assert_eq!(header(&r, reqwest::header::ALLOW), "GET, POST");
    problem(r, 405).await;
}

async fn list_pages_newest_first_with_opaque_cursors(api: Api) {
    let mut ids = Vec::new();
    for i in 0..25 {
        let mut body = acme();
        body["company_name"] = json!(format!("Company {i}"));
        ids.push(api.create(&body).await["id"].as_str().unwrap().to_owned());
    }
    let first = api.get("/companies").read_json().await;
    assert_eq!(
        first["items"].as_array().unwrap().len(),
        20,
        "default limit is 20"
    );

    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    let mut path = "/companies?limit=10".to_owned();
    loop {
        let r = api.get(&path).await;
        assert_eq!(r.status(), StatusCode::OK);
        let page: Value = r.json().await.unwrap();
        let items = page["items"].as_array().unwrap();
        sizes.push(items.len());
        seen.extend(items.iter().map(|c| c["id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/companies?limit=10&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(sizes, [10, 10, 5]);
    ids.reverse();
    assert_eq!(seen, ids, "every company exactly once, newest first");

    for bad in [
        "limit=0",
        "limit=101",
        "limit=abc",
        "limit=-1",
        "cursor=garbage",
        "cursor=AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "sort=newest",
        "limit=1&limit=2",
    ] {
        problem(api.get(format!("/companies?{bad}")).await, 400).await;
    }
    let page = api.get("/companies?limit=100").read_json().await;
    assert_eq!(
        (
            page["items"].as_array().unwrap().len(),
            page["next_cursor"].clone()
        ),
        (25, Value::Null)
    );
}

/// Every answer, success or problem, tells browsers and proxies not to keep it, sniff it or
/// frame it (it may hold bank details).
async fn every_answer_forbids_caching_sniffing_and_framing(api: Api) {
    let created = api.post("/companies").json(&full()).await;
    let id = created.headers()[LOCATION].to_str().unwrap().to_owned();
    let mut answers = vec![created];
    for path in [
        id.as_str(),
        "/companies?q=my",
        "/banks/001",
        "/companies/nope",
        "/nowhere",
    ] {
        answers.push(api.get(path).await);
    }
    answers.push(api.post("/companies").json(&json!({})).await);
    answers.push(api.delete("/companies").await);
    answers.push(api.delete(&id).await);
    let statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses, [201, 200, 200, 200, 404, 404, 400, 405, 204]);
    for r in &answers {
        let h = |name: &str| header(r, name.parse().unwrap());
        assert_eq!(h("cache-control"), "no-store", "{}", r.url());
        assert_eq!(h("x-content-type-options"), "nosniff");
        assert_eq!(h("x-frame-options"), "DENY");
        assert!(h("content-security-policy").contains("frame-ancestors 'none'"));
        assert!(h("strict-transport-security").starts_with("max-age="));
    }
}

e2e!(
    unknown_ids_routes_and_methods,
    list_pages_newest_first_with_opaque_cursors,
    every_answer_forbids_caching_sniffing_and_framing,
);
