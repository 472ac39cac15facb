//! The API: the template's routes are the registry's, each behind the JWT authorizer with its
//! scope, each with a sample event its handler answers, each documented in `openapi.yaml`.

use super::*;

#[test]
fn template_routes_are_exactly_the_local_routes() {
    let t = template();
    let mut from_template = BTreeSet::new();
    for (_, props, binary) in functions(&t) {
        for (_, event) in get(&props, "Events").as_mapping().unwrap() {
            assert_eq!(str_of(event, "Type"), "HttpApi");
            let p = get(event, "Properties");
            from_template.insert((
                binary.clone(),
                str_of(p, "Method").to_owned(),
                str_of(p, "Path").to_owned(),
            ));
        }
    }
    let local: BTreeSet<_> = routes()
        .map(|r| {
            (
                r.function.to_owned(),
                r.method.to_owned(),
                r.path.to_owned(),
            )
        })
        .collect();
    assert_eq!(from_template, local);
}

#[test]
fn every_function_has_an_event_and_every_route_is_exercised() {
    let names: BTreeSet<_> = events().into_iter().map(|(n, _)| n).collect();
    let mut route_keys = BTreeSet::new();
    for (_, text) in events() {
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        route_keys.insert(v["routeKey"].as_str().unwrap().to_owned());
    }
    for r in routes() {
        assert!(
            names.contains(r.function),
            "events/{}.json missing",
            r.function
        );
        assert!(
            route_keys.contains(&format!("{} {}", r.method, r.path)),
            "no event for {} {}",
            r.method,
            r.path
        );
    }
}

/// Each sample event, fed to its function's handler as the Lambda runtime would, succeeds.
#[tokio::test]
async fn every_sample_event_runs_through_its_handler() {
    let expected: HashMap<&str, u16> = HashMap::from([
        ("POST", 201),
        ("GET /companies", 200),
        ("GET /companies/{id}", 200),
        ("PATCH", 200),
        ("PUT", 200),
        ("DELETE", 204),
        ("POST /companies/{id}/bank-accounts", 201),
        ("GET /banks", 200),
        ("GET /banks/{code}", 200),
        ("GET /companies/{id}/history", 200),
    ]);
    for (name, text) in events() {
        let store = MemoryStore::new();
        let event: serde_json::Value = serde_json::from_str(&text).unwrap();
        // Seed the company (and bank account) the event names, at version 1.
        if let Some(id) = event["pathParameters"]["id"].as_str() {
            let doc = serde_json::json!({
                "company_name": "Seed", "phone": "11978235674", "declared_billing": 1,
                "bank_accounts": [{"bank_code": "001", "agency": "1", "account_number": "1"}]
            });
            let mut seed =
                Company::create(input::company(doc.as_object().unwrap()).unwrap(), now());
            seed.id = id.parse().unwrap();
            if let Some(account) = event["pathParameters"]["account_id"].as_str() {
                seed.bank_accounts[0].id = account.parse().unwrap();
            }
            let audit = Audit {
                operation: ChangeKind::Create,
                actor: "seed".into(),
                request_id: "seed".into(),
                lambda_request_id: None,
            };
            store
                .create(&seed, None, Some(&audit.created(&seed)))
                .await
                .unwrap();
        }
        let request =
            lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let method = request.method().to_string();
        let Resolved::Found(route, _) = routes::resolve(&method, request.uri().path()) else {
            panic!("{name}: no route for {method} {}", request.uri().path());
        };
        assert!(
            name.starts_with(route.function),
            "{name} is not an event of {}",
            route.function
        );
        let (response, _) = routes::dispatch(&store, route.handler, request)
            .await
            .into_parts();
        let key = format!("{method} {}", route.path);
        let want = expected
            .get(key.as_str())
            .or_else(|| expected.get(method.as_str()))
            .unwrap();
        assert_eq!(
            response.status().as_u16(),
            *want,
            "{name}: {:?}",
            response.body()
        );
    }
}

