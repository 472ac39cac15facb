//! Functions: one arm64 binary per operation, traced, logging JSON to a retained log group,
//! with the cursor key where it signs cursors, timeouts that fit, nothing linked
//! that a function does not need; one `samconfig.toml` environment per stage.

use super::*;

#[test]
fn every_operation_is_an_arm64_cargo_lambda_binary_and_nothing_else_is() {
    let t = template();
    let globals = get(get(&t, "Globals"), "Function");
    assert_eq!(str_of(globals, "Runtime"), "provided.al2023");
    assert_eq!(
        str_of(globals, "CodeUri"),
        ".",
        "functions build from the workspace root"
    );
    assert_eq!(cfn(get(globals, "Architectures")), "[!Ref Architecture]");
    let architecture = get(get(&t, "Parameters"), "Architecture");
    assert_eq!(str_of(architecture, "Default"), "arm64");
    let resources = get(&t, "Resources");
    let fns = functions(&t);
    for (id, _, _) in &fns {
        assert_eq!(
            str_of(get(get(resources, id), "Metadata"), "BuildMethod"),
            "rust-cargolambda"
        );
    }
    let registry: BTreeSet<_> = OPERATIONS
        .iter()
        .map(|op| (op.function_id(), op.name.to_owned()))
        .collect();
    let template_functions: BTreeSet<_> = fns
        .iter()
        .map(|(id, _, b)| (id.clone(), b.clone()))
        .collect();
    assert_eq!(registry, template_functions);
    let names: BTreeSet<String> = OPERATIONS.iter().map(|op| op.name.to_owned()).collect();
    assert_eq!(
        binaries(),
        names,
        "functions/src/bin/*.rs against the registry"
    );
}

#[test]
fn every_function_is_traced_and_logs_json_to_a_retained_log_group() {
    let t = template();
    let globals = get(get(&t, "Globals"), "Function");
    assert_eq!(str_of(globals, "Tracing"), "Active");
    assert_eq!(str_of(get(globals, "LoggingConfig"), "LogFormat"), "JSON");
    for (id, _, _) in functions(&t) {
        let group = resources(&t)
            .values()
            .find(|r| {
                r.get("Type").and_then(Value::as_str) == Some("AWS::Logs::LogGroup")
                    && cfn(get(get(r, "Properties"), "LogGroupName"))
                        == format!("!Sub /aws/lambda/${{{id}}}")
            })
            .unwrap_or_else(|| panic!("{id} has no log group"));
        assert_eq!(
            cfn(get(get(group, "Properties"), "RetentionInDays")),
            "!Ref LogRetentionDays"
        );
    }
}

#[test]
fn samconfig_has_one_environment_per_stage() {
    let text = std::fs::read_to_string(root().join("samconfig.toml")).unwrap();
    for stage in ["dev", "staging", "prod"] {
        let section = format!("[{stage}.deploy.parameters]");
        let start = text
            .find(&section)
            .unwrap_or_else(|| panic!("no {section}"));
        let body = &text[start + section.len()..];
        let body = &body[..body.find("\n[").unwrap_or(body.len())];
        assert!(
            body.contains(&format!("stack_name = \"companies-api-{stage}\"")),
            "{stage}"
        );
        let overrides = body
            .lines()
            .find(|l| l.starts_with("parameter_overrides"))
            .unwrap();
        for key in [
            "Stage=",
            "LogLevel=",
            "LogRetentionDays=",
            "ThrottlingBurstLimit=",
            "ThrottlingRateLimit=",
            "CorsAllowedOrigins=",
            "Api5xxRateThresholdPercent=",
            "HistoryRetentionDays=",
            "ApiP99LatencyThresholdMs=",
        ] {
            assert!(overrides.contains(key), "{stage} lacks {key}");
        }
        assert!(overrides.contains(&format!("Stage={stage}")), "{stage}");
        if stage == "prod" {
            assert!(
                overrides.contains("HistoryRetentionDays=1827"),
                "prod keeps the history five years"
            );
            let cors = overrides.split("CorsAllowedOrigins=").nth(1).unwrap();
            assert!(
                !cors.split_whitespace().next().unwrap().contains('*'),
                "prod CORS must not allow *"
            );
        }
    }
}

/// A function that signs cursors gets the key from the stack's secret (without it, it refuses
/// to start when deployed); no other function holds it.
#[test]
fn every_function_that_signs_cursors_has_the_cursor_secret() {
    let t = template();
    for (id, props, _) in functions(&t) {
        let secret = props
            .get("Environment")
            .and_then(|e| e.get("Variables"))
            .and_then(|v| v.get("CURSOR_SECRET"))
            .map(cfn);
        if operation(&id).signs_cursors {
            assert_eq!(
                secret.as_deref(),
                Some("!Sub {{resolve:secretsmanager:${CursorSecret}:SecretString}}"),
                "{id} signs cursors"
            );
        } else {
            assert_eq!(secret, None, "{id} signs no cursor");
        }
    }
}

/// The request budget and the SDK's limits end before the function's timeout, so a slow
/// database is answered 503 by the function, not cut off into a bare 500 by API Gateway.
#[test]
fn sdk_timeouts_and_the_request_budget_fit_inside_the_function_timeout() {
    use companies_edge::runner::{ANSWER_MARGIN, LOCAL_BUDGET};
    use companies_store::dynamo::OPERATION_TIMEOUT;
    let t = template();
    let timeout = get(get(get(&t, "Globals"), "Function"), "Timeout")
        .as_u64()
        .unwrap();
    let timeout = std::time::Duration::from_secs(timeout);
    assert!(OPERATION_TIMEOUT + ANSWER_MARGIN < timeout);
    assert!(LOCAL_BUDGET + ANSWER_MARGIN <= timeout);
}

/// A function builds its DynamoDB client from the Lambda environment alone: the SDK's provider
/// chains (aws-config, and the STS client it brings), the regex engine of `EnvFilter`, HTTP/2
/// and the aws-lc-rs crypto library are not linked into any function (start-up and size: see
/// BENCHMARKS.md).
#[test]
fn functions_link_no_provider_chains_regex_engine_http2_or_aws_lc() {
    {
        let name = "functions";
        let out = std::process::Command::new(env!("CARGO"))
            .args([
                "tree",
                "--offline",
                "-e",
                "normal",
                "--prefix",
                "none",
                "-p",
                name,
            ])
            .current_dir(root())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let tree = String::from_utf8(out.stdout).unwrap();
        for banned in [
            "aws-config ",
            "aws-sdk-sts ",
            "regex ",
            "h2 ",
            "aws-smithy-http-client ",
            "aws-lc-rs ",
        ] {
            assert!(
                !tree.lines().any(|l| l.starts_with(banned)),
                "{name} links {banned}"
            );
        }
    }
}

/// `AWS_SAM_LOCAL` is `sam local`'s switch (writes without a caller): the template never names
/// it, on a function, in the globals or anywhere else, so no deployed function starts with it
/// (one that did would refuse to start outside the local stage).
#[test]
fn no_function_is_deployed_with_the_development_switch() {
    let text = std::fs::read_to_string(root().join("template.yaml")).unwrap();
    assert!(
        !text.contains("AWS_SAM_LOCAL"),
        "template.yaml names AWS_SAM_LOCAL"
    );
}
