//! The template test: keeps `template.yaml`, the operation registry (`companies_edge::operations`), the route table the
//! local API serves, the function binaries, the sample events and `openapi.yaml` in step: an
//! operation added in one place and not the others fails here. What is derived from the
//! registry (dispatch, each binary's name, the dashboard's widgets) needs no check.

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
mod data;
mod functions;

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

pub(crate) fn get<'a>(v: &'a Value, key: &str) -> &'a Value {
    v.get(key)
        .unwrap_or_else(|| panic!("missing {key} in {v:?}"))
}

pub(crate) fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    get(v, key)
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not a string"))
}

/// (logical id, function properties, binary name) of every function in the template.
pub(crate) fn functions(t: &Value) -> Vec<(String, Value, String)> {
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

/// The `functions` crate's binaries: one per operation (`functions/src/bin/<name>.rs`).
pub(crate) fn binaries() -> BTreeSet<String> {
    std::fs::read_dir(root().join("functions/src/bin"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
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
