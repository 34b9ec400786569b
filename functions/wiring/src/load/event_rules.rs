//! `EventBridgeRule` / `CloudWatchEvent` events: one rule each, with its resolved pattern and
//! retry policy.

use serde_json::Value;

use super::{Entry, events, is_rule};
use crate::{Rule, Target, WiringError};

pub(super) fn rules(
    Entry(resolver, id, resource): Entry<'_>,
    target: &Target,
) -> Result<Vec<Rule>, WiringError> {
    let mut rules = Vec::new();
    for (key, _, props) in events(resource)
        .into_iter()
        .filter(|(_, kind, _)| is_rule(kind))
    {
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
