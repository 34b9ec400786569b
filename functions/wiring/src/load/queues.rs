//! `AWS::SQS::Queue` resources (visibility timeout, retention, redrive policy), the functions'
//! `SQS` events that read them, and `AWS::Events::Rule` resources whose targets are queues.

use serde_json::Value;

use super::{Entry, events, properties};
use crate::{DeadLetter, QueueConsumer, QueueDef, Rule, Target, WiringError};

/// SQS's defaults for what a queue does not set.
const DEFAULT_VISIBILITY_TIMEOUT: u64 = 30;
const DEFAULT_RETENTION: u64 = 345_600;
/// Lambda's default batch size for an SQS event source.
const DEFAULT_BATCH_SIZE: u64 = 10;

fn resolved(Entry(resolver, id, resource): Entry<'_>, what: &str) -> Result<Value, WiringError> {
    resolver
        .resolve(properties(resource))
        .map_err(|message| WiringError::Resolve {
            location: format!("{what} {id}, Properties"),
            message,
        })
}

/// The logical id a local ARN (`arn:aws:local:::<id>`, how the resolver writes `!GetAtt X.Arn`)
/// names.
fn arn_target(arn: &str) -> Option<&str> {
    arn.strip_prefix("arn:aws:local:::")
        .map(|rest| rest.split('/').next().unwrap_or(rest))
}

fn number(props: &Value, field: &str, default: u64) -> Result<u64, String> {
    match props.get(field) {
        None => Ok(default),
        Some(Value::Number(n)) => n
            .as_u64()
            .ok_or_else(|| format!("{field}: {n} is not a count")),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map_err(|_| format!("{field}: {s:?} is not a number")),
        Some(other) => Err(format!("{field}: {other} is not a number")),
    }
}

pub(super) fn queue(entry: Entry<'_>) -> Result<QueueDef, WiringError> {
    let id = entry.1;
    let props = resolved(entry, "queue")?;
    let invalid = |message: String| WiringError::Invalid {
        resource: format!("queue {id}"),
        message,
    };
    let dead_letter = match props.get("RedrivePolicy") {
        None => None,
        Some(policy) => {
            // CloudFormation takes the policy as an object or as its JSON text.
            let policy = match policy {
                Value::String(text) => serde_json::from_str(text)
                    .map_err(|e| invalid(format!("RedrivePolicy is not JSON: {e}")))?,
                other => other.clone(),
            };
            let queue = policy
                .get("deadLetterTargetArn")
                .and_then(Value::as_str)
                .and_then(arn_target)
                .ok_or_else(|| invalid("RedrivePolicy has no deadLetterTargetArn".to_owned()))?;
            let max_receive_count = number(&policy, "maxReceiveCount", 0).map_err(invalid)?;
            if !(1..=1000).contains(&max_receive_count) {
                return Err(invalid(format!(
                    "maxReceiveCount {max_receive_count} is outside 1..=1000"
                )));
            }
            Some(DeadLetter {
                queue: queue.to_owned(),
                max_receive_count: max_receive_count as u32,
            })
        }
    };
    Ok(QueueDef {
        logical_id: id.to_owned(),
        visibility_timeout_seconds: number(&props, "VisibilityTimeout", DEFAULT_VISIBILITY_TIMEOUT)
            .map_err(invalid)?,
        retention_seconds: number(&props, "MessageRetentionPeriod", DEFAULT_RETENTION)
            .map_err(invalid)?,
        dead_letter,
        consumer: None,
    })
}

/// A function's `SQS` events: (queue logical id, how the function reads it).
pub(super) fn consumers(
    Entry(resolver, id, resource): Entry<'_>,
) -> Result<Vec<(String, QueueConsumer)>, WiringError> {
    let mut out = Vec::new();
    for (key, kind, props) in events(resource) {
        if kind != "SQS" {
            continue;
        }
        let location = format!("function {id}, event {key}");
        let props = resolver
            .resolve(&props)
            .map_err(|message| WiringError::Resolve {
                location: location.clone(),
                message,
            })?;
        let invalid = |message: String| WiringError::Invalid {
            resource: location.clone(),
            message,
        };
        let queue = props
            .get("Queue")
            .and_then(Value::as_str)
            .and_then(arn_target)
            .ok_or_else(|| invalid("Queue names no queue of the template".to_owned()))?;
        let batch_size = number(&props, "BatchSize", DEFAULT_BATCH_SIZE).map_err(invalid)?;
        let scaling = props.get("ScalingConfig").cloned().unwrap_or(Value::Null);
        let max_concurrency = match scaling.get("MaximumConcurrency") {
            None => None,
            Some(_) => Some(number(&scaling, "MaximumConcurrency", 0).map_err(invalid)? as u32),
        };
        let reports = props
            .get("FunctionResponseTypes")
            .and_then(Value::as_array)
            .is_some_and(|t| t.iter().any(|t| t == "ReportBatchItemFailures"));
        out.push((
            queue.to_owned(),
            QueueConsumer {
                function: id.to_owned(),
                batch_size: batch_size.clamp(1, 10_000) as u32,
                max_concurrency,
                report_batch_item_failures: reports,
            },
        ));
    }
    Ok(out)
}

/// An `AWS::Events::Rule` resource: one rule per target, each `<RuleId>.<TargetId>`.
pub(super) fn rule(
    entry: Entry<'_>,
    target_of: impl Fn(&str) -> Option<Target>,
) -> Result<Vec<Rule>, WiringError> {
    let id = entry.1;
    let props = resolved(entry, "rule")?;
    let invalid = |message: String| WiringError::InvalidPattern {
        rule: id.to_owned(),
        message,
    };
    let pattern = match props.get("EventPattern") {
        // CloudFormation takes the pattern as an object or as its JSON text.
        Some(Value::String(text)) => serde_json::from_str(text)
            .map_err(|e| invalid(format!("EventPattern is not JSON: {e}")))?,
        Some(pattern) => pattern.clone(),
        None => return Err(invalid("the rule has no EventPattern".to_owned())),
    };
    let mut rules = Vec::new();
    for target in props
        .get("Targets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let target_id = target.get("Id").and_then(Value::as_str).unwrap_or("target");
        let arn = target.get("Arn").and_then(Value::as_str).unwrap_or("");
        let resolved = arn_target(arn).and_then(&target_of).ok_or_else(|| {
            invalid(format!(
                "target {target_id}: {arn} is no queue, function or state machine of the template"
            ))
        })?;
        let retry = target.get("RetryPolicy").cloned().unwrap_or(Value::Null);
        let bounded = |field: &str| -> Result<Option<u32>, WiringError> {
            match retry.get(field) {
                None => Ok(None),
                Some(_) => number(&retry, field, 0)
                    .map(|n| Some(n.min(u64::from(u32::MAX)) as u32))
                    .map_err(invalid),
            }
        };
        rules.push(Rule {
            id: format!("{id}.{target_id}"),
            pattern: pattern.clone(),
            target: resolved,
            max_retries: bounded("MaximumRetryAttempts")?,
            max_event_age_seconds: bounded("MaximumEventAgeInSeconds")?,
        });
    }
    Ok(rules)
}
