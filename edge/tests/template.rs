//! Keeps `template.yaml`, the operation registry (`companies_edge::operations`), the route table the
//! local API serves, the function binaries, the sample events and `openapi.yaml` in step: an
//! operation added in one place and not the others fails here. What is derived from the
//! registry (dispatch, each binary's name, the dashboard's widgets) needs no check.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use companies::{input, now, Audit, ChangeKind, Company};
use companies_edge::http::IntoResponse;
use companies_edge::operations::{On, Operation, OPERATIONS};
use companies_edge::routes::{self, routes, Resolved};
use companies_store::{dynamo, CompanyCreator, MemoryStore};
use serde_yaml::{Mapping, Value};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `template.yaml`, as SAM CLI and CloudFormation read it.
fn template() -> Value {
    let text = std::fs::read_to_string(root().join("template.yaml")).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

fn resources(t: &Value) -> &Mapping {
    get(t, "Resources").as_mapping().unwrap()
}

fn get<'a>(v: &'a Value, key: &str) -> &'a Value {
    v.get(key)
        .unwrap_or_else(|| panic!("missing {key} in {v:?}"))
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    get(v, key)
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not a string"))
}

/// (logical id, function properties, binary name) of every function in the template.
fn functions(t: &Value) -> Vec<(String, Value, String)> {
    resources(t)
        .iter()
        .filter(|(_, r)| r.get("Type").and_then(Value::as_str) == Some("AWS::Serverless::Function"))
        .map(|(id, r)| {
            let binary = str_of(get(get(r, "Metadata"), "BuildProperties"), "Binary").to_owned();
            (
                id.as_str().unwrap().to_owned(),
                get(r, "Properties").clone(),
                binary,
            )
        })
        .collect()
}

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

