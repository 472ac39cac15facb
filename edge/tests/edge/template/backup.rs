//! Backups: staging and prod back the table up with AWS Backup into a retained vault under the
//! table's own key (a stage without that key is refused, never silently left without
//! backups), daily and monthly, locked in prod within the plan's retentions, copied to a
//! second region's vault when one is given; the table's key lets AWS Backup use it.

use super::*;

const STAGES: [&str; 3] = ["dev", "staging", "prod"];

/// The plan's rules by name, as `params` deploys them.
fn rules(t: &Value, params: &HashMap<String, String>) -> HashMap<String, Value> {
    let plan = render(t, get(resource(t, "BackupPlan"), "Properties"), params).unwrap();
    get(get(&plan, "BackupPlan"), "BackupPlanRule")
        .as_sequence()
        .unwrap()
        .iter()
        .map(|r| (str_of(r, "RuleName").to_owned(), r.clone()))
        .collect()
}

fn retention(rule: &Value) -> u64 {
    number(get(get(rule, "Lifecycle"), "DeleteAfterDays"))
}

/// Every AWS Backup resource, and the role AWS Backup takes, exist exactly where the stage
/// backs up: staging and prod, which the samconfig environments give the customer-managed key;
/// dev has none.
#[test]
fn backups_exist_in_staging_and_prod_only() {
    let t = template();
    let mut backup_resources: BTreeSet<String> = resources(&t)
        .iter()
        .filter(|(_, r)| r["Type"].as_str().unwrap().starts_with("AWS::Backup::"))
        .map(|(id, _)| id.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        backup_resources,
        BTreeSet::from(["BackupVault", "BackupPlan", "BackupSelection"].map(String::from))
    );
    backup_resources.insert("BackupRole".to_owned());
    for id in &backup_resources {
        assert_eq!(str_of(resource(&t, id), "Condition"), "BackUpTable", "{id}");
    }
    for stage in STAGES {
        let params = stage_parameters(&t, stage);
        assert_eq!(
            condition_holds(&t, "BackUpTable", &params),
            stage != "dev",
            "{stage} backs up the table"
        );
    }
}

/// The backup resources name the table's key, so they hang on a condition that implies it;
/// the rule turns "no key, no backups" into a refused stack in staging and prod, whatever the
/// parameters.
#[test]
fn staging_and_prod_without_the_customer_managed_key_are_refused() {
    let t = template();
    let rule = get(get(&t, "Rules"), "BackupsNeedTheTableKey");
    let passes = |params: &HashMap<String, String>| {
        !holds(&t, get(rule, "RuleCondition"), params)
            || get(rule, "Assertions")
                .as_sequence()
                .unwrap()
                .iter()
                .all(|a| holds(&t, get(a, "Assert"), params))
    };
    let mut params = stage_parameters(&t, "dev");
    for stage in STAGES {
        for mode in ["aws-managed", "customer-managed"] {
            params.insert("Stage".into(), stage.into());
            params.insert("TableKeyMode".into(), mode.into());
            let backs_up = condition_holds(&t, "BackUpTable", &params);
            assert!(
                !backs_up || condition_holds(&t, "UseCustomerManagedKey", &params),
                "BackUpTable must imply the table key ({stage}, {mode})"
            );
            assert_eq!(
                passes(&params),
                stage == "dev" || mode == "customer-managed",
                "{stage}, {mode}"
            );
            if stage != "dev" && passes(&params) {
                assert!(backs_up, "{stage} deploys without backups");
            }
        }
    }
    for stage in STAGES {
        assert!(passes(&stage_parameters(&t, stage)), "{stage} is refused");
    }
}

#[test]
fn the_vault_is_encrypted_with_the_table_key_and_retained() {
    let t = template();
    let vault = resource(&t, "BackupVault");
    assert_eq!(str_of(vault, "DeletionPolicy"), "Retain");
    assert_eq!(str_of(vault, "UpdateReplacePolicy"), "Retain");
    let p = get(vault, "Properties");
    assert_eq!(cfn(get(p, "EncryptionKeyArn")), "!GetAtt TableKey.Arn");
    assert_eq!(
        cfn(get(p, "BackupVaultName")),
        "!Sub companies-api-${Stage}"
    );
    assert_eq!(
        str_of(resource(&t, "TableKey"), "Condition"),
        "UseCustomerManagedKey"
    );
}

