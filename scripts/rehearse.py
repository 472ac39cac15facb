#!/usr/bin/env python3
"""Deploy rehearsal: what `sam deploy --config-env STAGE` would hand CloudFormation, and what
CloudFormation would make of it, for every stage, with no AWS account.

For each stage of samconfig.toml (every environment with deploy parameters but `default`):

  1. Its deploy parameters: the region is pinned (deploy and global agree), the stack is named,
     `parameter_overrides` reads as SAM CLI reads it (SAM's own parser, cross-checked with a
     shell-like split so that no `Key=` is silently dropped), every name is a template parameter,
     each value fits its parameter as CloudFormation checks it (Type, AllowedValues,
     AllowedPattern, MinLength/MaxLength, MinValue/MaxValue), every parameter without a Default
     is given, and `Stage` is the environment's name; with them, the values the pipeline adds
     from the stage's GitHub environment (PIPELINE, rehearsal values; --pipeline replaces one).
     Then the template's `Rules`, evaluated as CloudFormation does over those values
     (RuleCondition, then each Assert: Fn::Equals, Fn::Not, Fn::And, Fn::Or, Fn::Contains,
     Fn::EachMemberEquals, Fn::EachMemberIn), and the orders between numbers rules cannot
     express. A failure names the stage, the parameter and the rule or constraint. Written with
     the processed template: OUT/<stage>.parameters.json, the values it was rehearsed with.
  2. The template as CloudFormation processes it: packaged (local code paths become S3 URIs, as
     `sam package` writes them), then AWS::LanguageExtensions (Fn::ForEach, Fn::Length,
     Fn::ToJsonString, Fn::FindInMap defaults, intrinsic DeletionPolicy/UpdateReplacePolicy:
     SAM CLI's own implementation, samcli.lib.cfn_language_extensions), then the SAM transform
     (samtranslator, with the stage's parameters, a fake account, the stage's region and SAM's
     bundled map of AWS managed policies: no AWS call). Written to OUT/<stage>.json.
  3. Its size against CloudFormation's quotas: template body 1 MB (from S3; 51,200 bytes inline),
     500 resources, 200 parameters, 200 outputs, 200 mappings.

  scripts/tools.sh sam python scripts/rehearse.py [--stage S ...] [--samconfig PATH]
                                                  [--template PATH] [--out DIR]
                                                  [--pipeline NAME=VALUE ...]
  scripts/tools.sh sam python scripts/rehearse.py --self-test

Exit 1 on any finding (every stage is checked first), 0 otherwise. Run with the SAM CLI's
virtualenv (scripts/tools.sh sam): it imports samcli and samtranslator as they are pinned there.
"""

import argparse
import copy
import hashlib
import json
import logging
import re
import shlex
import sys
import tomllib
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
FAKE_ACCOUNT = "123456789012"

# CloudFormation quotas (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html).
LIMITS = {
    "template body (S3)": 1024 * 1024,
    "resources": 500,
    "parameters": 200,
    "outputs": 200,
    "mappings": 200,
}
INLINE_BODY_LIMIT = 51_200

# Functions that CloudFormation resolves when it deploys (they may name a resource, which only
# exists then). SAM CLI's local port of the language extensions resolves them early and, when one
# names a resource, flattens it into a plain string (`${Table.Arn}/index/x` outside any Fn::Sub):
# the rehearsal hides them from that step and puts them back after, so it resolves only what the
# transform itself resolves and what the parameters decide (Ref of a parameter, Fn::If).
DEPLOY_TIME = ("Fn::Sub", "Fn::Join", "Fn::Select", "Fn::Split", "Fn::GetAtt", "Fn::ImportValue",
               "Fn::Base64", "Fn::Cidr", "Fn::GetAZs")
HIDDEN = "Rehearsal::Hidden::"


# What the pipeline adds to samconfig.toml's overrides, each from the stage's GitHub environment
# (deploy.yml: --parameter-overrides "$OVERRIDES PermissionsBoundaryArn=... AlarmEmail=..."): the
# rehearsal deploys what the pipeline deploys. edge/tests/edge/pipeline.rs holds these names to
# the workflow's.
PIPELINE = {
    "PermissionsBoundaryArn": "arn:aws:iam::{account}:policy/companies-api-pipeline-{stage}-boundary",
    "AlarmEmail": "companies-api-{stage}-alarms@example.com",
}


