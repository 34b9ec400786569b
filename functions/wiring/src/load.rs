//! Building [`Wiring`] from a parsed template.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

use crate::resolve::{Resolver, get_att_args, scalar_string, single_entry, substitute};
use crate::{
    FunctionDef, Grant, Route, Router, Rule, RuleMatcher, StateMachineDef, TableDef, Target,
    Wiring, WiringError, local_lambda_arn, yaml,
};

const FUNCTION: &str = "AWS::Serverless::Function";
const STATE_MACHINE: &str = "AWS::Serverless::StateMachine";
const TABLE: &str = "AWS::DynamoDB::Table";
const SIMPLE_TABLE: &str = "AWS::Serverless::SimpleTable";

impl Wiring {
    /// Reads the SAM template at `template`. `overrides` replace parameter
    /// defaults (like `sam deploy --parameter-overrides`) and the template's local
    /// defaults (`Metadata.ReservePlace::LocalParameterDefaults`); relative paths in
    /// the template (`DefinitionUri`) are taken from the template's folder.
    pub fn load(
        template: &Path,
        overrides: &BTreeMap<String, String>,
    ) -> Result<Wiring, WiringError> {
        let text = std::fs::read_to_string(template).map_err(|source| WiringError::Io {
            what: "template".to_owned(),
            path: template.to_path_buf(),
            source,
        })?;
        let base_dir = template.parent().unwrap_or_else(|| Path::new("."));
        Self::from_yaml_named(&text, &template.display().to_string(), base_dir, overrides)
    }

    /// Like [`Wiring::load`] for template text already in memory; `base_dir`
    /// is where relative `DefinitionUri`s are looked up.
    pub fn from_yaml(
        text: &str,
        base_dir: &Path,
        overrides: &BTreeMap<String, String>,
    ) -> Result<Wiring, WiringError> {
        Self::from_yaml_named(text, "<memory>", base_dir, overrides)
    }

    fn from_yaml_named(
        text: &str,
        source_name: &str,
        base_dir: &Path,
        overrides: &BTreeMap<String, String>,
    ) -> Result<Wiring, WiringError> {
        let yaml_error = |message: String| WiringError::Yaml {
            source_name: source_name.to_owned(),
            message,
        };
        let doc = yaml::parse(text).map_err(yaml_error)?;
        let Value::Object(doc) = doc else {
            return Err(yaml_error("the document is not a mapping".to_owned()));
        };

        let local_defaults = local_defaults(doc.get("Metadata"))?;
        let (parameters, declared_parameters) =
            parameters(doc.get("Parameters"), &local_defaults, overrides)?;
        // A BTreeMap, not serde_json's Map: its order depends on a feature
        // another crate may switch on, and rule order must be deterministic.
        let all_resources: BTreeMap<String, Value> = match doc.get("Resources") {
            Some(Value::Object(map)) => map.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            _ => {
                return Err(WiringError::Invalid {
                    resource: format!("template {source_name}"),
                    message: "has no Resources mapping".to_owned(),
                });
            }
        };
        // Conditions may only use parameters, so they are evaluated with no
        // resources in scope.
        let conditions = conditions(
            &Resolver {
                parameters: &parameters,
                declared_parameters: &declared_parameters,
                resources: &BTreeMap::new(),
                disabled: &BTreeMap::new(),
                conditions: &BTreeMap::new(),
            },
            doc.get("Conditions"),
        )?;
        // A resource whose Condition is false does not exist once deployed
        // (e.g. the seed facade with SeedFacadeEnabled=false), so not locally either.
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
        let resolver = Resolver {
            parameters: &parameters,
            declared_parameters: &declared_parameters,
            resources: &resources,
            disabled: &disabled,
            conditions: &conditions,
        };
        let globals = doc
            .get("Globals")
            .and_then(|g| g.get("Function"))
            .cloned()
            .unwrap_or(Value::Null);
        let http_globals = doc
            .get("Globals")
            .and_then(|g| g.get("HttpApi"))
            .cloned()
            .unwrap_or(Value::Null);

        let mut wiring = Wiring {
            parameters: parameters.clone(),
            functions: BTreeMap::new(),
            routes: Vec::new(),
            rules: Vec::new(),
            state_machines: BTreeMap::new(),
            tables: BTreeMap::new(),
        };
        for (id, resource) in &resources {
            let kind = resource.get("Type").and_then(Value::as_str).unwrap_or("");
            match kind {
                FUNCTION => {
                    let function = function(&resolver, id, resource, &globals)?;
                    wiring.functions.insert(id.clone(), function);
                    wiring
                        .routes
                        .extend(routes(&resolver, id, resource, &http_globals)?);
                    let target = Target::Function(id.clone());
                    wiring
                        .rules
                        .extend(rules(&resolver, id, resource, &target)?);
                }
                STATE_MACHINE => {
                    let machine = state_machine(&resolver, id, resource, base_dir)?;
                    wiring.state_machines.insert(id.clone(), machine);
                    let target = Target::StateMachine(id.clone());
                    wiring
                        .rules
                        .extend(rules(&resolver, id, resource, &target)?);
                }
                TABLE => {
                    wiring
                        .tables
                        .insert(id.clone(), table(&resolver, id, resource)?);
                }
                SIMPLE_TABLE => {
                    wiring
                        .tables
                        .insert(id.clone(), simple_table(&resolver, id, resource)?);
                }
                _ => {}
            }
        }
        // Rules (and routes) come out ordered by logical id then event key:
        // resources and events are both visited in BTreeMap order.

        // Fail at load, not at the first request/event, on what the router and
        // matcher would refuse.
        Router::new(&wiring.routes)?;
        RuleMatcher::new(&wiring.rules)?;
        Ok(wiring)
    }
}

