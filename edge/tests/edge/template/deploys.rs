//! Deploys: every function answers through a `live` alias that a change of code, properties or
//! the stage's parameter values republishes; CodeDeploy moves the alias after the pre-traffic
//! hook, gradually outside dev, for at least the window of the alarms that roll it back; the
//! hook itself is named as CodeDeploy needs and may do only what it does; every role the stack
//! creates carries the pipeline's permissions boundary. (What SAM makes of it per stage:
//! `rehearsal.rs`.)

use super::*;

const ALIAS: &str = "live";

/// Every function of the template: the operations' and the hook.
fn all_functions(t: &Value) -> Vec<(String, Value)> {
    let mut all: Vec<(String, Value)> =
        functions(t).into_iter().map(|(id, p, _)| (id, p)).collect();
    all.push((
        HOOK.to_owned(),
        get(resource(t, HOOK), "Properties").clone(),
    ));
    all
}

/// The parameters `v` refers to (`!Ref Name`, `${Name}` in `!Sub`).
fn parameters_in(t: &Value, v: &Value, out: &mut BTreeSet<String>) {
    let declared = get(t, "Parameters").as_mapping().unwrap();
    match v {
        Value::Tagged(f) => {
            let tag = f.tag.to_string();
            match (&*tag, &f.value) {
                ("!Ref", Value::String(name)) if declared.contains_key(name.as_str()) => {
                    out.insert(name.clone());
                }
                ("!Sub", Value::String(text)) => {
                    for part in text.split("${").skip(1) {
                        let name = part.split('}').next().unwrap_or("");
                        if declared.contains_key(name) {
                            out.insert(name.to_owned());
                        }
                    }
                }
                _ => parameters_in(t, &f.value, out),
            }
        }
        Value::Mapping(m) => m.values().for_each(|x| parameters_in(t, x, out)),
        Value::Sequence(items) => items.iter().for_each(|x| parameters_in(t, x, out)),
        _ => {}
    }
}

/// A function's `DEPLOYED_CONFIG`: the `Fn::ToJsonString` mapping it is made of.
fn deployed_config(id: &str, properties: &Value) -> Mapping {
    let value = get(
        get(get(properties, "Environment"), "Variables"),
        "DEPLOYED_CONFIG",
    );
    get(value, "Fn::ToJsonString")
        .as_mapping()
        .unwrap_or_else(|| panic!("{id}: DEPLOYED_CONFIG is not an Fn::ToJsonString mapping"))
        .clone()
}

#[test]
fn a_change_of_code_properties_or_parameter_values_publishes_a_new_version() {
    let t = template();
    let globals = get(get(&t, "Globals"), "Function");
    assert_eq!(str_of(globals, "AutoPublishAlias"), ALIAS);
    // What a function runs with: every parameter its properties (and the Globals they take)
    // refer to, but how it is deployed and its role's boundary (the role, not the function).
    let mut used = BTreeSet::new();
    let runs_with = |v: &Value, used: &mut BTreeSet<String>| {
        let mut v = v.clone();
        if let Some(m) = v.as_mapping_mut() {
            m.remove("DeploymentPreference");
            m.remove("PermissionsBoundary");
            if let Some(vars) = m
                .get_mut("Environment")
                .and_then(|e| e.get_mut("Variables"))
                .and_then(Value::as_mapping_mut)
            {
                vars.remove("DEPLOYED_CONFIG");
            }
        }
        parameters_in(&t, &v, used);
    };
    runs_with(globals, &mut used);
    let all = all_functions(&t);
    for (_, properties) in &all {
        runs_with(properties, &mut used);
    }
    assert!(
        used.contains("LogLevel") && used.contains("Stage"),
        "{used:?}"
    );
    for (id, properties) in &all {
        assert_eq!(
            properties
                .get("AutoPublishAliasAllProperties")
                .and_then(Value::as_bool),
            Some(true),
            "{id}: a change of its properties must publish a version"
        );
        let config = deployed_config(id, properties);
        let keys: BTreeSet<String> = config
            .keys()
            .map(|k| k.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            keys, used,
            "{id}: DEPLOYED_CONFIG must hold every parameter it runs with"
        );
        for (key, value) in &config {
            assert_eq!(
                cfn(value),
                format!("!Ref {}", key.as_str().unwrap()),
                "{id}"
            );
        }
    }
}