class Finding(Exception):
    """A rehearsal failure: its message names the stage and what failed."""


# ------------------------------------------------------------------------ samconfig.toml

def stages_of(config):
    return [name for name, env in config.items()
            if name != "default" and isinstance(env, dict) and "deploy" in env]


def read_overrides(stage, text):
    """`parameter_overrides` as SAM CLI reads it: {name: value}. Cross-checked with a shell-like
    split: a `Key=` SAM's parser drops, or any other disagreement, is a finding."""
    from click import BadParameter
    from samcli.cli.types import CfnParameterOverridesType

    if isinstance(text, list):
        text = " ".join(text)
    try:
        sam = CfnParameterOverridesType().convert(text, None, None)
    except BadParameter as e:
        raise Finding(f"{stage}: parameter_overrides: {e}") from e
    try:
        words = shlex.split(text)
    except ValueError as e:
        raise Finding(f"{stage}: parameter_overrides: {e}") from e
    shell = {}
    for word in words:
        long_form = re.fullmatch(r"ParameterKey=([^,]*),ParameterValue=(.*)", word)
        name, sep, value = (long_form[1], "=", long_form[2]) if long_form else word.partition("=")
        if not sep or not name:
            raise Finding(f"{stage}: parameter_overrides: {word!r} is not Name=value")
        if name in shell:
            raise Finding(f"{stage}: parameter {name} is given twice in parameter_overrides")
        shell[name] = value
    for name in sorted(set(sam) | set(shell)):
        if sam.get(name) != shell.get(name):
            raise Finding(
                f"{stage}: parameter {name}: SAM CLI reads {sam.get(name)!r} from "
                f"parameter_overrides, a shell would read {shell.get(name)!r}: quote the value"
            )
    return sam


def deploy_settings(stage, config, pipeline=None):
    env = config[stage]
    deploy = env.get("deploy", {}).get("parameters", {})
    glob = env.get("global", {}).get("parameters", {})
    region = deploy.get("region")
    if not region:
        raise Finding(f"{stage}: no region in [{stage}.deploy.parameters]: pin the stage's region")
    if glob.get("region", region) != region:
        raise Finding(f"{stage}: region {glob['region']} in [{stage}.global.parameters] but "
                      f"{region} in [{stage}.deploy.parameters]")
    stack = deploy.get("stack_name")
    if not stack:
        raise Finding(f"{stage}: no stack_name in [{stage}.deploy.parameters]")
    overrides = read_overrides(stage, deploy.get("parameter_overrides", ""))
    for name, value in PIPELINE.items():
        if name in overrides:
            raise Finding(f"{stage}: parameter {name} is the pipeline's (from the stage's GitHub "
                          "environment): remove it from parameter_overrides")
        overrides[name] = (pipeline or {}).get(name, value.format(account=FAKE_ACCOUNT, stage=stage))
    return region, stack, overrides


# ------------------------------------------------------------------------ parameters

NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
LIST_TYPES = ("CommaDelimitedList", "List<Number>")


def members(kind, value):
    return [m.strip() for m in value.split(",")] if kind in LIST_TYPES else [value]


def check_parameter(stage, name, spec, value):
    """Findings of one parameter's value against its declaration, as CloudFormation checks it."""
    kind = spec.get("Type", "String")
    out = []

    def fail(constraint, detail):
        out.append(f"{stage}: parameter {name}={value!r} breaks {constraint}: {detail}")

    if kind not in ("String", "Number") + LIST_TYPES:
        return out  # AWS-specific types (AWS::EC2::..., SSM) need the account to check
    for member in members(kind, value):
        numeric = kind in ("Number", "List<Number>")
        if numeric and not NUMBER.fullmatch(member):
            fail("Type", f"{member!r} is not a {kind}")
            continue
        if "AllowedValues" in spec:
            allowed = [str(a) for a in spec["AllowedValues"]]
            ok = (any(float(member) == float(a) for a in allowed if NUMBER.fullmatch(a))
                  if numeric else member in allowed)
            if not ok:
                fail("AllowedValues", f"{member!r} is not one of {', '.join(allowed)}")
        if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], member):
            fail("AllowedPattern", f"{member!r} does not match {spec['AllowedPattern']}"
                 + (f" ({spec['ConstraintDescription']})" if "ConstraintDescription" in spec else ""))
        if "MinLength" in spec and len(member) < int(spec["MinLength"]):
            fail("MinLength", f"shorter than {spec['MinLength']}")
        if "MaxLength" in spec and len(member) > int(spec["MaxLength"]):
            fail("MaxLength", f"longer than {spec['MaxLength']}")
        if numeric and "MinValue" in spec and float(member) < float(spec["MinValue"]):
            fail("MinValue", f"{member} is below {spec['MinValue']}")
        if numeric and "MaxValue" in spec and float(member) > float(spec["MaxValue"]):
            fail("MaxValue", f"{member} is above {spec['MaxValue']}")
    return out


