//! End-to-end: every status code of the API over real HTTP against the local API, once on the
//! in-memory store and once on DynamoDB (the DynamoDB Local server `make test` starts).

mod common;

use std::sync::Arc;

use common::{acme, concurrently, error_fields, full, header, problem, Api};
use reqwest::header::{ETAG, LOCATION};
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn readme_example_creates_and_reads_back(api: Api) {
    let r = api.post(&acme()).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(header(&r, ETAG), "\"1\"");
    let location = header(&r, LOCATION);
    let created: Value = r.json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    assert_eq!(location, format!("/companies/{id}"));
    assert_eq!(created["phone"], "+5511978235674");
    assert_eq!(created["declared_billing"], "10.00");
    assert_eq!(created["version"], 1);
    assert_eq!(created["created"], created["updated"]);
    assert!(created["created"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        (created["tax_id"].clone(), created["address"].clone()),
        (Value::Null, Value::Null)
    );
    assert_eq!(created["bank_accounts"], json!([]));

    let r = api.get(&location).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, ETAG), "\"1\"");
    assert_eq!(r.json::<Value>().await.unwrap(), created);
}

async fn full_company_round_trips_exactly(api: Api) {
    let c = api.create(&full()).await;
    assert_eq!(c["declared_billing"], "1235.69");
    assert_eq!(c["tax_id"], "60746948000112");
    assert_eq!(c["address"]["postal_code"], "01310100");
    assert_eq!(c["address"]["country"], "BR");
    let account = &c["bank_accounts"][0];
    assert_eq!(
        account["bank"],
        json!({"code": "336", "name": "Banco C6 S.A."})
    );
    assert_eq!(
        (
            account["agency"].as_str(),
            account["account_number"].as_str()
        ),
        (Some("1290-0"), Some("1243"))
    );
    assert!(account["id"]
        .as_str()
        .unwrap()
        .parse::<uuid::Uuid>()
        .is_ok());
    let got: Value = api
        .get(&format!("/companies/{}", c["id"].as_str().unwrap()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got, c);

    for (given, want) in [
        (json!("0.1"), "0.10"),
        (json!(9999999999.99_f64), "9999999999.99"),
        (json!("9007199254740.99"), ""),
    ] {
        let mut body = acme();
        body["declared_billing"] = given;
        let r = api.post(&body).await;
        if want.is_empty() {
            problem(r, 400).await;
        } else {
            assert_eq!(r.json::<Value>().await.unwrap()["declared_billing"], want);
        }
    }
    let mut alnum = acme();
    alnum["tax_id"] = json!("12.ABC.345/01DE-35");
    assert_eq!(api.create(&alnum).await["tax_id"], "12ABC34501DE35");
}

async fn bad_input_is_a_clear_4xx_and_writes_nothing(api: Api) {
    let mut bad = full();
    bad["tax_id"] = json!("60.746.948/0001-13");
    bad["bank_accounts"][0]["bank_code"] = json!("999");
    bad["address"]["state"] = json!("XX");
    bad["id"] = json!("mine");
    bad["nickname"] = json!("x");
    let body = problem(api.post(&bad).await, 400).await;
    assert_eq!(
        error_fields(&body),
        [
            "address.state",
            "bank_accounts[0].bank_code",
            "id",
            "nickname",
            "tax_id"
        ]
    );
    assert!(body["errors"][0]["message"].is_string());

    problem(
        api.send(
            "POST",
            "/companies",
            Some("application/json"),
            Some("{\"company_name\": ".into()),
            None,
        )
        .await,
        400,
    )
    .await;
    problem(
        api.send(
            "POST",
            "/companies",
            Some("application/json"),
            Some("[]".into()),
            None,
        )
        .await,
        400,
    )
    .await;
    problem(
        api.send(
            "POST",
            "/companies",
            Some("text/plain"),
            Some(acme().to_string()),
            None,
        )
        .await,
        415,
    )
    .await;
    problem(
        api.send("POST", "/companies", None, Some(acme().to_string()), None)
            .await,
        415,
    )
    .await;
    // A number with more precision than cents is refused, never rounded through a float.
    let imprecise =
        r#"{"company_name": "A", "phone": "11978235674", "declared_billing": 1235.6900000000001}"#;
    let p = problem(
        api.send(
            "POST",
            "/companies",
            Some("application/json"),
            Some(imprecise.into()),
            None,
        )
        .await,
        400,
    )
    .await;
    assert_eq!(error_fields(&p), ["declared_billing"]);
    let huge = json!({"company_name": "x".repeat(70 * 1024), "phone": "11978235674", "declared_billing": 1});
    problem(api.post(&huge).await, 413).await;

    let mut dup = acme();
    dup["bank_accounts"] = json!([
        {"bank_code": "001", "agency": "0001", "account_number": "123-x"},
        {"bank_code": "001", "agency": "1", "account_number": "123-X"}
    ]);
    let body = problem(api.post(&dup).await, 409).await;
    assert_eq!(error_fields(&body), ["bank_accounts[1]"]);

    let list: Value = api.get("/companies").await.json().await.unwrap();
    assert_eq!(
        list["items"],
        json!([]),
        "no rejected request wrote anything"
    );
}

async fn unknown_ids_routes_and_methods(api: Api) {
    let ghost = uuid::Uuid::now_v7().to_string();
    problem(api.get(&format!("/companies/{ghost}")).await, 404).await;
    problem(api.get("/companies/not-a-uuid").await, 404).await;
    problem(
        api.patch(&ghost, &json!({"company_name": "X"}), None).await,
        404,
    )
    .await;
    problem(api.put(&ghost, &acme(), None).await, 404).await;
    problem(api.delete(&ghost, None).await, 404).await;
    problem(api.get("/nothing-here").await, 404).await;
    let r = api.send("DELETE", "/companies", None, None, None).await;
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
    let first: Value = api.get("/companies").await.json().await.unwrap();
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
        problem(api.get(&format!("/companies?{bad}")).await, 400).await;
    }
    let page: Value = api.get("/companies?limit=100").await.json().await.unwrap();
    assert_eq!(
        (
            page["items"].as_array().unwrap().len(),
            page["next_cursor"].clone()
        ),
        (25, Value::Null)
    );
}