/// Daily recovery points kept `BackupDailyRetentionDays`, monthly ones as long as the history
/// (`HistoryRetentionDays`), both into the vault; the daily ones never outlive the monthly.
#[test]
fn daily_and_monthly_rules_keep_their_parameters_retention() {
    let t = template();
    let plan = get(get(resource(&t, "BackupPlan"), "Properties"), "BackupPlan");
    let written: HashMap<&str, &Value> = get(plan, "BackupPlanRule")
        .as_sequence()
        .unwrap()
        .iter()
        .map(|r| (str_of(r, "RuleName"), r))
        .collect();
    assert_eq!(written.len(), 2, "a daily and a monthly rule");
    for (name, schedule, days) in [
        ("daily", "* * ? *)", "!Ref BackupDailyRetentionDays"),
        ("monthly", " 1 * ? *)", "!Ref HistoryRetentionDays"),
    ] {
        let rule = written[name];
        assert_eq!(cfn(get(rule, "TargetBackupVault")), "!Ref BackupVault");
        let cron = str_of(rule, "ScheduleExpression");
        assert!(
            cron.starts_with("cron(") && cron.ends_with(schedule),
            "{name}: {cron}"
        );
        assert_eq!(
            cfn(get(get(rule, "Lifecycle"), "DeleteAfterDays")),
            days,
            "{name}"
        );
    }
    let daily = get(get(&t, "Parameters"), "BackupDailyRetentionDays");
    assert!(number(get(daily, "MinValue")) >= 1);
    for stage in ["staging", "prod"] {
        let params = stage_parameters(&t, stage);
        let by_name = rules(&t, &params);
        assert!(
            retention(&by_name["daily"]) <= retention(&by_name["monthly"]),
            "{stage}: daily recovery points outlive the monthly ones"
        );
    }
}

/// Vault Lock (on in prod) bounds retention to the plan's: a recovery point of either rule,
/// or a copy, falls within them; compliance mode (immutable after its grace days) only when
/// asked for.
#[test]
fn the_vault_lock_bounds_are_the_plan_retentions() {
    let t = template();
    let lock = get(get(&t, "Parameters"), "BackupVaultLock");
    assert_eq!(str_of(lock, "Default"), "none");
    assert_eq!(
        cfn(get(lock, "AllowedValues")),
        "[none, governance, compliance]"
    );
    let vault = get(resource(&t, "BackupVault"), "Properties");
    let mut cases: Vec<(String, HashMap<String, String>)> = STAGES[1..]
        .iter()
        .map(|s| (s.to_string(), stage_parameters(&t, s)))
        .collect();
    let mut compliance = stage_parameters(&t, "staging");
    compliance.insert("BackupVaultLock".into(), "compliance".into());
    cases.push(("staging in compliance mode".into(), compliance));
    for (case, params) in cases {
        let rendered = render(&t, vault, &params).unwrap();
        let Some(config) = rendered.get("LockConfiguration") else {
            assert_eq!(params["BackupVaultLock"], "none", "{case}: no lock");
            assert_ne!(case, "prod", "prod's vault is locked");
            continue;
        };
        let (min, max) = (
            number(get(config, "MinRetentionDays")),
            number(get(config, "MaxRetentionDays")),
        );
        let by_name = rules(&t, &params);
        assert_eq!(min, retention(&by_name["daily"]), "{case}");
        assert_eq!(max, retention(&by_name["monthly"]), "{case}");
        for rule in by_name.values() {
            assert!((min..=max).contains(&retention(rule)), "{case}");
        }
        match params["BackupVaultLock"].as_str() {
            "compliance" => assert!(number(get(config, "ChangeableForDays")) >= 3, "{case}"),
            "governance" => assert!(config.get("ChangeableForDays").is_none(), "{case}"),
            other => panic!("{case}: a lock with BackupVaultLock={other}"),
        }
    }
}