def stage_parameters(stage, template, overrides):
    """Every parameter's value for the stage (override, else Default), as strings; findings."""
    declared = template.get("Parameters") or {}
    findings = [f"{stage}: parameter {name} is not a parameter of the template"
                for name in overrides if name not in declared]
    values = {}
    for name, spec in declared.items():
        if name in overrides:
            values[name] = overrides[name]
        elif "Default" in spec:
            default = spec["Default"]
            values[name] = ",".join(map(str, default)) if isinstance(default, list) else str(default)
        else:
            findings.append(f"{stage}: parameter {name} has no Default and no value in parameter_overrides")
            continue
        findings += check_parameter(stage, name, spec, values[name])
    if "Stage" in declared and values.get("Stage") != stage:
        findings.append(f"{stage}: parameter Stage={values.get('Stage')!r} in the environment {stage}")
    return values, findings


# ------------------------------------------------------------------------ rules

def typed(template, values, pseudo):
    """Parameter values as rules see them: lists for list types, strings otherwise."""
    declared = template.get("Parameters") or {}
    out = {n: (members(declared[n].get("Type"), v) if declared[n].get("Type") in LIST_TYPES else v)
           for n, v in values.items()}
    return {**pseudo, **out}


def scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def evaluate(node, env, refs, conditions=None):
    """A rule or condition function's value over env (parameter → value); refs collects the
    parameters read; `Condition` names one of `conditions` (the template's)."""
    if isinstance(node, list):
        return [evaluate(n, env, refs, conditions) for n in node]
    if not isinstance(node, dict):
        return node
    if len(node) != 1:
        raise Finding(f"not a rule function: {json.dumps(node)}")
    (fn, arg), = node.items()
    if fn == "Ref":
        if arg not in env:
            raise Finding(f"Ref {arg}: not a parameter")
        refs.append(arg)
        return env[arg]
    if fn == "Condition":
        if arg not in (conditions or {}):
            raise Finding(f"Condition {arg}: not a condition of the template")
        return evaluate(conditions[arg], env, refs, conditions)
    args = (evaluate(arg, env, refs, conditions) if fn != "Fn::Not"
            else [evaluate(arg[0], env, refs, conditions)])

    def boolean(v):
        if not isinstance(v, bool):
            raise Finding(f"{fn}: {v!r} is not a condition")
        return v

    def strings(v):
        return [scalar(x) for x in (v if isinstance(v, list) else [v])]

    if fn == "Fn::Equals":
        a, b = args
        return (strings(a) == strings(b)) if isinstance(a, list) or isinstance(b, list) else scalar(a) == scalar(b)
    if fn == "Fn::Not":
        return not boolean(args[0])
    if fn == "Fn::And":
        return all(boolean(a) for a in args)
    if fn == "Fn::Or":
        return any(boolean(a) for a in args)
    if fn == "Fn::Contains":
        return scalar(args[1]) in strings(args[0])
    if fn == "Fn::EachMemberEquals":
        return all(m == scalar(args[1]) for m in strings(args[0]))
    if fn == "Fn::EachMemberIn":
        return all(m in strings(args[1]) for m in strings(args[0]))
    raise Finding(f"{fn}: the rehearsal cannot evaluate it without the account")


