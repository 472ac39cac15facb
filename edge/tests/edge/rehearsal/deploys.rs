//! What each stage's deploys are, as SAM's transform makes them: per function one alias `live`
//! on a published version, moved by one CodeDeploy deployment group after the pre-traffic hook;
//! outside dev gradually, stopped and rolled back by the function's alarms; every route's
//! integration on the alias; and a new version for a change of the stage's parameter values
//! alone (serverless-application-model#3820), shown by rehearsing twice.

use std::path::PathBuf;

use super::operating::deployed_text;
use super::*;

/// The stage's deployment type in `samconfig.toml` (the template's default otherwise).
fn deployment_type(stage: &str) -> String {
    let text = std::fs::read_to_string(root().join("samconfig.toml")).unwrap();
    let section = &text[text.find(&format!("[{stage}.deploy.parameters]")).unwrap()..];
    section
        .lines()
        .find(|l| l.starts_with("parameter_overrides"))
        .and_then(|l| l.split("DeploymentType=").nth(1))
        .map(|rest| rest.split([' ', '"']).next().unwrap().to_owned())
        .unwrap_or_else(|| "Canary10Percent10Minutes".to_owned())
}

fn reference(v: &Value) -> &str {
    v["Ref"]
        .as_str()
        .unwrap_or_else(|| panic!("{v} is not a Ref"))
}

#[test]
fn every_function_is_moved_by_its_own_deployment_group_through_its_live_alias() {
    for stage in STAGES {
        let t = rehearsed(stage);
        let kind = deployment_type(stage);
        let groups = of_type(t, "AWS::CodeDeploy::DeploymentGroup");
        assert_eq!(
            groups.len(),
            OPERATIONS.len(),
            "{stage}: one group per function"
        );
        for deployed in functions_of(stage) {
            let id = &deployed.id;
            let aliases: Vec<_> = of_type(t, "AWS::Lambda::Alias")
                .into_iter()
                .filter(|(_, a)| a["Properties"]["FunctionName"]["Ref"] == id.as_str())
                .collect();
            assert_eq!(aliases.len(), 1, "{stage}: {id}: one alias");
            let alias = aliases[0].1;
            assert_eq!(alias["Properties"]["Name"], "live");
            let version = alias["Properties"]["FunctionVersion"]["Fn::GetAtt"][0]
                .as_str()
                .unwrap();
            assert_eq!(resources(t)[version]["Type"], "AWS::Lambda::Version");
            assert_eq!(
                resources(t)[version]["Properties"]["FunctionName"]["Ref"],
                id.as_str()
            );
            let update = &alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"];
            let group_id = reference(&update["DeploymentGroupName"]);
            assert_eq!(
                reference(&update["BeforeAllowTrafficHook"]),
                "PreTrafficHook"
            );
            let group = &resources(t)[group_id]["Properties"];
            assert_eq!(
                group["DeploymentConfigName"]["Fn::Sub"][1]["ConfigName"], kind,
                "{stage}: {id}"
            );
            assert_eq!(group["ServiceRoleArn"]["Fn::GetAtt"][0], "CodeDeployRole");
            let rollback = &group["AutoRollbackConfiguration"];
            assert_eq!(rollback["Enabled"], true);
            for event in ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"] {
                assert!(
                    rollback["Events"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|e| e == event),
                    "{stage}: {id} does not roll back on {event}"
                );
            }
            let alarms: Vec<&str> = group["AlarmConfiguration"]["Alarms"]
                .as_array()
                .map(|a| a.iter().map(|x| reference(&x["Name"])).collect())
                .unwrap_or_default();
            let name = id.trim_end_matches("Function");
            if stage == "dev" {
                assert_eq!(kind, "AllAtOnce");
                assert!(alarms.is_empty(), "{stage}: {id}: {alarms:?}");
            } else {
                assert_ne!(kind, "AllAtOnce", "{stage}");
                assert_eq!(group["AlarmConfiguration"]["Enabled"], true);
                assert_eq!(
                    alarms,
                    [
                        format!("{name}CanaryErrorsAlarm"),
                        format!("{name}CanaryThrottlesAlarm"),
                        format!("{name}Canary5xxRateAlarm")
                    ],
                    "{stage}: {id}"
                );
                for alarm in &alarms {
                    assert_eq!(resources(t)[*alarm]["Type"], "AWS::CloudWatch::Alarm");
                }
            }
        }
    }
}

