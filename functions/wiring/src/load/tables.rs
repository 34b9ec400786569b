//! `AWS::DynamoDB::Table` and `AWS::Serverless::SimpleTable`: key schema, global secondary
//! indexes and whether a stream is enabled.

use serde_json::Value;

use super::Entry;
use super::properties;
use crate::{TableDef, WiringError};

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

pub(super) fn table(Entry(resolver, id, resource): Entry<'_>) -> Result<TableDef, WiringError> {
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
    let ttl = props
        .get("TimeToLiveSpecification")
        .filter(|t| {
            t.get("Enabled") == Some(&Value::Bool(true))
                || t.get("Enabled") == Some(&Value::from("true"))
        })
        .and_then(|t| t.get("AttributeName"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok(TableDef {
        logical_id: id.to_owned(),
        key,
        gsis,
        stream,
        ttl,
    })
}

/// `AWS::Serverless::SimpleTable`: a hash key only (`id` when omitted).
pub(super) fn simple_table(
    Entry(resolver, id, resource): Entry<'_>,
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
        ttl: None,
    })
}
