//! `Fn::ForEach` of the `AWS::LanguageExtensions` transform, which CloudFormation expands before
//! the SAM transform sees the template: the template writes a resource (or property) once with
//! `${Identifier}` in its key and values, and gets one copy per item of a collection. The local
//! runtime expands the loops the same way first, so every generated function, table or event is
//! wired as if it were written out.
//!
//! In a loop's output key and value, `${Identifier}` becomes the item and `&{Identifier}` the item
//! without its non-alphanumeric characters, in every string (hence in `Fn::Sub` strings); a
//! `Ref: Identifier` becomes the item itself. Loops may nest and may sit in `Conditions`,
//! `Resources` and `Outputs`, at any depth (a resource's properties included).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::WiringError;

const FOREACH: &str = "Fn::ForEach::";
const TRANSFORM: &str = "AWS::LanguageExtensions";
const SECTIONS: [&str; 3] = ["Conditions", "Resources", "Outputs"];

/// The parameters a loop's collection may refer to.
pub(crate) struct Parameters<'a> {
    /// Each parameter's value (a `CommaDelimitedList` as its comma-separated text).
    pub values: &'a BTreeMap<String, String>,
    /// Every declared parameter, valued or not: no loop identifier may shadow one.
    pub declared: &'a BTreeSet<String>,
}

/// Expands every loop of the template's `Conditions`, `Resources` and `Outputs` in place.
pub(crate) fn expand(
    doc: &mut Map<String, Value>,
    params: &Parameters<'_>,
) -> Result<(), WiringError> {
    let has_loops = SECTIONS
        .iter()
        .any(|section| doc.get(*section).is_some_and(has_loop));
    if !has_loops {
        return Ok(());
    }
    if !declares_transform(doc.get("Transform")) {
        return Err(error(
            "Transform",
            format!("the template uses Fn::ForEach but does not declare the {TRANSFORM} transform"),
        ));
    }
    for section in SECTIONS {
        if let Some(value) = doc.get_mut(section) {
            *value = expand_value(value.take(), params, section)?;
        }
    }
    Ok(())
}

fn error(location: &str, message: String) -> WiringError {
    WiringError::ForEach {
        location: location.to_owned(),
        message,
    }
}

fn declares_transform(transform: Option<&Value>) -> bool {
    match transform {
        Some(Value::String(name)) => name == TRANSFORM,
        Some(Value::Array(names)) => names.iter().any(|n| n.as_str() == Some(TRANSFORM)),
        _ => false,
    }
}

fn has_loop(value: &Value) -> bool {
    match value {
        Value::Object(map) => map
            .iter()
            .any(|(key, item)| key.starts_with(FOREACH) || has_loop(item)),
        Value::Array(items) => items.iter().any(has_loop),
        _ => false,
    }
}

fn expand_value(value: Value, params: &Parameters<'_>, at: &str) -> Result<Value, WiringError> {
    match value {
        Value::Array(items) => items
            .into_iter()
            .map(|item| expand_value(item, params, at))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Value::Object(map) => expand_map(map, params, at).map(Value::Object),
        other => Ok(other),
    }
}

/// A mapping with each loop key replaced by the entries the loop yields. A key made twice (by two
/// loops, or by a loop and the template) is an error, as CloudFormation rejects it.
fn expand_map(
    map: Map<String, Value>,
    params: &Parameters<'_>,
    at: &str,
) -> Result<Map<String, Value>, WiringError> {
    let mut out = Map::new();
    for (key, item) in map {
        let here = format!("{at}/{key}");
        let entries = if key.starts_with(FOREACH) {
            expand_loop(item, params, &here)?
        } else {
            vec![(key, expand_value(item, params, &here)?)]
        };
        for (name, entry) in entries {
            if out.contains_key(&name) {
                return Err(error(
                    at,
                    format!("{name} is declared twice once the loops are expanded"),
                ));
            }
            out.insert(name, entry);
        }
    }
    Ok(out)
}

fn expand_loop(
    value: Value,
    params: &Parameters<'_>,
    at: &str,
) -> Result<Vec<(String, Value)>, WiringError> {
    let layout = || {
        error(
            at,
            "must be [Identifier, Collection, {OutputKey: OutputValue}]".to_owned(),
        )
    };
    let Value::Array(parts) = value else {
        return Err(layout());
    };
    let Ok([identifier, collection, body]) = <[Value; 3]>::try_from(parts) else {
        return Err(layout());
    };
    let (Value::String(identifier), Value::Object(body)) = (identifier, body) else {
        return Err(layout());
    };
    if identifier.is_empty() || !identifier.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(error(
            at,
            format!("identifier {identifier:?} is not alphanumeric"),
        ));
    }
    if params.declared.contains(&identifier) {
        return Err(error(
            at,
            format!("identifier {identifier} is also a parameter"),
        ));
    }
    let items = collection_items(collection, params, at)?;
    let placeholders = [format!("${{{identifier}}}"), format!("&{{{identifier}}}")];
    if let Some(key) = body.keys().find(|key| {
        !key.starts_with(FOREACH) && !placeholders.iter().any(|p| key.contains(p.as_str()))
    }) {
        // Without the identifier every item would yield the same key.
        return Err(error(
            at,
            format!(
                "output key {key} contains neither {} nor {}",
                placeholders[0], placeholders[1]
            ),
        ));
    }

    let mut out = Vec::new();
    let mut made = BTreeSet::new();
    for item in &items {
        let copy = substitute(Value::Object(body.clone()), &identifier, item);
        let Value::Object(copy) = copy else {
            return Err(layout());
        };
        for (name, entry) in expand_map(copy, params, at)? {
            if !made.insert(name.clone()) {
                return Err(error(
                    at,
                    format!("makes {name} twice (is an item repeated?)"),
                ));
            }
            out.push((name, entry));
        }
    }
    Ok(out)
}

