//! EventBridge rule matching through quamina, which implements EventBridge's
//! pattern language (exact, prefix, suffix, wildcard, anything-but, numeric,
//! exists, equals-ignore-case, cidr, nested objects, OR-lists).
//!
//! quamina has no `$or`, so each `$or` is expanded here into alternative
//! patterns registered under the same rule index (quamina ORs patterns that
//! share an id).

use std::collections::BTreeMap;

use quamina::Quamina;
use serde_json::{Map, Value};

use crate::{Rule, WiringError};

/// More alternatives than this from `$or` expansion is almost certainly a
/// mistake, and would bloat the automaton.
const MAX_ALTERNATIVES: usize = 256;

/// Matches event envelopes against a fixed set of rules.
#[derive(Clone)]
pub struct RuleMatcher {
    quamina: Quamina<usize>,
    rule_count: usize,
}

impl std::fmt::Debug for RuleMatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("RuleMatcher");
        d.field("rule_count", &self.rule_count)
            .finish_non_exhaustive()
    }
}

impl RuleMatcher {
    /// Compiles every rule's pattern; an invalid one is an error naming the rule.
    pub fn new(rules: &[Rule]) -> Result<RuleMatcher, WiringError> {
        let mut quamina = Quamina::new();
        for (index, rule) in rules.iter().enumerate() {
            let invalid = |message: String| WiringError::InvalidPattern {
                rule: rule.id.clone(),
                message,
            };
            let Value::Object(pattern) = &rule.pattern else {
                return Err(invalid("a pattern must be a JSON object".to_owned()));
            };
            for mut alternative in expand_or(pattern).map_err(invalid)? {
                tighten_exclusive_ranges(&mut alternative);
                if alternative.is_empty() {
                    // quamina would match every event; EventBridge refuses it.
                    return Err(invalid("the pattern has no fields to match".to_owned()));
                }
                let json = Value::Object(alternative).to_string();
                quamina
                    .add_pattern(index, &json)
                    .map_err(|e| invalid(e.to_string()))?;
            }
        }
        Ok(RuleMatcher {
            quamina,
            rule_count: rules.len(),
        })
    }

    /// Indexes (ascending, into the `rules` given to [`RuleMatcher::new`]) of
    /// the rules matching `event_envelope` (the full EventBridge event:
    /// `source`, `detail-type`, `detail`…). A non-object matches nothing.
    pub fn matching(&self, event_envelope: &serde_json::Value) -> Vec<usize> {
        if !event_envelope.is_object() {
            tracing::warn!("event envelope is not a JSON object; no rule can match it");
            return Vec::new();
        }
        let bytes = event_envelope.to_string().into_bytes();
        match self.quamina.matches_for_event(&bytes) {
            Ok(mut indexes) => {
                indexes.sort_unstable();
                indexes.dedup();
                indexes
            }
            Err(error) => {
                tracing::warn!(%error, "event envelope rejected by the pattern matcher");
                Vec::new()
            }
        }
    }
}

/// quamina 0.7 lets a two-sided range with an exclusive lower bound match the
/// bound itself (`[">", 0, "<=", 7]` matches 0). `> a` is `>= next_up(a)` for
/// every f64, and quamina gets inclusive bounds right, so rewrite to that.
fn tighten_exclusive_ranges(pattern: &mut Map<String, Value>) {
    for value in pattern.values_mut() {
        match value {
            Value::Object(nested) => tighten_exclusive_ranges(nested),
            Value::Array(matchers) => {
                for matcher in matchers.iter_mut() {
                    if let Some(Value::Array(range)) = matcher.get_mut("numeric") {
                        tighten_range(range);
                    }
                }
            }
            _ => {}
        }
    }
}

fn tighten_range(range: &mut [Value]) {
    let has_upper = range.iter().step_by(2).any(|op| op == "<" || op == "<=");
    if !has_upper {
        return;
    }
    for pair in range.chunks_exact_mut(2) {
        let [op, bound] = pair else { continue };
        if *op != ">" {
            continue;
        }
        let Some(next) = bound
            .as_f64()
            .map(f64::next_up)
            .and_then(serde_json::Number::from_f64)
        else {
            continue;
        };
        *op = Value::from(">=");
        *bound = Value::Number(next);
    }
}