def check_rules(stage, template, env):
    findings = []
    for name, rule in (template.get("Rules") or {}).items():
        try:
            refs = []
            if "RuleCondition" in rule and not evaluate(rule["RuleCondition"], env, refs):
                continue
            for assertion in rule.get("Assertions", []):
                read = list(refs)
                if evaluate(assertion["Assert"], env, read) is not True:
                    shown = ", ".join(f"{p}={','.join(env[p]) if isinstance(env[p], list) else env[p]}"
                                      for p in dict.fromkeys(read))
                    findings.append(f"{stage}: rule {name} fails for parameter(s) {shown}: "
                                    f"{assertion.get('AssertDescription', 'assertion failed')}")
        except Finding as e:
            findings.append(f"{stage}: rule {name}: {e}")
    return findings


# ------------------------------------------------------------------------ transform

PACKAGED = {  # SAM resource type → its local-path properties that `sam package` uploads
    "AWS::Serverless::Function": ["CodeUri"],
    "AWS::Serverless::LayerVersion": ["ContentUri"],
    "AWS::Serverless::Api": ["DefinitionUri"],
    "AWS::Serverless::HttpApi": ["DefinitionUri"],
    "AWS::Serverless::StateMachine": ["DefinitionUri"],
}


def package(template, stage):
    """Local paths as `sam package` rewrites them: s3://<bucket>/<key>."""
    def s3(path, owner):
        if isinstance(path, str) and not path.startswith("s3://"):
            digest = hashlib.sha256(f"{owner}:{path}".encode()).hexdigest()[:16]
            return f"s3://rehearsal-artifacts-{stage}/{owner}-{digest}"
        return path

    function_globals = (template.get("Globals") or {}).get("Function") or {}
    if "CodeUri" in function_globals:
        function_globals["CodeUri"] = s3(function_globals["CodeUri"], "globals")
    for logical_id, resource in (template.get("Resources") or {}).items():
        props = resource.get("Properties") or {} if isinstance(resource, dict) else {}
        for key in PACKAGED.get(resource.get("Type") if isinstance(resource, dict) else None, []):
            if key in props:
                props[key] = s3(props[key], logical_id)
    return template