/// A literal list of strings (or numbers), or a `Ref` to a `CommaDelimitedList` parameter.
fn collection_items(
    collection: Value,
    params: &Parameters<'_>,
    at: &str,
) -> Result<Vec<String>, WiringError> {
    match collection {
        Value::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Value::String(s) => Ok(s),
                Value::Number(n) => Ok(n.to_string()),
                other => Err(error(
                    at,
                    format!("collection item {other} is not a string"),
                )),
            })
            .collect(),
        Value::Object(map) => match map.get("Ref").and_then(Value::as_str) {
            Some(name) if map.len() == 1 => match params.values.get(name) {
                Some(list) => Ok(list.split(',').map(str::to_owned).collect()),
                None => Err(error(
                    at,
                    format!("the collection refers to {name}, which is no parameter with a value"),
                )),
            },
            _ => Err(error(
                at,
                "the collection is neither a list nor a Ref".to_owned(),
            )),
        },
        other => Err(error(at, format!("the collection {other} is not a list"))),
    }
}

fn substitute(value: Value, identifier: &str, item: &str) -> Value {
    match value {
        Value::String(text) => Value::String(replace(&text, identifier, item)),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|v| substitute(v, identifier, item))
                .collect(),
        ),
        Value::Object(map) => {
            if map.len() == 1 && map.get("Ref").and_then(Value::as_str) == Some(identifier) {
                return Value::String(item.to_owned());
            }
            Value::Object(
                map.into_iter()
                    .map(|(k, v)| {
                        (
                            replace(&k, identifier, item),
                            substitute(v, identifier, item),
                        )
                    })
                    .collect(),
            )
        }
        other => other,
    }
}

