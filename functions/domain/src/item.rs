//! Mapping between domain records and store items.
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

use crate::error::DomainError;
use crate::store::{Item, Key};

/// Serializes a record into an item with its keys (and optional `gsi1` keys).
pub fn to_item<T: Serialize>(key: &Key, gsi1: Option<(&str, &str)>, record: &T) -> Item {
    let mut item = match serde_json::to_value(record) {
        Ok(Value::Object(map)) => map,
        _ => Item::new(),
    };
    item.insert("pk".into(), Value::String(key.pk.clone()));
    item.insert("sk".into(), Value::String(key.sk.clone()));
    if let Some((pk, sk)) = gsi1 {
        item.insert("gsi1pk".into(), Value::String(pk.to_string()));
        item.insert("gsi1sk".into(), Value::String(sk.to_string()));
    }
    item
}

/// Reads a record back; extra attributes (keys) are ignored. A record that does not decode stays
/// so on every read: that is permanent, never worth a retry.
pub fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, DomainError> {
    serde_json::from_value(Value::Object(item))
        .map_err(|e| DomainError::Misconfigured(format!("stored item does not decode: {e}")))
}

/// A record's fields as a `set` map for `Write::Update` (keys excluded).
pub fn to_fields<T: Serialize>(record: &T) -> Item {
    match serde_json::to_value(record) {
        Ok(Value::Object(map)) => map,
        _ => Item::new(),
    }
}
