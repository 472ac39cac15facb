//! The deploy rehearsal (`scripts/rehearse.py`, `make rehearse`): each stage's template as
//! CloudFormation would deploy it (`samconfig.toml`'s parameters and rules checked, then
//! AWS::LanguageExtensions and SAM's transform), held to the operation registry: every route of
//! the HTTP API with its scope and its integration on its operation's function, every function
//! role with exactly its operation's grants; and to the stage: its log retention, its table's
//! key and protections, CloudFormation's quotas. A bad value fails naming the stage, the
//! parameter and the rule (`stages.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Output};
use std::sync::OnceLock;

use companies_edge::operations::{Operation, Resource, OPERATIONS};
use serde_json::{Map, Value};

use crate::template::root;

mod deploys;
mod operating;
mod stages;

pub(crate) const STAGES: [&str; 3] = ["dev", "staging", "prod"];

/// Runs `scripts/rehearse.py ARGS` from the repository root with the SAM CLI's Python
/// (`scripts/tools.sh sam` installs it on first use, once: the tests wait for that).
pub(crate) fn run_rehearsal(args: &[&str]) -> Output {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let status = Command::new(root().join("scripts/tools.sh"))
            .args(["sam", "true"])
            .status()
            .expect("scripts/tools.sh runs");
        assert!(
            status.success(),
            "scripts/tools.sh sam could not install SAM CLI"
        );
    });
    Command::new(root().join("scripts/tools.sh"))
        .args(["sam", "python", "scripts/rehearse.py"])
        .args(args)
        .current_dir(root())
        .output()
        .expect("scripts/tools.sh runs")
}

/// `stage`'s processed template (`target/rehearsal/<stage>.json`): the rehearsal runs once per
/// test binary, for every stage.
pub(crate) fn rehearsed(stage: &str) -> &'static Value {
    static TEMPLATES: OnceLock<BTreeMap<&'static str, Value>> = OnceLock::new();
    let all = TEMPLATES.get_or_init(|| {
        let out = run_rehearsal(&["--out", "target/rehearsal"]);
        assert!(
            out.status.success(),
            "the rehearsal failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        STAGES
            .iter()
            .map(|stage| {
                let path = root().join(format!("target/rehearsal/{stage}.json"));
                let text = std::fs::read_to_string(&path).unwrap();
                (*stage, serde_json::from_str(&text).unwrap())
            })
            .collect()
    });
    &all[stage]
}