/// The time CodeDeploy gives a new version before it takes all the traffic, in minutes:
/// `Canary10Percent5Minutes` → 5, `Linear10PercentEvery2Minutes` → 18 (nine steps after the
/// first), `AllAtOnce` → 0.
fn bake_minutes(deployment_type: &str) -> u64 {
    let minutes = |s: &str| -> u64 {
        s.trim_end_matches("Minutes")
            .trim_end_matches("Minute")
            .parse()
            .unwrap_or_else(|_| panic!("{deployment_type}: no minutes"))
    };
    if let Some(rest) = deployment_type.strip_prefix("Canary10Percent") {
        minutes(rest)
    } else if let Some(rest) = deployment_type.strip_prefix("Linear10PercentEvery") {
        9 * minutes(rest)
    } else {
        assert_eq!(deployment_type, "AllAtOnce");
        0
    }
}

/// The seconds of data an alarm looks at before it fires.
fn alarm_window(t: &Value, alarm: &str) -> u64 {
    let p = get(resource(t, alarm), "Properties");
    let periods = number(get(p, "EvaluationPeriods"));
    let period = match p.get("Period") {
        Some(period) => number(period),
        None => get(p, "Metrics")
            .as_sequence()
            .unwrap()
            .iter()
            .filter_map(|m| m.get("MetricStat"))
            .map(|s| number(get(s, "Period")))
            .max()
            .unwrap_or_else(|| panic!("{alarm} has no period")),
    };
    period * periods
}

#[test]
fn outside_dev_a_version_takes_traffic_gradually_and_its_alarms_roll_it_back() {
    let t = template();
    let preference = get(get(get(&t, "Globals"), "Function"), "DeploymentPreference");
    assert_eq!(cfn(get(preference, "Type")), "!Ref DeploymentType");
    assert_eq!(
        cfn(get(get(preference, "Hooks"), "PreTraffic")),
        format!("!Ref {HOOK}")
    );
    for (id, properties, _) in functions(&t) {
        let name = id.trim_end_matches("Function");
        let alarms = get(get(&properties, "DeploymentPreference"), "Alarms");
        let errors = format!("{name}CanaryErrorsAlarm");
        let throttles = format!("{name}CanaryThrottlesAlarm");
        let rate = format!("{name}Canary5xxRateAlarm");
        assert_eq!(
            cfn(alarms),
            format!("!If [GradualDeploys, [!Ref {errors}, !Ref {throttles}, !Ref {rate}], []]"),
            "{id}"
        );
        five_xx_rate_of(&t, &rate, operation(&id).name);
        for (alarm, metric) in [(&errors, "Errors"), (&throttles, "Throttles")] {
            let a = resource(&t, alarm);
            assert_eq!(str_of(a, "Condition"), "GradualDeploys", "{alarm}");
            let p = get(a, "Properties");
            assert_eq!(str_of(p, "Namespace"), "AWS/Lambda");
            assert_eq!(str_of(p, "MetricName"), metric);
            assert_eq!(
                cfn(get(p, "Dimensions")),
                cfn(&serde_yaml::from_str::<Value>(&format!(
                    "[{{Name: FunctionName, Value: !Ref {id}}}, {{Name: Resource, Value: !Sub \"${{{id}}}:{ALIAS}\"}}]"
                ))
                .unwrap()),
                "{alarm} must watch {id}'s alias"
            );
            // At least one in a minute.
            assert_eq!(
                (number(get(p, "Threshold")), alarm_window(&t, alarm)),
                (1, 60),
                "{alarm}"
            );
            assert_eq!(
                str_of(p, "ComparisonOperator"),
                "GreaterThanOrEqualToThreshold"
            );
            assert_eq!(str_of(p, "Statistic"), "Sum");
            assert!(
                cfn(get(p, "AlarmActions")).contains("AlarmTopic"),
                "{alarm} notifies"
            );
        }
    }
    let windows = OPERATIONS
        .iter()
        .flat_map(|op| {
            let name = op.function_id().trim_end_matches("Function").to_owned();
            ["Errors", "Throttles", "5xxRate"].map(|kind| format!("{name}Canary{kind}Alarm"))
        })
        .map(|a| alarm_window(&t, &a))
        .max()
        .into_iter();
    let rule = get(get(&t, "Rules"), "GradualDeploysOutsideDev");
    for stage in ["dev", "staging", "prod"] {
        let params = stage_parameters(&t, stage);
        let kind = &params["DeploymentType"];
        let gradual = condition_holds(&t, "GradualDeploys", &params);
        assert_eq!(gradual, stage != "dev", "{stage}: {kind}");
        if gradual {
            for window in windows.clone() {
                assert!(
                    bake_minutes(kind) * 60 >= window,
                    "{stage}: {kind} is shorter than an alarm's window ({window} s)"
                );
            }
        }
        let applies = holds(&t, get(rule, "RuleCondition"), &params);
        let assertion = get(&get(rule, "Assertions")[0], "Assert");
        assert!(
            !applies || holds(&t, assertion, &params),
            "{stage} breaks the rule"
        );
        let mut all_at_once = params.clone();
        all_at_once.insert("DeploymentType".into(), "AllAtOnce".into());
        let refused = |params: &HashMap<String, String>| {
            holds(&t, get(rule, "RuleCondition"), params) && !holds(&t, assertion, params)
        };
        assert_eq!(
            refused(&all_at_once),
            stage != "dev",
            "{stage}: AllAtOnce must be refused outside dev"
        );
        // Unless a reason is given (a table switch: a canary would split the writes).
        all_at_once.insert("AllAtOnceBecause".into(), "table-switch".into());
        assert!(!refused(&all_at_once), "{stage}: AllAtOnce with a reason");
    }
}