#[test]
fn every_route_calls_its_functions_live_alias() {
    for stage in STAGES {
        let t = rehearsed(stage);
        let (_, api) = of_type(t, "AWS::ApiGatewayV2::Api")
            .into_iter()
            .next()
            .expect("the HTTP API");
        let mut routes = 0;
        for (path, methods) in api["Properties"]["Body"]["paths"].as_object().unwrap() {
            for (method, operation) in methods.as_object().unwrap() {
                let Some(uri) =
                    operation["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"].as_str()
                else {
                    continue;
                };
                routes += 1;
                assert!(
                    uri.contains("Aliaslive}/invocations"),
                    "{stage}: {method} {path} calls {uri}, not an alias"
                );
            }
        }
        let expected: usize = OPERATIONS.iter().map(|op| op.routes.len()).sum();
        assert_eq!(routes, expected, "{stage}");
    }
}

/// The version resources of every function of a rehearsal written to `out`.
fn versions(out: &std::path::Path, stage: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(out.join(format!("{stage}.json"))).unwrap();
    let t: Value = serde_json::from_str(&text).unwrap();
    of_type(&t, "AWS::Lambda::Version")
        .into_iter()
        .map(|(id, _)| id.clone())
        .collect()
}

#[test]
fn a_change_of_a_parameter_value_alone_publishes_new_versions() {
    let stage = "dev";
    let same = root().join("target/rehearsal");
    let _ = rehearsed(stage);
    let before = versions(&same, stage);
    assert_eq!(
        before.len(),
        OPERATIONS.len() + 1,
        "the functions' and the hook's"
    );
    let changed = stages::samconfig_with(stage, "LogLevel", "WARN");
    let out_dir = changed.parent().unwrap().join("out");
    let out = run_rehearsal(&[
        "--samconfig",
        changed.to_str().unwrap(),
        "--stage",
        stage,
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = versions(&out_dir, stage);
    std::fs::remove_dir_all(changed.parent().unwrap()).unwrap();
    assert_eq!(after.len(), before.len());
    assert!(
        after.is_disjoint(&before),
        "a LogLevel change left versions in place: {:?}",
        after.intersection(&before).collect::<Vec<_>>()
    );
}

/// `samconfig.toml` with `extra` (`Name=value …`) added to `stage`'s `parameter_overrides`, in a
/// folder of its own.
fn samconfig_plus(stage: &str, extra: &str, tag: &str) -> PathBuf {
    let text = std::fs::read_to_string(root().join("samconfig.toml")).unwrap();
    let section = text.find(&format!("[{stage}.deploy.parameters]")).unwrap();
    let start = section + text[section..].find("\nparameter_overrides").unwrap() + 1;
    let end = start + text[start..].find('\n').unwrap();
    let line = text[start..end].trim_end_matches('"').to_owned() + " " + extra + "\"";
    let dir =
        std::env::temp_dir().join(format!("companies-rehearsal-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("samconfig.toml");
    std::fs::write(&path, format!("{}{line}{}", &text[..start], &text[end..])).unwrap();
    path
}

/// Whether `t`'s HTTP API answers at its `execute-api` address.
fn execute_api_disabled(t: &Value) -> bool {
    let (_, api) = of_type(t, "AWS::ApiGatewayV2::Api")
        .into_iter()
        .next()
        .unwrap();
    api["Properties"]["Body"]["servers"][0]["x-amazon-apigateway-endpoint-configuration"]
        ["disableExecuteApiEndpoint"]
        .as_bool()
        .expect("SAM writes the endpoint configuration")
}

#[test]
fn a_custom_domain_rehearses_as_the_only_address_and_needs_its_certificate() {
    for stage in STAGES {
        let t = rehearsed(stage);
        assert!(!execute_api_disabled(t), "{stage}: no domain, execute-api");
        let rehearsal = rehearsed_parameters(stage);
        assert_eq!(
            deployed_text(&t["Outputs"]["ApiUrl"]["Value"], &rehearsal),
            serde_json::json!({"Fn::Sub": "https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"}),
            "{stage}: ApiUrl"
        );
    }
    let certificate =
        "arn:aws:acm:sa-east-1:123456789012:certificate/0f0e0d0c-0b0a-0908-0706-050403020100";
    let config = samconfig_plus(
        "prod",
        &format!("DomainName=api.example.com.br CertificateArn={certificate} HostedZoneId=Z0123456789ABC"),
        "domain",
    );
    let dir = config.parent().unwrap().to_owned();
    let out = run_rehearsal(&[
        "--samconfig",
        config.to_str().unwrap(),
        "--stage",
        "prod",
        "--out",
        dir.join("out").to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(dir.join("out/prod.json")).unwrap();
    let t: Value = serde_json::from_str(&text).unwrap();
    assert!(
        execute_api_disabled(&t),
        "with a domain, execute-api is off"
    );
    let text = std::fs::read_to_string(dir.join("out/prod.parameters.json")).unwrap();
    let params: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        deployed_text(&t["Outputs"]["ApiUrl"]["Value"], &params),
        "https://api.example.com.br/v1",
        "with a domain, ApiUrl is the domain's v1"
    );
    let mapping = &resources(&t)["ApiDomainMapping"];
    assert_eq!(mapping["Properties"]["ApiMappingKey"], "v1");
    let stage_id = mapping["DependsOn"].as_str().unwrap();
    assert_eq!(
        resources(&t)[stage_id]["Type"],
        "AWS::ApiGatewayV2::Stage",
        "the mapping waits for SAM's stage"
    );
    for id in ["ApiDomain", "ApiDomainRecord"] {
        assert!(resources(&t).contains_key(id), "{id}");
    }

    let bare = samconfig_plus("prod", "DomainName=api.example.com.br", "domain-bare");
    let bare_dir = bare.parent().unwrap().to_owned();
    let out = run_rehearsal(&[
        "--samconfig",
        bare.to_str().unwrap(),
        "--stage",
        "prod",
        "--out",
        bare_dir.join("out").to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&bare_dir).unwrap();
    assert!(
        !out.status.success(),
        "a domain without its certificate passed"
    );
    assert!(
        stderr.contains("DomainNeedsCertificate") && stderr.contains("prod"),
        "{stderr}"
    );
}

/// The logical ids `v` depends on: `Ref`, `Fn::GetAtt`, `${…}` in `Fn::Sub` (not its own
/// variables), `DependsOn`, and what an `UpdatePolicy` names (CloudFormation orders by those
/// too).
fn dependencies(v: &Value, ids: &BTreeSet<&str>, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (key, x) in m {
                match (key.as_str(), x) {
                    ("Ref", Value::String(id)) if ids.contains(id.as_str()) => {
                        out.insert(id.clone());
                    }
                    ("Fn::GetAtt", Value::Array(a)) => {
                        if let Some(id) = a.first().and_then(Value::as_str) {
                            out.insert(id.to_owned());
                        }
                    }
                    ("Fn::Sub", sub) => {
                        let (text, vars) = match sub {
                            Value::Array(a) => (a[0].as_str().unwrap_or(""), a.get(1)),
                            other => (other.as_str().unwrap_or(""), None),
                        };
                        for piece in text.split("${").skip(1) {
                            let name = piece.split(['}', '.']).next().unwrap_or("");
                            if ids.contains(name) {
                                out.insert(name.to_owned());
                            }
                        }
                        if let Some(vars) = vars {
                            dependencies(vars, ids, out);
                        }
                    }
                    ("DependsOn", Value::String(id)) => {
                        out.insert(id.clone());
                    }
                    ("DependsOn", Value::Array(a)) => {
                        out.extend(a.iter().filter_map(Value::as_str).map(str::to_owned));
                    }
                    _ => dependencies(x, ids, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|x| dependencies(x, ids, out)),
        _ => {}
    }
}

/// CloudFormation refuses a template whose resources depend on each other in a circle (what
/// neither `sam validate` nor cfn-lint on `template.yaml` sees: the circle is made by SAM's
/// transform, e.g. routes → aliases → deployment groups → alarms → the API).
#[test]
fn no_stage_has_a_dependency_cycle() {
    for stage in STAGES {
        let t = rehearsed(stage);
        let ids: BTreeSet<&str> = resources(t).keys().map(String::as_str).collect();
        let graph: BTreeMap<&str, BTreeSet<String>> = resources(t)
            .iter()
            .map(|(id, r)| {
                let mut deps = BTreeSet::new();
                dependencies(r, &ids, &mut deps);
                deps.remove(id.as_str());
                (id.as_str(), deps)
            })
            .collect();
        // Depth-first, colouring: 1 on the path, 2 done.
        fn visit<'a>(
            id: &'a str,
            graph: &'a BTreeMap<&str, BTreeSet<String>>,
            colour: &mut BTreeMap<&'a str, u8>,
            path: &mut Vec<&'a str>,
        ) -> Option<Vec<String>> {
            match colour.get(id) {
                Some(2) => return None,
                Some(1) => {
                    let start = path.iter().position(|p| *p == id).unwrap_or(0);
                    return Some(path[start..].iter().map(|p| p.to_string()).collect());
                }
                _ => {}
            }
            colour.insert(id, 1);
            path.push(id);
            for dep in graph.get(id).into_iter().flatten() {
                if let Some((dep, _)) = graph.get_key_value(dep.as_str()) {
                    if let Some(cycle) = visit(dep, graph, colour, path) {
                        return Some(cycle);
                    }
                }
            }
            path.pop();
            colour.insert(id, 2);
            None
        }
        let mut colour = BTreeMap::new();
        for id in graph.keys() {
            let cycle = visit(id, &graph, &mut colour, &mut Vec::new());
            assert_eq!(cycle, None, "{stage}: a dependency cycle");
        }
    }
}
