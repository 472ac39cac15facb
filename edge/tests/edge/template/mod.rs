//! The template test: keeps `template.yaml`, the operation registry (`companies_edge::operations`), the route table the
//! local API serves, the function binaries, the sample events and `openapi.yaml` in step: an
//! operation added in one place and not the others fails here (its alarms, dashboard widgets
//! and saved queries included). What is derived from the registry (dispatch, each binary's
//! name) needs no check. Per stage, the template is read with the parameters `samconfig.toml`
//! deploys it with ([`stage_parameters`], [`condition_holds`], [`render`]).

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use companies::{input, now, Audit, ChangeKind, Company};
use companies_edge::http::IntoResponse;
use companies_edge::operations::{Operation, Resource, OPERATIONS};
use companies_edge::routes::{self, routes, Resolved};
use companies_store::{dynamo, CompanyCreator, MemoryStore};
use serde_yaml::{Mapping, Value};

mod alarms;
mod api;
mod backup;
mod dashboard;
mod data;
mod deploys;
mod domain;
mod functions;
mod hook;

pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `template.yaml`, as SAM CLI and CloudFormation read it.
pub(crate) fn template() -> Value {
    let text = std::fs::read_to_string(root().join("template.yaml")).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

pub(crate) fn resources(t: &Value) -> &Mapping {
    get(t, "Resources").as_mapping().unwrap()
}

/// How the template names the table, its ARN and its index's ARN: the stack's own
/// `CompaniesTable`, or a restored table when `RestoredTableName` is set (docs/decisions/0007).
pub(crate) const TABLE: &str =
    "!If [UseRestoredTable, !Ref RestoredTableName, !Ref CompaniesTable]";
pub(crate) const TABLE_ARN: &str = "!If [UseRestoredTable, !Sub arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${RestoredTableName}, !GetAtt CompaniesTable.Arn]";
pub(crate) fn index_arn(index: &str) -> String {
    format!("!If [UseRestoredTable, !Sub arn:${{AWS::Partition}}:dynamodb:${{AWS::Region}}:${{AWS::AccountId}}:table/${{RestoredTableName}}/index/{index}, !Sub ${{CompaniesTable.Arn}}/index/{index}]")
}

/// Every DynamoDB operation the functions call: the registry's grants, and the transactions
/// their writes of several items go in (granted through the item actions).
pub(crate) fn dynamodb_operations_called() -> BTreeSet<String> {
    let mut called: BTreeSet<String> = OPERATIONS
        .iter()
        .flat_map(|op| op.grants)
        .map(|g| g.action.trim_start_matches("dynamodb:").to_owned())
        .collect();
    called.insert("TransactWriteItems".to_owned());
    called
}

/// The resource `id` of the template.
pub(crate) fn resource<'a>(t: &'a Value, id: &str) -> &'a Value {
    resources(t)
        .get(id)
        .unwrap_or_else(|| panic!("no resource {id}"))
}

pub(crate) fn get<'a>(v: &'a Value, key: &str) -> &'a Value {
    v.get(key)
        .unwrap_or_else(|| panic!("missing {key} in {v:?}"))
}

pub(crate) fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    get(v, key)
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not a string"))
}

/// The pre-traffic hook: a function of the template and a binary of `functions/`, but no
/// operation (`deploys.rs` holds it to its own checks).
pub(crate) const HOOK: &str = "PreTrafficHook";
pub(crate) const HOOK_BINARY: &str = "pre-traffic-hook";