/// `alarm` watches the share of 5xx among the answers of `function` (its request metrics by
/// status class, `CompaniesApi`), at the stage's API threshold, 3 of 5 minutes; it names no
/// resource of the API (whose routes depend on the aliases its deploys watch: a cycle).
fn five_xx_rate_of(t: &Value, alarm: &str, function: &str) {
    let a = resource(t, alarm);
    assert_eq!(str_of(a, "Condition"), "GradualDeploys", "{alarm}");
    let p = get(a, "Properties");
    assert_eq!(cfn(get(p, "Threshold")), "!Ref Api5xxRateThresholdPercent");
    assert_eq!(str_of(p, "ComparisonOperator"), "GreaterThanThreshold");
    assert_eq!(
        (
            number(get(p, "EvaluationPeriods")),
            number(get(p, "DatapointsToAlarm"))
        ),
        (5, 3)
    );
    let metrics = get(p, "Metrics").as_sequence().unwrap();
    let classes: BTreeSet<String> = metrics
        .iter()
        .filter_map(|m| m.get("MetricStat"))
        .map(|stat| {
            let metric = get(stat, "Metric");
            assert_eq!(
                (str_of(metric, "Namespace"), str_of(metric, "MetricName")),
                ("CompaniesApi", "requests")
            );
            assert_eq!(
                (str_of(stat, "Stat"), number(get(stat, "Period"))),
                ("Sum", 60)
            );
            let dims = get(metric, "Dimensions").as_sequence().unwrap();
            assert_eq!(str_of(&dims[0], "Value"), function, "{alarm}");
            assert_eq!(cfn(get(&dims[1], "Value")), "!Ref Stage");
            str_of(&dims[2], "Value").to_owned()
        })
        .collect();
    assert_eq!(
        classes,
        ["2xx", "3xx", "4xx", "5xx"].map(String::from).into()
    );
    let returned: Vec<&str> = metrics
        .iter()
        .filter(|m| m.get("ReturnData").and_then(Value::as_bool) == Some(true))
        .map(|m| str_of(m, "Expression"))
        .collect();
    assert_eq!(returned.len(), 1);
    assert!(returned[0].contains("100 * FILL(r5, 0)"), "{}", returned[0]);
    assert!(
        !format!("{a:?}").contains("HttpApi"),
        "{alarm} names the API"
    );
}

/// The pipeline's execution role creates a role only under the bootstrap's permissions
/// boundary: every role the stack creates carries `PermissionsBoundaryArn` when it is given —
/// the functions' (Globals), AWS Backup's and CodeDeploy's (the template's own: SAM's generated
/// one takes no boundary). What SAM makes of it per stage: `rehearsal.rs`.
#[test]
fn every_role_the_stack_creates_carries_the_permissions_boundary() {
    let t = template();
    let boundary = "!If [HasPermissionsBoundary, !Ref PermissionsBoundaryArn, !Ref AWS::NoValue]";
    let globals = get(get(&t, "Globals"), "Function");
    assert_eq!(cfn(get(globals, "PermissionsBoundary")), boundary);
    assert_eq!(
        cfn(get(get(globals, "DeploymentPreference"), "Role")),
        "!GetAtt CodeDeployRole.Arn"
    );
    let roles: Vec<&str> = resources(&t)
        .iter()
        .filter(|(_, r)| r.get("Type").and_then(Value::as_str) == Some("AWS::IAM::Role"))
        .map(|(id, r)| {
            let id = id.as_str().unwrap();
            assert_eq!(
                cfn(get(get(r, "Properties"), "PermissionsBoundary")),
                boundary,
                "{id}"
            );
            id
        })
        .collect();
    assert!(
        roles.contains(&"CodeDeployRole") && roles.contains(&"BackupRole"),
        "{roles:?}"
    );
    for (id, properties) in all_functions(&t) {
        assert!(properties.get("Role").is_none(), "{id} brings its own role");
        assert!(
            properties.get("PermissionsBoundary").is_none(),
            "{id} overrides the boundary"
        );
    }
}
