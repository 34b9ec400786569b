//! Template `Parameters` (defaults, the template's local defaults, the caller's overrides,
//! `AllowedValues`) and `Conditions`, which may only use parameters.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::WiringError;
use crate::resolve::{Resolver, scalar_string};

/// Evaluates every entry of `Conditions` (they may only use parameters).
pub(super) fn conditions(
    resolver: &Resolver<'_>,
    declared: Option<&Value>,
) -> Result<BTreeMap<String, bool>, WiringError> {
    let mut known = BTreeMap::new();
    let all = match declared {
        None | Some(Value::Null) => return Ok(known),
        Some(Value::Object(all)) => all,
        Some(_) => {
            return Err(WiringError::Invalid {
                resource: "Conditions".to_owned(),
                message: "is not a mapping".to_owned(),
            });
        }
    };
    for name in all.keys() {
        let reference = serde_json::json!({ "Condition": name });
        resolver
            .condition(&reference, all, &mut known, &mut Vec::new())
            .map_err(|message| WiringError::Resolve {
                location: format!("condition {name}"),
                message,
            })?;
    }
    Ok(known)
}

/// The resources that exist by logical id, and those a false Condition left out (logical id →
/// condition name).
pub(super) type Enabled = (BTreeMap<String, Value>, BTreeMap<String, String>);

/// The resources whose `Condition` holds, and those it leaves out (id → condition name): a
/// resource whose Condition is false does not exist once deployed (e.g. the seed facade with
/// SeedFacadeEnabled=false), so not locally either.
pub(super) fn enabled_resources(
    all_resources: BTreeMap<String, Value>,
    conditions: &BTreeMap<String, bool>,
) -> Result<Enabled, WiringError> {
    let mut resources = BTreeMap::new();
    let mut disabled = BTreeMap::new();
    for (id, resource) in all_resources {
        match resource.get("Condition") {
            None => {
                resources.insert(id, resource);
            }
            Some(Value::String(name)) => match conditions.get(name) {
                Some(true) => {
                    resources.insert(id, resource);
                }
                Some(false) => {
                    disabled.insert(id, name.clone());
                }
                None => {
                    return Err(WiringError::Invalid {
                        resource: format!("resource {id}"),
                        message: format!("Condition {name} is not declared in Conditions"),
                    });
                }
            },
            Some(other) => {
                return Err(WiringError::Invalid {
                    resource: format!("resource {id}"),
                    message: format!("Condition must be a condition name, got {other}"),
                });
            }
        }
    }
    Ok((resources, disabled))
}

/// `Metadata.ReservePlace::LocalParameterDefaults`: values the local runtime takes in place of
/// the parameters' defaults, for a default that suits a deployment but not one machine (the
/// seed facade, which has no sign-in, is off when deployed and on locally).
pub(super) fn local_defaults(
    metadata: Option<&Value>,
) -> Result<BTreeMap<String, String>, WiringError> {
    let invalid = |message: String| WiringError::Invalid {
        resource: format!("Metadata.{LOCAL_DEFAULTS}"),
        message,
    };
    let Some(declared) = metadata.and_then(|m| m.get(LOCAL_DEFAULTS)) else {
        return Ok(BTreeMap::new());
    };
    let Value::Object(declared) = declared else {
        return Err(invalid("is not a mapping".to_owned()));
    };
    declared
        .iter()
        .map(|(name, value)| {
            scalar_string(value)
                .map(|value| (name.clone(), value))
                .map_err(|message| invalid(format!("{name}: {message}")))
        })
        .collect()
}

const LOCAL_DEFAULTS: &str = "ReservePlace::LocalParameterDefaults";

pub(super) type Parameters = (BTreeMap<String, String>, BTreeSet<String>);

/// Each parameter's value: the caller's override, else the template's local default, else its
/// `Default`.
pub(super) fn parameters(
    declared: Option<&Value>,
    local_defaults: &BTreeMap<String, String>,
    overrides: &BTreeMap<String, String>,
) -> Result<Parameters, WiringError> {
    let empty = serde_json::Map::new();
    let declared = match declared {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(map)) => map,
        Some(_) => {
            return Err(WiringError::Invalid {
                resource: "Parameters".to_owned(),
                message: "is not a mapping".to_owned(),
            });
        }
    };
    if let Some(unknown) = overrides.keys().find(|k| !declared.contains_key(*k)) {
        // A typo in an override would otherwise silently keep the default.
        return Err(WiringError::Parameter {
            name: unknown.clone(),
            message: "override given but the template declares no such parameter".to_owned(),
        });
    }
    if let Some(unknown) = local_defaults.keys().find(|k| !declared.contains_key(*k)) {
        return Err(WiringError::Parameter {
            name: unknown.clone(),
            message: format!(
                "{LOCAL_DEFAULTS} names it but the template declares no such parameter"
            ),
        });
    }
    let mut values = BTreeMap::new();
    for (name, spec) in declared {
        let value = match overrides.get(name).or_else(|| local_defaults.get(name)) {
            Some(value) => Some(value.clone()),
            None => match spec.get("Default") {
                None => None,
                Some(default) => {
                    Some(
                        scalar_string(default).map_err(|message| WiringError::Parameter {
                            name: name.clone(),
                            message: format!("Default: {message}"),
                        })?,
                    )
                }
            },
        };
        let Some(value) = value else { continue };
        if let Some(Value::Array(allowed)) = spec.get("AllowedValues") {
            let allowed: Vec<String> = allowed
                .iter()
                .filter_map(|v| scalar_string(v).ok())
                .collect();
            if !allowed.contains(&value) {
                return Err(WiringError::Parameter {
                    name: name.clone(),
                    message: format!("value {value:?} is not one of {allowed:?}"),
                });
            }
        }
        values.insert(name.clone(), value);
    }
    Ok((values, declared.keys().cloned().collect()))
}
