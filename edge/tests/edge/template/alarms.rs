//! Alarms that reach someone: every alarm goes to the alarm topic, which is encrypted with a key
//! CloudWatch may use and has a subscriber when one is given; every function is watched for
//! errors, throttles, a duration near its timeout and a refused start; the table for DynamoDB's
//! own errors.

use companies_edge::runner::lambda::START_REFUSED;

use super::*;

const TOPIC: &str = "[!If [CreateAlarmTopic, !Ref AlarmTopic, !Ref AlarmTopicArn]]";

fn alarms(t: &Value) -> Vec<(String, &Value)> {
    resources(t)
        .iter()
        .filter(|(_, r)| r.get("Type").and_then(Value::as_str) == Some("AWS::CloudWatch::Alarm"))
        .map(|(id, r)| (id.as_str().unwrap().to_owned(), get(r, "Properties")))
        .collect()
}

/// The alarm `id`'s per-function metrics: the functions it watches, each with `metric` and
/// `stat`; an alarm takes at most 10 metrics.
fn watched_functions(t: &Value, id: &str, metric: &str, stat: &str) -> BTreeSet<String> {
    let p = get(
        get(
            resources(t).get(id).unwrap_or_else(|| panic!("no {id}")),
            "Properties",
        ),
        "Metrics",
    );
    let metrics = p.as_sequence().unwrap();
    assert!(
        metrics.len() - 1 <= 10,
        "an alarm takes at most 10 metrics: split {id}"
    );
    let mut watched = BTreeSet::new();
    for stat_of in metrics.iter().filter_map(|m| m.get("MetricStat")) {
        assert_eq!(str_of(stat_of, "Stat"), stat, "{id}");
        let m = get(stat_of, "Metric");
        assert_eq!(
            (str_of(m, "Namespace"), str_of(m, "MetricName")),
            ("AWS/Lambda", metric)
        );
        let function = cfn(&get(m, "Dimensions")[0]["Value"]);
        watched.insert(function.strip_prefix("!Ref ").unwrap().to_owned());
    }
    watched
}

fn function_ids() -> BTreeSet<String> {
    OPERATIONS.iter().map(Operation::function_id).collect()
}

#[test]
fn every_alarm_is_sent_to_the_alarm_topic() {
    let t = template();
    let found = alarms(&t);
    assert!(
        found.len() >= 8,
        "{:?}",
        found.iter().map(|(id, _)| id).collect::<Vec<_>>()
    );
    for (id, p) in found {
        assert_eq!(cfn(get(p, "AlarmActions")), TOPIC, "{id}");
        assert_eq!(cfn(get(p, "OKActions")), TOPIC, "{id}");
    }
}

/// CloudWatch can publish to an encrypted topic only when the key's policy lets it: the topic's
/// key is the stack's own (the AWS-managed SNS key's policy cannot be changed), and lets only
/// this account's alarms use it.
#[test]
fn the_alarm_topic_is_encrypted_with_a_key_cloudwatch_may_use() {
    let t = template();
    let topic = resource(&t, "AlarmTopic");
    assert_eq!(str_of(topic, "Condition"), "CreateAlarmTopic");
    assert_eq!(
        cfn(get(get(topic, "Properties"), "KmsMasterKeyId")),
        "!GetAtt AlarmTopicKey.Arn"
    );
    let key = resource(&t, "AlarmTopicKey");
    assert_eq!(str_of(key, "Type"), "AWS::KMS::Key");
    assert_eq!(str_of(key, "Condition"), "CreateAlarmTopic");
    let p = get(key, "Properties");
    assert_eq!(get(p, "EnableKeyRotation"), &Value::Bool(true));
    let statements = get(get(p, "KeyPolicy"), "Statement").as_sequence().unwrap();
    let cloudwatch: Vec<&Value> = statements
        .iter()
        .filter(|s| {
            s["Principal"].get("Service").and_then(Value::as_str)
                == Some("cloudwatch.amazonaws.com")
        })
        .collect();
    assert_eq!(cloudwatch.len(), 1, "one statement for CloudWatch");
    let s = cloudwatch[0];
    assert_eq!(cfn(get(s, "Action")), "[kms:Decrypt, kms:GenerateDataKey*]");
    let condition = get(s, "Condition");
    assert_eq!(
        cfn(get(get(condition, "StringEquals"), "aws:SourceAccount")),
        "!Ref AWS::AccountId"
    );
    assert_eq!(
        cfn(get(get(condition, "ArnLike"), "aws:SourceArn")),
        "!Sub arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:*"
    );
    // No other statement gives the key to anyone outside the account.
    for s in statements {
        if s["Principal"].get("AWS").is_some() {
            assert_eq!(
                cfn(&s["Principal"]["AWS"]),
                "!Sub arn:${AWS::Partition}:iam::${AWS::AccountId}:root"
            );
        }
    }
}

