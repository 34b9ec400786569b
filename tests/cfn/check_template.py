#!/usr/bin/env python3
"""Checks template.yaml as CloudFormation will see it, offline.

`cfn-lint template.yaml` lints the SAM template; CloudFormation deploys what the SAM transform makes
of it, where new resources (roles, versions, aliases, deployment groups, permissions) and their
references appear. This script does what `sam package` + `sam deploy` do up to the point of
creating the change set, with no account:

1. parses template.yaml (short-form tags included), expands its `Fn::ForEach` loops as the
   AWS::LanguageExtensions transform does ahead of the SAM transform, and rewrites every local
   CodeUri/DefinitionUri to an `s3://bucket/key` URI, as `sam package` does;
2. runs the SAM transform (aws-sam-translator, the library CloudFormation's transform runs) with
   the parameter values of one combination;
3. lints the transformed template with cfn-lint, with the same parameter values, and fails on any
   error (E*: schema, references, E3004 dependency cycles, ...);
4. checks CloudFormation's quotas (resources, parameters, outputs, template size) and what the
   template promises: every resource of the seed facade goes with its condition, a stack with
   every default exposes no route without the JWT authorizer, and every EventBridge-targeted
   function and stream mapping sends what it fails on to a dead-letter destination;
5. checks that every function has its own log group and its own rollback alarm, each watching
   that function, and that the transform makes exactly the resources (by logical id, type and
   condition) listed in tests/cfn/expected-resources.txt, so folding the template changes nothing
   that is deployed.

Run from the repository root: `.venv/bin/python tests/cfn/check_template.py` (`make template-check`).
`--record` rewrites tests/cfn/expected-resources.txt from the template instead of comparing with it
(for a change that means to add or remove resources).
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import logging
import os
import re
import sys
from pathlib import Path
from typing import Any

# The transform asks boto3 for a region; none is configured in CI and none is needed offline.
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

import cfnlint.api  # noqa: E402
from cfnlint.config import ManualArgs  # noqa: E402
from cfnlint.context.parameters import ParameterSet  # noqa: E402
from samtranslator.model.exceptions import InvalidDocumentException  # noqa: E402
from samtranslator.translator.transform import transform  # noqa: E402
from samtranslator.yaml_helper import yaml_parse  # noqa: E402

# The transform logs metrics and feature-toggle chatter at INFO/WARNING; its errors are raised.
logging.getLogger("samtranslator").setLevel(logging.ERROR)

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
EXPECTED_RESOURCES = Path(__file__).resolve().parent / "expected-resources.txt"
REGION = "us-east-1"

# CloudFormation quotas (per template).
MAX_RESOURCES = 500
MAX_PARAMETERS = 200
MAX_OUTPUTS = 200
MAX_BODY_DIRECT = 51_200  # TemplateBody in the API call
MAX_BODY_S3 = 1_048_576  # TemplateURL (sam deploy uploads a larger template to S3)

# Values for the parameters that have no default (required at deploy time).
REQUIRED = {
    "JwtAudience": "reserveplace",
}

# Parameters that decide a condition (or a transform-time choice), with a value for each branch.
# A parameter missing from the template is skipped, so this list can run ahead of the template.
VARIANTS: dict[str, list[str]] = {
    "SeedFacadeEnabled": ["false", "true"],
    "AlarmTopicArn": ["", "arn:aws:sns:us-east-1:000000000000:reserveplace-alarms"],
    "ApiReservedConcurrency": ["0", "10"],
    "RelayReservedConcurrency": ["0", "5"],
    "JwtIssuer": ["", "https://issuer.example.com/"],
    "EndpointUrl": ["", "http://host.containers.internal:5000"],
    "StepReservedConcurrency": ["0", "5"],
    "Architecture": ["arm64", "x86_64"],
    "AllowedOrigin": ["", "https://d111111abcdef8.cloudfront.net"],
    "StripeSecretArn": ["", "arn:aws:secretsmanager:us-east-1:000000000000:secret:reserveplace-stripe-AbCdEf"],
}

# The functions that call the payment provider, and so read its keys from the Stripe secret.
STRIPE_SECRET_READERS = {
    "PaymentAuthorizeFunction",
    "PaymentVoidFunction",
    "PaymentCaptureFunction",
    "PaymentRefundOnCancelFunction",
    "PaymentWebhookFunction",
}

# SAM attaches these AWS managed policies by name; CloudFormation's transform looks names up in
# IAM, here they are answered offline (the ARN form SAM writes itself needs no lookup).
MANAGED_POLICIES = {
    name: f"arn:aws:iam::aws:policy/{path}{name}"
    for name, path in [
        ("AWSLambdaBasicExecutionRole", "service-role/"),
        ("AWSLambdaDynamoDBExecutionRole", "service-role/"),
        ("AWSXrayWriteOnlyAccess", ""),
        ("AWSCodeDeployRoleForLambda", "service-role/"),
    ]
}


class OfflinePolicyLoader:
    """The part of samtranslator's ManagedPolicyLoader the transform calls."""

    def load(self) -> dict[str, str]:
        return dict(MANAGED_POLICIES)


# --- 0. AWS::LanguageExtensions: Fn::ForEach ---------------------------------------------------

LANGUAGE_EXTENSIONS = "AWS::LanguageExtensions"
FOREACH = "Fn::ForEach::"


