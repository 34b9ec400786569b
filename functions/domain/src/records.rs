//! Typed reads of the table: every service reads its records the same way.
use serde::de::DeserializeOwned;

use crate::error::{DomainError, DomainResult};
use crate::idempotency;
use crate::item::from_item;
use crate::store::{Key, Query, Table};

/// The record stored under `key`, if any.
pub(crate) async fn get<T: DeserializeOwned>(
    table: &dyn Table,
    key: &Key,
) -> DomainResult<Option<T>> {
    table.get(key).await?.map(from_item).transpose()
}

/// The records `q` finds, in its order.
pub(crate) async fn query<T: DeserializeOwned>(
    table: &dyn Table,
    q: &Query,
) -> DomainResult<Vec<T>> {
    table.query(q).await?.into_iter().map(from_item).collect()
}

/// The newest 200 records of an index partition, newest first (what a user's lists show).
pub(crate) fn newest_on_index(partition: String) -> Query {
    Query {
        partition,
        index: true,
        descending: true,
        limit: Some(200),
        ..Default::default()
    }
}

/// The record a repeated idempotency key points at: `key_of` turns the id its first use stored
/// (in the same transaction as the record) into the record's key.
pub(crate) async fn replayed<T: DeserializeOwned>(
    table: &dyn Table,
    record: &Key,
    key_of: fn(&str) -> Key,
) -> DomainResult<T> {
    let existing = match idempotency::lookup(table, record).await? {
        Some(id) => get(table, &key_of(&id)).await?,
        None => None,
    };
    existing.ok_or_else(|| DomainError::Unavailable("idempotency record vanished".into()))
}
