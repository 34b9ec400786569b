//! One `AWS::Serverless::Function`: its binary, handler, context tag, environment (Globals
//! merged), timeout and the tables whose stream invokes it.

use std::collections::BTreeMap;

use serde_json::Value;

use super::Entry;
use super::grants::{arn_resource, grants};
use super::{events, properties};
use crate::{FunctionDef, WiringError};

pub(super) fn function(
    Entry(resolver, id, resource): Entry<'_>,
    globals: &Value,
) -> Result<FunctionDef, WiringError> {
    let props = properties(resource);
    let at = |what: &str| format!("function {id}, {what}");
    let resolve_err = |location: String| move |message| WiringError::Resolve { location, message };

    let binary = match resource
        .get("Metadata")
        .and_then(|m| m.get("BuildProperties"))
        .and_then(|b| b.get("Binary"))
    {
        Some(binary) => resolver
            .string(binary)
            .map_err(resolve_err(at("Metadata.BuildProperties.Binary")))?,
        None => {
            return Err(WiringError::Invalid {
                resource: format!("function {id}"),
                message: "has no Metadata.BuildProperties.Binary (the cargo-lambda binary to run)"
                    .to_owned(),
            });
        }
    };

    let handler = match props.get("Handler").or_else(|| globals.get("Handler")) {
        Some(value) => resolver
            .optional_string(value)
            .map_err(resolve_err(at("Handler")))?,
        None => None,
    }
    .filter(|h| h != "bootstrap")
    .unwrap_or_else(|| binary.clone());

    // SAM merges Globals into the function before CloudFormation evaluates
    // intrinsics, so `!Ref AWS::NoValue` in the function removes the
    // property (or variable) altogether rather than exposing the global one.
    let context = match props
        .get("Tags")
        .and_then(|t| t.get("context"))
        .or_else(|| globals.get("Tags").and_then(|t| t.get("context")))
    {
        Some(value) => resolver
            .optional_string(value)
            .map_err(resolve_err(at("tag context")))?,
        None => None,
    };

    let mut merged = BTreeMap::new();
    for source in [globals, props] {
        let variables = source
            .get("Environment")
            .and_then(|e| e.get("Variables"))
            .and_then(Value::as_object);
        for (name, value) in variables.into_iter().flatten() {
            merged.insert(name, value);
        }
    }
    let mut env = BTreeMap::new();
    for (name, value) in merged {
        let value = resolver
            .optional_string(value)
            .map_err(resolve_err(at(&format!("environment variable {name}"))))?;
        if let Some(value) = value {
            env.insert(name.clone(), value);
        }
    }

    let timeout_seconds = match props.get("Timeout").or_else(|| globals.get("Timeout")) {
        Some(timeout) => match resolver
            .resolve_optional(timeout)
            .map_err(resolve_err(at("Timeout")))?
        {
            Some(timeout) => Some(
                resolver
                    .integer(&timeout)
                    .map_err(resolve_err(at("Timeout")))?,
            ),
            None => None,
        },
        None => None,
    };

    let stream_tables = events(resource)
        .into_iter()
        .filter(|(_, kind, _)| kind == "DynamoDB")
        .filter_map(|(_, _, p)| arn_resource(p.get("Stream")?))
        .map(|r| r.trim_end_matches("/stream").to_owned())
        .collect();

    Ok(FunctionDef {
        logical_id: id.to_owned(),
        binary,
        handler,
        context,
        env,
        timeout_seconds,
        stream_tables,
        grants: grants(
            chosen_policies(resolver.conditions, props.get("Policies"))
                .map_err(resolve_err(at("Policies")))?
                .as_ref(),
        ),
    })
}

/// The `Policies` list with each `!If [Condition, policy, policy]` entry replaced by the branch its
/// condition picks (and dropped for `AWS::NoValue`); the policies themselves stay unresolved, so
/// their ARN expressions still name the resources they grant.
fn chosen_policies(
    conditions: &BTreeMap<String, bool>,
    policies: Option<&Value>,
) -> Result<Option<Value>, String> {
    let Some(Value::Array(items)) = policies else {
        return Ok(policies.cloned());
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let Some(Value::Array(branches)) = item.get("Fn::If") else {
            out.push(item.clone());
            continue;
        };
        let [Value::String(condition), when_true, when_false] = branches.as_slice() else {
            return Err("!If needs [Condition, value if true, value if false]".to_owned());
        };
        let holds = conditions
            .get(condition)
            .ok_or_else(|| format!("!If refers to unknown condition {condition}"))?;
        let branch = if *holds { when_true } else { when_false };
        if branch.get("Ref").and_then(Value::as_str) != Some("AWS::NoValue") {
            out.push(branch.clone());
        }
    }
    Ok(Some(Value::Array(out)))
}