fn replace(text: &str, identifier: &str, item: &str) -> String {
    let alphanumeric: String = item.chars().filter(char::is_ascii_alphanumeric).collect();
    text.replace(&format!("${{{identifier}}}"), item)
        .replace(&format!("&{{{identifier}}}"), &alphanumeric)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(doc: Value, values: &[(&str, &str)]) -> Result<Value, WiringError> {
        let values: BTreeMap<String, String> = values
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let declared = values.keys().cloned().collect();
        let Value::Object(mut doc) = doc else {
            panic!("a test template is a mapping");
        };
        expand(
            &mut doc,
            &Parameters {
                values: &values,
                declared: &declared,
            },
        )?;
        Ok(Value::Object(doc))
    }

    fn template(resources: Value) -> Value {
        json!({"Transform": [TRANSFORM, "AWS::Serverless-2016-10-31"], "Resources": resources})
    }

    #[test]
    fn a_loop_makes_one_resource_per_item_with_the_identifier_substituted() {
        let doc = template(json!({
            "Kept": {"Type": "AWS::SQS::Queue"},
            "Fn::ForEach::Groups": ["Function", ["AFunction", "BFunction"], {
                "${Function}LogGroup": {
                    "Type": "AWS::Logs::LogGroup",
                    "Properties": {
                        "LogGroupName": {"Fn::Sub": "/aws/lambda/${AWS::StackName}/${Function}"},
                        "Owner": {"Fn::Sub": "${${Function}}"},
                        "Name": {"Ref": "Function"},
                        "Other": {"Ref": "Kept"}
                    }
                }
            }]
        }));
        let out = run(doc, &[]).expect("expands");
        assert_eq!(
            out["Resources"],
            json!({
                "Kept": {"Type": "AWS::SQS::Queue"},
                "AFunctionLogGroup": {"Type": "AWS::Logs::LogGroup", "Properties": {
                    "LogGroupName": {"Fn::Sub": "/aws/lambda/${AWS::StackName}/AFunction"},
                    "Owner": {"Fn::Sub": "${AFunction}"},
                    "Name": "AFunction",
                    "Other": {"Ref": "Kept"}
                }},
                "BFunctionLogGroup": {"Type": "AWS::Logs::LogGroup", "Properties": {
                    "LogGroupName": {"Fn::Sub": "/aws/lambda/${AWS::StackName}/BFunction"},
                    "Owner": {"Fn::Sub": "${BFunction}"},
                    "Name": "BFunction",
                    "Other": {"Ref": "Kept"}
                }}
            })
        );
    }

    #[test]
    fn loops_nest_sit_in_properties_and_strip_non_alphanumerics_with_ampersand() {
        let doc = template(json!({
            "Relay": {"Type": "AWS::Serverless::Function", "Properties": {"Events": {
                "Fn::ForEach::Streams": ["Table", ["A", "B"], {
                    "${Table}Outbox": {"Type": "DynamoDB", "Properties": {
                        "Stream": {"Fn::Sub": "${${Table}.StreamArn}"}
                    }}
                }]
            }}},
            "Fn::ForEach::Outer": ["Net", ["10.0.0.0/24"], {
                "Fn::ForEach::Inner": ["Side", ["x"], {
                    "Subnet&{Net}${Side}": {"Type": "T", "Properties": {"Cidr": "${Net}"}}
                }]
            }]
        }));
        let out = run(doc, &[]).expect("expands");
        assert_eq!(
            out["Resources"]["Relay"]["Properties"]["Events"],
            json!({
                "AOutbox": {"Type": "DynamoDB", "Properties": {"Stream": {"Fn::Sub": "${A.StreamArn}"}}},
                "BOutbox": {"Type": "DynamoDB", "Properties": {"Stream": {"Fn::Sub": "${B.StreamArn}"}}}
            })
        );
        assert_eq!(
            out["Resources"]["Subnet1000024x"],
            json!({"Type": "T", "Properties": {"Cidr": "10.0.0.0/24"}})
        );
    }

    #[test]
    fn a_collection_may_be_a_comma_delimited_list_parameter() {
        let doc = template(json!({
            "Fn::ForEach::Queues": ["Name", {"Ref": "Names"}, {"${Name}Queue": {"Type": "Q"}}]
        }));
        let out = run(doc, &[("Names", "One,Two")]).expect("expands");
        assert_eq!(
            out["Resources"],
            json!({"OneQueue": {"Type": "Q"}, "TwoQueue": {"Type": "Q"}})
        );
    }

    #[test]
    fn conditions_and_outputs_are_expanded_and_a_template_without_loops_is_untouched() {
        let doc = json!({
            "Transform": TRANSFORM,
            "Conditions": {"Fn::ForEach::C": ["X", ["A"], {"Is${X}": {"Fn::Equals": ["${X}", "A"]}}]},
            "Resources": {},
            "Outputs": {"Fn::ForEach::O": ["X", ["A"], {"${X}Out": {"Value": {"Ref": "X"}}}]}
        });
        let out = run(doc, &[]).expect("expands");
        assert_eq!(
            out["Conditions"],
            json!({"IsA": {"Fn::Equals": ["A", "A"]}})
        );
        assert_eq!(out["Outputs"], json!({"AOut": {"Value": "A"}}));

        let plain = json!({"Resources": {"Q": {"Type": "Q", "Properties": {"N": "${X}"}}}});
        assert_eq!(run(plain.clone(), &[]).expect("no loops"), plain);
    }

    fn rejected(doc: Value, values: &[(&str, &str)], words: &[&str]) {
        let err = run(doc, values).expect_err("must be rejected");
        assert!(matches!(err, WiringError::ForEach { .. }), "{err:?}");
        let text = err.to_string();
        for word in words {
            assert!(text.contains(word), "{text:?} should mention {word:?}");
        }
    }

    #[test]
    fn malformed_loops_are_rejected_with_their_location() {
        let one = |body: Value| template(json!({"Fn::ForEach::L": body}));
        rejected(
            json!({"Resources": {"Fn::ForEach::L": ["X", ["A"], {"${X}Q": {}}]}}),
            &[],
            &["AWS::LanguageExtensions"],
        );
        rejected(
            one(json!(["X", ["A"]])),
            &[],
            &["Resources/Fn::ForEach::L", "must be"],
        );
        rejected(one(json!(["X", ["A"], {"Q": {}}])), &[], &["Q", "${X}"]);
        rejected(
            one(json!(["X-Y", ["A"], {"${X-Y}Q": {}}])),
            &[],
            &["alphanumeric"],
        );
        rejected(
            one(json!(["P", ["A"], {"${P}Q": {}}])),
            &[("P", "v")],
            &["parameter"],
        );
        rejected(
            one(json!(["X", {"Ref": "Nope"}, {"${X}Q": {}}])),
            &[],
            &["Nope"],
        );
        rejected(
            one(json!(["X", ["A", "A"], {"${X}Q": {}}])),
            &[],
            &["AQ", "twice"],
        );
        rejected(
            template(json!({
                "AQ": {"Type": "Q"},
                "Fn::ForEach::L": ["X", ["A"], {"${X}Q": {"Type": "Q"}}]
            })),
            &[],
            &["AQ", "twice"],
        );
    }
}
