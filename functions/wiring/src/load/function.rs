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
        grants: grants(props.get("Policies")),
    })
}
