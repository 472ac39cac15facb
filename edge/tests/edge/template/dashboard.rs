//! Observability: the dashboard shows every function of the registry (cold starts, p50 and
//! p99 duration, errors, throttles, the canary's alias) and the table's throttles and system
//! errors; saved Logs Insights queries read every function's log group by the fields the
//! runner writes; the API's access-log line joins the function's by the Lambda request id.

use std::collections::BTreeMap;

use companies_edge::runner::{METRICS_NAMESPACE, METRIC_COLD_STARTS};
use serde_json::Value as Json;

use super::*;

/// The alias the canary deploys to (`AutoPublishAlias`), whose metrics the dashboard shows.
const ALIAS: &str = "live";

/// One metric of a dashboard widget: namespace, name, dimensions, statistic.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Metric {
    namespace: String,
    name: String,
    dimensions: BTreeMap<String, String>,
    stat: String,
}

fn metric(namespace: &str, name: &str, dimensions: &[(&str, &str)], stat: &str) -> Metric {
    Metric {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        dimensions: dimensions
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        stat: stat.to_owned(),
    }
}

/// The dashboard's body as CloudWatch reads it (`${...}` left as written).
fn body(t: &Value) -> Json {
    let p = get(
        resources(t).get("Dashboard").expect("no Dashboard"),
        "Properties",
    );
    serde_json::from_str(&sub_body(p).0).expect("DashboardBody is not JSON")
}

/// The text of the `!Sub` of DashboardBody and its variables (`${TableName}`: the table the
/// stack uses, its own or a restored one).
fn sub_body(p: &Value) -> (String, Mapping) {
    let Value::Tagged(sub) = get(p, "DashboardBody") else {
        panic!("DashboardBody is not a !Sub")
    };
    assert_eq!(sub.tag.to_string(), "!Sub");
    let parts = sub.value.as_sequence().expect("!Sub [text, variables]");
    let variables = parts[1].as_mapping().unwrap().clone();
    assert_eq!(cfn(&variables["TableName"]), TABLE);
    (parts[0].as_str().unwrap().to_owned(), variables)
}

/// The metrics of each widget, with CloudWatch's shorthand (`.` the same as the row above at
/// that place, `...` the rest of the row above) written out; expressions left out.
fn widgets(body: &Json) -> Vec<BTreeSet<Metric>> {
    let mut out = Vec::new();
    for w in body["widgets"].as_array().unwrap() {
        let props = &w["properties"];
        let default_stat = props["stat"].as_str().unwrap_or("Average");
        let (mut previous, mut metrics) = (Vec::<String>::new(), BTreeSet::new());
        for row in props["metrics"].as_array().into_iter().flatten() {
            let row = row.as_array().unwrap();
            let (fields, options) = match row.last() {
                Some(o @ Json::Object(_)) => (&row[..row.len() - 1], Some(o)),
                _ => (&row[..], None),
            };
            if fields.is_empty() {
                continue;
            }
            let mut expanded: Vec<String> = Vec::new();
            for f in fields {
                match f.as_str().unwrap() {
                    "..." => expanded.extend(previous[expanded.len()..].iter().cloned()),
                    "." => expanded.push(previous[expanded.len()].clone()),
                    other => expanded.push(other.to_owned()),
                }
            }
            let stat = options
                .and_then(|o| o["stat"].as_str())
                .unwrap_or(default_stat);
            let dimensions = expanded[2..]
                .chunks(2)
                .map(|d| (d[0].clone(), d[1].clone()))
                .collect();
            metrics.insert(Metric {
                namespace: expanded[0].clone(),
                name: expanded[1].clone(),
                dimensions,
                stat: stat.to_owned(),
            });
            previous = expanded;
        }
        out.push(metrics);
    }
    out
}