async fn patch_merges_and_bumps_the_version(api: Api) {
    let c = api.create(&full()).await;
    let id = c["id"].as_str().unwrap();
    let account_id = c["bank_accounts"][0]["id"].clone();
    let patch = json!({"company_name": "Renamed", "tax_id": null, "address": {"city": "Campinas", "complement": "Sala 2"},
                       "declared_billing": "0.1"});
    let r = api.patch(id, &patch, None).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, ETAG), "\"2\"");
    let p: Value = r.json().await.unwrap();
    assert_eq!(
        (
            p["company_name"].as_str(),
            p["tax_id"].clone(),
            p["version"].as_u64()
        ),
        (Some("Renamed"), Value::Null, Some(2))
    );
    assert_eq!(p["address"]["city"], "Campinas");
    assert_eq!(
        p["address"]["street"], "Avenida Paulista",
        "nested objects merge"
    );
    assert_eq!(p["declared_billing"], "0.10");
    assert_eq!(
        p["bank_accounts"][0]["id"], account_id,
        "untouched accounts keep their id"
    );
    assert_eq!(p["created"], c["created"]);
    assert!(p["updated"].as_str().unwrap() >= c["updated"].as_str().unwrap());

    let r = api
        .send(
            "PATCH",
            &format!("/companies/{id}"),
            Some("application/json"),
            Some(json!({"bank_accounts": []}).to_string()),
            None,
        )
        .await;
    assert_eq!(
        r.json::<Value>().await.unwrap()["bank_accounts"],
        json!([]),
        "the list is replaced"
    );

    // Invalid patches write nothing.
    for (bad, status) in [
        (json!({"company_name": null}), 400),
        (json!({"declared_billing": -1}), 400),
        (json!({"version": 9}), 400),
        (
            json!({"address": {"state": "XX", "street": "a", "city": "b", "postal_code": "01310100"}}),
            400,
        ),
        (
            json!({"bank_accounts": [{"bank_code": "001", "agency": "1", "account_number": "1"},
                                   {"bank_code": "001", "agency": "1", "account_number": "1"}]}),
            409,
        ),
    ] {
        problem(api.patch(id, &bad, None).await, status).await;
    }
    problem(
        api.send(
            "PATCH",
            &format!("/companies/{id}"),
            Some("text/plain"),
            Some("{}".into()),
            None,
        )
        .await,
        415,
    )
    .await;
    let now: Value = api
        .get(&format!("/companies/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(now["version"], 3);
}

async fn if_match_guards_every_write(api: Api) {
    let c = api.create(&acme()).await;
    let id = c["id"].as_str().unwrap();
    problem(
        api.patch(id, &json!({"company_name": "X"}), Some("\"7\""))
            .await,
        412,
    )
    .await;
    problem(api.put(id, &acme(), Some("\"0\"")).await, 412).await;
    problem(api.delete(id, Some("\"2\"")).await, 412).await;
    problem(
        api.patch(id, &json!({"company_name": "X"}), Some("W/\"1\""))
            .await,
        412,
    )
    .await;
    let unchanged: Value = api
        .get(&format!("/companies/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(unchanged, c, "nothing written");

    let r = api
        .patch(id, &json!({"company_name": "X"}), Some("\"1\""))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = api
        .patch(id, &json!({"company_name": "Y"}), Some("\"1\""))
        .await;
    problem(r, 412).await;
    let r = api.put(id, &full(), Some("\"2\"")).await;
    assert_eq!(
        (r.status(), header(&r, ETAG)),
        (StatusCode::OK, "\"3\"".to_owned())
    );
    problem(api.patch(id, &json!({}), Some("not-a-tag")).await, 400).await;
    assert_eq!(
        api.delete(id, Some("\"3\"")).await.status(),
        StatusCode::NO_CONTENT
    );
    problem(api.get(&format!("/companies/{id}")).await, 404).await;
}

async fn put_replaces_the_whole_company(api: Api) {
    let c = api.create(&full()).await;
    let id = c["id"].as_str().unwrap();
    let r = api.put(id, &acme(), None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let p: Value = r.json().await.unwrap();
    assert_eq!(
        (p["id"].clone(), p["created"].clone(), p["version"].clone()),
        (c["id"].clone(), c["created"].clone(), json!(2))
    );
    assert_eq!(
        (
            p["tax_id"].clone(),
            p["address"].clone(),
            p["bank_accounts"].clone()
        ),
        (Value::Null, Value::Null, json!([]))
    );
    let body = problem(
        api.put(id, &json!({"company_name": "Only a name"}), None)
            .await,
        400,
    )
    .await;
    assert_eq!(error_fields(&body), ["declared_billing", "phone"]);
    let mut with_id = acme();
    with_id["created"] = json!("2020-01-01T00:00:00Z");
    problem(api.put(id, &with_id, None).await, 400).await;
    let now: Value = api
        .get(&format!("/companies/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(now, p);
}

async fn delete_removes_the_company(api: Api) {
    let c = api.create(&acme()).await;
    let id = c["id"].as_str().unwrap();
    let r = api.delete(id, None).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(r.bytes().await.unwrap().is_empty());
    problem(api.get(&format!("/companies/{id}")).await, 404).await;
    problem(api.delete(id, None).await, 404).await;
    let list: Value = api.get("/companies").await.json().await.unwrap();
    assert_eq!(list["items"], json!([]));
}

async fn concurrent_updates_never_lose_one(api: Api) {
    // (Writers pinning one If-Match: data_safety.rs, 50 of them.) Without If-Match, conflicts
    // are retried on fresh state; every success is a distinct version and none is lost.
    let id = api.create(&acme()).await["id"].as_str().unwrap().to_owned();
    let api = Arc::new(api);
    let outcomes = concurrently(&api, 8, |api, i| {
        let id = id.clone();
        async move {
            let r = api.patch(&id, &json!({"declared_billing": i}), None).await;
            (r.status().as_u16(), header(&r, ETAG))
        }
    })
    .await;
    let mut ok_versions = Vec::new();
    for (status, etag) in outcomes {
        assert!(status == 200 || status == 409, "{status}");
        if status == 200 {
            ok_versions.push(etag);
        }
    }
    let unique: std::collections::HashSet<_> = ok_versions.iter().collect();
    assert_eq!(
        unique.len(),
        ok_versions.len(),
        "two writers got the same version: {ok_versions:?}"
    );
    let now: Value = api
        .get(&format!("/companies/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        now["version"].as_u64().unwrap(),
        1 + ok_versions.len() as u64
    );
}

async fn hostile_input_never_causes_a_5xx(api: Api) {
    let c = api.create(&acme()).await;
    let id = c["id"].as_str().unwrap();
    let bodies = [
        "", "null", "1", "\"x\"", "{\"company_name\": {\"a\": 1}}", "{\"phone\": 1e400}",
        "{\"declared_billing\": 1e400, \"company_name\": \"a\", \"phone\": \"11978235674\"}",
        "{\"declared_billing\": \"1e99999999\", \"company_name\": \"a\", \"phone\": \"11978235674\"}",
        "{\"bank_accounts\": {\"0\": 1}}", "{\"address\": [1]}", "{\"tax_id\": 12345678000195}",
        "{\"company_name\": \"\\ud800\"}",
        "{\"company_name\": \"A\", \"phone\": \"11978235674\", \"declared_billing\": 1, \"company_name\": \"B\"}",
        "{\"company_name\": \"A\", \"phone\": \"11978235674\", \"declared_billing\": 1, \"address\": {\"street\": \"a\", \"city\": \"b\", \"state\": \"SP\", \"postal_code\": \"01310100\", \"city\": \"c\"}}",
    ];
    for body in bodies {
        for (method, path) in [
            ("POST", "/companies".to_owned()),
            ("PATCH", format!("/companies/{id}")),
            ("PUT", format!("/companies/{id}")),
        ] {
            let r = api
                .send(
                    method,
                    &path,
                    Some("application/json"),
                    Some(body.to_owned()),
                    None,
                )
                .await;
            assert!(
                r.status().is_client_error(),
                "{method} {body:?} -> {}",
                r.status()
            );
        }
    }
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    assert_eq!(
        api.send(
            "POST",
            "/companies",
            Some("application/json"),
            Some(deep),
            None
        )
        .await
        .status(),
        400
    );
}

/// Every answer, success or problem, tells browsers and proxies not to keep it, sniff it or
/// frame it (it may hold bank details).
async fn every_answer_forbids_caching_sniffing_and_framing(api: Api) {
    let created = api.post(&full()).await;
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
    answers.push(api.post(&json!({})).await);
    answers.push(api.send("DELETE", "/companies", None, None, None).await);
    answers.push(api.send("DELETE", &id, None, None, None).await);
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
    every_answer_forbids_caching_sniffing_and_framing,
    readme_example_creates_and_reads_back,
    full_company_round_trips_exactly,
    bad_input_is_a_clear_4xx_and_writes_nothing,
    unknown_ids_routes_and_methods,
    list_pages_newest_first_with_opaque_cursors,
    patch_merges_and_bumps_the_version,
    if_match_guards_every_write,
    put_replaces_the_whole_company,
    delete_removes_the_company,
    concurrent_updates_never_lose_one,
    hostile_input_never_causes_a_5xx,
);