/// The `functions` crate's binaries: one per operation (`functions/src/bin/<name>.rs`).
fn binaries() -> BTreeSet<String> {
    std::fs::read_dir(root().join("functions/src/bin"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn every_operation_is_an_arm64_cargo_lambda_binary_and_nothing_else_is() {
    let t = template();
    let globals = get(get(&t, "Globals"), "Function");
    assert_eq!(str_of(globals, "Runtime"), "provided.al2023");
    assert_eq!(
        str_of(globals, "CodeUri"),
        ".",
        "functions build from the workspace root"
    );
    assert_eq!(cfn(get(globals, "Architectures")), "[!Ref Architecture]");
    let architecture = get(get(&t, "Parameters"), "Architecture");
    assert_eq!(str_of(architecture, "Default"), "arm64");
    let resources = get(&t, "Resources");
    let fns = functions(&t);
    for (id, _, _) in &fns {
        assert_eq!(
            str_of(get(get(resources, id), "Metadata"), "BuildMethod"),
            "rust-cargolambda"
        );
    }
    let registry: BTreeSet<_> = OPERATIONS
        .iter()
        .map(|op| (op.function_id(), op.name.to_owned()))
        .collect();
    let template_functions: BTreeSet<_> = fns
        .iter()
        .map(|(id, _, b)| (id.clone(), b.clone()))
        .collect();
    assert_eq!(registry, template_functions);
    let names: BTreeSet<String> = OPERATIONS.iter().map(|op| op.name.to_owned()).collect();
    assert_eq!(
        binaries(),
        names,
        "functions/src/bin/*.rs against the registry"
    );
}

#[test]
fn table_keys_and_index_match_what_the_code_creates() {
    let t = template();
    let table = get(get(get(&t, "Resources"), "CompaniesTable"), "Properties");
    assert_eq!(str_of(table, "BillingMode"), "PAY_PER_REQUEST");
    let pairs = |v: &Value, a: &str, b: &str| -> BTreeSet<(String, String)> {
        v.as_sequence()
            .unwrap()
            .iter()
            .map(|e| (str_of(e, a).to_owned(), str_of(e, b).to_owned()))
            .collect()
    };
    let (keys, attrs, gsis) = dynamo::table_definition();
    let code_keys: BTreeSet<_> = keys
        .iter()
        .map(|k| {
            (
                k.attribute_name().to_owned(),
                k.key_type().as_str().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        pairs(get(table, "KeySchema"), "AttributeName", "KeyType"),
        code_keys
    );
    let code_attrs: BTreeSet<_> = attrs
        .iter()
        .map(|a| {
            (
                a.attribute_name().to_owned(),
                a.attribute_type().as_str().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        pairs(
            get(table, "AttributeDefinitions"),
            "AttributeName",
            "AttributeType"
        ),
        code_attrs
    );
    let template_gsis = get(table, "GlobalSecondaryIndexes").as_sequence().unwrap();
    assert_eq!(template_gsis.len(), gsis.len());
    for (tg, cg) in template_gsis.iter().zip(&gsis) {
        assert_eq!(str_of(tg, "IndexName"), cg.index_name());
        let code: BTreeSet<_> = cg
            .key_schema()
            .iter()
            .map(|k| {
                (
                    k.attribute_name().to_owned(),
                    k.key_type().as_str().to_owned(),
                )
            })
            .collect();
        assert_eq!(
            pairs(get(tg, "KeySchema"), "AttributeName", "KeyType"),
            code
        );
        assert_eq!(str_of(get(tg, "Projection"), "ProjectionType"), "ALL");
    }
}

fn events() -> Vec<(String, String)> {
    let mut out: Vec<_> = std::fs::read_dir(root().join("events"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            (
                p.file_stem().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
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

/// Renders a CloudFormation value for comparison: `!Tag value` for short-form functions.
fn cfn(v: &Value) -> String {
    match v {
        Value::Tagged(t) => format!("{} {}", t.tag, cfn(&t.value)),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Sequence(items) => {
            format!("[{}]", items.iter().map(cfn).collect::<Vec<_>>().join(", "))
        }
        other => format!("{other:?}"),
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

/// The registry's operation of a template function.
fn operation(function_id: &str) -> &'static Operation {
    OPERATIONS
        .iter()
        .find(|op| op.function_id() == function_id)
        .unwrap_or_else(|| panic!("{function_id} is not in the operation registry"))
}

/// Each function's policy grants exactly the registry's grants of its operation, on the table
/// or one of its indexes, and nothing with a wildcard.
#[test]
fn every_function_has_least_privilege() {
    let t = template();
    for (id, props, _) in functions(&t) {
        let listed: BTreeSet<String> = operation(&id)
            .grants
            .iter()
            .map(|g| match g.on {
                On::Table => format!("{} table", g.action),
                On::Index(name) => format!("{} index/{name}", g.action),
            })
            .collect();
        let mut granted = BTreeSet::new();
        for policy in props
            .get("Policies")
            .and_then(Value::as_sequence)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let statements = policy
                .get("Statement")
                .and_then(Value::as_sequence)
                .unwrap_or_else(|| {
                    panic!("{id}: policies must be inline statements, not managed policies")
                });
            for s in statements {
                assert_eq!(str_of(s, "Effect"), "Allow", "{id}");
                let resource = match cfn(get(s, "Resource")).as_str() {
                    "!GetAtt CompaniesTable.Arn" => "table".to_owned(),
                    other => match other.strip_prefix("!Sub ${CompaniesTable.Arn}/") {
                        Some(index) if index.starts_with("index/") && !index.contains('*') => {
                            index.to_owned()
                        }
                        _ => {
                            panic!("{id}: resource {other} is not the table or one of its indexes")
                        }
                    },
                };
                // On the table, the partitions it may name are the registry's, by prefix.
                let leading: BTreeSet<String> = s
                    .get("Condition")
                    .and_then(|c| c.get("ForAllValues:StringLike"))
                    .and_then(|c| c.get("dynamodb:LeadingKeys"))
                    .and_then(Value::as_sequence)
                    .map(|keys| {
                        keys.iter()
                            .map(|k| k.as_str().unwrap().to_owned())
                            .collect()
                    })
                    .unwrap_or_default();
                if resource == "table" {
                    let allowed: BTreeSet<String> = operation(&id)
                        .partitions
                        .iter()
                        .map(|p| format!("{p}*"))
                        .collect();
                    assert_eq!(leading, allowed, "{id}: dynamodb:LeadingKeys of the table");
                    assert_eq!(
                        s.get("Condition")
                            .and_then(Value::as_mapping)
                            .map(Mapping::len),
                        Some(1),
                        "{id}: only the LeadingKeys condition"
                    );
                }
                for action in get(s, "Action").as_sequence().unwrap() {
                    let action = action.as_str().unwrap();
                    assert!(!action.contains('*'), "{id}: wildcard action {action}");
                    granted.insert(format!("{action} {resource}"));
                }
            }
        }
        assert_eq!(
            granted, listed,
            "{id} grants other permissions than its operation in the registry"
        );
    }
}

#[test]
fn the_table_is_protected() {
    let t = template();
    let table = get(get(&t, "Resources"), "CompaniesTable");
    assert_eq!(
        cfn(get(table, "DeletionPolicy")),
        "!If [IsProd, Retain, Delete]"
    );
    assert_eq!(
        cfn(get(table, "UpdateReplacePolicy")),
        "!If [IsProd, Retain, Delete]"
    );
    assert_eq!(
        cfn(get(get(&t, "Conditions"), "IsProd")),
        "!Equals [!Ref Stage, prod]"
    );
    let p = get(table, "Properties");
    assert_eq!(
        cfn(get(p, "DeletionProtectionEnabled")),
        "!If [IsProd, true, false]"
    );
    assert_eq!(
        get(
            get(p, "PointInTimeRecoverySpecification"),
            "PointInTimeRecoveryEnabled"
        ),
        &Value::Bool(true)
    );
    let sse = get(p, "SSESpecification");
    assert_eq!(
        (get(sse, "SSEEnabled"), str_of(sse, "SSEType")),
        (&Value::Bool(true), "KMS")
    );
    assert_eq!(
        cfn(get(sse, "KMSMasterKeyId")),
        "!If [UseCustomerManagedKey, !Ref TableKey, !Ref AWS::NoValue]"
    );
    let ttl = get(p, "TimeToLiveSpecification");
    assert_eq!(
        (str_of(ttl, "AttributeName"), get(ttl, "Enabled")),
        ("expires_at", &Value::Bool(true))
    );
}

#[test]
fn every_function_is_traced_and_logs_json_to_a_retained_log_group() {
    let t = template();
    let globals = get(get(&t, "Globals"), "Function");
    assert_eq!(str_of(globals, "Tracing"), "Active");
    assert_eq!(str_of(get(globals, "LoggingConfig"), "LogFormat"), "JSON");
    for (id, _, _) in functions(&t) {
        let group = resources(&t)
            .values()
            .find(|r| {
                r.get("Type").and_then(Value::as_str) == Some("AWS::Logs::LogGroup")
                    && cfn(get(get(r, "Properties"), "LogGroupName"))
                        == format!("!Sub /aws/lambda/${{{id}}}")
            })
            .unwrap_or_else(|| panic!("{id} has no log group"));
        assert_eq!(
            cfn(get(get(group, "Properties"), "RetentionInDays")),
            "!Ref LogRetentionDays"
        );
    }
}

#[test]
fn samconfig_has_one_environment_per_stage() {
    let text = std::fs::read_to_string(root().join("samconfig.toml")).unwrap();
    for stage in ["dev", "staging", "prod"] {
        let section = format!("[{stage}.deploy.parameters]");
        let start = text
            .find(&section)
            .unwrap_or_else(|| panic!("no {section}"));
        let body = &text[start + section.len()..];
        let body = &body[..body.find("\n[").unwrap_or(body.len())];
        assert!(
            body.contains(&format!("stack_name = \"companies-api-{stage}\"")),
            "{stage}"
        );
        let overrides = body
            .lines()
            .find(|l| l.starts_with("parameter_overrides"))
            .unwrap();
        for key in [
            "Stage=",
            "LogLevel=",
            "LogRetentionDays=",
            "ThrottlingBurstLimit=",
            "ThrottlingRateLimit=",
            "CorsAllowedOrigins=",
            "Api5xxRateThresholdPercent=",
            "HistoryRetentionDays=",
            "ApiP99LatencyThresholdMs=",
        ] {
            assert!(overrides.contains(key), "{stage} lacks {key}");
        }
        assert!(overrides.contains(&format!("Stage={stage}")), "{stage}");
        if stage == "prod" {
            assert!(
                overrides.contains("HistoryRetentionDays=1827"),
                "prod keeps the history five years"
            );
            let cors = overrides.split("CorsAllowedOrigins=").nth(1).unwrap();
            assert!(
                !cors.split_whitespace().next().unwrap().contains('*'),
                "prod CORS must not allow *"
            );
        }
    }
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

/// Every function of the registry is in the alarm on function errors and in the one on
/// throttles, sent to the alarm topic; an alarm can hold at most 10 metrics.
#[test]
fn every_function_has_error_and_throttle_alarms() {
    let t = template();
    let ids: BTreeSet<String> = OPERATIONS.iter().map(Operation::function_id).collect();
    for metric in ["Errors", "Throttles"] {
        let alarm = resources(&t)
            .get(format!("Function{metric}Alarm").as_str())
            .unwrap_or_else(|| panic!("no Function{metric}Alarm"));
        let p = get(alarm, "Properties");
        assert_eq!(
            cfn(get(p, "AlarmActions")),
            "[!If [CreateAlarmTopic, !Ref AlarmTopic, !Ref AlarmTopicArn]]"
        );
        let metrics = get(p, "Metrics").as_sequence().unwrap();
        let mut watched = BTreeSet::new();
        for m in metrics.iter().filter_map(|m| m.get("MetricStat")) {
            let m = get(m, "Metric");
            assert_eq!(
                (str_of(m, "Namespace"), str_of(m, "MetricName")),
                ("AWS/Lambda", metric)
            );
            let function = cfn(&get(m, "Dimensions")[0]["Value"]);
            watched.insert(function.strip_prefix("!Ref ").unwrap().to_owned());
        }
        assert_eq!(watched, ids, "Function{metric}Alarm");
        assert!(
            metrics.len() - 1 <= 10,
            "an alarm takes at most 10 metrics: split Function{metric}Alarm"
        );
    }
}

/// A function that signs cursors gets the key from the stack's secret (without it, it refuses
/// to start when deployed); no other function holds it.
#[test]
fn every_function_that_signs_cursors_has_the_cursor_secret() {
    let t = template();
    for (id, props, _) in functions(&t) {
        let secret = props
            .get("Environment")
            .and_then(|e| e.get("Variables"))
            .and_then(|v| v.get("CURSOR_SECRET"))
            .map(cfn);
        if operation(&id).signs_cursors {
            assert_eq!(
                secret.as_deref(),
                Some("!Sub {{resolve:secretsmanager:${CursorSecret}:SecretString}}"),
                "{id} signs cursors"
            );
        } else {
            assert_eq!(secret, None, "{id} signs no cursor");
        }
    }
}

/// With `TableKeyMode=customer-managed` the table's key lets callers use it only through DynamoDB
/// in the stack's region and account (what DynamoDB requires of them); with `aws-managed` no key
/// is created and the table uses DynamoDB's own. Staging uses the customer-managed key like prod.
#[test]
fn both_key_modes_let_the_functions_use_the_table() {
    let t = template();
    let key = resources(&t).get("TableKey").expect("no TableKey");
    assert_eq!(str_of(key, "Condition"), "UseCustomerManagedKey");
    assert_eq!(
        cfn(get(get(&t, "Conditions"), "UseCustomerManagedKey")),
        "!Equals [!Ref TableKeyMode, customer-managed]"
    );
    let statements = get(get(get(key, "Properties"), "KeyPolicy"), "Statement")
        .as_sequence()
        .unwrap();
    let via = statements
        .iter()
        .find(|s| s.get("Condition").is_some())
        .expect("no statement for use through DynamoDB");
    let condition = get(get(via, "Condition"), "StringEquals");
    assert_eq!(
        cfn(get(condition, "kms:ViaService")),
        "!Sub dynamodb.${AWS::Region}.amazonaws.com"
    );
    assert_eq!(
        cfn(get(condition, "kms:CallerAccount")),
        "!Ref AWS::AccountId"
    );
    let actions = cfn(get(via, "Action"));
    for action in [
        "kms:Encrypt",
        "kms:Decrypt",
        "kms:GenerateDataKey*",
        "kms:DescribeKey",
    ] {
        assert!(actions.contains(action), "{action} missing from {actions}");
    }
    let text = std::fs::read_to_string(root().join("samconfig.toml")).unwrap();
    for stage in ["staging", "prod"] {
        let section = &text[text.find(&format!("[{stage}.deploy.parameters]")).unwrap()..];
        let overrides = section
            .lines()
            .find(|l| l.starts_with("parameter_overrides"))
            .unwrap();
        assert!(
            overrides.contains("TableKeyMode=customer-managed"),
            "{stage} must use the customer-managed key"
        );
    }
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

/// The request budget and the SDK's limits end before the function's timeout, so a slow
/// database is answered 503 by the function, not cut off into a bare 500 by API Gateway.
#[test]
fn sdk_timeouts_and_the_request_budget_fit_inside_the_function_timeout() {
    use companies_edge::runner::{ANSWER_MARGIN, LOCAL_BUDGET};
    use companies_store::dynamo::OPERATION_TIMEOUT;
    let t = template();
    let timeout = get(get(get(&t, "Globals"), "Function"), "Timeout")
        .as_u64()
        .unwrap();
    let timeout = std::time::Duration::from_secs(timeout);
    assert!(OPERATION_TIMEOUT + ANSWER_MARGIN < timeout);
    assert!(LOCAL_BUDGET + ANSWER_MARGIN <= timeout);
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

/// A function builds its DynamoDB client from the Lambda environment alone: the SDK's provider
/// chains (aws-config, and the STS client it brings), the regex engine of `EnvFilter`, HTTP/2
/// and the aws-lc-rs crypto library are not linked into any function (start-up and size: see
/// BENCHMARKS.md).
#[test]
fn functions_link_no_provider_chains_regex_engine_http2_or_aws_lc() {
    {
        let name = "functions";
        let out = std::process::Command::new(env!("CARGO"))
            .args([
                "tree",
                "--offline",
                "-e",
                "normal",
                "--prefix",
                "none",
                "-p",
                name,
            ])
            .current_dir(root())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let tree = String::from_utf8(out.stdout).unwrap();
        for banned in [
            "aws-config ",
            "aws-sdk-sts ",
            "regex ",
            "h2 ",
            "aws-smithy-http-client ",
            "aws-lc-rs ",
        ] {
            assert!(
                !tree.lines().any(|l| l.starts_with(banned)),
                "{name} links {banned}"
            );
        }
    }
}