/// Recovery points are copied to the second region's vault, kept as long as their source,
/// only when `BackupCopyVaultArn` names one.
#[test]
fn copies_go_to_the_second_vault_only_when_one_is_given() {
    let t = template();
    let arn = get(get(&t, "Parameters"), "BackupCopyVaultArn");
    assert_eq!(str_of(arn, "Default"), "");
    assert_eq!(
        cfn(get(get(&t, "Conditions"), "CopyBackups")),
        "!Not [!Equals [!Ref BackupCopyVaultArn, ]]"
    );
    let vault = "arn:aws:backup:sa-east-1:123456789012:backup-vault:companies-api-copy";
    for stage in ["staging", "prod"] {
        let mut params = stage_parameters(&t, stage);
        for (name, rule) in rules(&t, &params) {
            let copies = rule.get("CopyActions");
            assert_eq!(
                copies.is_some(),
                !params["BackupCopyVaultArn"].is_empty(),
                "{stage} {name}"
            );
        }
        params.insert("BackupCopyVaultArn".into(), vault.into());
        for (name, rule) in rules(&t, &params) {
            let copies = get(&rule, "CopyActions").as_sequence().unwrap();
            assert_eq!(copies.len(), 1, "{stage} {name}");
            assert_eq!(str_of(&copies[0], "DestinationBackupVaultArn"), vault);
            assert_eq!(retention(&copies[0]), retention(&rule), "{stage} {name}");
        }
    }
}

/// The selection backs up the table, with a role only AWS Backup can take, holding AWS's
/// policies for AWS Backup's backups and restores (what advanced DynamoDB backups need).
#[test]
fn the_selection_backs_up_the_table_with_a_role_for_aws_backup() {
    let t = template();
    let selection = get(
        get(resource(&t, "BackupSelection"), "Properties"),
        "BackupSelection",
    );
    assert_eq!(
        cfn(get(
            get(resource(&t, "BackupSelection"), "Properties"),
            "BackupPlanId"
        )),
        "!Ref BackupPlan"
    );
    assert_eq!(cfn(get(selection, "Resources")), format!("[{TABLE_ARN}]"));
    assert!(selection.get("ListOfTags").is_none() && selection.get("Conditions").is_none());
    assert_eq!(cfn(get(selection, "IamRoleArn")), "!GetAtt BackupRole.Arn");
    let role = get(resource(&t, "BackupRole"), "Properties");
    let trust = get(get(role, "AssumeRolePolicyDocument"), "Statement")
        .as_sequence()
        .unwrap();
    assert_eq!(trust.len(), 1);
    assert_eq!(
        cfn(get(get(&trust[0], "Principal"), "Service")),
        "backup.amazonaws.com"
    );
    assert_eq!(cfn(get(&trust[0], "Action")), "sts:AssumeRole");
    let policies: BTreeSet<String> = get(role, "ManagedPolicyArns")
        .as_sequence()
        .unwrap()
        .iter()
        .map(cfn)
        .collect();
    let aws = "!Sub arn:${AWS::Partition}:iam::aws:policy/service-role/";
    assert_eq!(
        policies,
        BTreeSet::from([
            format!("{aws}AWSBackupServiceRolePolicyForBackup"),
            format!("{aws}AWSBackupServiceRolePolicyForRestores"),
        ])
    );
    assert!(role.get("Policies").is_none(), "no inline policy");
}

/// The vault's key is the table's: its policy lets this account's principals use it through
/// AWS Backup in the stack's region (as through DynamoDB), and any statement open to every
/// principal keeps both restrictions.
#[test]
fn the_table_key_lets_aws_backup_use_it_only_through_aws_backup() {
    let t = template();
    let statements = get(
        get(get(resource(&t, "TableKey"), "Properties"), "KeyPolicy"),
        "Statement",
    )
    .as_sequence()
    .unwrap();
    let through = |service: &str| -> &Value {
        let via = format!("!Sub {service}.${{AWS::Region}}.amazonaws.com");
        statements
            .iter()
            .find(|s| {
                s["Condition"]["StringEquals"]
                    .get("kms:ViaService")
                    .map(cfn)
                    == Some(via.clone())
            })
            .unwrap_or_else(|| panic!("no statement for use through {service}"))
    };
    let backup = through("backup");
    through("dynamodb");
    let actions = cfn(get(backup, "Action"));
    for action in [
        "kms:Encrypt",
        "kms:Decrypt",
        "kms:GenerateDataKey*",
        "kms:CreateGrant",
        "kms:DescribeKey",
    ] {
        assert!(actions.contains(action), "{action} missing from {actions}");
    }
    for s in statements {
        if s["Principal"].get("AWS").map(cfn).as_deref() == Some("*") {
            let condition = get(get(s, "Condition"), "StringEquals");
            assert!(cfn(get(condition, "kms:ViaService")).starts_with("!Sub "));
            assert_eq!(
                cfn(get(condition, "kms:CallerAccount")),
                "!Ref AWS::AccountId"
            );
        }
    }
}
