//! Data: the table's keys and index are the code's, each function's policy is exactly its
//! registry grants and partitions, the table is protected, and both key modes work.

use super::*;

#[test]
fn table_keys_and_index_match_what_the_code_creates() {
    let t = template();
    let table = get(get(get(&t, "Resources"), "CompaniesTable"), "Properties");
    assert_eq!(str_of(table, "BillingMode"), "PAY_PER_REQUEST");
    let pairs = |v: &Value, a: &str, b: &str| -> BTreeSet<(String, String)> {
        v.as_sequence()
            .unwrap()
            .iter()
            .map(|e| (str_of(e, a).to_owned(), str_of(e, b).to_owned()))
            .collect()
    };
    let (keys, attrs, gsis) = dynamo::table_definition();
    let code_keys: BTreeSet<_> = keys
        .iter()
        .map(|k| {
            (
                k.attribute_name().to_owned(),
                k.key_type().as_str().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        pairs(get(table, "KeySchema"), "AttributeName", "KeyType"),
        code_keys
    );
    let code_attrs: BTreeSet<_> = attrs
        .iter()
        .map(|a| {
            (
                a.attribute_name().to_owned(),
                a.attribute_type().as_str().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        pairs(
            get(table, "AttributeDefinitions"),
            "AttributeName",
            "AttributeType"
        ),
        code_attrs
    );
    let template_gsis = get(table, "GlobalSecondaryIndexes").as_sequence().unwrap();
    assert_eq!(template_gsis.len(), gsis.len());
    for (tg, cg) in template_gsis.iter().zip(&gsis) {
        assert_eq!(str_of(tg, "IndexName"), cg.index_name());
        let code: BTreeSet<_> = cg
            .key_schema()
            .iter()
            .map(|k| {
                (
                    k.attribute_name().to_owned(),
                    k.key_type().as_str().to_owned(),
                )
            })
            .collect();
        assert_eq!(
            pairs(get(tg, "KeySchema"), "AttributeName", "KeyType"),
            code
        );
        assert_eq!(str_of(get(tg, "Projection"), "ProjectionType"), "ALL");
    }
}

/// Each function's policy grants exactly the registry's grants of its operation, on the table
/// or one of its indexes, and nothing with a wildcard.
#[test]
fn every_function_has_least_privilege() {
    let t = template();
    for (id, props, _) in functions(&t) {
        let listed: BTreeSet<String> = operation(&id)
            .grants
            .iter()
            .map(|g| match g.on {
                Resource::Table => format!("{} table", g.action),
                Resource::Index(name) => format!("{} index/{name}", g.action),
            })
            .collect();
        let mut granted = BTreeSet::new();
        for policy in props
            .get("Policies")
            .and_then(Value::as_sequence)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let statements = policy
                .get("Statement")
                .and_then(Value::as_sequence)
                .unwrap_or_else(|| {
                    panic!("{id}: policies must be inline statements, not managed policies")
                });
            for s in statements {
                assert_eq!(str_of(s, "Effect"), "Allow", "{id}");
                // The table (the stack's or a restored one, both branches checked by the
                // constants) or one of its indexes, named by the registry.
                let named = cfn(get(s, "Resource"));
                let resource = if named == TABLE_ARN {
                    "table".to_owned()
                } else {
                    OPERATIONS
                        .iter()
                        .flat_map(|op| op.grants)
                        .find_map(|g| match g.on {
                            Resource::Index(index) if named == index_arn(index) => {
                                Some(format!("index/{index}"))
                            }
                            _ => None,
                        })
                        .unwrap_or_else(|| {
                            panic!("{id}: resource {named} is not the table or one of its indexes")
                        })
                };
                // On the table, the partitions it may name are the registry's, by prefix.
                let leading: BTreeSet<String> = s
                    .get("Condition")
                    .and_then(|c| c.get("ForAllValues:StringLike"))
                    .and_then(|c| c.get("dynamodb:LeadingKeys"))
                    .and_then(Value::as_sequence)
                    .map(|keys| {
                        keys.iter()
                            .map(|k| k.as_str().unwrap().to_owned())
                            .collect()
                    })
                    .unwrap_or_default();
                if resource == "table" {
                    let allowed: BTreeSet<String> = operation(&id)
                        .partitions
                        .iter()
                        .map(|p| format!("{p}*"))
                        .collect();
                    assert_eq!(leading, allowed, "{id}: dynamodb:LeadingKeys of the table");
                    assert_eq!(
                        s.get("Condition")
                            .and_then(Value::as_mapping)
                            .map(Mapping::len),
                        Some(1),
                        "{id}: only the LeadingKeys condition"
                    );
                }
                for action in get(s, "Action").as_sequence().unwrap() {
                    let action = action.as_str().unwrap();
                    assert!(!action.contains('*'), "{id}: wildcard action {action}");
                    granted.insert(format!("{action} {resource}"));
                }
            }
        }
        assert_eq!(
            granted, listed,
            "{id} grants other permissions than its operation in the registry"
        );
    }
}

#[test]
fn the_table_is_protected() {
    let t = template();
    let table = get(get(&t, "Resources"), "CompaniesTable");
    assert_eq!(
        cfn(get(table, "DeletionPolicy")),
        "!If [IsProd, Retain, Delete]"
    );
    assert_eq!(
        cfn(get(table, "UpdateReplacePolicy")),
        "!If [IsProd, Retain, Delete]"
    );
    assert_eq!(
        cfn(get(get(&t, "Conditions"), "IsProd")),
        "!Equals [!Ref Stage, prod]"
    );
    let p = get(table, "Properties");
    assert_eq!(
        cfn(get(p, "DeletionProtectionEnabled")),
        "!If [IsProd, true, false]"
    );
    assert_eq!(
        get(
            get(p, "PointInTimeRecoverySpecification"),
            "PointInTimeRecoveryEnabled"
        ),
        &Value::Bool(true)
    );
    let sse = get(p, "SSESpecification");
    assert_eq!(
        (get(sse, "SSEEnabled"), str_of(sse, "SSEType")),
        (&Value::Bool(true), "KMS")
    );
    assert_eq!(
        cfn(get(sse, "KMSMasterKeyId")),
        "!If [UseCustomerManagedKey, !Ref TableKey, !Ref AWS::NoValue]"
    );
    let ttl = get(p, "TimeToLiveSpecification");
    assert_eq!(
        (str_of(ttl, "AttributeName"), get(ttl, "Enabled")),
        ("expires_at", &Value::Bool(true))
    );
}

/// With `TableKeyMode=customer-managed` the table's key lets callers use it only through DynamoDB
/// in the stack's region and account (what DynamoDB requires of them); with `aws-managed` no key
/// is created and the table uses DynamoDB's own. Staging uses the customer-managed key like prod.
#[test]
fn both_key_modes_let_the_functions_use_the_table() {
    let t = template();
    let key = resources(&t).get("TableKey").expect("no TableKey");
    assert_eq!(str_of(key, "Condition"), "UseCustomerManagedKey");
    assert_eq!(
        cfn(get(get(&t, "Conditions"), "UseCustomerManagedKey")),
        "!Equals [!Ref TableKeyMode, customer-managed]"
    );
    let statements = get(get(get(key, "Properties"), "KeyPolicy"), "Statement")
        .as_sequence()
        .unwrap();
    let via = statements
        .iter()
        .find(|s| s.get("Condition").is_some())
        .expect("no statement for use through DynamoDB");
    let condition = get(get(via, "Condition"), "StringEquals");
    assert_eq!(
        cfn(get(condition, "kms:ViaService")),
        "!Sub dynamodb.${AWS::Region}.amazonaws.com"
    );
    assert_eq!(
        cfn(get(condition, "kms:CallerAccount")),
        "!Ref AWS::AccountId"
    );
    let actions = cfn(get(via, "Action"));
    for action in [
        "kms:Encrypt",
        "kms:Decrypt",
        "kms:GenerateDataKey*",
        "kms:DescribeKey",
    ] {
        assert!(actions.contains(action), "{action} missing from {actions}");
    }
    let text = std::fs::read_to_string(root().join("samconfig.toml")).unwrap();
    for stage in ["staging", "prod"] {
        let section = &text[text.find(&format!("[{stage}.deploy.parameters]")).unwrap()..];
        let overrides = section
            .lines()
            .find(|l| l.starts_with("parameter_overrides"))
            .unwrap();
        assert!(
            overrides.contains("TableKeyMode=customer-managed"),
            "{stage} must use the customer-managed key"
        );
    }
}

/// A restored table (docs/decisions/0007) replaces the stack's own everywhere: with
/// `RestoredTableName` set, nothing but the table itself names `CompaniesTable`, and with it
/// empty, nothing names the restored one. The policies' partitions are the same on both
/// branches (`every_function_has_least_privilege` reads the one statement both share).
#[test]
fn a_restored_table_replaces_the_stacks_own_everywhere() {
    let t = template();
    for stage in ["dev", "staging", "prod"] {
        for restored in ["", "companies-api-prod-restored-20261207"] {
            let mut params = stage_parameters(&t, stage);
            params.insert("RestoredTableName".into(), restored.into());
            let mut named = Vec::new();
            for (id, r) in resources(&t)
                .iter()
                .chain(get(&t, "Outputs").as_mapping().unwrap())
            {
                let id = id.as_str().unwrap();
                if id == "CompaniesTable" {
                    continue;
                }
                let text = format!("{:?}", render(&t, r, &params));
                let own = text.contains("CompaniesTable");
                // The restored table by name, or in an ARN built from the parameter.
                let other = text.contains("${RestoredTableName}")
                    || (!restored.is_empty() && text.contains(restored));
                if own || other {
                    named.push((id.to_owned(), own, other));
                }
            }
            assert!(!named.is_empty());
            for (id, own, other) in named {
                assert_eq!(
                    (own, other),
                    (restored.is_empty(), !restored.is_empty()),
                    "{stage}: {id} with RestoredTableName={restored:?}"
                );
            }
        }
    }
}
