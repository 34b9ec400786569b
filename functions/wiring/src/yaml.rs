//! YAML → JSON with CloudFormation short tags rewritten to their long forms,
//! so the resolver only has to understand one spelling of each intrinsic.

use serde_json::{Map, Number, Value};
use serde_norway::Value as Yaml;

/// Parses template text; `Err` carries the parser's message.
pub(crate) fn parse(text: &str) -> Result<Value, String> {
    let mut doc: Yaml = serde_norway::from_str(text).map_err(|e| e.to_string())?;
    // `<<: *anchor` merge keys are plain YAML; CloudFormation's own parser
    // accepts them, so apply them before the tree is interpreted.
    doc.apply_merge().map_err(|e| e.to_string())?;
    to_json(doc)
}

fn to_json(value: Yaml) -> Result<Value, String> {
    Ok(match value {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(b),
        Yaml::Number(n) => number(&n),
        Yaml::String(s) => Value::String(s),
        Yaml::Sequence(items) => Value::Array(
            items
                .into_iter()
                .map(to_json)
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Yaml::Mapping(mapping) => {
            let mut out = Map::new();
            for (key, value) in mapping {
                out.insert(key_string(key)?, to_json(value)?);
            }
            Value::Object(out)
        }
        Yaml::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!').to_owned();
            intrinsic(&name, to_json(tagged.value)?)
        }
    })
}

/// `!Ref X` → `{"Ref": X}`, `!GetAtt A.B` → `{"Fn::GetAtt": [A, B]}`,
/// `!Condition X` → `{"Condition": X}`, any other `!Name v` → `{"Fn::Name": v}`.
fn intrinsic(name: &str, value: Value) -> Value {
    let (key, value) = match name {
        "Ref" | "Condition" => (name.to_owned(), value),
        "GetAtt" => {
            let value = match value {
                Value::String(s) => match s.split_once('.') {
                    Some((resource, attribute)) => Value::Array(vec![
                        Value::String(resource.to_owned()),
                        Value::String(attribute.to_owned()),
                    ]),
                    None => Value::String(s),
                },
                other => other,
            };
            ("Fn::GetAtt".to_owned(), value)
        }
        other => (format!("Fn::{other}"), value),
    };
    let mut map = Map::new();
    map.insert(key, value);
    Value::Object(map)
}

fn number(n: &serde_norway::Number) -> Value {
    if let Some(u) = n.as_u64() {
        Value::Number(u.into())
    } else if let Some(i) = n.as_i64() {
        Value::Number(i.into())
    } else {
        // JSON has no NaN/inf; keep their YAML spelling as a string.
        n.as_f64()
            .and_then(Number::from_f64)
            .map_or_else(|| Value::String(n.to_string()), Value::Number)
    }
}

fn key_string(key: Yaml) -> Result<String, String> {
    match key {
        Yaml::String(s) => Ok(s),
        Yaml::Number(n) => Ok(n.to_string()),
        Yaml::Bool(b) => Ok(b.to_string()),
        other => Err(format!("unsupported mapping key {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn short_tags_become_long_forms() {
        let doc = parse(
            "a: !Ref P\nb: !GetAtt Fn.Arn\nc: !Sub 'x-${P}'\nd: !If [C, 1, 2]\ne: !GetAtt [T, StreamArn]\n",
        )
        .expect("valid yaml");
        assert_eq!(
            doc,
            json!({
                "a": {"Ref": "P"},
                "b": {"Fn::GetAtt": ["Fn", "Arn"]},
                "c": {"Fn::Sub": "x-${P}"},
                "d": {"Fn::If": ["C", 1, 2]},
                "e": {"Fn::GetAtt": ["T", "StreamArn"]},
            })
        );
    }

    #[test]
    fn merge_keys_and_scalar_keys() {
        let doc = parse("base: &b {x: 1}\nm:\n  <<: *b\n  y: 2\n200: ok\n").expect("valid yaml");
        assert_eq!(doc["m"], json!({"x": 1, "y": 2}));
        assert_eq!(doc["200"], json!("ok"));
    }
}