/// Some widget shows every metric `each` gives for `keys` (one graph, not scattered).
fn assert_one_widget_shows<K: std::fmt::Debug>(
    widgets: &[BTreeSet<Metric>],
    what: &str,
    keys: &[K],
    each: impl Fn(&K) -> Metric,
) {
    let wanted: Vec<Metric> = keys.iter().map(each).collect();
    let best = widgets
        .iter()
        .max_by_key(|w| wanted.iter().filter(|m| w.contains(m)).count())
        .unwrap();
    let missing: Vec<&K> = keys
        .iter()
        .zip(&wanted)
        .filter(|(_, m)| !best.contains(m))
        .map(|(k, _)| k)
        .collect();
    assert!(missing.is_empty(), "no widget shows {what} of {missing:?}");
}

#[test]
fn the_dashboard_shows_every_function() {
    let t = template();
    let w = widgets(&body(&t));
    let ids: Vec<String> = OPERATIONS.iter().map(Operation::function_id).collect();
    let names: Vec<&str> = OPERATIONS.iter().map(|op| op.name).collect();
    assert_one_widget_shows(&w, "cold starts", &names, |name| {
        metric(
            METRICS_NAMESPACE,
            METRIC_COLD_STARTS,
            &[("function", name), ("stage", "${Stage}")],
            "Sum",
        )
    });
    for (name, stat) in [
        ("Duration", "p50"),
        ("Duration", "p99"),
        ("Errors", "Sum"),
        ("Throttles", "Sum"),
    ] {
        assert_one_widget_shows(&w, &format!("{name} {stat}"), &ids, |id| {
            let function = format!("${{{id}}}");
            metric("AWS/Lambda", name, &[("FunctionName", &function)], stat)
        });
    }
}

/// Lambda publishes an alias's metrics with the `Resource` dimension `<function>:<alias>`: the
/// canary's errors and duration, for every function. A function that publishes an alias
/// publishes this one.
#[test]
fn the_dashboard_shows_the_canary_alias_of_every_function() {
    let t = template();
    let w = widgets(&body(&t));
    let ids: Vec<String> = OPERATIONS.iter().map(Operation::function_id).collect();
    for (name, stat) in [("Errors", "Sum"), ("Duration", "p99")] {
        assert_one_widget_shows(&w, &format!("alias {name} {stat}"), &ids, |id| {
            let function = format!("${{{id}}}");
            let resource = format!("${{{id}}}:{ALIAS}");
            let dimensions = [("FunctionName", function.as_str()), ("Resource", &resource)];
            metric("AWS/Lambda", name, &dimensions, stat)
        });
    }
    let globals = get(get(&t, "Globals"), "Function");
    for (id, props, _) in functions(&t) {
        let alias = props
            .get("AutoPublishAlias")
            .or_else(|| globals.get("AutoPublishAlias"));
        if let Some(alias) = alias {
            assert_eq!(cfn(alias), ALIAS, "{id} publishes another alias");
        }
    }
}

/// DynamoDB publishes ThrottledRequests and SystemErrors per operation: the dashboard shows
/// every operation the functions call (the registry's grants, and their transactions), and
/// the table's read and write throttle events.
#[test]
fn the_dashboard_shows_the_table_throttles_and_system_errors() {
    let t = template();
    let w = widgets(&body(&t));
    let called: Vec<String> = dynamodb_operations_called().into_iter().collect();
    for name in ["ThrottledRequests", "SystemErrors"] {
        assert_one_widget_shows(&w, name, &called, |operation| {
            let dimensions = [("TableName", "${TableName}"), ("Operation", operation)];
            metric("AWS/DynamoDB", name, &dimensions, "Sum")
        });
    }
    assert_one_widget_shows(
        &w,
        "throttle events",
        &["ReadThrottleEvents", "WriteThrottleEvents"],
        |name| {
            metric(
                "AWS/DynamoDB",
                name,
                &[("TableName", "${TableName}")],
                "Sum",
            )
        },
    );
}

/// Every `${...}` of the body names a parameter, a resource (or its attribute) or a pseudo
/// parameter of the stack.
#[test]
fn every_name_the_dashboard_substitutes_exists() {
    let t = template();
    let p = get(resources(&t).get("Dashboard").unwrap(), "Properties");
    let (text, variables) = sub_body(p);
    let params = get(&t, "Parameters").as_mapping().unwrap();
    for piece in text.split("${").skip(1) {
        let name = &piece[..piece.find('}').unwrap()];
        let head = name.split('.').next().unwrap();
        assert!(
            name.starts_with("AWS::")
                || variables.contains_key(head)
                || params.contains_key(head)
                || resources(&t).contains_key(head),
            "the dashboard substitutes ${{{name}}}, which the stack does not have"
        );
    }
}