def hide(node, inside_collection=False):
    """Renames the deploy-time functions (DEPLOY_TIME) so the language-extension step leaves
    them alone, except where it needs their value: a Fn::ForEach collection, a Fn::Length."""
    if isinstance(node, list):
        return [hide(n, inside_collection) for n in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key.startswith("Fn::ForEach::") and isinstance(value, list) and len(value) == 3:
            out[key] = [value[0], hide(value[1], True), hide(value[2], inside_collection)]
        elif key == "Fn::Length":
            out[key] = hide(value, True)
        elif key in DEPLOY_TIME and len(node) == 1 and not inside_collection:
            out[HIDDEN + key] = hide(value, inside_collection)
        else:
            out[key] = hide(value, inside_collection)
    return out


def unhide(node):
    if isinstance(node, list):
        return [unhide(n) for n in node]
    if isinstance(node, dict):
        return {(k[len(HIDDEN):] if k.startswith(HIDDEN) else k): unhide(v) for k, v in node.items()}
    return node


def stray_placeholders(node, path="", in_sub=False):
    """Strings holding `${...}` outside a Fn::Sub: a function flattened before deploy time."""
    if isinstance(node, list):
        return [p for i, n in enumerate(node) for p in stray_placeholders(n, f"{path}[{i}]", in_sub)]
    if isinstance(node, dict):
        return [p for k, v in node.items()
                for p in stray_placeholders(v, f"{path}.{k}", in_sub or k == "Fn::Sub")]
    if isinstance(node, str) and not in_sub and re.search(r"\$\{[A-Za-z0-9:.]+\}", node):
        return [path]
    return []


def transform(stage, template, values, region, stack):
    """The template CloudFormation would deploy for the stage (its processed template)."""
    from samcli.lib.cfn_language_extensions.sam_integration import expand_language_extensions
    from samtranslator.internal.managed_policies import get_bundled_managed_policy_map
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    pseudo = {"AWS::Region": region, "AWS::AccountId": FAKE_ACCOUNT, "AWS::Partition": "aws",
              "AWS::StackName": stack, "AWS::URLSuffix": "amazonaws.com",
              "AWS::StackId": f"arn:aws:cloudformation:{region}:{FAKE_ACCOUNT}:stack/{stack}/rehearsal"}
    packaged = hide(package(copy.deepcopy(template), stage))
    try:
        expanded = expand_language_extensions(packaged, {**values, **pseudo}, enabled=True).expanded_template
    except Exception as e:  # InvalidSamDocumentException and the library's own errors
        raise Finding(f"{stage}: AWS::LanguageExtensions: {e}") from e
    expanded = unhide(copy.deepcopy(expanded))
    transforms = expanded.get("Transform")
    transforms = [transforms] if isinstance(transforms, str) else list(transforms or [])
    expanded["Transform"] = [t for t in transforms if t != "AWS::LanguageExtensions"]
    if not expanded["Transform"]:
        del expanded["Transform"]
        translated = expanded
    else:
        asked = []

        def managed_policies():
            asked.append(True)
            return get_bundled_managed_policy_map("aws") or {}

        # The service's feature toggles are not public: with none, SAM takes each feature's
        # default (off), and says so once per function; the defaults are what this reports.
        logging.getLogger("samtranslator.feature_toggle").setLevel(logging.ERROR)
        # A region is all the translator asks of a session; no AWS call is made.
        translator = Translator(None, Parser(), boto_session=SimpleNamespace(region_name=region))
        try:
            translated = translator.translate(
                expanded, parameter_values={**values, **pseudo}, get_managed_policy_map=managed_policies)
        except InvalidDocumentException as e:
            causes = "; ".join(str(c) for c in e.causes) or str(e)
            raise Finding(f"{stage}: SAM transform: {causes}") from e
        finally:
            translator.metrics.publish()  # to its dummy publisher: nothing leaves the machine
    if translated.get("Transform"):
        raise Finding(f"{stage}: transforms left after SAM's: {translated['Transform']}")
    stray = stray_placeholders({k: translated.get(k) for k in ("Resources", "Outputs")})
    if stray:
        raise Finding(f"{stage}: ${{...}} outside Fn::Sub after the transform (a function resolved "
                      f"too early): {', '.join(stray[:5])}")
    return translated


def sizes(stage, translated, source):
    body = len(json.dumps(translated, separators=(",", ":")).encode())
    counts = {
        "template body (S3)": body,
        "resources": len(translated.get("Resources") or {}),
        "parameters": len(translated.get("Parameters") or {}),
        "outputs": len(translated.get("Outputs") or {}),
        "mappings": len(translated.get("Mappings") or {}),
    }
    findings = [f"{stage}: the processed template's {what} is {counts[what]}, over CloudFormation's "
                f"limit of {LIMITS[what]}" for what in LIMITS if counts[what] > LIMITS[what]]
    report = (f"{counts['resources']}/{LIMITS['resources']} resources, "
              f"{counts['parameters']}/{LIMITS['parameters']} parameters, "
              f"{counts['outputs']}/{LIMITS['outputs']} outputs, "
              f"{body / 1024:.0f} KiB/{LIMITS['template body (S3)'] // 1024} KiB processed template, "
              f"{source / 1024:.0f} KiB template"
              + (" (over 51,200 bytes: sam deploy sends it through S3)" if source > INLINE_BODY_LIMIT else ""))
    if source > LIMITS["template body (S3)"]:
        findings.append(f"{stage}: the template is {source} bytes, over CloudFormation's limit of "
                        f"{LIMITS['template body (S3)']}")
    return report, findings


# ------------------------------------------------------------------------ main

def conditions_of(template, env):
    """Every condition of the template, evaluated over env as CloudFormation does."""
    conditions = template.get("Conditions") or {}
    return {name: evaluate(node, env, [], conditions) for name, node in conditions.items()}


def check_orders(stage, values, backed_up):
    """What `Rules` cannot say, for they compare no numbers: daily recovery points are kept no
    longer than monthly ones (the history's retention), which are the backup vault lock's
    minimum and maximum retention; the other way round, AWS Backup refuses the lock. Only where
    the table is backed up (`backed_up`: the template's condition BackUpTable)."""
    if not backed_up:
        return []
    daily, kept = values.get("BackupDailyRetentionDays"), values.get("HistoryRetentionDays")
    if daily and kept and NUMBER.fullmatch(daily) and NUMBER.fullmatch(kept) \
            and float(daily) > float(kept):
        return [f"{stage}: parameter BackupDailyRetentionDays={daily} is above "
                f"HistoryRetentionDays={kept}: daily recovery points would outlive monthly "
                "ones, and the vault lock's minimum retention would exceed its maximum"]
    return []


def rehearse(stage, config, template, source, out, pipeline=None):
    """Findings of one stage; writes OUT/<stage>.json when its parameters pass. `pipeline`
    replaces the rehearsal's values of what the pipeline adds ({name: value})."""
    try:
        region, stack, overrides = deploy_settings(stage, config, pipeline)
    except Finding as e:
        return [str(e)]
    values, findings = stage_parameters(stage, template, overrides)
    pseudo = {"AWS::Region": region, "AWS::AccountId": FAKE_ACCOUNT, "AWS::Partition": "aws",
              "AWS::StackName": stack}
    env = typed(template, values, pseudo)
    findings += check_rules(stage, template, env)
    try:
        conditions = conditions_of(template, env)
    except Finding as e:
        findings.append(f"{stage}: {e}")
        conditions = {}
    findings += check_orders(stage, values, conditions.get("BackUpTable", False))
    if findings:
        return findings
    try:
        translated = transform(stage, template, values, region, stack)
    except Finding as e:
        return [str(e)]
    report, over = sizes(stage, translated, source)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stage}.json").write_text(json.dumps(translated, indent=1) + "\n")
    rehearsed = {"stack": stack, "region": region, "parameters": values,
                 "conditions": conditions, "pipeline": sorted(PIPELINE)}
    (out / f"{stage}.parameters.json").write_text(json.dumps(rehearsed, indent=1) + "\n")
    print(f"rehearse: {stage}: {region}, {stack}: {report} -> {out / f'{stage}.json'}")
    return over


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", action="append", help="a stage (repeatable); default: every one")
    parser.add_argument("--samconfig", type=Path, default=ROOT / "samconfig.toml")
    parser.add_argument("--template", type=Path, default=ROOT / "template.yaml")
    parser.add_argument("--out", type=Path, default=ROOT / "target" / "rehearsal")
    parser.add_argument("--pipeline", action="append", default=[], metavar="NAME=VALUE",
                        help="a value the pipeline adds, in place of the rehearsal's: "
                             + ", ".join(PIPELINE))
    parser.add_argument("--self-test", action="store_true")
    args = parser.parse_args(argv)
    if args.self_test:
        self_test()
        return 0
    from samcli.yamlhelper import yaml_parse

    pipeline = {}
    for pair in args.pipeline:
        name, _, value = pair.partition("=")
        if name not in PIPELINE:
            parser.error(f"--pipeline {name}: the pipeline adds only {', '.join(PIPELINE)}")
        pipeline[name] = value
    config = tomllib.loads(args.samconfig.read_text())
    text = args.template.read_text()
    template = yaml_parse(text)
    stages = args.stage or stages_of(config)
    findings = []
    for stage in stages:
        if stage not in stages_of(config):
            findings.append(f"{stage}: no [{stage}.deploy.parameters] in {args.samconfig}")
            continue
        findings += rehearse(stage, config, template, len(text.encode()), args.out, pipeline)
    for finding in findings:
        print(f"rehearse: {finding}", file=sys.stderr)
    return 1 if findings else 0


