#!/usr/bin/env python3
"""Writes the template `sam local` runs the functions from, without `sam build`.

`sam build` compiles the one bootstrap every function shares (each function's build Metadata is
identical) and writes a template whose functions' CodeUri point at the built artifacts. `make
lambda-build` builds the same bootstrap (same binary, same `lambda` profile) into
target/lambda/reserveplace/, so this script derives that template from template.yaml instead:

- every function's CodeUri is the directory holding that bootstrap, and its build Metadata is gone
  (there is nothing left to build);
- the functions reach a local AWS emulator through the template's own `EndpointUrl` parameter
  (their AWS_ENDPOINT_URL, absent when the parameter is empty, as on AWS): the script passes it;
- its Fn::ForEach loops are expanded (and AWS::LanguageExtensions taken off its transforms) as
  CloudFormation does, by tests/cfn/check_template.py's expand_language_extensions: `sam local
  invoke --language-extensions` expands them itself, but `sam local start-api` does not (it fails
  on the loop in a function's Events);
- a local state machine definition is found from the derived template's folder.

Usage: sam_local_template.py OUT_TEMPLATE CODE_DIR (CODE_DIR relative to OUT_TEMPLATE's folder,
as SAM resolves it).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import yaml

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

from samtranslator.yaml_helper import yaml_parse  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_template import expand_language_extensions  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
FUNCTION = "AWS::Serverless::Function"
STATE_MACHINE = "AWS::Serverless::StateMachine"


def derive(template: dict, code_dir: str, out_dir: Path) -> dict:
    defaults = {
        name: str(p["Default"]) for name, p in template.get("Parameters", {}).items() if "Default" in p
    }
    template = expand_language_extensions(template, defaults)
    functions = template.setdefault("Globals", {}).setdefault("Function", {})
    functions.pop("CodeUri", None)
    for resource in template.get("Resources", {}).values():
        if isinstance(resource, dict) and resource.get("Type") == FUNCTION:
            resource.pop("Metadata", None)
            resource.setdefault("Properties", {})["CodeUri"] = code_dir
        elif isinstance(resource, dict) and resource.get("Type") == STATE_MACHINE:
            # A local definition file, found from the derived template's folder.
            props = resource.get("Properties", {})
            if isinstance(props.get("DefinitionUri"), str):
                props["DefinitionUri"] = os.path.relpath(ROOT / props["DefinitionUri"], out_dir)
    return template


def main() -> int:
    if len(sys.argv) != 3:
        print("usage: sam_local_template.py OUT_TEMPLATE CODE_DIR", file=sys.stderr)
        return 2
    out, code_dir = Path(sys.argv[1]), sys.argv[2]
    template = yaml_parse((ROOT / "template.yaml").read_text(encoding="utf-8"))
    derived = derive(template, code_dir, out.resolve().parent)
    count = sum(
        1
        for r in derived["Resources"].values()
        if isinstance(r, dict) and r.get("Type") == FUNCTION
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(derived, sort_keys=False, width=120), encoding="utf-8")
    print(f"{out}: {count} functions from {code_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
