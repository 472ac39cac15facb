//! What differs by stage in the processed templates (log retention, the table's key and
//! protections) against the stage's own parameters, CloudFormation's quotas, and the rehearsal
//! failing, naming stage, parameter and rule, on a value CloudFormation would refuse.

use std::path::PathBuf;

use serde_json::Value;

use super::*;
use crate::template::{condition_holds, stage_parameters, template};

/// A whole number, written as a number or (a resolved parameter) as text.
fn number(v: &Value) -> u64 {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("{v} is not a whole number"))
}

/// Every log group of the stack (each function's, the API's access log) keeps its lines the
/// stage's `LogRetentionDays`; every function of the registry has its own.
#[test]
fn log_groups_keep_the_stages_retention() {
    let source = template();
    for stage in STAGES {
        let t = rehearsed(stage);
        let days: u64 = stage_parameters(&source, stage)["LogRetentionDays"]
            .parse()
            .unwrap();
        let groups = of_type(t, "AWS::Logs::LogGroup");
        for (id, group) in &groups {
            assert_eq!(
                number(&group["Properties"]["RetentionInDays"]),
                days,
                "{stage}: {id}"
            );
        }
        for f in functions_of(stage) {
            let name = format!("/aws/lambda/${{{}}}", f.id);
            assert!(
                groups
                    .iter()
                    .any(|(_, g)| g["Properties"]["LogGroupName"]["Fn::Sub"] == name.as_str()),
                "{stage}: {} has no log group",
                f.id
            );
        }
    }
}

/// The table is encrypted with KMS everywhere, with the stack's customer-managed key (rotated)
/// in staging and prod; deletion protection and Retain in prod only (the table, the user pool).
#[test]
fn the_table_has_the_stages_key_and_protections() {
    let source = template();
    for stage in STAGES {
        let t = rehearsed(stage);
        let params = stage_parameters(&source, stage);
        let table = &resources(t)["CompaniesTable"];
        let sse = &table["Properties"]["SSESpecification"];
        assert_eq!(
            (&sse["SSEEnabled"], &sse["SSEType"]),
            (&Value::Bool(true), &Value::from("KMS")),
            "{stage}"
        );
        let customer_managed = !sse["KMSMasterKeyId"].is_null();
        if customer_managed {
            assert_eq!(sse["KMSMasterKeyId"]["Ref"], "TableKey", "{stage}");
            let key = &resources(t)["TableKey"];
            assert_eq!(key["Type"], "AWS::KMS::Key", "{stage}");
            assert_eq!(key["Properties"]["EnableKeyRotation"], true, "{stage}");
            let condition = key["Condition"].as_str().unwrap_or_default();
            assert!(
                condition.is_empty() || condition_holds(&source, condition, &params),
                "{stage}: the table names TableKey, which the stage does not create"
            );
        }
        assert_eq!(
            customer_managed,
            stage != "dev",
            "{stage}: staging and prod use the customer-managed key, dev DynamoDB's"
        );
        let prod = stage == "prod";
        let policy = if prod { "Retain" } else { "Delete" };
        assert_eq!(table["DeletionPolicy"], policy, "{stage}");
        assert_eq!(table["UpdateReplacePolicy"], policy, "{stage}");
        assert_eq!(
            table["Properties"]["DeletionProtectionEnabled"], prod,
            "{stage}"
        );
        let pool = &resources(t)["UserPool"]["Properties"]["DeletionProtection"];
        assert_eq!(pool, if prod { "ACTIVE" } else { "INACTIVE" }, "{stage}");
    }
}

/// The processed template is within CloudFormation's quotas, with no transform left.
#[test]
fn the_processed_templates_fit_cloudformations_quotas() {
    for stage in STAGES {
        let t = rehearsed(stage);
        assert!(t.get("Transform").is_none(), "{stage}: a transform is left");
        let body = serde_json::to_string(t).unwrap().len();
        assert!(body <= 1024 * 1024, "{stage}: {body} bytes, over 1 MB");
        let count = |section: &str| {
            t.get(section)
                .and_then(Value::as_object)
                .map_or(0, |m| m.len())
        };
        for (section, limit) in [("Resources", 500), ("Parameters", 200), ("Outputs", 200)] {
            assert!(
                count(section) <= limit,
                "{stage}: {} {section}, over {limit}",
                count(section)
            );
        }
    }
}

