"""Writes template.yaml with its Fn::ForEach blocks expanded (as the AWS::LanguageExtensions
transform does) to the JSON file given, beside it (CodeUri "." stays the workspace root), for
the tools that do not expand them: checkov (it would skip the resources) and `sam build` of SAM
CLI 1.170 (it fails). Runs in the lint tool set:
    scripts/tools.sh lint python3 scripts/expand-template.py template.expanded.json
"""
import json
import sys

from cfnlint.decode import decode


def expand(mapping):
    out = {}
    for key, value in mapping.items():
        if not key.startswith("Fn::ForEach::"):
            out[key] = value
            continue
        identifier, items, fragment = value
        text = json.dumps(fragment)
        for item in items:
            replaced = text.replace("${%s}" % identifier, item).replace("&{%s}" % identifier, item)
            for k, v in expand(json.loads(replaced)).items():
                assert k not in out, f"{k} twice"
                out[k] = v
    return out


template, matches = decode("template.yaml")
if template is None:
    sys.exit(f"template.yaml does not parse: {matches}")
template["Resources"] = expand(template["Resources"])
with open(sys.argv[1], "w") as f:
    json.dump(template, f, indent=1, default=str)