class ForEachError(ValueError):
    pass


def expand_language_extensions(template: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
    """The template as CloudFormation hands it to the SAM transform: every `Fn::ForEach` loop of
    Conditions, Resources and Outputs (resource properties included) expanded, and
    AWS::LanguageExtensions taken off the Transform list. Only Fn::ForEach is supported: it is the
    one language extension the template uses."""
    out = copy.deepcopy(template)
    transforms = out.get("Transform")
    listed = transforms if isinstance(transforms, list) else [transforms] if transforms else []
    if any(_has_foreach(out.get(s)) for s in ("Conditions", "Resources", "Outputs")) and (
        LANGUAGE_EXTENSIONS not in listed
    ):
        raise ForEachError(f"Fn::ForEach needs Transform {LANGUAGE_EXTENSIONS}")
    rest = [t for t in listed if t != LANGUAGE_EXTENSIONS]
    if transforms is not None:
        if rest:
            out["Transform"] = rest[0] if len(rest) == 1 else rest
        else:
            del out["Transform"]
    for section in ("Conditions", "Resources", "Outputs"):
        if section in out:
            out[section] = _expand(out[section], params, section)
    return out


def _has_foreach(value: Any) -> bool:
    if isinstance(value, dict):
        return any(str(k).startswith(FOREACH) or _has_foreach(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_foreach(v) for v in value)
    return False


def _expand(value: Any, params: dict[str, str], where: str) -> Any:
    """Expands the loops in `value`: a loop key is replaced by the entries its body yields."""
    if isinstance(value, list):
        return [_expand(v, params, where) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    generated: dict[str, str] = {}
    for key, item in value.items():
        if isinstance(key, str) and key.startswith(FOREACH):
            entries = _expand_loop(key, item, params, f"{where}/{key}")
        else:
            entries = {key: _expand(item, params, f"{where}/{key}")}
        for name, entry in entries.items():
            if name in out:
                first = generated.get(name, "the template")
                second = key if key.startswith(FOREACH) else "the template"
                raise ForEachError(f"{where}: {name} is made by both {first} and {second}")
            out[name] = entry
            if key.startswith(FOREACH):
                generated[name] = key
    return out


def _expand_loop(key: str, loop: Any, params: dict[str, str], where: str) -> dict[str, Any]:
    if not (isinstance(loop, list) and len(loop) == 3 and isinstance(loop[2], dict)):
        raise ForEachError(f"{where}: must be [Identifier, Collection, {{OutputKey: OutputValue}}]")
    identifier, collection, body = loop
    if not isinstance(identifier, str) or not re.fullmatch(r"[A-Za-z0-9]+", identifier):
        raise ForEachError(f"{where}: identifier {identifier!r} is not alphanumeric")
    if identifier in params:
        raise ForEachError(f"{where}: identifier {identifier} is also a parameter")
    if isinstance(collection, dict) and set(collection) == {"Ref"}:
        name = collection["Ref"]
        if name not in params:
            raise ForEachError(f"{where}: collection refers to {name}, which is no parameter")
        items: Any = params[name].split(",")
    else:
        items = collection
    if not isinstance(items, list) or not all(isinstance(i, (str, int)) for i in items):
        raise ForEachError(f"{where}: the collection is not a list of strings")
    for output_key in body:
        if not (
            str(output_key).startswith(FOREACH)
            or f"${{{identifier}}}" in output_key
            or f"&{{{identifier}}}" in output_key
        ):
            raise ForEachError(f"{where}: output key {output_key} names neither ${{{identifier}}} nor &{{{identifier}}}")
    out: dict[str, Any] = {}
    for item in items:
        replaced = _substitute(body, identifier, str(item))
        for name, entry in _expand(replaced, params, where).items():
            if name in out:
                raise ForEachError(f"{where}: {name} is made twice (a repeated collection item?)")
            out[name] = entry
    return out


def _substitute(value: Any, identifier: str, item: str) -> Any:
    """`${Identifier}` becomes the item and `&{Identifier}` the item without its non-alphanumeric
    characters, in keys and strings alike (so in Fn::Sub strings); `Ref: Identifier` becomes the
    item itself."""
    if isinstance(value, str):
        return value.replace(f"${{{identifier}}}", item).replace(
            f"&{{{identifier}}}", re.sub(r"[^A-Za-z0-9]", "", item)
        )
    if isinstance(value, list):
        return [_substitute(v, identifier, item) for v in value]
    if isinstance(value, dict):
        if set(value) == {"Ref"} and value["Ref"] == identifier:
            return item
        return {
            _substitute(k, identifier, item): _substitute(v, identifier, item)
            for k, v in value.items()
        }
    return value


# --- 1. sam package ---------------------------------------------------------------------------

# Properties `sam package` uploads and replaces by their S3 location, per resource type.
PACKAGED = {
    "AWS::Serverless::Function": ["CodeUri"],
    "AWS::Serverless::StateMachine": ["DefinitionUri"],
    "AWS::Serverless::Api": ["DefinitionUri"],
    "AWS::Serverless::HttpApi": ["DefinitionUri"],
    "AWS::Serverless::LayerVersion": ["ContentUri"],
}


def s3_uri(local: str) -> str:
    digest = hashlib.sha256(local.encode()).hexdigest()[:32]
    return f"s3://reserveplace-artifacts/{digest}"


def package(template: dict[str, Any]) -> dict[str, Any]:
    packaged = copy.deepcopy(template)
    globals_fn = packaged.get("Globals", {}).get("Function", {})
    if isinstance(globals_fn.get("CodeUri"), str):
        globals_fn["CodeUri"] = s3_uri(globals_fn["CodeUri"])
    for resource in packaged.get("Resources", {}).values():
        if not isinstance(resource, dict):
            continue  # a Fn::ForEach loop: it makes no function here
        props = resource.get("Properties") or {}
        for key in PACKAGED.get(resource.get("Type", ""), []):
            value = props.get(key)
            if isinstance(value, str) and not value.startswith("s3://"):
                props[key] = s3_uri(value)
    return packaged


# --- condition evaluation (what CloudFormation decides from the parameter values) -------------


def evaluate(value: Any, params: dict[str, str], conditions: dict[str, bool]) -> Any:
    """Resolves Fn::If and drops AWS::NoValue, as CloudFormation does before creating resources."""
    if isinstance(value, dict):
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Fn::If":
                name, when_true, when_false = arg
                return evaluate(when_true if conditions[name] else when_false, params, conditions)
            if key == "Ref" and arg == "AWS::NoValue":
                return NO_VALUE
        out = {}
        for k, v in value.items():
            v = evaluate(v, params, conditions)
            if v is not NO_VALUE:
                out[k] = v
        return out
    if isinstance(value, list):
        return [v for v in (evaluate(i, params, conditions) for i in value) if v is not NO_VALUE]
    return value


NO_VALUE = object()


def condition_values(template: dict[str, Any], params: dict[str, str]) -> dict[str, bool]:
    declared = template.get("Conditions", {})
    known: dict[str, bool] = {}

    def scalar(v: Any) -> str:
        if isinstance(v, dict) and set(v) == {"Ref"}:
            return params[v["Ref"]]
        return str(v).lower() if isinstance(v, bool) else str(v)

    def cond(v: Any) -> bool:
        (key, arg), = v.items()
        if key == "Fn::Equals":
            return scalar(arg[0]) == scalar(arg[1])
        if key == "Fn::Not":
            return not cond(arg[0])
        if key == "Fn::And":
            return all(cond(a) for a in arg)
        if key == "Fn::Or":
            return any(cond(a) for a in arg)
        if key == "Condition":
            return named(arg)
        raise ValueError(f"unsupported condition function {key}")

    def named(name: str) -> bool:
        if name not in known:
            known[name] = cond(declared[name])
        return known[name]

    for name in declared:
        named(name)
    return known


def references(value: Any) -> set[str]:
    """Logical ids (and parameters) a value refers to through Ref, Fn::GetAtt and Fn::Sub."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, arg in value.items():
            if key == "Ref" and isinstance(arg, str):
                found.add(arg)
            elif key == "Fn::GetAtt":
                target = arg[0] if isinstance(arg, list) else str(arg).split(".")[0]
                found.add(target)
            elif key == "Fn::Sub":
                text = arg if isinstance(arg, str) else arg[0]
                local = set(arg[1]) if isinstance(arg, list) and len(arg) > 1 else set()
                found |= sub_references(text) - local
                if isinstance(arg, list) and len(arg) > 1:
                    found |= references(arg[1])
            else:
                found |= references(arg)
    elif isinstance(value, list):
        for item in value:
            found |= references(item)
    return found


def sub_references(text: str) -> set[str]:
    found = set()
    rest = text
    while "${" in rest:
        start = rest.index("${") + 2
        end = rest.index("}", start)
        name = rest[start:end]
        if not name.startswith("!"):
            found.add(name.split(".")[0])
        rest = rest[end + 1 :]
    return found


# --- 4. the template's own promises -----------------------------------------------------------


def deployed_view(cfn: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
    """The resources CloudFormation creates for these parameter values, with Fn::If resolved."""
    conditions = condition_values(cfn, params)
    resources = {}
    for rid, resource in cfn["Resources"].items():
        name = resource.get("Condition")
        if name is None or conditions[name]:
            resources[rid] = evaluate(resource, params, conditions)
    return resources


def check_references(resources: dict[str, Any], cfn: dict[str, Any]) -> list[str]:
    """Every Ref/GetAtt/DependsOn of a created resource names a created resource (or a parameter)."""
    known = set(resources) | set(cfn.get("Parameters", {}))
    problems = []
    for rid, resource in resources.items():
        targets = references(resource.get("Properties", {})) | references(
            resource.get("UpdatePolicy", {})
        )
        depends = resource.get("DependsOn", [])
        targets |= set([depends] if isinstance(depends, str) else depends)
        for target in sorted(targets):
            if target.startswith("AWS::") or target in known:
                continue
            problems.append(f"{rid} refers to {target}, which this stack does not create")
    return problems


def check_stripe_secret(resources: dict[str, Any], params: dict[str, str]) -> list[str]:
    """With StripeSecretArn, exactly the provider's callers may read that one secret, and every
    function is told where it is; without it, none may read a secret and none is told."""
    arn = params.get("StripeSecretArn", "")
    problems = []
    readers = set()

    def value(v: Any) -> Any:
        return params.get(v["Ref"]) if isinstance(v, dict) and set(v) == {"Ref"} else v

    for rid, resource in resources.items():
        if resource.get("Type") != "AWS::IAM::Role":
            continue
        for policy in resource.get("Properties", {}).get("Policies", []):
            for statement in policy.get("PolicyDocument", {}).get("Statement", []):
                actions = statement.get("Action", [])
                actions = [actions] if isinstance(actions, str) else actions
                if any(a.startswith("secretsmanager:") for a in actions):
                    readers.add(rid.removesuffix("Role"))
                    if actions != ["secretsmanager:GetSecretValue"] or value(statement.get("Resource")) != arn:
                        problems.append(f"{rid} grants {actions} on {statement.get('Resource')}")
    want = STRIPE_SECRET_READERS if arn else set()
    if readers != want:
        problems.append(f"the Stripe secret is readable by {sorted(readers)}, not {sorted(want)}")
    for rid, resource in resources.items():
        if resource.get("Type") != "AWS::Lambda::Function":
            continue
        env = resource.get("Properties", {}).get("Environment", {}).get("Variables", {})
        if (value(env.get("STRIPE_SECRET_ARN")) or "") != arn:
            problems.append(f"{rid} has STRIPE_SECRET_ARN {env.get('STRIPE_SECRET_ARN')!r}, not {arn!r}")
    return problems


def check_cors(resources: dict[str, Any], params: dict[str, str]) -> list[str]:
    """Browsers may call the API from exactly the AllowedOrigin, and from nowhere when it is empty."""
    origin = params.get("AllowedOrigin", "")
    problems = []
    for rid, resource in resources.items():
        if resource.get("Type") != "AWS::ApiGatewayV2::Api":
            continue
        props = resource.get("Properties", {})
        cors = props.get("CorsConfiguration") or props.get("Body", {}).get("x-amazon-apigateway-cors")
        if not origin and cors:
            problems.append(f"{rid}: CORS {cors} although AllowedOrigin is empty")
        if origin and (not cors or cors.get("allowOrigins") != [origin]):
            problems.append(f"{rid}: CORS {cors} does not allow exactly {origin}")
    return problems


def check_facade(
    sam: dict[str, Any], resources: dict[str, Any], params: dict[str, str]
) -> list[str]:
    """With the facade off, nothing of it exists; with every route, JWT unless it is the facade's."""
    facade = sorted(
        rid
        for rid, r in sam["Resources"].items()
        if r.get("Type") == "AWS::Serverless::Function" and r.get("Condition") == "SeedFacade"
    )
    problems = []
    if not facade:
        problems.append("no function of template.yaml has Condition SeedFacade (the seed facade)")
    facade_on = params.get("SeedFacadeEnabled") == "true"
    if not facade_on:
        for rid in sorted(resources):
            owner = next((f for f in facade if rid.startswith(f)), None)
            if owner:
                problems.append(f"{rid} (of {owner}) is created with SeedFacadeEnabled=false")
    for rid, resource in resources.items():
        if resource.get("Type") != "AWS::ApiGatewayV2::Api":
            continue
        body = resource.get("Properties", {}).get("Body", {})
        default_security = body.get("security")
        for path, methods in body.get("paths", {}).items():
            for method, operation in methods.items():
                if not isinstance(operation, dict) or method.startswith("x-"):
                    continue
                security = operation.get("security", default_security)
                integration = operation.get("x-amazon-apigateway-integration", {})
                refs = references(integration)
                target = sorted(t for t in refs if not t.startswith("AWS::"))
                # SAM writes `Authorizer: NONE` as the pseudo-scheme NONE.
                open_route = not any(name != "NONE" for s in security or [] for name in s)
                if not open_route:
                    continue
                is_facade = any(t.startswith(f) for t in target for f in facade)
                # The provider's webhook sends no JWT: the handler verifies each delivery's signature.
                if target and all(t.startswith(SIGNED_WEBHOOK) for t in target):
                    continue
                if not facade_on or not is_facade:
                    problems.append(
                        f"{method.upper()} {path} ({', '.join(target)}) has no JWT authorizer "
                        f"with SeedFacadeEnabled={params.get('SeedFacadeEnabled')}"
                    )
    return problems


def check_failure_destinations(
    sam: dict[str, Any], resources: dict[str, Any]
) -> list[str]:
    """Nothing a consumer fails on is dropped. A rule invoking a function directly is an
    asynchronous invoke, whose function errors Lambda retries twice within minutes before giving
    up, so every consumer reads its own queue instead (check_consumer_queues). A DynamoDB stream
    mapping needs a bound and an OnFailure destination."""
    problems = []
    for rid, r in sam["Resources"].items():
        if r.get("Type") != "AWS::Serverless::Function" or rid not in resources:
            continue
        events = (r.get("Properties") or {}).get("Events") or {}
        if {e.get("Type") for e in events.values()} & {"EventBridgeRule", "CloudWatchEvent"}:
            problems.append(
                f"{rid} is invoked by a rule directly (asynchronously): Lambda retries a failure "
                "twice within minutes, then gives up; a consumer reads its own queue"
            )
    for rid, resource in resources.items():
        props = resource.get("Properties", {})
        if resource.get("Type") != "AWS::Lambda::EventSourceMapping" or "StartingPosition" not in props:
            continue
        missing = [
            key
            for key, ok in [
                ("MaximumRecordAgeInSeconds", props.get("MaximumRecordAgeInSeconds", -1) != -1),
                ("MaximumRetryAttempts", props.get("MaximumRetryAttempts", -1) != -1),
                ("DestinationConfig.OnFailure", props.get("DestinationConfig", {}).get("OnFailure")),
            ]
            if not ok
        ]
        if missing:
            problems.append(f"{rid} (stream mapping) has no {', '.join(missing)}: a failing batch blocks its shard")
    return problems


def check_identity(resources: dict[str, Any], params: dict[str, str]) -> list[str]:
    """Someone can sign in to what is deployed: without a JwtIssuer the stack makes a user pool
    and the API's JWT authorizer trusts exactly its issuer and app client; with one, no pool
    exists and the authorizer trusts the given issuer."""
    # SAM writes the HTTP API's authorizers into its OpenAPI body.
    def jwt_configurations(value: Any) -> list[dict[str, Any]]:
        if isinstance(value, dict):
            found = [value["jwtConfiguration"]] if "jwtConfiguration" in value else []
            return found + [c for v in value.values() for c in jwt_configurations(v)]
        if isinstance(value, list):
            return [c for v in value for c in jwt_configurations(v)]
        return []

    configs = jwt_configurations(
        [r for r in resources.values() if r.get("Type") == "AWS::ApiGatewayV2::Api"]
    )
    if len(configs) != 1:
        return [f"{len(configs)} JWT authorizers, not one"]
    jwt = {"Issuer": configs[0].get("issuer"), "Audience": configs[0].get("audience")}
    pools = [rid for rid, r in resources.items() if r.get("Type") == "AWS::Cognito::UserPool"]
    clients = [rid for rid, r in resources.items() if r.get("Type") == "AWS::Cognito::UserPoolClient"]
    if params.get("JwtIssuer"):
        if pools or clients:
            return [f"a JwtIssuer is given, yet the stack makes {pools + clients}"]
        given = jwt.get("Issuer") in (params["JwtIssuer"], {"Ref": "JwtIssuer"})
        return [] if given else [f"the authorizer's issuer {jwt.get('Issuer')} is not JwtIssuer"]
    if len(pools) != 1 or len(clients) != 1:
        return [f"no JwtIssuer, and the stack makes pools {pools} and clients {clients}"]
    problems = []
    named = {r for r in references(jwt.get("Issuer")) if not r.startswith("AWS::")}
    if named != {pools[0]} or "cognito-idp" not in json.dumps(jwt.get("Issuer")):
        problems.append(f"the authorizer's issuer {jwt.get('Issuer')} is not the user pool's")
    if references(jwt.get("Audience")) != {clients[0]}:
        problems.append(f"the authorizer's audience {jwt.get('Audience')} is not the app client")
    flows = resources[clients[0]]["Properties"].get("ExplicitAuthFlows", [])
    if "ALLOW_USER_PASSWORD_AUTH" not in flows:
        problems.append("the app client cannot sign in with a password (README's walkthrough)")
    return problems


MAX_TEMPLATE_LINES = 1500

# The one route open without a JWT outside the seed facade.
SIGNED_WEBHOOK = "PaymentWebhookFunction"

# A consumer failing for this long (a context down for a week) must still be retried, not
# dead-lettered.
RETRY_BUDGET_SECONDS = 7 * 86400


def retry_budget(first: int, cap: int, max_receive_count: int) -> int:
    """Seconds from a message's first receive to its move to the dead-letter queue when every
    receive fails: the function sets each failed receive's backoff (doubling from `first` up to
    `cap`; the same rule as the handlers' `retry_delay`), and the receive after the
    `max_receive_count`-th moves it."""
    return sum(min(first << min(n, 30), cap) for n in range(max_receive_count))


def check_consumer_queues(resources: dict[str, Any]) -> list[str]:
    """Each queue a function reads: batch failures reported, concurrency bounded on the mapping
    (reserved concurrency would throttle receives, which count towards maxReceiveCount), a retry
    budget of at least a week within maxReceiveCount and the queue's retention, a dead-letter queue
    kept longer than its source, a visibility timeout of six function timeouts, only its own rule
    allowed to send, and alarms on its oldest message and on its dead letters."""
    problems = []
    aliases = {
        rid: next(iter(references(r["Properties"].get("FunctionName"))), None)
        for rid, r in resources.items()
        if r.get("Type") == "AWS::Lambda::Alias"
    }
    policies: dict[str, list[dict[str, Any]]] = {}
    for r in resources.values():
        if r.get("Type") == "AWS::SQS::QueuePolicy":
            for q in r["Properties"].get("Queues", []):
                for target in references(q):
                    policies.setdefault(target, []).extend(r["Properties"]["PolicyDocument"].get("Statement", []))
    rule_targets = {
        rid: {t for target in r["Properties"].get("Targets", []) for t in references(target.get("Arn"))}
        for rid, r in resources.items()
        if r.get("Type") == "AWS::Events::Rule"
    }
    alarms = [
        (r["Properties"].get("MetricName"), references(r["Properties"].get("Dimensions")))
        for r in resources.values()
        if r.get("Type") == "AWS::CloudWatch::Alarm" and r["Properties"].get("Namespace") == "AWS/SQS"
    ]
    consumers = 0
    for rid, m in sorted(resources.items()):
        props = m.get("Properties", {})
        sources = references(props.get("EventSourceArn"))
        if m.get("Type") != "AWS::Lambda::EventSourceMapping" or not sources:
            continue
        queue_id = next(iter(sources))
        queue = resources.get(queue_id, {})
        if queue.get("Type") != "AWS::SQS::Queue":
            continue
        consumers += 1
        fn_ref = next(iter(references(props.get("FunctionName"))), "")
        fid = aliases.get(fn_ref, fn_ref)
        fn = resources.get(fid, {}).get("Properties", {})
        at = f"{queue_id} -> {fid}"
        if "ReportBatchItemFailures" not in props.get("FunctionResponseTypes", []):
            problems.append(f"{at}: no ReportBatchItemFailures, one failed record redelivers its whole batch")
        if not (props.get("ScalingConfig") or {}).get("MaximumConcurrency"):
            problems.append(f"{at}: no ScalingConfig.MaximumConcurrency on the mapping")
        if "ReservedConcurrentExecutions" in fn:
            problems.append(f"{at}: reserved concurrency throttles receives, which count towards maxReceiveCount")
        q = queue.get("Properties", {})
        redrive = q.get("RedrivePolicy") or {}
        dlq_id = next(iter(references(redrive.get("deadLetterTargetArn"))), None)
        dlq = resources.get(dlq_id or "", {}).get("Properties")
        if dlq is None:
            problems.append(f"{at}: no dead-letter queue (RedrivePolicy)")
            continue
        env = (fn.get("Environment") or {}).get("Variables", {})
        try:
            first, cap = int(env["CONSUMER_RETRY_FIRST_SECONDS"]), int(env["CONSUMER_RETRY_MAX_SECONDS"])
            budget = retry_budget(first, cap, int(redrive["maxReceiveCount"]))
        except (KeyError, ValueError, TypeError) as e:
            problems.append(f"{at}: cannot add up the retry budget ({e!r})")
            continue
        retention = int(q.get("MessageRetentionPeriod", 345600))
        if budget < RETRY_BUDGET_SECONDS:
            problems.append(f"{at}: retries last {budget / 86400:.1f} days, under a week, before the dead-letter queue")
        if retention <= budget:
            problems.append(f"{at}: messages expire after {retention} s, before the {budget} s of retries end")
        if int(dlq.get("MessageRetentionPeriod", 345600)) <= retention:
            problems.append(f"{dlq_id}: keeps messages no longer than its source {queue_id}")
        if int(q.get("VisibilityTimeout", 30)) < 6 * int(fn.get("Timeout", 3)):
            problems.append(f"{at}: VisibilityTimeout under six times the function's Timeout")
        senders = [
            st for st in policies.get(queue_id, [])
            if st.get("Effect") == "Allow" and st.get("Action") in ("sqs:SendMessage", ["sqs:SendMessage"])
        ]
        allowed = {
            r for st in senders for r in references((st.get("Condition") or {}).get("ArnEquals"))
        }
        if not senders or any(st.get("Principal") != {"Service": "events.amazonaws.com"} for st in senders):
            problems.append(f"{queue_id}: its policy lets no rule (or not only EventBridge) send")
        elif not allowed or any(queue_id not in rule_targets.get(r, set()) for r in allowed):
            problems.append(f"{queue_id}: its policy does not restrict sending to the rule that targets it")
        for metric, watched in [("ApproximateAgeOfOldestMessage", queue_id), ("ApproximateNumberOfMessagesVisible", dlq_id)]:
            if (metric, {watched}) not in alarms:
                problems.append(f"{at}: no alarm on {watched}'s {metric}")
    if not consumers:
        problems.append("no function reads a queue")
    return problems


def check_quotas(cfn: dict[str, Any], packaged_size: int, transformed_size: int) -> list[str]:
    problems = []
    for section, limit in [
        ("Resources", MAX_RESOURCES),
        ("Parameters", MAX_PARAMETERS),
        ("Outputs", MAX_OUTPUTS),
    ]:
        count = len(cfn.get(section, {}))
        if count > limit:
            problems.append(f"{count} {section} after the transform (CloudFormation allows {limit})")
    for what, size in [
        ("packaged template (as JSON)", packaged_size),
        ("transformed template", transformed_size),
    ]:
        if size > MAX_BODY_S3:
            problems.append(f"{what} is {size} bytes (CloudFormation allows {MAX_BODY_S3} from S3)")
    return problems


# --- 5. per-function operations, and the resources the transform makes ------------------------


def check_function_operations(sam: dict[str, Any]) -> list[str]:
    """Every function has `<Function>LogGroup`, which it logs to and which is named after it, and
    `<Function>ErrorsAlarm`, which its deployments roll back on and whose every Lambda metric is
    that function's 'live' alias; each goes with the function's condition. A loop that generates
    them could otherwise point one function's alarm at another without any other check noticing."""
    resources = sam.get("Resources", {})
    functions = {
        rid: r for rid, r in resources.items() if r.get("Type") == "AWS::Serverless::Function"
    }
    problems = []
    for fid, function in sorted(functions.items()):
        props = function.get("Properties") or {}
        condition = function.get("Condition")
        log_id, alarm_id = f"{fid}LogGroup", f"{fid}ErrorsAlarm"

        log = resources.get(log_id)
        if not log or log.get("Type") != "AWS::Logs::LogGroup":
            problems.append(f"{fid} has no log group {log_id}")
        else:
            name = (log.get("Properties") or {}).get("LogGroupName")
            text = name.get("Fn::Sub") if isinstance(name, dict) else name
            if not (isinstance(text, str) and text.endswith(f"/{fid}")):
                problems.append(f"{log_id}: LogGroupName {name} is not named after {fid}")
            if log.get("Condition") != condition:
                problems.append(f"{log_id}: Condition {log.get('Condition')}, {fid} has {condition}")
        logged_to = (props.get("LoggingConfig") or {}).get("LogGroup")
        if references(logged_to) != {log_id}:
            problems.append(f"{fid} logs to {logged_to}, not its own {log_id}")

        alarm = resources.get(alarm_id)
        if not alarm or alarm.get("Type") != "AWS::CloudWatch::Alarm":
            problems.append(f"{fid} has no rollback alarm {alarm_id}")
        else:
            problems += _alarm_watches(alarm_id, alarm, fid)
            if alarm.get("Condition") != condition:
                problems.append(f"{alarm_id}: Condition {alarm.get('Condition')}, {fid} has {condition}")
        rolls_back_on = (props.get("DeploymentPreference") or {}).get("Alarms")
        if references(rolls_back_on) != {alarm_id}:
            problems.append(f"{fid} rolls back on {rolls_back_on}, not its own {alarm_id}")

    # Nothing named for a function that is not one (a loop's list and the functions drifting apart).
    for rid, r in sorted(resources.items()):
        for suffix, kind in [("ErrorsAlarm", "AWS::CloudWatch::Alarm"), ("LogGroup", "AWS::Logs::LogGroup")]:
            owner = rid[: -len(suffix)]
            if r.get("Type") == kind and rid.endswith(suffix) and owner.endswith("Function"):
                if owner not in functions:
                    problems.append(f"{rid} is named for {owner}, which is no function of the template")
    return problems


def _alarm_watches(alarm_id: str, alarm: dict[str, Any], fid: str) -> list[str]:
    props = alarm.get("Properties") or {}
    metrics = [
        (m.get("Id"), m["MetricStat"].get("Metric", {}))
        for m in props.get("Metrics") or []
        if "MetricStat" in m
    ]
    if "MetricName" in props:
        metrics.append(("", props))
    if not metrics:
        return [f"{alarm_id} watches no metric"]
    problems = []
    for metric_id, metric in metrics:
        where = f"{alarm_id} metric {metric_id}".rstrip()
        if metric.get("Namespace") != "AWS/Lambda":
            problems.append(f"{where}: namespace {metric.get('Namespace')}, not AWS/Lambda")
        dims = {d.get("Name"): d.get("Value") for d in metric.get("Dimensions") or []}
        if references(dims.get("FunctionName")) != {fid}:
            problems.append(f"{where}: FunctionName {dims.get('FunctionName')} is not {fid}")
        resource = dims.get("Resource")
        text = resource.get("Fn::Sub") if isinstance(resource, dict) else None
        if references(resource) != {fid} or text != f"${{{fid}}}:live":
            problems.append(f"{where}: Resource {resource} is not {fid}'s live alias")
    return problems


# AutoPublishAlias names each function's version after a hash of its code and properties, so a
# changed environment variable renames every version: the set is compared with the hash masked.
VERSION_HASH = re.compile(r"^(\w+FunctionVersion)[0-9a-f]{10}$")


def resource_lines(cfn: dict[str, Any]) -> list[str]:
    """One line per resource of a transformed template: logical id (a version's hash masked),
    type, and condition if any."""
    return sorted(
        " ".join([VERSION_HASH.sub(r"\1<hash>", rid), r.get("Type", "?")] + ([r["Condition"]] if "Condition" in r else []))
        for rid, r in cfn["Resources"].items()
    )


def read_expected() -> list[str]:
    lines = EXPECTED_RESOURCES.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line and not line.startswith("#")]


def check_resource_set(lines: list[str], expected: list[str]) -> list[str]:
    have, want = set(lines), set(expected)
    problems = [f"the transform makes {line}, which {EXPECTED_RESOURCES.name} does not list" for line in sorted(have - want)]
    problems += [f"the transform no longer makes {line} ({EXPECTED_RESOURCES.name})" for line in sorted(want - have)]
    return problems


# --- the combinations -------------------------------------------------------------------------


def combinations(declared: dict[str, Any]) -> tuple[list[dict[str, str]], str]:
    """Every combination of the condition parameters' values when that is small, else each value
    at least once: the defaults, each parameter flipped alone, and every parameter flipped."""
    variants = {name: values for name, values in VARIANTS.items() if name in declared}
    for name, values in variants.items():
        default = declared[name].get("Default")
        if default is not None and str(default) in values:
            values.sort(key=lambda v: v != str(default))  # the default first
    names = list(variants)
    product = list(itertools.product(*(variants[n] for n in names)))
    if len(product) <= 16:
        return [dict(zip(names, values)) for values in product], "cartesian product"
    base = {n: variants[n][0] for n in names}
    combos = [dict(base)]
    for n in names:
        for value in variants[n][1:]:
            combos.append({**base, n: value})
    combos.append({n: variants[n][-1] for n in names})
    return combos, "defaults, each value alone, and all non-defaults together"


def typed(params: dict[str, str], declared: dict[str, Any]) -> dict[str, Any]:
    """Parameter values as a deployment file holds them: lists and numbers for those types."""
    out: dict[str, Any] = {}
    for name, value in params.items():
        kind = declared.get(name, {}).get("Type", "String")
        if kind == "CommaDelimitedList" or kind.startswith("List<"):
            out[name] = value.split(",")
        elif kind == "Number":
            out[name] = int(value) if value.lstrip("-").isdigit() else float(value)
        else:
            out[name] = value
    return out


def lint(cfn_json: str, params: dict[str, Any]) -> list[str]:
    # With the parameter values, cfn-lint checks the stack they make (conditions decided).
    config = ManualArgs(regions=[REGION], parameters=[ParameterSet("combination", params)])
    matches = cfnlint.api.lint(cfn_json, config=config)
    errors = []
    for m in matches:
        rule_id = m.rule.id
        if rule_id.startswith("E"):
            path = "/".join(str(p) for p in (m.path or [])) if hasattr(m, "path") else ""
            errors.append(f"{rule_id} {m.message} [{path}]")
    return errors


def main() -> int:
    args = sys.argv[1:]
    record = "--record" in args
    args = [a for a in args if a != "--record"]
    # Another template (e.g. a broken copy, to see the check fail) may be given as the argument.
    template = Path(args[0]) if args else TEMPLATE
    text = template.read_text(encoding="utf-8")
    sam = yaml_parse(text)
    declared = sam.get("Parameters", {})
    combos, how = combinations(declared)
    defaults = {n: str(p["Default"]) for n, p in declared.items() if "Default" in p}
    # What sam deploy uploads still has its loops: CloudFormation expands them.
    packaged_size = len(json.dumps(package(sam), indent=1).encode())
    source_size = len(text.encode())
    upload = "inline" if packaged_size <= MAX_BODY_DIRECT else "from S3 (sam deploy uploads it)"
    print(
        f"{template.name}: {source_size} bytes, packaged (as JSON) {packaged_size} bytes; "
        f"CloudFormation takes {MAX_BODY_DIRECT} inline and {MAX_BODY_S3} from S3: {upload}"
    )
    print(f"checking {len(combos)} parameter combinations ({how})")
    expected = None if record else read_expected()
    recorded: dict[str, list[str]] = {}
    # A newcomer reads the template whole: repetition belongs in loops and Globals.
    lines = text.count("\n")
    failures = 0
    if lines > MAX_TEMPLATE_LINES:
        print(f"[FAIL] {template.name} has {lines} lines, over {MAX_TEMPLATE_LINES}")
        failures += 1

    for combo in combos:
        params = {**defaults, **REQUIRED, **combo}
        label = " ".join(f"{k}={v!r}" for k, v in combo.items())
        problems: list[str] = []
        cfn = None
        try:
            expanded = expand_language_extensions(sam, params)
        except ForEachError as e:
            problems = [f"Fn::ForEach: {e}"]
            expanded = None
        if expanded is not None:
            try:
                cfn = transform(
                    package(expanded),
                    {**params, "AWS::Region": REGION, "AWS::Partition": "aws"},
                    OfflinePolicyLoader(),
                )
            except InvalidDocumentException as e:
                problems = [f"SAM transform: {cause.message}" for cause in e.causes]
        if cfn is not None and expanded is not None:
            cfn_json = json.dumps(cfn, indent=1, sort_keys=True)
            problems += lint(cfn_json, typed(params, declared))
            resources = deployed_view(cfn, params)
            problems += check_quotas(cfn, packaged_size, len(cfn_json.encode()))
            problems += check_references(resources, cfn)
            problems += check_facade(expanded, resources, params)
            problems += check_failure_destinations(expanded, resources)
            problems += check_consumer_queues(resources)
            problems += check_identity(resources, params)
            problems += check_cors(resources, params)
            problems += check_stripe_secret(resources, params)
            problems += check_function_operations(expanded)
            lines = resource_lines(cfn)
            recorded[label] = lines
            if expected is not None:
                problems += check_resource_set(lines, expected)
            summary = (
                f"{len(cfn['Resources'])} resources ({len(resources)} created), "
                f"{len(cfn.get('Parameters', {}))} parameters, {len(cfn.get('Outputs', {}))} outputs, "
                f"{len(cfn_json.encode())} bytes transformed"
            )
        else:
            summary = "not transformed"
        status = "FAIL" if problems else "ok"
        print(f"[{status}] {label}: {summary}")
        for problem in problems:
            print(f"    {problem}")
        failures += bool(problems)
    if record and not failures:
        # Conditions leave resources out at deploy time, not from the transform's output, so
        # every combination makes the same set; one list serves them all.
        sets = {tuple(lines) for lines in recorded.values()}
        if len(sets) != 1:
            print("the combinations make different resource sets; nothing recorded", file=sys.stderr)
            return 1
        header = (
            "# Every resource the SAM transform makes of template.yaml (after Fn::ForEach), one a line:\n"
            "# logical id, type, condition. tests/cfn/check_template.py compares each parameter\n"
            "# combination with it; `check_template.py --record` rewrites it.\n"
        )
        EXPECTED_RESOURCES.write_text(header + "\n".join(sets.pop()) + "\n", encoding="utf-8")
        print(f"recorded {EXPECTED_RESOURCES.relative_to(ROOT)}")
    if failures:
        print(f"{failures} of {len(combos)} combinations fail", file=sys.stderr)
        return 1
    print(f"all {len(combos)} combinations pass")
    return 0


if __name__ == "__main__":
    sys.exit(main())
