"""Expand a SAM template into plain CloudFormation offline, as the service's transform would, so
cfn-lint can check what SAM generates from event and authorizer definitions.

usage: sam-translate.py TEMPLATE OUTPUT.json
"""
import datetime
import json
import sys

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class NoManagedPolicies:
    """The templates name no managed policies, so nothing needs looking up in IAM."""

    def load(self):
        return {}


def undate(node):
    """PyYAML reads `2012-10-17` as a date (YAML 1.1); CloudFormation reads a string."""
    if isinstance(node, dict):
        return {k: undate(v) for k, v in node.items()}
    if isinstance(node, list):
        return [undate(v) for v in node]
    if isinstance(node, datetime.date):
        return node.isoformat()
    return node


def main(source, output):
    with open(source) as f:
        template = undate(yaml_parse(f.read()))
    # What `sam package` does to the local code path.
    template["Globals"]["Function"]["CodeUri"] = "s3://plugboard-artifacts/bootstrap.zip"
    expanded = transform(template, {}, NoManagedPolicies())
    with open(output, "w") as f:
        json.dump(expanded, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
