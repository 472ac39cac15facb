//! The pre-traffic hook: named as CodeDeploy's role for Lambda requires, told every
//! operation's new version, and allowed to invoke those and to report to CodeDeploy, nothing
//! else.

use super::*;
use companies_edge::deploy_hook::target_variable;

#[test]
fn the_pre_traffic_hook_probes_every_function_and_may_do_nothing_else() {
    let t = template();
    let hook = resource(&t, HOOK);
    assert_eq!(
        str_of(get(get(hook, "Metadata"), "BuildProperties"), "Binary"),
        HOOK_BINARY
    );
    assert!(root()
        .join(format!("functions/src/bin/{HOOK_BINARY}.rs"))
        .exists());
    let p = get(hook, "Properties");
    // CodeDeploy's role for Lambda invokes only functions so named.
    assert!(
        cfn(get(p, "FunctionName")).starts_with("!Sub CodeDeployHook_"),
        "{}",
        cfn(get(p, "FunctionName"))
    );
    assert_eq!(cfn(get(get(p, "DeploymentPreference"), "Enabled")), "false");
    let vars = get(get(p, "Environment"), "Variables")
        .as_mapping()
        .unwrap();
    let targets: BTreeSet<(String, String)> = vars
        .iter()
        .filter(|(k, _)| k.as_str().is_some_and(|k| k.starts_with("TARGET_")))
        .map(|(k, v)| (k.as_str().unwrap().to_owned(), cfn(v)))
        .collect();
    let expected: BTreeSet<(String, String)> = OPERATIONS
        .iter()
        .map(|op| {
            (
                target_variable(op),
                format!("!Ref {}.Version", op.function_id()),
            )
        })
        .collect();
    assert_eq!(targets, expected, "one new version to probe per operation");
    assert!(p.get("ManagedPolicyArns").is_none());
    let policies = get(p, "Policies").as_sequence().unwrap();
    assert_eq!(policies.len(), 1);
    let statements = get(&policies[0], "Statement").as_sequence().unwrap();
    let granted: BTreeSet<(String, String)> = statements
        .iter()
        .flat_map(|s| {
            assert_eq!(str_of(s, "Effect"), "Allow");
            assert!(s.get("Condition").is_none());
            let action = str_of(s, "Action").to_owned();
            let resources: Vec<Value> = match get(s, "Resource") {
                Value::Sequence(items) => items.clone(),
                one => vec![one.clone()],
            };
            resources
                .into_iter()
                .map(move |r| (action.clone(), cfn(&r)))
        })
        .collect();
    let mut allowed: BTreeSet<(String, String)> = OPERATIONS
        .iter()
        .map(|op| {
            (
                "lambda:InvokeFunction".to_owned(),
                format!("!Sub ${{{}.Arn}}:*", op.function_id()),
            )
        })
        .collect();
    allowed.insert((
        "codedeploy:PutLifecycleEventHookExecutionStatus".to_owned(),
        "!Sub arn:${AWS::Partition}:codedeploy:${AWS::Region}:${AWS::AccountId}:deploymentgroup:${ServerlessDeploymentApplication}/*".to_owned(),
    ));
    assert_eq!(granted, allowed);
    let log_group = get(resource(&t, &format!("{HOOK}LogGroup")), "Properties");
    assert_eq!(
        cfn(get(log_group, "LogGroupName")),
        format!("!Sub /aws/lambda/${{{HOOK}}}")
    );
    assert_eq!(
        cfn(get(log_group, "RetentionInDays")),
        "!Ref LogRetentionDays"
    );
}