/// The values `stage` was rehearsed with (`target/rehearsal/<stage>.parameters.json`): its
/// `stack`, `region`, every parameter's value, and the names of those the pipeline adds.
pub(crate) fn rehearsed_parameters(stage: &str) -> Value {
    rehearsed(stage);
    let path = root().join(format!("target/rehearsal/{stage}.parameters.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

pub(crate) fn resources(t: &Value) -> &Map<String, Value> {
    t["Resources"].as_object().expect("Resources")
}

/// The resources of `kind` in a processed template, by logical id.
pub(crate) fn of_type<'a>(t: &'a Value, kind: &str) -> Vec<(&'a String, &'a Value)> {
    resources(t)
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .collect()
}

/// One operation's function as a stage deploys it.
pub(crate) struct Deployed {
    pub op: &'static Operation,
    /// Its logical id, `<Name>Function`.
    pub id: String,
    /// Its `AWS::Lambda::Function`.
    pub function: &'static Value,
    /// Its execution role (`AWS::IAM::Role`).
    pub role: &'static Value,
}

/// The registry's functions in `stage`'s processed template, in the registry's order.
pub(crate) fn functions_of(stage: &str) -> Vec<Deployed> {
    let t = rehearsed(stage);
    OPERATIONS
        .iter()
        .map(|op| {
            let id = op.function_id();
            let function = &resources(t)[&id];
            assert_eq!(function["Type"], "AWS::Lambda::Function", "{stage}: {id}");
            let role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
                .as_str()
                .unwrap_or_else(|| panic!("{stage}: {id}'s role is not one of the stack's"));
            let role = &resources(t)[role_id];
            assert_eq!(role["Type"], "AWS::IAM::Role", "{stage}: {role_id}");
            Deployed {
                op,
                id,
                function,
                role,
            }
        })
        .collect()
}

/// The function an integration or permission targets: `Fn` of `${Fn.Arn}`, `${FnAliaslive}`
/// (SAM points them at the alias `live` once a function publishes one), `{"Ref": Fn}`.
fn target(t: &Value, reference: &str) -> String {
    let name = reference.trim_start_matches("${").trim_end_matches('}');
    if let Some(function) = name.strip_suffix(".Arn") {
        return function.to_owned();
    }
    if let Some(function) = name.strip_suffix("Aliaslive") {
        let alias = &resources(t)[name];
        assert_eq!(alias["Type"], "AWS::Lambda::Alias", "{name}");
        assert_eq!(alias["Properties"]["Name"], "live", "{name}");
        assert_eq!(
            alias["Properties"]["FunctionName"]["Ref"], function,
            "{name}"
        );
        return function.to_owned();
    }
    name.to_owned()
}

/// Every route of the HTTP API: the registry's method and path, behind the JWT authorizer with
/// its operation's scope, integrated (Lambda proxy, payload 2.0) with its operation's function
/// or that function's alias `live`, which API Gateway may invoke for that route only.
#[test]
fn every_route_is_the_registrys_with_its_scope_and_function() {
    let expected: BTreeMap<(String, String), (String, String)> = OPERATIONS
        .iter()
        .flat_map(|op| {
            op.routes.iter().map(move |r| {
                let route = (r.method.to_owned(), r.path.to_owned());
                (route, (op.scope.as_str().to_owned(), op.function_id()))
            })
        })
        .collect();
    for stage in STAGES {
        let t = rehearsed(stage);
        assert!(
            of_type(t, "AWS::ApiGatewayV2::Route").is_empty(),
            "{stage}: routes outside the API's OpenAPI body: check them here too"
        );
        let apis = of_type(t, "AWS::ApiGatewayV2::Api");
        assert_eq!(apis.len(), 1, "{stage}: one HTTP API");
        let body = &apis[0].1["Properties"]["Body"];
        let jwt = &body["components"]["securitySchemes"]["JwtAuthorizer"];
        let authorizer = &jwt["x-amazon-apigateway-authorizer"];
        assert_eq!(authorizer["type"], "jwt", "{stage}");
        assert_eq!(
            authorizer["identitySource"], "$request.header.Authorization",
            "{stage}"
        );
        let mut deployed = BTreeMap::new();
        for (path, item) in body["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let route = format!("{} {path}", method.to_uppercase());
                let integration = &op["x-amazon-apigateway-integration"];
                assert_eq!(integration["type"], "aws_proxy", "{stage}: {route}");
                assert_eq!(
                    integration["payloadFormatVersion"], "2.0",
                    "{stage}: {route}"
                );
                let uri = integration["uri"]["Fn::Sub"].as_str().unwrap();
                let reference = uri
                    .split("/functions/")
                    .nth(1)
                    .and_then(|rest| rest.strip_suffix("/invocations"))
                    .unwrap_or_else(|| panic!("{stage}: {route}: {uri}"));
                let security = op["security"].as_array().unwrap();
                assert_eq!(security.len(), 1, "{stage}: {route}: one authorizer");
                let scopes = security[0]["JwtAuthorizer"]
                    .as_array()
                    .unwrap_or_else(|| panic!("{stage}: {route} is not behind the JWT authorizer"));
                let scope = match scopes.as_slice() {
                    [one] => one.as_str().unwrap().to_owned(),
                    other => panic!("{stage}: {route}: scopes {other:?}, not one"),
                };
                let function = target(t, reference);
                let key = (method.to_uppercase(), path.clone());
                deployed.insert(key, (scope, function));
            }
        }
        assert_eq!(deployed, expected, "{stage}: routes against the registry");
        for ((method, path), (_, function)) in &expected {
            let source = format!("/{method}{}", star_parameters(path));
            let allowed = of_type(t, "AWS::Lambda::Permission")
                .into_iter()
                .filter(|(_, p)| p["Properties"]["Principal"] == "apigateway.amazonaws.com")
                .filter(|(_, p)| {
                    p["Properties"]["SourceArn"]["Fn::Sub"][0]
                        .as_str()
                        .is_some_and(|arn| arn.ends_with(&source))
                })
                .any(|(_, p)| {
                    let name = &p["Properties"]["FunctionName"]["Ref"];
                    target(t, name.as_str().unwrap_or_default()) == *function
                });
            assert!(
                allowed,
                "{stage}: API Gateway may not invoke {function} for {method} {path}"
            );
        }
    }
}

/// `/companies/{id}` → `/companies/*`, as the permission's source ARN has it.
fn star_parameters(path: &str) -> String {
    path.split('/')
        .map(|part| if part.starts_with('{') { "*" } else { part })
        .collect::<Vec<_>>()
        .join("/")
}

/// Every Lambda function of the stack is a registry operation's, or a CodeDeploy hook
/// (`CodeDeployHook_…`, which CodeDeploy's policy lets it invoke), which serves no route; the
/// operations that sign cursors, and only they, get the key from the stack's secret.
#[test]
fn every_function_is_the_registrys_or_a_codedeploy_hook() {
    for stage in STAGES {
        let t = rehearsed(stage);
        for f in functions_of(stage) {
            let key = &f.function["Properties"]["Environment"]["Variables"]["CURSOR_SECRET"];
            let from_secret =
                key["Fn::Sub"] == "{{resolve:secretsmanager:${CursorSecret}:SecretString}}";
            assert_eq!(
                from_secret, f.op.signs_cursors,
                "{stage}: {}'s CURSOR_SECRET",
                f.id
            );
            assert_eq!(key.is_null(), !f.op.signs_cursors, "{stage}: {}", f.id);
        }
        let registry: BTreeSet<String> = functions_of(stage).into_iter().map(|f| f.id).collect();
        for (id, function) in of_type(t, "AWS::Lambda::Function") {
            let name = &function["Properties"]["FunctionName"];
            let name = name.as_str().or_else(|| name["Fn::Sub"].as_str());
            assert!(
                registry.contains(id) || name.is_some_and(|n| n.starts_with("CodeDeployHook_")),
                "{stage}: {id} is neither an operation of the registry nor a CodeDeploy hook"
            );
        }
    }
}

/// Each function's role: taken by Lambda only, SAM's two managed policies (logs, X-Ray), and
/// inline exactly its operation's grants: on the table only its partitions (LeadingKeys), on
/// the index by name.
#[test]
fn every_function_role_grants_exactly_the_registrys_grants() {
    let managed = BTreeSet::from([
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
    ]);
    for stage in STAGES {
        for f in functions_of(stage) {
            let (id, p) = (&f.id, &f.role["Properties"]);
            let trust = &p["AssumeRolePolicyDocument"]["Statement"];
            assert_eq!(trust.as_array().map(Vec::len), Some(1), "{stage}: {id}");
            assert_eq!(
                trust[0]["Principal"],
                serde_json::json!({"Service": ["lambda.amazonaws.com"]})
            );
            let arns: BTreeSet<&str> = p["ManagedPolicyArns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap())
                .collect();
            assert_eq!(arns, managed, "{stage}: {id}'s managed policies");
            let mut granted = BTreeSet::new();
            let policies = p["Policies"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default();
            for s in policies
                .iter()
                .flat_map(|p| p["PolicyDocument"]["Statement"].as_array().unwrap())
            {
                assert_eq!(s["Effect"], "Allow", "{stage}: {id}");
                let on = if s["Resource"]
                    == serde_json::json!({"Fn::GetAtt": ["CompaniesTable", "Arn"]})
                {
                    let leading: BTreeSet<&str> = s["Condition"]["ForAllValues:StringLike"]
                        ["dynamodb:LeadingKeys"]
                        .as_array()
                        .unwrap_or_else(|| {
                            panic!("{stage}: {id}: table statement without LeadingKeys")
                        })
                        .iter()
                        .map(|k| k.as_str().unwrap())
                        .collect();
                    let partitions: Vec<String> =
                        f.op.partitions.iter().map(|p| format!("{p}*")).collect();
                    let partitions: BTreeSet<&str> =
                        partitions.iter().map(String::as_str).collect();
                    assert_eq!(leading, partitions, "{stage}: {id}: LeadingKeys");
                    let conditions = s["Condition"].as_object().map(Map::len);
                    assert_eq!(conditions, Some(1), "{stage}: {id}: only LeadingKeys");
                    "table".to_owned()
                } else {
                    let sub = s["Resource"]["Fn::Sub"].as_str().unwrap_or_default();
                    let index = sub.strip_prefix("${CompaniesTable.Arn}/index/");
                    let index = index.filter(|i| !i.contains('*') && s.get("Condition").is_none());
                    format!(
                        "index/{}",
                        index.unwrap_or_else(|| panic!("{stage}: {id}: {}", s["Resource"]))
                    )
                };
                let actions = match &s["Action"] {
                    Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
                    one => vec![one.as_str().unwrap()],
                };
                for action in actions {
                    granted.insert(format!("{action} {on}"));
                }
            }
            let listed: BTreeSet<String> =
                f.op.grants
                    .iter()
                    .map(|g| match g.on {
                        Resource::Table => format!("{} table", g.action),
                        Resource::Index(name) => format!("{} index/{name}", g.action),
                    })
                    .collect();
            assert_eq!(
                granted, listed,
                "{stage}: {id} against the registry's grants"
            );
        }
    }
}
