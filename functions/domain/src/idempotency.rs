//! `Idempotency-Key` records: the key names a record that holds the random id of what the first
//! request created, written in the same transaction as that thing. Ids are never derived from the
//! key, so nobody can compute one in advance and register it first.
use serde_json::{Value, json};

use crate::error::DomainResult;
use crate::store::{Cond, Item, Key, Table, Write};

/// Attribute of the record holding the id.
const ID: &str = "id";

/// The record of `principal`'s (an owner's or a customer's) `key`. The two parts are separate key
/// attributes, so no choice of owner and key can name another owner's record.
pub fn key(principal: &str, idempotency_key: &str) -> Key {
    Key::new(
        format!("IDEMPOTENCY#{principal}"),
        format!("KEY#{idempotency_key}"),
    )
}

/// A fresh, unguessable id (UUIDv7: time-ordered, 74 random bits).
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// The write that creates the record; it fails (as a condition) when the key was used already.
pub fn create(record: &Key, id: &str, at: &str) -> Write {
    let mut item = Item::new();
    item.insert("pk".into(), Value::String(record.pk.clone()));
    item.insert("sk".into(), Value::String(record.sk.clone()));
    item.insert(ID.into(), json!(id));
    item.insert("createdAt".into(), json!(at));
    Write::Put {
        item,
        cond: Some(Cond::NotExists),
    }
}

/// The id a key already names, if any.
pub async fn lookup(table: &dyn Table, record: &Key) -> DomainResult<Option<String>> {
    Ok(table
        .get(record)
        .await?
        .and_then(|item| item.get(ID).and_then(Value::as_str).map(str::to_owned)))
}