/// (logical id, function properties, binary name) of every operation's function in the
/// template (all its functions but the [`HOOK`]).
pub(crate) fn functions(t: &Value) -> Vec<(String, Value, String)> {
    resources(t)
        .iter()
        .filter(|(id, _)| id.as_str() != Some(HOOK))
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

/// The `functions` crate's binaries but the hook's: one per operation
/// (`functions/src/bin/<name>.rs`).
pub(crate) fn binaries() -> BTreeSet<String> {
    std::fs::read_dir(root().join("functions/src/bin"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .filter(|name| name != HOOK_BINARY)
        .collect()
}

pub(crate) fn events() -> Vec<(String, String)> {
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

/// Renders a CloudFormation value for comparison: `!Tag value` for short-form functions.
pub(crate) fn cfn(v: &Value) -> String {
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

/// The registry's operation of a template function.
pub(crate) fn operation(function_id: &str) -> &'static Operation {
    OPERATIONS
        .iter()
        .find(|op| op.function_id() == function_id)
        .unwrap_or_else(|| panic!("{function_id} is not in the operation registry"))
}

/// The parameters `stage` deploys with: the template's defaults, overridden by the stage's
/// `parameter_overrides` in `samconfig.toml` (each of which must be a template parameter).
pub(crate) fn stage_parameters(t: &Value, stage: &str) -> HashMap<String, String> {
    let declared = get(t, "Parameters").as_mapping().unwrap();
    let mut params: HashMap<String, String> = declared
        .iter()
        .filter_map(|(name, p)| Some((name.as_str()?.to_owned(), cfn(p.get("Default")?))))
        .collect();
    let text = std::fs::read_to_string(root().join("samconfig.toml")).unwrap();
    let section = format!("[{stage}.deploy.parameters]");
    let start = text
        .find(&section)
        .unwrap_or_else(|| panic!("no {section} in samconfig.toml"));
    let body = &text[start + section.len()..];
    let body = &body[..body.find("\n[").unwrap_or(body.len())];
    let line = body
        .lines()
        .find(|l| l.starts_with("parameter_overrides"))
        .unwrap_or_else(|| panic!("{stage} has no parameter_overrides"));
    let overrides = line.split_once('=').unwrap().1.trim().trim_matches('"');
    for pair in overrides.split_whitespace() {
        let (name, value) = pair
            .split_once('=')
            .unwrap_or_else(|| panic!("{stage}: {pair} is not Name=value"));
        assert!(
            declared.contains_key(name),
            "{stage} overrides {name}, which the template does not declare"
        );
        params.insert(name.to_owned(), value.trim_matches('"').to_owned());
    }
    params
}

/// Whether the template's condition `name` holds for `params`.
pub(crate) fn condition_holds(t: &Value, name: &str, params: &HashMap<String, String>) -> bool {
    let condition = get(get(t, "Conditions"), name);
    holds(t, condition, params)
}

/// Evaluates a condition function (`!Equals`, `!Not`, `!And`, `!Or`, `!Condition`), as
/// CloudFormation does for `params`; a rule's `RuleCondition` and `Assert` too.
pub(crate) fn holds(t: &Value, v: &Value, params: &HashMap<String, String>) -> bool {
    let Value::Tagged(f) = v else {
        panic!("{} is not a condition function", cfn(v))
    };
    let args = || f.value.as_sequence().unwrap().iter();
    match f.tag.to_string().as_str() {
        "!Equals" => {
            let sides: Vec<String> = args().map(|a| scalar(t, a, params)).collect();
            sides[0] == sides[1]
        }
        "!Not" => !holds(t, args().next().unwrap(), params),
        "!And" => args().all(|a| holds(t, a, params)),
        "!Or" => args().any(|a| holds(t, a, params)),
        "!Condition" => condition_holds(t, f.value.as_str().unwrap(), params),
        other => panic!("{other} is not a condition function this test evaluates"),
    }
}

/// A literal, or a parameter's value.
fn scalar(t: &Value, v: &Value, params: &HashMap<String, String>) -> String {
    match render(t, v, params) {
        Some(Value::Tagged(f)) => panic!("{} does not resolve to a value", cfn(&Value::Tagged(f))),
        Some(v) => cfn(&v),
        None => panic!("AWS::NoValue where a value is needed"),
    }
}

/// `v` as CloudFormation would deploy it with `params`: `!If` takes its branch, `!Ref` of a
/// parameter its value (a string), `!Ref AWS::NoValue` drops the key or item (`None` at the
/// top); other functions stay, their arguments rendered.
pub(crate) fn render(t: &Value, v: &Value, params: &HashMap<String, String>) -> Option<Value> {
    match v {
        Value::Tagged(f) => match (f.tag.to_string().as_str(), &f.value) {
            ("!If", Value::Sequence(a)) => {
                let holds = condition_holds(t, a[0].as_str().unwrap(), params);
                render(t, &a[if holds { 1 } else { 2 }], params)
            }
            ("!Ref", Value::String(name)) if name == "AWS::NoValue" => None,
            ("!Ref", Value::String(name)) if params.contains_key(name) => {
                Some(Value::String(params[name].clone()))
            }
            // Another function: its arguments rendered (e.g. a `!Sub`'s variables).
            _ => Some(Value::Tagged(Box::new(serde_yaml::value::TaggedValue {
                tag: f.tag.clone(),
                value: render(t, &f.value, params)?,
            }))),
        },
        Value::Mapping(m) => Some(Value::Mapping(
            m.iter()
                .filter_map(|(k, x)| Some((k.clone(), render(t, x, params)?)))
                .collect(),
        )),
        Value::Sequence(items) => Some(Value::Sequence(
            items.iter().filter_map(|x| render(t, x, params)).collect(),
        )),
        other => Some(other.clone()),
    }
}

/// A whole number, written as a number or (a parameter's value) as text.
pub(crate) fn number(v: &Value) -> u64 {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("{} is not a whole number", cfn(v)))
}
