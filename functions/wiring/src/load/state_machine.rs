//! One `AWS::Serverless::StateMachine`: its ASL definition with `DefinitionSubstitutions`
//! applied, and the Lambda ARNs written into it mapped back to functions.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::{Entry, FUNCTION, properties};
use crate::resolve::{get_att_args, single_entry, substitute};
use crate::{StateMachineDef, WiringError, local_lambda_arn};

pub(super) fn state_machine(
    Entry(resolver, id, resource): Entry<'_>,
    base_dir: &Path,
) -> Result<StateMachineDef, WiringError> {
    let props = properties(resource);
    let invalid = |message: String| WiringError::Invalid {
        resource: format!("state machine {id}"),
        message,
    };
    let template = match (props.get("DefinitionUri"), props.get("Definition")) {
        (Some(uri), _) => {
            let uri = resolver.string(uri).map_err(|message| {
                invalid(format!(
                    "DefinitionUri must be a local file path ({message})"
                ))
            })?;
            let path = base_dir.join(&uri);
            std::fs::read_to_string(&path).map_err(|source| WiringError::Io {
                what: format!("definition of state machine {id}"),
                path,
                source,
            })?
        }
        (None, Some(definition)) => serde_json::to_string_pretty(definition)
            .map_err(|e| invalid(format!("Definition cannot be serialised: {e}")))?,
        (None, None) => {
            return Err(invalid(
                "has neither DefinitionUri nor Definition".to_owned(),
            ));
        }
    };

    let mut values = BTreeMap::new();
    let mut function_arns = BTreeMap::new();
    let substitutions = props
        .get("DefinitionSubstitutions")
        .and_then(Value::as_object);
    for (key, value) in substitutions.into_iter().flatten() {
        let resolved = match value.as_object().and_then(single_entry) {
            Some(("Fn::GetAtt", arg)) => {
                let location = format!("state machine {id}, DefinitionSubstitutions.{key}");
                let (target, attribute) =
                    get_att_args(arg).map_err(|message| WiringError::Resolve {
                        location: location.clone(),
                        message,
                    })?;
                match resolver.resources.get(&target) {
                    None if resolver.disabled.contains_key(&target) => {
                        // get_att explains which condition left it out.
                        return Err(WiringError::Resolve {
                            location,
                            message: resolver
                                .get_att(&target, &attribute)
                                .err()
                                .unwrap_or_default(),
                        });
                    }
                    None => {
                        return Err(WiringError::UnknownFunction {
                            state_machine: id.to_owned(),
                            key: key.clone(),
                            function: target,
                        });
                    }
                    Some(r)
                        if attribute == "Arn"
                            && r.get("Type").and_then(Value::as_str) == Some(FUNCTION) =>
                    {
                        let arn = local_lambda_arn(&target);
                        function_arns.insert(arn.clone(), target);
                        arn
                    }
                    Some(_) => resolver
                        .get_att(&target, &attribute)
                        .map_err(|message| WiringError::Resolve { location, message })?,
                }
            }
            _ => resolver
                .string(value)
                .map_err(|message| WiringError::Resolve {
                    location: format!("state machine {id}, DefinitionSubstitutions.{key}"),
                    message,
                })?,
        };
        // `!Ref Function.Alias` (AutoPublishAlias) resolves to the same local ARN as
        // `!GetAtt Function.Arn`, so Task states on the alias dispatch to the function too.
        if let Some(Value::String(name)) = value.get("Ref")
            && let Some(function) = name.strip_suffix(".Alias")
        {
            function_arns.insert(resolved.clone(), function.to_owned());
        }
        values.insert(key.clone(), resolved);
    }

    let definition = replace_placeholders(&template, &values);
    if let Some(start) = definition.find("${") {
        let rest = &definition[start..];
        let placeholder = rest
            .find('}')
            .map_or(rest, |end| &rest[..=end])
            .chars()
            .take(80)
            .collect();
        return Err(WiringError::UnsubstitutedPlaceholder {
            state_machine: id.to_owned(),
            placeholder,
        });
    }
    Ok(StateMachineDef {
        logical_id: id.to_owned(),
        definition,
        function_arns,
    })
}

/// Step Functions replaces only the `${Key}`s it has values for; the leftovers
/// are reported by the caller, so unknown names pass through untouched here.
fn replace_placeholders(template: &str, values: &BTreeMap<String, String>) -> String {
    let kept = substitute(template, |name| {
        Ok(values
            .get(name)
            .cloned()
            .unwrap_or_else(|| format!("${{{name}}}")))
    });
    // `substitute` only fails on an unterminated `${`; leave the text as it is
    // so the leftover check reports it.
    kept.unwrap_or_else(|_| template.to_owned())
}
