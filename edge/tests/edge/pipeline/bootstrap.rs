//! `pipeline/bootstrap.yaml`, one stack per stage: the CloudFormation execution role allows
//! what every resource type of the stage's processed template (the rehearsal's) needs to be
//! created, updated and deleted, by the table below, and nothing the table does not list; it
//! creates roles only under the permissions boundary and passes only the stack's roles; the
//! deploy role trusts only the stage's GitHub environment and only deploys; the artifacts
//! bucket is private, encrypted, versioned, TLS-only, logged and expiring.

use std::collections::{BTreeSet, HashMap};

use serde_yaml::Value;

use crate::rehearsal::{rehearsed, resources, STAGES};
use crate::template::{cfn, render, root};

use super::needed::NEEDED;

fn bootstrap() -> Value {
    let text = std::fs::read_to_string(root().join("pipeline/bootstrap.yaml")).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

/// The bootstrap's parameters for `stage`: its defaults, an example repository.
fn params(b: &Value, stage: &str) -> HashMap<String, String> {
    let mut params: HashMap<String, String> = b["Parameters"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter_map(|(name, p)| Some((name.as_str()?.to_owned(), cfn(p.get("Default")?))))
        .collect();
    params.extend(
        [
            ("Stage", stage),
            ("GitHubOrg", "example"),
            ("GitHubRepo", "companies"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    params
}

/// The statements of a role's inline policies as the stage's bootstrap stack has them.
fn statements(b: &Value, role: &str, stage: &str) -> Vec<Value> {
    let role = render(b, &b["Resources"][role], &params(b, stage)).unwrap();
    role["Properties"]["Policies"]
        .as_sequence()
        .unwrap()
        .iter()
        .flat_map(|p| {
            p["PolicyDocument"]["Statement"]
                .as_sequence()
                .unwrap()
                .clone()
        })
        .collect()
}

fn actions(statement: &Value) -> Vec<String> {
    match &statement["Action"] {
        Value::String(one) => vec![one.to_lowercase()],
        Value::Sequence(many) => many
            .iter()
            .map(|a| a.as_str().unwrap().to_lowercase())
            .collect(),
        other => panic!("Action {other:?}"),
    }
}

/// Whether an IAM action pattern (`*` matches any run of characters) covers `action`.
fn covers(pattern: &str, action: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == action,
        Some((head, tail)) => {
            action.starts_with(head)
                && (0..=action.len() - head.len()).any(|i| covers(tail, &action[head.len() + i..]))
        }
    }
}

#[test]
fn the_execution_role_allows_what_each_resource_type_needs_and_no_more() {
    let b = bootstrap();
    let table: HashMap<&str, (&str, &str)> =
        NEEDED.iter().map(|(t, u, d)| (*t, (*u, *d))).collect();
    for stage in STAGES {
        let statements = statements(&b, "ExecutionRole", stage);
        let effect = |e: &str| -> Vec<String> {
            statements
                .iter()
                .filter(|s| s["Effect"] == e)
                .flat_map(actions)
                .collect()
        };
        let (allowed, denied) = (effect("Allow"), effect("Deny"));
        let may = |action: &str| {
            let action = action.to_lowercase();
            allowed.iter().any(|p| covers(p, &action)) && !denied.iter().any(|p| covers(p, &action))
        };
        let mut types = BTreeSet::new();
        for (id, resource) in resources(rehearsed(stage)) {
            let kind = resource["Type"].as_str().unwrap();
            types.insert(kind);
            let Some((upkeep, delete)) = table.get(kind) else {
                panic!("{stage}: {id} is a {kind}: add its needs to NEEDED and the role");
            };
            let kept = resource["DeletionPolicy"] == "Retain";
            let needed = upkeep
                .split_whitespace()
                .chain(delete.split_whitespace().filter(|_| !kept));
            for action in needed {
                assert!(
                    may(action),
                    "{stage}: {kind} ({id}) needs {action}, not allowed"
                );
            }
        }
        let listed: BTreeSet<String> = NEEDED
            .iter()
            .flat_map(|(_, u, d)| u.split_whitespace().chain(d.split_whitespace()))
            .map(str::to_lowercase)
            .collect();
        for action in &allowed {
            assert!(
                listed.contains(action),
                "{stage}: the execution role allows {action}, which no resource type needs"
            );
        }
        assert!(types.len() > 10, "{stage}: {types:?}");
    }
}

#[test]
fn the_stacks_roles_exist_only_under_the_boundary_and_serve_only_their_services() {
    let b = bootstrap();
    assert_eq!(
        b["Resources"]["PermissionsBoundary"]["Type"].as_str(),
        Some("AWS::IAM::ManagedPolicy")
    );
    let stack_roles =
        "!Sub arn:${AWS::Partition}:iam::${AWS::AccountId}:role/companies-api-${Stage}-*";
    for stage in STAGES {
        for s in statements(&b, "ExecutionRole", stage)
            .iter()
            .filter(|s| s["Effect"] == "Allow")
        {
            let acts = actions(s);
            let boundary = s["Condition"]["StringEquals"]["iam:PermissionsBoundary"].clone();
            for a in [
                "iam:createrole",
                "iam:putrolepolicy",
                "iam:attachrolepolicy",
                "iam:putrolepermissionsboundary",
            ] {
                if acts.iter().any(|p| covers(p, a)) {
                    assert_eq!(cfn(&boundary), "!Ref PermissionsBoundary", "{stage}: {a}");
                    assert_eq!(cfn(&s["Resource"]), stack_roles, "{stage}: {a}");
                }
            }
            if acts.iter().any(|p| covers(p, "iam:passrole")) {
                assert_eq!(cfn(&s["Resource"]), stack_roles, "{stage}: iam:PassRole");
                let to = cfn(&s["Condition"]["StringEquals"]["iam:PassedToService"]);
                assert_eq!(
                    to,
                    "[lambda.amazonaws.com, backup.amazonaws.com, codedeploy.amazonaws.com]"
                );
            }
        }
        let denied: Vec<String> = statements(&b, "ExecutionRole", stage)
            .iter()
            .filter(|s| s["Effect"] == "Deny")
            .flat_map(actions)
            .collect();
        assert!(
            denied.contains(&"iam:deleterolepermissionsboundary".to_owned()),
            "{stage}"
        );
        assert_eq!(
            denied.contains(&"dynamodb:deletetable".to_owned()),
            stage == "prod",
            "{stage}"
        );
    }
    let name = cfn(&b["Resources"]["ExecutionRole"]["Properties"]["RoleName"]);
    assert!(
        !name.contains("companies-api-${Stage}-"),
        "the execution role could pass itself: {name}"
    );
    let trust = cfn(
        &b["Resources"]["ExecutionRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
            ["Principal"]["Service"],
    );
    assert_eq!(trust, "cloudformation.amazonaws.com");
}

#[test]
fn the_deploy_role_trusts_only_its_stages_environment_and_only_deploys() {
    let b = bootstrap();
    let role = &b["Resources"]["DeployRole"]["Properties"];
    let trust = role["AssumeRolePolicyDocument"]["Statement"]
        .as_sequence()
        .unwrap();
    assert_eq!(trust.len(), 1);
    assert_eq!(
        trust[0]["Action"].as_str(),
        Some("sts:AssumeRoleWithWebIdentity")
    );
    assert_eq!(
        trust[0]["Condition"].as_mapping().unwrap().len(),
        1,
        "StringEquals only, no StringLike"
    );
    let equals = &trust[0]["Condition"]["StringEquals"];
    assert_eq!(
        equals["token.actions.githubusercontent.com:aud"].as_str(),
        Some("sts.amazonaws.com")
    );
    assert_eq!(
        cfn(&equals["token.actions.githubusercontent.com:sub"]),
        "!Sub repo:${GitHubOrg}/${GitHubRepo}:environment:${Stage}"
    );
    let provider = &b["Resources"]["GitHubOidcProvider"]["Properties"];
    assert_eq!(
        provider["Url"].as_str(),
        Some("https://token.actions.githubusercontent.com")
    );
    assert_eq!(cfn(&provider["ClientIdList"]), "[sts.amazonaws.com]");
    for s in statements(&b, "DeployRole", "prod") {
        let (acts, on) = (actions(&s), cfn(&s["Resource"]));
        assert_eq!(s["Effect"].as_str(), Some("Allow"));
        let fine = match acts.as_slice() {
            [a] if a == "cloudformation:*" => {
                on.contains("stack/companies-api-${Stage}/*") && on.contains(":changeSet/")
            }
            [a] if a == "cloudformation:createchangeset" => on.contains(":aws:transform/"),
            [a] if a == "iam:passrole" => on == "!GetAtt ExecutionRole.Arn",
            _ => acts.iter().all(|a| a.starts_with("s3:")) && on.contains("ArtifactsBucket"),
        };
        assert!(fine, "the deploy role may {acts:?} on {on}");
    }
}

#[test]
fn the_artifacts_bucket_is_private_encrypted_versioned_logged_and_expiring() {
    let b = bootstrap();
    let p = &b["Resources"]["ArtifactsBucket"]["Properties"];
    let sse = &p["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        ["ServerSideEncryptionByDefault"];
    assert_eq!(sse["SSEAlgorithm"].as_str(), Some("aws:kms"));
    assert_eq!(
        p["VersioningConfiguration"]["Status"].as_str(),
        Some("Enabled")
    );
    for (key, value) in p["PublicAccessBlockConfiguration"].as_mapping().unwrap() {
        assert_eq!(value, &Value::Bool(true), "{key:?}");
    }
    assert_eq!(
        p["PublicAccessBlockConfiguration"]
            .as_mapping()
            .unwrap()
            .len(),
        4
    );
    assert_eq!(
        cfn(&p["LoggingConfiguration"]["DestinationBucketName"]),
        "!Ref ArtifactsAccessLogsBucket"
    );
    let rule = &p["LifecycleConfiguration"]["Rules"][0];
    assert_eq!(
        cfn(&rule["ExpirationInDays"]),
        "!Ref ArtifactsRetentionDays"
    );
    assert!(rule["NoncurrentVersionExpiration"]["NoncurrentDays"]
        .as_u64()
        .is_some());
    for (bucket, policy) in [
        ("ArtifactsBucket", "ArtifactsBucketPolicy"),
        (
            "ArtifactsAccessLogsBucket",
            "ArtifactsAccessLogsBucketPolicy",
        ),
    ] {
        let p = &b["Resources"][policy]["Properties"];
        assert_eq!(cfn(&p["Bucket"]), format!("!Ref {bucket}"));
        let tls = &p["PolicyDocument"]["Statement"][0];
        assert_eq!(
            (tls["Effect"].as_str(), tls["Action"].as_str()),
            (Some("Deny"), Some("s3:*")),
            "{policy}"
        );
        assert_eq!(
            tls["Condition"]["Bool"]["aws:SecureTransport"],
            Value::Bool(false),
            "{policy}"
        );
    }
}