/// `samconfig.toml` with `name=value` in `stage`'s `parameter_overrides`, in a folder of its own.
pub(crate) fn samconfig_with(stage: &str, name: &str, value: &str) -> PathBuf {
    let text = std::fs::read_to_string(root().join("samconfig.toml")).unwrap();
    let section = text.find(&format!("[{stage}.deploy.parameters]")).unwrap();
    let line_start = section + text[section..].find("\nparameter_overrides").unwrap() + 1;
    let line_end = line_start + text[line_start..].find('\n').unwrap();
    let line = &text[line_start..line_end];
    let (head, rest) = line.split_once(&format!("{name}=")).unwrap();
    let tail = &rest[rest.find([' ', '"']).unwrap()..];
    let line = format!("{head}{name}={value}{tail}");
    let dir = std::env::temp_dir().join(format!(
        "companies-rehearsal-{}-{stage}-{name}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("samconfig.toml");
    let edited = format!("{}{line}{}", &text[..line_start], &text[line_end..]);
    std::fs::write(&path, edited).unwrap();
    path
}

/// The rehearsal of `stage` with one bad value: it fails, and its message names the stage,
/// the parameter and the rule or constraint that refuses the value; nothing is written.
fn refused(stage: &str, name: &str, value: &str, rule: &str) {
    let config = samconfig_with(stage, name, value);
    let out_dir = config.parent().unwrap().join("out");
    let out = run_rehearsal(&[
        "--samconfig",
        config.to_str().unwrap(),
        "--stage",
        stage,
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    std::fs::remove_dir_all(config.parent().unwrap()).unwrap();
    assert!(!out.status.success(), "{stage} {name}={value} passed");
    let finding = stderr
        .lines()
        .find(|l| l.starts_with(&format!("rehearse: {stage}: ")))
        .unwrap_or_else(|| panic!("no finding for {stage}:\n{stderr}"));
    for word in [name, rule] {
        assert!(finding.contains(word), "{finding:?} does not name {word}");
    }
    assert!(!out_dir.join(format!("{stage}.json")).exists());
}

#[test]
fn a_value_its_parameter_does_not_allow_fails_naming_stage_parameter_and_constraint() {
    refused("dev", "LogRetentionDays", "8", "AllowedValues");
    refused("staging", "ThrottlingRateLimit", "0", "MinValue");
}

#[test]
fn a_value_a_rule_refuses_fails_naming_stage_parameter_and_rule() {
    refused(
        "prod",
        "CorsAllowedOrigins",
        "*",
        "rule NoWildcardCorsInProd",
    );
}

/// The pipeline's values are rehearsed as its `--parameter-overrides` adds them: a staging or
/// prod environment without an alarm address is refused before anything deploys; dev's is not.
#[test]
fn a_stage_whose_alarms_reach_nobody_is_refused_outside_dev() {
    for (stage, refusal) in [("dev", false), ("staging", true), ("prod", true)] {
        let out_dir = std::env::temp_dir().join(format!(
            "companies-rehearsal-{}-{stage}-no-alarm-email",
            std::process::id()
        ));
        let out = run_rehearsal(&[
            "--stage",
            stage,
            "--pipeline",
            "AlarmEmail=",
            "--out",
            out_dir.to_str().unwrap(),
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let _ = std::fs::remove_dir_all(&out_dir);
        assert_eq!(!out.status.success(), refusal, "{stage}:\n{stderr}");
        if refusal {
            assert!(
                stderr.contains(&format!(
                    "rehearse: {stage}: rule AlarmsReachSomeoneOutsideDev"
                )) && stderr.contains("AlarmEmail="),
                "{stderr}"
            );
        }
    }
}

/// Daily recovery points kept longer than the history's retention (monthly points, the vault
/// lock's maximum) are refused, though no rule can compare the two numbers.
#[test]
fn daily_backups_kept_past_the_historys_retention_are_refused() {
    refused(
        "staging",
        "HistoryRetentionDays",
        "7",
        "BackupDailyRetentionDays",
    );
}

/// The rehearsal's own pieces: overrides read as SAM reads them, each constraint, the rule
/// functions, the deploy-time functions kept for CloudFormation.
#[test]
fn the_rehearsal_passes_its_self_test() {
    let out = run_rehearsal(&["--self-test"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
