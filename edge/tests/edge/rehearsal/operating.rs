//! What each stage deploys through the pipeline, with the values it adds to `samconfig.toml`'s
//! (`target/rehearsal/<stage>.parameters.json`): every role under the stage's permissions
//! boundary and named whole, and alarms that reach someone.

use serde_json::{json, Value};

use super::{of_type, rehearsed, rehearsed_parameters, resources, STAGES};

/// Whether the template's condition `name` holds for the stage, as the rehearsal evaluated it
/// (`conditions` of its parameters file, `rehearsal`).
fn condition_holds(rehearsal: &Value, name: &str) -> bool {
    rehearsal["conditions"][name]
        .as_bool()
        .unwrap_or_else(|| panic!("the rehearsal evaluated no condition {name}"))
}

/// `v` as CloudFormation deploys it with the values of `rehearsal` (the stage's parameters
/// file): `Fn::If` takes its branch, a `Ref` of a parameter is its value, `Ref AWS::NoValue`
/// drops the key or item (`None` at the top); other functions stay, their arguments deployed.
fn deployed(v: &Value, rehearsal: &Value) -> Option<Value> {
    let params = &rehearsal["parameters"];
    match v {
        Value::Object(o) if o.len() == 1 && o.contains_key("Fn::If") => {
            let a = &o["Fn::If"];
            let branch = if condition_holds(rehearsal, a[0].as_str().unwrap()) {
                1
            } else {
                2
            };
            deployed(&a[branch], rehearsal)
        }
        Value::Object(o) if o.len() == 1 && o.get("Ref") == Some(&json!("AWS::NoValue")) => None,
        Value::Object(o)
            if o.len() == 1
                && o.get("Ref")
                    .and_then(Value::as_str)
                    .is_some_and(|r| params.get(r).is_some()) =>
        {
            Some(params[o["Ref"].as_str().unwrap()].clone())
        }
        Value::Object(o) => Some(Value::Object(
            o.iter()
                .filter_map(|(k, x)| Some((k.clone(), deployed(x, rehearsal)?)))
                .collect(),
        )),
        Value::Array(items) => Some(Value::Array(
            items
                .iter()
                .filter_map(|x| deployed(x, rehearsal))
                .collect(),
        )),
        other => Some(other.clone()),
    }
}

/// `v` as deployed, its `Fn::Sub` of parameters alone made the text CloudFormation makes of
/// it; a `Fn::Sub` that names a resource or pseudo parameter stays.
pub(crate) fn deployed_text(v: &Value, rehearsal: &Value) -> Value {
    let v = deployed(v, rehearsal).unwrap_or(Value::Null);
    let Some(text) = v["Fn::Sub"].as_str() else {
        return v;
    };
    let mut text = text.to_owned();
    for (name, value) in rehearsal["parameters"].as_object().unwrap() {
        text = text.replace(&format!("${{{name}}}"), value.as_str().unwrap_or_default());
    }
    if text.contains("${") {
        json!({"Fn::Sub": text})
    } else {
        Value::String(text)
    }
}

/// The resources of `kind` that `stage` creates (their condition holds), as deployed.
fn created(stage: &str, kind: &str) -> Vec<(String, Value)> {
    let rehearsal = rehearsed_parameters(stage);
    of_type(rehearsed(stage), kind)
        .into_iter()
        .filter(|(_, r)| {
            r["Condition"]
                .as_str()
                .is_none_or(|c| condition_holds(&rehearsal, c))
        })
        .map(|(id, r)| (id.clone(), deployed(r, &rehearsal).unwrap()))
        .collect()
}

/// The execution role the pipeline deploys with creates a role only under the stage's
/// boundary, and only named `companies-api-<stage>-*`: every role the stack creates carries
/// the boundary the pipeline passes, and its generated name (`<stack>-<logical id>-<12
/// characters>`) fits IAM's 64 whole, so CloudFormation does not cut the prefix short.
#[test]
fn every_role_carries_the_pipelines_boundary_under_a_whole_name() {
    for stage in STAGES {
        let p = rehearsed_parameters(stage);
        let boundary = &p["parameters"]["PermissionsBoundaryArn"];
        assert!(
            boundary.as_str().is_some_and(
                |b| b.ends_with(&format!(":policy/companies-api-pipeline-{stage}-boundary"))
            ),
            "{stage}: rehearsed with the boundary {boundary}"
        );
        let stack = p["stack"].as_str().unwrap();
        assert_eq!(stack, format!("companies-api-{stage}"));
        let roles = created(stage, "AWS::IAM::Role");
        assert!(roles.len() > 10, "{stage}: {} roles", roles.len());
        for (id, role) in &roles {
            assert_eq!(
                &role["Properties"]["PermissionsBoundary"], boundary,
                "{stage}: {id} without the pipeline's boundary"
            );
            assert!(
                role["Properties"].get("RoleName").is_none(),
                "{stage}: {id} names itself"
            );
            let name = stack.len() + 1 + id.len() + 1 + 12;
            assert!(
                name <= 64,
                "{stage}: {id}'s generated name has {name} characters, over 64"
            );
        }
    }
}

/// In staging and prod, every alarm publishes to the stack's topic, encrypted with the key
/// CloudWatch may use, and the address the pipeline passes is subscribed to it.
#[test]
fn every_alarm_of_staging_and_prod_reaches_the_pipelines_address() {
    for stage in ["staging", "prod"] {
        let p = rehearsed_parameters(stage);
        let email = &p["parameters"]["AlarmEmail"];
        assert!(
            email.as_str().is_some_and(|e| e.contains('@')),
            "{stage}: {email}"
        );
        let topics = created(stage, "AWS::SNS::Topic");
        let [(topic, body)] = topics.as_slice() else {
            panic!("{stage}: topics {topics:?}, not one")
        };
        assert_eq!(
            body["Properties"]["KmsMasterKeyId"],
            json!({"Fn::GetAtt": ["AlarmTopicKey", "Arn"]}),
            "{stage}: the topic's key"
        );
        assert!(resources(rehearsed(stage)).contains_key("AlarmTopicKey"));
        let subscriptions = created(stage, "AWS::SNS::Subscription");
        let to_topic = json!({"Ref": topic});
        assert!(
            subscriptions.iter().any(|(_, s)| {
                let s = &s["Properties"];
                s["Protocol"] == "email" && &s["Endpoint"] == email && s["TopicArn"] == to_topic
            }),
            "{stage}: {email} is not subscribed to {topic}"
        );
        let alarms = created(stage, "AWS::CloudWatch::Alarm");
        assert!(alarms.len() > 20, "{stage}: {} alarms", alarms.len());
        for (id, alarm) in &alarms {
            assert_eq!(
                alarm["Properties"]["AlarmActions"],
                json!([to_topic]),
                "{stage}: {id} does not publish to the topic"
            );
        }
    }
}