/// `AlarmEmail` subscribes someone to whichever topic the alarms go to; empty, nobody.
#[test]
fn an_alarm_email_is_subscribed_to_the_alarm_topic() {
    let t = template();
    let parameter = get(get(&t, "Parameters"), "AlarmEmail");
    assert_eq!(str_of(parameter, "Default"), "");
    let subscription = resource(&t, "AlarmEmailSubscription");
    assert_eq!(str_of(subscription, "Type"), "AWS::SNS::Subscription");
    assert_eq!(str_of(subscription, "Condition"), "SubscribeAlarmEmail");
    assert_eq!(
        cfn(get(get(&t, "Conditions"), "SubscribeAlarmEmail")),
        "!Not [!Equals [!Ref AlarmEmail, ]]"
    );
    let p = get(subscription, "Properties");
    assert_eq!(str_of(p, "Protocol"), "email");
    assert_eq!(cfn(get(p, "Endpoint")), "!Ref AlarmEmail");
    assert_eq!(format!("[{}]", cfn(get(p, "TopicArn"))), TOPIC);
}

/// Every function of the registry is in the alarm on function errors and in the one on
/// throttles, any one of which alarms at once.
#[test]
fn every_function_has_error_and_throttle_alarms() {
    let t = template();
    for metric in ["Errors", "Throttles"] {
        let id = format!("Function{metric}Alarm");
        assert_eq!(
            watched_functions(&t, &id, metric, "Sum"),
            function_ids(),
            "{id}"
        );
    }
}

/// A function whose p99 duration passes 80 % of the functions' timeout alarms: it is close to
/// being cut off into a bare 500.
#[test]
fn every_function_is_watched_for_a_duration_near_its_timeout() {
    let t = template();
    assert_eq!(
        watched_functions(&t, "FunctionDurationAlarm", "Duration", "p99"),
        function_ids()
    );
    let timeout_s = get(get(get(&t, "Globals"), "Function"), "Timeout")
        .as_f64()
        .unwrap();
    let alarm = get(resource(&t, "FunctionDurationAlarm"), "Properties");
    assert_eq!(
        get(alarm, "Threshold").as_f64().unwrap(),
        0.8 * timeout_s * 1000.0
    );
    assert_eq!(str_of(alarm, "ComparisonOperator"), "GreaterThanThreshold");
}

/// Lambda publishes no metric of failed starts: every function's log group counts the runner's
/// start-up refusal line into one metric, which alarms at the first.
#[test]
fn every_function_that_refuses_to_start_is_counted_and_alarms() {
    let t = template();
    let pattern = format!(r#"{{ $.message = "{START_REFUSED}" }}"#);
    let mut counted = BTreeSet::new();
    for (_, r) in resources(&t)
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::Logs::MetricFilter"))
    {
        let p = get(r, "Properties");
        assert_eq!(str_of(p, "FilterPattern"), pattern);
        let m = &get(p, "MetricTransformations")[0];
        assert_eq!(str_of(m, "MetricNamespace"), "CompaniesApi");
        assert_eq!(cfn(get(m, "MetricName")), "!Sub start_refusals_${Stage}");
        let group = cfn(get(p, "LogGroupName"));
        counted.insert(
            group
                .strip_prefix("!Ref ")
                .unwrap()
                .replace("LogGroup", "Function"),
        );
    }
    assert_eq!(counted, function_ids());
    let alarm = get(resource(&t, "FunctionStartRefusedAlarm"), "Properties");
    assert_eq!(str_of(alarm, "Namespace"), "CompaniesApi");
    // One metric a stage: stages that share an account do not set off each other's alarm.
    assert_eq!(
        cfn(get(alarm, "MetricName")),
        "!Sub start_refusals_${Stage}"
    );
    assert_eq!(get(alarm, "Threshold").as_f64(), Some(1.0));
}

/// DynamoDB's own errors are published per operation: the alarm watches every operation the
/// functions call on the table (the registry's grants, and the transactions they write with).
#[test]
fn the_table_is_watched_for_dynamodb_system_errors() {
    let t = template();
    let alarm = get(resource(&t, "DynamoDbSystemErrorsAlarm"), "Properties");
    let mut watched = BTreeSet::new();
    for m in get(alarm, "Metrics")
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|m| m.get("MetricStat"))
    {
        let metric = get(m, "Metric");
        assert_eq!(
            (str_of(metric, "Namespace"), str_of(metric, "MetricName")),
            ("AWS/DynamoDB", "SystemErrors")
        );
        let dims = get(metric, "Dimensions").as_sequence().unwrap();
        assert_eq!(cfn(&dims[0]["Value"]), TABLE);
        assert_eq!(str_of(&dims[1], "Name"), "Operation");
        watched.insert(str_of(&dims[1], "Value").to_owned());
    }
    assert_eq!(watched, dynamodb_operations_called());
}