/// The saved queries of the stage (`companies-api-<stage>/…`) read every function's log group,
/// one finds a request by id on both sides (the API's access log too), and what they read is
/// what the runner and the access log write.
#[test]
fn saved_queries_read_every_function_log_group() {
    let t = template();
    let groups: BTreeSet<String> = OPERATIONS
        .iter()
        .map(|op| format!("!Ref {}", op.function_id().replace("Function", "LogGroup")))
        .collect();
    let mut queries = BTreeMap::new();
    for (id, r) in resources(&t) {
        if r["Type"].as_str() != Some("AWS::Logs::QueryDefinition") {
            continue;
        }
        let p = get(r, "Properties");
        let name = cfn(get(p, "Name"));
        let short = name
            .strip_prefix("!Sub companies-api-${Stage}/")
            .unwrap_or_else(|| panic!("{id:?}: {name} is not under companies-api-<stage>/"));
        let read: BTreeSet<String> = get(p, "LogGroupNames")
            .as_sequence()
            .unwrap()
            .iter()
            .map(cfn)
            .collect();
        if read.iter().any(|g| groups.contains(g)) {
            assert!(
                read.is_superset(&groups),
                "{short} misses function log groups"
            );
        }
        let query = str_of(p, "QueryString").to_owned();
        assert!(queries.insert(short.to_owned(), (read, query)).is_none());
    }
    let wanted = |short: &str| {
        queries
            .get(short)
            .unwrap_or_else(|| panic!("no saved query {short}: {:?}", queries.keys()))
    };
    let (_, slowest) = wanted("slowest-requests");
    assert!(
        slowest.contains("filter message = \"request\"")
            && slowest.contains("sort latency_ms desc")
    );
    let (_, errors) = wanted("errors-by-route");
    assert!(errors.contains("status >= 400") && errors.contains("by route"));
    let (read, by_id) = wanted("request-by-id");
    assert!(read.contains("!Ref ApiAccessLogGroup") && read.is_superset(&groups));
    assert!(by_id.contains("filter @message like"));
    let (read, _) = wanted("gateway-errors");
    assert_eq!(read, &BTreeSet::from(["!Ref ApiAccessLogGroup".to_owned()]));
    // What the function lines carry: the runner's log calls name each field the queries read.
    let runner = std::fs::read_to_string(root().join("edge/src/runner/mod.rs")).unwrap();
    for field in [
        "route",
        "path",
        "status",
        "latency_ms",
        "apigw_request_id",
        "request_id",
        "trace_id",
        "\"request\"",
        "\"request failed\"",
    ] {
        assert!(runner.contains(field), "the runner logs no {field}");
    }
    let format = access_log_format(&t);
    for (read, query) in queries.values() {
        if read.contains("!Ref ApiAccessLogGroup") {
            for field in [
                "requestId",
                "integrationRequestId",
                "routeKey",
                "status",
                "integrationError",
                "authorizerError",
            ] {
                if query.contains(field) {
                    assert!(format.get(field).is_some(), "the access log has no {field}");
                }
            }
        }
    }
}

fn access_log_format(t: &Value) -> Json {
    let api = get(resources(t).get("HttpApi").unwrap(), "Properties");
    let format = str_of(get(api, "AccessLogSettings"), "Format");
    serde_json::from_str(format).expect("the access-log format is not JSON")
}

/// The API's access-log line carries the integration's request id, the Lambda request id the
/// function logs as `request_id`: one id finds the gateway's line and the function's.
#[test]
fn the_access_log_joins_the_function_log() {
    let format = access_log_format(&template());
    assert_eq!(format["requestId"], "$context.requestId");
    assert_eq!(
        format["integrationRequestId"],
        "$context.integration.requestId"
    );
}
