//! An address of its own (optional per stage): a custom domain, when given, is the API's only
//! address, under `/v1`, with its DNS record when the zone is given.

use super::*;

#[test]
fn a_custom_domain_is_the_apis_only_address() {
    let t = template();
    let outputs = get(&t, "Outputs");
    for stage in ["dev", "staging", "prod"] {
        for (domain, zone) in [
            ("", ""),
            ("api.example.com.br", ""),
            ("api.example.com.br", "Z0123456789ABC"),
        ] {
            let mut params = stage_parameters(&t, stage);
            params.insert("DomainName".into(), domain.into());
            params.insert("HostedZoneId".into(), zone.into());
            params.insert(
                "CertificateArn".into(),
                if domain.is_empty() { String::new() } else { "arn:aws:acm:sa-east-1:123456789012:certificate/0f0e0d0c-0b0a-0908-0706-050403020100".into() },
            );
            let custom = !domain.is_empty();
            assert_eq!(condition_holds(&t, "UseCustomDomain", &params), custom);
            let disabled = render(
                &t,
                get(
                    get(resource(&t, "HttpApi"), "Properties"),
                    "DisableExecuteApiEndpoint",
                ),
                &params,
            );
            assert_eq!(disabled, Some(Value::Bool(custom)), "{stage} {domain}");
            for id in ["ApiDomain", "ApiDomainMapping"] {
                assert_eq!(str_of(resource(&t, id), "Condition"), "UseCustomDomain");
            }
            assert_eq!(
                str_of(resource(&t, "ApiDomainRecord"), "Condition"),
                "WriteDnsRecord"
            );
            assert_eq!(
                condition_holds(&t, "WriteDnsRecord", &params),
                custom && !zone.is_empty()
            );
            let url = render(&t, get(get(outputs, "ApiUrl"), "Value"), &params).unwrap();
            let expected = if custom {
                "!Sub https://${DomainName}/v1"
            } else {
                "!Sub https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"
            };
            assert_eq!(cfn(&url), expected, "{stage} {domain}");
        }
    }
    let mapping = get(resource(&t, "ApiDomainMapping"), "Properties");
    assert_eq!(str_of(mapping, "ApiMappingKey"), "v1");
    assert_eq!(cfn(get(mapping, "ApiId")), "!Ref HttpApi");
    assert_eq!(cfn(get(mapping, "DomainName")), "!Ref ApiDomain");
    let config = &get(
        get(resource(&t, "ApiDomain"), "Properties"),
        "DomainNameConfigurations",
    )[0];
    assert_eq!(cfn(get(config, "CertificateArn")), "!Ref CertificateArn");
    assert_eq!(
        (
            str_of(config, "EndpointType"),
            str_of(config, "SecurityPolicy")
        ),
        ("REGIONAL", "TLS_1_2")
    );
    // A domain without its certificate is refused before anything is created.
    let rule = get(get(&t, "Rules"), "DomainNeedsCertificate");
    let mut params = stage_parameters(&t, "prod");
    params.insert("DomainName".into(), "api.example.com.br".into());
    params.insert("CertificateArn".into(), String::new());
    assert!(holds(&t, get(rule, "RuleCondition"), &params));
    assert!(!holds(
        &t,
        get(&get(rule, "Assertions")[0], "Assert"),
        &params
    ));
}
