//! Creating companies: what a create answers and stores, and every way a body is refused
//! (4xx, never 5xx) without writing.

use crate::common::{acme, error_fields, full, header, problem, Api};
use reqwest::header::{ETAG, LOCATION};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn readme_example_creates_and_reads_back(api: Api) {
    let r = api.post("/companies").json(&acme()).await;
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
    let got = api
        .get(format!("/companies/{}", c["id"].as_str().unwrap()))
        .read_json()
        .await;
    assert_eq!(got, c);

    for (given, want) in [
        (json!("0.1"), "0.10"),
        (json!(9999999999.99_f64), "9999999999.99"),
        (json!("9007199254740.99"), ""),
    ] {
        let mut body = acme();
        body["declared_billing"] = given;
        let r = api.post("/companies").json(&body).await;
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
    let body = problem(api.post("/companies").json(&bad).await, 400).await;
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
        api.post("/companies")
            .content_type("application/json")
            .body("{\"company_name\": ")
            .await,
        400,
    )
    .await;
    problem(
        api.post("/companies")
            .content_type("application/json")
            .body("[]")
            .await,
        400,
    )
    .await;
    problem(
        api.post("/companies")
            .content_type("text/plain")
            .body(acme().to_string())
            .await,
        415,
    )
    .await;
    problem(api.post("/companies").body(acme().to_string()).await, 415).await;
    // A number with more precision than cents is refused, never rounded through a float.
    let imprecise =
        r#"{"company_name": "A", "phone": "11978235674", "declared_billing": 1235.6900000000001}"#;
    let p = problem(
        api.post("/companies")
            .content_type("application/json")
            .body(imprecise)
            .await,
        400,
    )
    .await;
    assert_eq!(error_fields(&p), ["declared_billing"]);
    let huge = json!({"company_name": "x".repeat(70 * 1024), "phone": "11978235674", "declared_billing": 1});
    problem(api.post("/companies").json(&huge).await, 413).await;

    let mut dup = acme();
    dup["bank_accounts"] = json!([
        {"bank_code": "001", "agency": "0001", "account_number": "123-x"},
        {"bank_code": "001", "agency": "1", "account_number": "123-X"}
    ]);
    let body = problem(api.post("/companies").json(&dup).await, 409).await;
    assert_eq!(error_fields(&body), ["bank_accounts[1]"]);

    let list = api.get("/companies").read_json().await;
    assert_eq!(
        list["items"],
        json!([]),
        "no rejected request wrote anything"
    );
}

async fn hostile_input_never_causes_a_5xx(api: Api) {
    let c = api.create(&acme()).await;
    let id = c["id"].as_str().unwrap();
    let location = format!("/companies/{id}");
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
            (Method::POST, "/companies"),
            (Method::PATCH, location.as_str()),
            (Method::PUT, location.as_str()),
        ] {
            let r = api
                .request(method.clone(), path)
                .content_type("application/json")
                .body(body)
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
        api.post("/companies")
            .content_type("application/json")
            .body(deep)
            .await
            .status(),
        400
    );
}

e2e!(
    readme_example_creates_and_reads_back,
    full_company_round_trips_exactly,
    bad_input_is_a_clear_4xx_and_writes_nothing,
    hostile_input_never_causes_a_5xx,
);