def self_test():
    # Numbers rules cannot compare.
    for kept in ["1827", "35"]:
        assert check_orders("prod", {"BackupDailyRetentionDays": "35",
                                     "HistoryRetentionDays": kept}, True) == []
    short = {"BackupDailyRetentionDays": "35", "HistoryRetentionDays": "30"}
    assert check_orders("dev", short, False) == []
    [finding] = check_orders("prod", short, True)
    # Conditions, one naming another, as the template's BackUpTable names UseCustomerManagedKey.
    conds = {"Managed": {"Fn::Equals": [{"Ref": "Mode"}, "customer-managed"]},
             "BackUp": {"Fn::And": [{"Fn::Not": [{"Fn::Equals": [{"Ref": "Stage"}, "dev"]}]},
                                    {"Condition": "Managed"}]}}
    backed = {"Stage": "prod", "Mode": "customer-managed"}
    assert conditions_of({"Conditions": conds}, backed) == {"Managed": True, "BackUp": True}
    assert conditions_of({"Conditions": conds}, {**backed, "Stage": "dev"})["BackUp"] is False
    assert finding.startswith("prod: parameter BackupDailyRetentionDays=35 is above"), finding
    # Overrides: quoted values, '=' inside values, a dropped `Key=` caught.
    assert read_overrides("t", 'A=1 B="x y" C=a=b D=https://a,https://b') == {
        "A": "1", "B": "x y", "C": "a=b", "D": "https://a,https://b"}
    assert read_overrides("t", "ParameterKey=A,ParameterValue=1") == {"A": "1"}
    for bad in ["A=1 B=", "A=1 A=2", "A", "A='x"]:
        try:
            read_overrides("t", bad)
        except Finding:
            continue
        raise AssertionError(f"not caught: {bad!r}")
    number = {"Type": "Number", "AllowedValues": [1, 7, 30]}
    assert check_parameter("t", "N", number, "7") == []
    assert check_parameter("t", "N", number, "7.0") == []
    assert "AllowedValues" in check_parameter("t", "N", number, "8")[0]
    assert "Type" in check_parameter("t", "N", number, "seven")[0]
    assert "MinValue" in check_parameter("t", "N", {"Type": "Number", "MinValue": 7}, "6")[0]
    assert "MaxValue" in check_parameter("t", "N", {"Type": "Number", "MaxValue": 7}, "8")[0]
    assert "AllowedPattern" in check_parameter("t", "S", {"AllowedPattern": "^$|^a+$"}, "ab")[0]
    assert check_parameter("t", "S", {"AllowedPattern": "a+"}, "aa") == []
    assert "MaxLength" in check_parameter("t", "S", {"MaxLength": 2}, "abc")[0]
    assert "MinLength" in check_parameter("t", "S", {"MinLength": 2}, "a")[0]
    listed = {"Type": "CommaDelimitedList", "AllowedValues": ["a", "b"]}
    assert check_parameter("t", "L", listed, "a, b") == []
    assert "'c'" in check_parameter("t", "L", listed, "a,c")[0]
    template = {"Parameters": {"Stage": {"Type": "String"}, "X": {"Type": "String", "Default": ""},
                               "Origins": {"Type": "CommaDelimitedList"}}}
    _, findings = stage_parameters("dev", template, {"Stage": "dev", "Nope": "1"})
    assert any("Nope" in f for f in findings) and any("Origins has no Default" in f for f in findings)
    _, findings = stage_parameters("dev", template, {"Stage": "prod", "Origins": "x"})
    assert any("Stage='prod'" in f for f in findings), findings
    # Rules as CloudFormation evaluates them.
    rules = {"Rules": {
        "NoWildcard": {"RuleCondition": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]},
                       "Assertions": [{"Assert": {"Fn::Not": [{"Fn::Contains": [{"Ref": "Origins"}, "*"]}]},
                                       "AssertDescription": "no *"}]},
        "Each": {"Assertions": [{"Assert": {"Fn::EachMemberIn": [{"Ref": "Origins"}, ["*", "https://a"]]}}]},
        "Both": {"Assertions": [{"Assert": {"Fn::Or": [{"Fn::And": [True, {"Fn::Equals": [{"Ref": "X"}, ""]}]},
                                                       {"Fn::EachMemberEquals": [{"Ref": "Origins"}, "*"]}]}}]},
    }, **template}
    env = typed(rules, {"Stage": "prod", "X": "", "Origins": "https://a, *"}, {})
    found = check_rules("prod", rules, env)
    assert len(found) == 1 and "rule NoWildcard" in found[0] and "Origins=https://a,*" in found[0], found
    assert check_rules("dev", rules, typed(rules, {"Stage": "dev", "X": "", "Origins": "*"}, {})) == []
    found = check_rules("dev", rules, typed(rules, {"Stage": "dev", "X": "y", "Origins": "https://b"}, {}))
    assert {f.split(" fails")[0] for f in found} == {"dev: rule Each", "dev: rule Both"}, found
    # Hiding keeps deploy-time functions out of the early resolution, and back after.
    node = {"A": {"Fn::Sub": "${T.Arn}/x"}, "B": {"Fn::ForEach::L": ["I", {"Fn::Split": [",", "a,b"]}, {}]}}
    assert unhide(hide(node)) == node
    assert HIDDEN + "Fn::Sub" in hide(node)["A"] and "Fn::Split" in hide(node)["B"]["Fn::ForEach::L"][1]
    assert stray_placeholders({"R": {"P": "${T.Arn}/x", "Q": {"Fn::Sub": "${T.Arn}"}}}) == [".R.P"]
    print("rehearse: self-test passed")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