/// Evaluates every entry of `Conditions` (they may only use parameters).
fn conditions(
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

/// `Metadata.ReservePlace::LocalParameterDefaults`: values the local runtime takes in place of
/// the parameters' defaults, for a default that suits a deployment but not one machine (the
/// seed facade, which has no sign-in, is off when deployed and on locally).
fn local_defaults(metadata: Option<&Value>) -> Result<BTreeMap<String, String>, WiringError> {
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

type Parameters = (BTreeMap<String, String>, BTreeSet<String>);

/// Each parameter's value: the caller's override, else the template's local default, else its
/// `Default`.
fn parameters(
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

fn properties(resource: &Value) -> &Value {
    resource.get("Properties").unwrap_or(&Value::Null)
}

fn function(
    resolver: &Resolver<'_>,
    id: &str,
    resource: &Value,
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

/// The logical id (and ARN suffix) an ARN expression names: `!GetAtt T.Arn` → `T`,
/// `!GetAtt T.StreamArn` → `T/stream`, `!Ref X` → `X`, `!Sub '${T.Arn}/index/*'` → `T/index/*`.
fn arn_resource(value: &Value) -> Option<String> {
    if let Some(r) = value.get("Ref").and_then(Value::as_str) {
        return Some(r.to_owned());
    }
    if let Some([res, attr]) = value
        .get("Fn::GetAtt")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
    {
        let res = res.as_str()?;
        return Some(match attr.as_str()? {
            "StreamArn" => format!("{res}/stream"),
            _ => res.to_owned(),
        });
    }
    let sub = value.get("Fn::Sub").and_then(Value::as_str)?;
    let rest = sub.strip_prefix("${")?;
    let (reference, suffix) = rest.split_once('}')?;
    let resource = reference.strip_suffix(".Arn").unwrap_or(reference);
    Some(format!("{resource}{suffix}"))
}

fn grants(policies: Option<&Value>) -> Vec<Grant> {
    let mut out = Vec::new();
    let one_or_many = |v: Option<&Value>| -> Vec<Value> {
        match v {
            Some(Value::Array(a)) => a.clone(),
            Some(other) => vec![other.clone()],
            None => Vec::new(),
        }
    };
    for policy in one_or_many(policies) {
        let Some(statements) = policy.get("Statement") else {
            let name = match &policy {
                Value::Object(m) => m.keys().next().cloned().unwrap_or_default(),
                Value::String(s) => s.clone(),
                _ => String::new(),
            };
            out.push(Grant {
                action: format!("sam:{name}"),
                resource: "*".to_owned(),
            });
            continue;
        };
        for st in one_or_many(Some(statements)) {
            if st.get("Effect").and_then(Value::as_str) != Some("Allow") {
                continue;
            }
            for action in one_or_many(st.get("Action")) {
                for resource in one_or_many(st.get("Resource")) {
                    out.push(Grant {
                        action: action.as_str().unwrap_or("?").to_owned(),
                        resource: arn_resource(&resource)
                            .or_else(|| resource.as_str().map(str::to_owned))
                            .unwrap_or_else(|| resource.to_string()),
                    });
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// `Properties.Events` as (key, type, properties), in key order.
fn events(resource: &Value) -> Vec<(String, String, Value)> {
    let Some(events) = properties(resource)
        .get("Events")
        .and_then(Value::as_object)
    else {
        return Vec::new();
    };
    let sorted: BTreeMap<&String, &Value> = events.iter().collect();
    sorted
        .into_iter()
        .map(|(key, event)| {
            let kind = event.get("Type").and_then(Value::as_str).unwrap_or("");
            let props = event.get("Properties").cloned().unwrap_or(Value::Null);
            (key.clone(), kind.to_owned(), props)
        })
        .collect()
}

/// The authorizer guarding an `HttpApi` event's route, as API Gateway applies it: the event's
/// `Auth.Authorizer` (`NONE` opts out), else the default of the API the event names with
/// `ApiId: !Ref <HttpApi>` (the implicit API when absent), else `Globals.HttpApi`'s.
fn route_authorizer(
    resolver: &Resolver<'_>,
    event: &Value,
    http_globals: &Value,
) -> Result<Option<String>, String> {
    let named = |v: Option<&Value>| -> Result<Option<String>, String> {
        match v {
            None => Ok(None),
            Some(v) => resolver.string(v).map(Some),
        }
    };
    if let Some(name) = named(event.get("Auth").and_then(|a| a.get("Authorizer")))? {
        return Ok((name != "NONE").then_some(name));
    }
    let api = event
        .get("ApiId")
        .and_then(|a| a.get("Ref"))
        .and_then(Value::as_str)
        .and_then(|api| resolver.resources.get(api));
    let default = api
        .and_then(|api| default_authorizer(properties(api)))
        .or_else(|| default_authorizer(http_globals));
    Ok(named(default)?.filter(|name| name != "NONE"))
}

fn default_authorizer(api_properties: &Value) -> Option<&Value> {
    api_properties.get("Auth")?.get("DefaultAuthorizer")
}

fn routes(
    resolver: &Resolver<'_>,
    id: &str,
    resource: &Value,
    http_globals: &Value,
) -> Result<Vec<Route>, WiringError> {
    let mut routes = Vec::new();
    for (key, kind, props) in events(resource) {
        if kind != "HttpApi" {
            if kind != "EventBridgeRule" && kind != "CloudWatchEvent" {
                tracing::debug!(
                    function = id,
                    event = key,
                    kind,
                    "event type not run locally"
                );
            }
            continue;
        }
        let at = |what: &str| format!("function {id}, event {key}, {what}");
        let resolve_err =
            |location: String| move |message| WiringError::Resolve { location, message };
        let method = props.get("Method");
        let path = props.get("Path");
        let authorizer = route_authorizer(resolver, &props, http_globals)
            .map_err(resolve_err(at("Auth.Authorizer")))?;
        let route = match (method, path) {
            // SAM: an HttpApi event with neither is the API's `$default` route.
            (None, None) => Route {
                method: "ANY".to_owned(),
                path: "$default".to_owned(),
                function: id.to_owned(),
                authorizer,
            },
            (Some(method), Some(path)) => {
                let method = resolver.string(method).map_err(resolve_err(at("Method")))?;
                let path = resolver.string(path).map_err(resolve_err(at("Path")))?;
                Route {
                    method: normalise_method(&method),
                    path,
                    function: id.to_owned(),
                    authorizer,
                }
            }
            _ => {
                return Err(WiringError::Invalid {
                    resource: format!("function {id}, event {key}"),
                    message: "HttpApi event needs both Method and Path (or neither for $default)"
                        .to_owned(),
                });
            }
        };
        routes.push(route);
    }
    Ok(routes)
}

fn normalise_method(method: &str) -> String {
    let upper = method.trim().to_ascii_uppercase();
    if upper == "*" {
        "ANY".to_owned()
    } else {
        upper
    }
}

fn rules(
    resolver: &Resolver<'_>,
    id: &str,
    resource: &Value,
    target: &Target,
) -> Result<Vec<Rule>, WiringError> {
    let mut rules = Vec::new();
    for (key, kind, props) in events(resource) {
        if kind != "EventBridgeRule" && kind != "CloudWatchEvent" {
            continue;
        }
        let rule_id = format!("{id}.{key}");
        let at = |what: &str| format!("rule {rule_id}, {what}");
        let resolve_err =
            |location: String| move |message| WiringError::Resolve { location, message };
        let pattern = match props.get("Pattern") {
            Some(pattern) => resolver
                .resolve(pattern)
                .map_err(resolve_err(at("Pattern")))?,
            None => {
                return Err(WiringError::InvalidPattern {
                    rule: rule_id,
                    message: "the event has no Pattern".to_owned(),
                });
            }
        };
        let retry = props.get("RetryPolicy").unwrap_or(&Value::Null);
        let bounded = |field: &str| -> Result<Option<u32>, WiringError> {
            let Some(value) = retry.get(field) else {
                return Ok(None);
            };
            let location = at(&format!("RetryPolicy.{field}"));
            let n = resolver
                .integer(value)
                .map_err(|message| WiringError::Resolve {
                    location: location.clone(),
                    message,
                })?;
            u32::try_from(n)
                .map(Some)
                .map_err(|_| WiringError::Resolve {
                    location,
                    message: format!("{n} is out of range"),
                })
        };
        let max_retries = bounded("MaximumRetryAttempts")?;
        let max_event_age_seconds = bounded("MaximumEventAgeInSeconds")?;
        rules.push(Rule {
            id: rule_id,
            pattern,
            target: target.clone(),
            max_retries,
            max_event_age_seconds,
        });
    }
    Ok(rules)
}

fn state_machine(
    resolver: &Resolver<'_>,
    id: &str,
    resource: &Value,
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

fn key_schema(value: Option<&Value>, what: &str) -> Result<Vec<(String, String)>, String> {
    let Some(Value::Array(elements)) = value else {
        return Err(format!("{what} is missing or not a list"));
    };
    elements
        .iter()
        .map(|element| {
            let name = element.get("AttributeName").and_then(Value::as_str);
            let kind = element.get("KeyType").and_then(Value::as_str);
            match (name, kind) {
                (Some(name), Some(kind @ ("HASH" | "RANGE"))) => {
                    Ok((name.to_owned(), kind.to_owned()))
                }
                _ => Err(format!(
                    "{what} element needs AttributeName and KeyType HASH|RANGE, got {element}"
                )),
            }
        })
        .collect()
}

fn table(resolver: &Resolver<'_>, id: &str, resource: &Value) -> Result<TableDef, WiringError> {
    // Resolve first so `!Ref`-ed attribute names work like everywhere else.
    let props = resolver
        .resolve(properties(resource))
        .map_err(|message| WiringError::Resolve {
            location: format!("table {id}, Properties"),
            message,
        })?;
    let invalid = |message: String| WiringError::Invalid {
        resource: format!("table {id}"),
        message,
    };
    let key = key_schema(props.get("KeySchema"), "KeySchema").map_err(invalid)?;
    let mut gsis = Vec::new();
    if let Some(indexes) = props.get("GlobalSecondaryIndexes") {
        let Value::Array(indexes) = indexes else {
            return Err(invalid("GlobalSecondaryIndexes is not a list".to_owned()));
        };
        for index in indexes {
            let Some(name) = index.get("IndexName").and_then(Value::as_str) else {
                return Err(invalid(
                    "a GlobalSecondaryIndexes element has no IndexName".to_owned(),
                ));
            };
            let schema = key_schema(index.get("KeySchema"), &format!("index {name} KeySchema"))
                .map_err(invalid)?;
            gsis.push((name.to_owned(), schema));
        }
    }
    let stream = props.get("StreamSpecification").is_some_and(|s| {
        s.get("StreamViewType").is_some() && s.get("StreamEnabled") != Some(&Value::Bool(false))
    });
    Ok(TableDef {
        logical_id: id.to_owned(),
        key,
        gsis,
        stream,
    })
}

/// `AWS::Serverless::SimpleTable`: a hash key only (`id` when omitted).
fn simple_table(
    resolver: &Resolver<'_>,
    id: &str,
    resource: &Value,
) -> Result<TableDef, WiringError> {
    let name = match properties(resource)
        .get("PrimaryKey")
        .and_then(|k| k.get("Name"))
    {
        Some(name) => resolver
            .string(name)
            .map_err(|message| WiringError::Resolve {
                location: format!("table {id}, PrimaryKey.Name"),
                message,
            })?,
        None => "id".to_owned(),
    };
    Ok(TableDef {
        logical_id: id.to_owned(),
        key: vec![(name, "HASH".to_owned())],
        gsis: Vec::new(),
        stream: false,
    })
}
