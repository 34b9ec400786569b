//! Building [`Wiring`] from a parsed template.
//!
//! This module reads the template and visits its resources; what each part of the template
//! means is in its own module, each changing for its own reason:
//! * `parameters`: Parameters, the local defaults, overrides and Conditions;
//! * `function`: a function's binary, handler, context tag, environment and timeout;
//! * `grants`: what a function's Policies allow;
//! * `routes`: HttpApi events and their authorizers;
//! * `event_rules`: EventBridge rules (pattern, retry policy);
//! * `state_machine`: ASL definitions and their substitutions;
//! * `tables`: DynamoDB key schemas, indexes and streams;
//! * `queues`: SQS queues, the functions reading them and the rules sending to them.

mod event_rules;
mod function;
mod grants;
mod parameters;
mod queues;
mod routes;
mod state_machine;
mod tables;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use event_rules::rules;
use function::function;
use parameters::{conditions, enabled_resources, local_defaults, parameters};
use routes::routes;
use state_machine::state_machine;
use tables::{simple_table, table};

use crate::resolve::Resolver;
use crate::{Router, RuleMatcher, Target, Wiring, WiringError, foreach, yaml};

const FUNCTION: &str = "AWS::Serverless::Function";
const STATE_MACHINE: &str = "AWS::Serverless::StateMachine";
const TABLE: &str = "AWS::DynamoDB::Table";
const SIMPLE_TABLE: &str = "AWS::Serverless::SimpleTable";
const QUEUE: &str = "AWS::SQS::Queue";
const EVENT_RULE: &str = "AWS::Events::Rule";

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
        let Value::Object(mut doc) = doc else {
            return Err(yaml_error("the document is not a mapping".to_owned()));
        };

        let local_defaults = local_defaults(doc.get("Metadata"))?;
        let (parameters, declared_parameters) =
            parameters(doc.get("Parameters"), &local_defaults, overrides)?;
        // A loop's collection may name a parameter, so loops expand once parameters are known.
        foreach::expand(
            &mut doc,
            &foreach::Parameters {
                values: &parameters,
                declared: &declared_parameters,
            },
        )?;
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
        let mappings = match doc.get("Mappings") {
            Some(Value::Object(m)) => m.clone(),
            _ => serde_json::Map::new(),
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
                mappings: &mappings,
            },
            doc.get("Conditions"),
        )?;
        let (resources, disabled) = enabled_resources(all_resources, &conditions)?;
        let resolver = Resolver {
            parameters: &parameters,
            declared_parameters: &declared_parameters,
            resources: &resources,
            disabled: &disabled,
            conditions: &conditions,
            mappings: &mappings,
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
            queues: BTreeMap::new(),
        };
        let mut queue_consumers = Vec::new();
        for (id, resource) in &resources {
            let entry = Entry(&resolver, id, resource);
            let kind = resource.get("Type").and_then(Value::as_str).unwrap_or("");
            match kind {
                FUNCTION => {
                    let function = function(entry, &globals)?;
                    wiring.functions.insert(id.clone(), function);
                    wiring.routes.extend(routes(entry, &http_globals)?);
                    let target = Target::Function(id.clone());
                    wiring.rules.extend(rules(entry, &target)?);
                    queue_consumers.extend(queues::consumers(entry)?);
                }
                STATE_MACHINE => {
                    let machine = state_machine(entry, base_dir)?;
                    wiring.state_machines.insert(id.clone(), machine);
                    let target = Target::StateMachine(id.clone());
                    wiring.rules.extend(rules(entry, &target)?);
                }
                TABLE => {
                    wiring.tables.insert(id.clone(), table(entry)?);
                }
                SIMPLE_TABLE => {
                    wiring.tables.insert(id.clone(), simple_table(entry)?);
                }
                QUEUE => {
                    wiring.queues.insert(id.clone(), queues::queue(entry)?);
                }
                EVENT_RULE => {
                    let target_of = |target: &str| {
                        let kind = resources.get(target)?.get("Type")?.as_str()?;
                        match kind {
                            QUEUE => Some(Target::Queue(target.to_owned())),
                            FUNCTION => Some(Target::Function(target.to_owned())),
                            STATE_MACHINE => Some(Target::StateMachine(target.to_owned())),
                            _ => None,
                        }
                    };
                    wiring.rules.extend(queues::rule(entry, target_of)?);
                }
                _ => {}
            }
        }
        // Rules (and routes) come out ordered by logical id then event key:
        // resources and events are both visited in BTreeMap order.
        for (queue, consumer) in queue_consumers {
            let def = wiring
                .queues
                .get_mut(&queue)
                .ok_or_else(|| WiringError::Invalid {
                    resource: format!("function {}", consumer.function),
                    message: format!("its SQS event reads {queue}, which is no queue"),
                })?;
            if let Some(other) = &def.consumer {
                return Err(WiringError::Invalid {
                    resource: format!("queue {queue}"),
                    message: format!(
                        "read by both {} and {}: each consumer has its own queue",
                        other.function, consumer.function
                    ),
                });
            }
            def.consumer = Some(consumer);
        }
        for def in wiring.queues.values() {
            if let Some(dl) = &def.dead_letter
                && !wiring.queues.contains_key(&dl.queue)
            {
                return Err(WiringError::Invalid {
                    resource: format!("queue {}", def.logical_id),
                    message: format!("its dead-letter queue {} is no queue", dl.queue),
                });
            }
        }

        // Fail at load, not at the first request/event, on what the router and
        // matcher would refuse.
        Router::new(&wiring.routes)?;
        RuleMatcher::new(&wiring.rules)?;
        Ok(wiring)
    }
}

/// One template resource being read: the resolver for its intrinsic functions, its logical id
/// and its definition.
#[derive(Clone, Copy)]
pub(super) struct Entry<'a>(pub &'a Resolver<'a>, pub &'a str, pub &'a Value);

/// The event types that become rules on the bus.
pub(super) fn is_rule(kind: &str) -> bool {
    kind == "EventBridgeRule" || kind == "CloudWatchEvent"
}

pub(super) fn properties(resource: &Value) -> &Value {
    resource.get("Properties").unwrap_or(&Value::Null)
}

/// `Properties.Events` as (key, type, properties), in key order.
pub(super) fn events(resource: &Value) -> Vec<(String, String, Value)> {
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