#[test]
fn every_route_requires_the_jwt_authorizer_with_the_right_scope() {
    let t = template();
    let api = get(get(get(&t, "Resources"), "HttpApi"), "Properties");
    assert_eq!(
        str_of(get(api, "Auth"), "DefaultAuthorizer"),
        "JwtAuthorizer"
    );
    // Browsers may read every header a client of this API relies on.
    let exposed = cfn(get(get(api, "CorsConfiguration"), "ExposeHeaders"));
    for header in ["etag", "location", "idempotent-replayed", "retry-after"] {
        assert!(exposed.contains(header), "CORS does not expose {header}");
    }
    let authorizer = get(get(get(api, "Auth"), "Authorizers"), "JwtAuthorizer");
    assert_eq!(
        str_of(authorizer, "IdentitySource"),
        "$request.header.Authorization"
    );
    let mut checked = 0;
    for (id, props, _) in functions(&t) {
        for (name, event) in get(&props, "Events").as_mapping().unwrap() {
            let p = get(event, "Properties");
            let auth = p
                .get("Auth")
                .unwrap_or_else(|| panic!("{id}.{name:?} has no Auth"));
            // No authorizer named: the API's default, the JWT authorizer.
            assert!(
                auth.get("Authorizer").is_none(),
                "{id}.{name:?} must use the default authorizer"
            );
            let scopes: Vec<&str> = get(auth, "AuthorizationScopes")
                .as_sequence()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap())
                .collect();
            let op = operation(&id);
            assert_eq!(scopes, [op.scope.as_str()], "{id}.{name:?}");
            if str_of(p, "Method") != "GET" {
                assert_eq!(op.scope.as_str(), "companies/write", "{id} writes");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, routes().count());
}

/// `openapi.yaml` documents exactly the routes of the template, and the bank codes of the registry.
#[test]
fn the_openapi_contract_covers_exactly_the_template_routes() {
    let text = std::fs::read_to_string(root().join("openapi.yaml")).unwrap();
    let spec: Value = serde_yaml::from_str(&text).unwrap();
    assert_eq!(str_of(&spec, "openapi"), "3.1.0");
    let mut documented = BTreeSet::new();
    for (path, item) in get(&spec, "paths").as_mapping().unwrap() {
        for (method, _) in item.as_mapping().unwrap() {
            let method = method.as_str().unwrap();
            if method != "parameters" {
                documented.insert((method.to_uppercase(), path.as_str().unwrap().to_owned()));
            }
        }
    }
    let routes: BTreeSet<_> = routes()
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect();
    assert_eq!(documented, routes);
    let codes: Vec<&str> = get(
        get(
            get(
                get(get(get(&spec, "components"), "schemas"), "BankAccountInput"),
                "properties",
            ),
            "bank_code",
        ),
        "enum",
    )
    .as_sequence()
    .unwrap()
    .iter()
    .map(|c| c.as_str().unwrap())
    .collect();
    let registry: Vec<&str> = companies::banks::all().map(|b| b.code).collect();
    assert_eq!(codes, registry);
}

/// The built-in pool has a client that can only read, and the authorizer accepts its tokens.
#[test]
fn a_read_only_client_exists_and_is_accepted() {
    let t = template();
    let client = resources(&t)
        .get("ReadOnlyClient")
        .expect("no ReadOnlyClient");
    let p = get(client, "Properties");
    assert_eq!(cfn(get(p, "AllowedOAuthScopes")), "[companies/read]");
    assert_eq!(cfn(get(p, "AllowedOAuthFlows")), "[client_credentials]");
    let api = get(resources(&t).get("HttpApi").unwrap(), "Properties");
    let jwt = get(
        get(get(get(api, "Auth"), "Authorizers"), "JwtAuthorizer"),
        "JwtConfiguration",
    );
    assert!(cfn(get(jwt, "audience")).contains("!Ref ReadOnlyClient"));
}

/// The reference explains itself: every operation has a summary and a description, and every
/// problem type the code can answer is documented.
#[test]
fn the_openapi_reference_documents_every_operation_and_problem_type() {
    let text = std::fs::read_to_string(root().join("openapi.yaml")).unwrap();
    let spec: Value = serde_yaml::from_str(&text).unwrap();
    for (path, item) in get(&spec, "paths").as_mapping().unwrap() {
        for (method, op) in item.as_mapping().unwrap() {
            if method.as_str() == Some("parameters") {
                continue;
            }
            for key in ["operationId", "summary", "description"] {
                assert!(
                    op.get(key)
                        .and_then(Value::as_str)
                        .is_some_and(|s| s.trim().len() > 10 || key == "operationId"),
                    "{method:?} {path:?} lacks a {key}"
                );
            }
        }
    }
    let source = std::fs::read_to_string(root().join("edge/src/http/problem.rs")).unwrap();
    let kinds: BTreeSet<&str> = source
        .split('"')
        .filter(|s| s.starts_with("urn:companies:problem:"))
        .collect();
    assert!(kinds.len() >= 9, "{kinds:?}");
    for kind in kinds {
        assert!(text.contains(kind), "openapi.yaml does not document {kind}");
    }
}