/// Path of field names → the field's list of matchers.
type Flat = BTreeMap<Vec<String>, Value>;

/// Rewrites a pattern that may contain `$or` (at any depth) into the list of
/// `$or`-free patterns whose union it denotes.
fn expand_or(pattern: &Map<String, Value>) -> Result<Vec<Map<String, Value>>, String> {
    expand(pattern, &[])?
        .into_iter()
        .map(|flat| unflatten(&flat))
        .collect()
}

fn expand(object: &Map<String, Value>, prefix: &[String]) -> Result<Vec<Flat>, String> {
    let mut combos = vec![Flat::new()];
    for (key, value) in object {
        let alternatives = if key == "$or" {
            let Value::Array(branches) = value else {
                return Err("$or must be a list of patterns".to_owned());
            };
            if branches.is_empty() {
                return Err("$or must not be empty".to_owned());
            }
            let mut alternatives = Vec::new();
            for branch in branches {
                let Value::Object(branch) = branch else {
                    return Err("each $or branch must be an object".to_owned());
                };
                alternatives.extend(expand(branch, prefix)?);
            }
            alternatives
        } else {
            let mut path = prefix.to_vec();
            path.push(key.clone());
            match value {
                Value::Object(nested) => expand(nested, &path)?,
                leaf => vec![Flat::from([(path, leaf.clone())])],
            }
        };
        let mut next = Vec::with_capacity(combos.len() * alternatives.len());
        for combo in &combos {
            for alternative in &alternatives {
                let mut merged = combo.clone();
                for (path, leaf) in alternative {
                    if merged.insert(path.clone(), leaf.clone()).is_some() {
                        return Err(format!(
                            "field {} is constrained both inside and outside $or",
                            path.join(".")
                        ));
                    }
                }
                next.push(merged);
            }
        }
        if next.len() > MAX_ALTERNATIVES {
            return Err(format!(
                "$or expands to more than {MAX_ALTERNATIVES} alternatives"
            ));
        }
        combos = next;
    }
    Ok(combos)
}

fn unflatten(flat: &Flat) -> Result<Map<String, Value>, String> {
    let mut root = Map::new();
    for (path, leaf) in flat {
        let Some((last, parents)) = path.split_last() else {
            continue;
        };
        let mut node = &mut root;
        for parent in parents {
            let child = node
                .entry(parent.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(child) = child else {
                return Err(format!("field {parent} is both a value and an object"));
            };
            node = child;
        }
        if node.insert(last.clone(), leaf.clone()).is_some() {
            return Err(format!(
                "field {} is both a value and an object",
                path.join(".")
            ));
        }
    }
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn expanded(pattern: Value) -> Result<Vec<Value>, String> {
        let Value::Object(map) = pattern else {
            return Err("not an object".to_owned());
        };
        Ok(expand_or(&map)?.into_iter().map(Value::Object).collect())
    }

    #[test]
    fn or_expands_to_alternatives() {
        assert_eq!(
            expanded(json!({
                "source": ["a"],
                "detail": {"$or": [{"x": [1]}, {"y": [2], "z": {"w": [3]}}]}
            })),
            Ok(vec![
                json!({"source": ["a"], "detail": {"x": [1]}}),
                json!({"source": ["a"], "detail": {"y": [2], "z": {"w": [3]}}}),
            ])
        );
        assert_eq!(
            expanded(json!({"source": ["a"]})),
            Ok(vec![json!({"source": ["a"]})])
        );
    }

    #[test]
    fn exclusive_lower_bounds_become_inclusive_next_values() {
        let mut pattern =
            json!({"d": {"n": [{"numeric": [">", 0, "<=", 7]}, {"numeric": [">", 5]}]}});
        if let Value::Object(map) = &mut pattern {
            tighten_exclusive_ranges(map);
        }
        assert_eq!(
            pattern,
            json!({"d": {"n": [{"numeric": [">=", 5e-324, "<=", 7]}, {"numeric": [">", 5]}]}})
        );
    }

    #[test]
    fn or_misuse_is_reported() {
        assert!(expanded(json!({"$or": []})).is_err());
        assert!(expanded(json!({"$or": "x"})).is_err());
        assert!(expanded(json!({"a": [1], "$or": [{"a": [2]}, {"b": [3]}]})).is_err());
    }
}
