//! The storage port: a DynamoDB-shaped table with conditional writes, all-or-nothing transactions
//! and a transactional outbox. Every context owns one table; its items are JSON objects keyed by
//! the string attributes `pk` and `sk`, with one optional secondary index on `gsi1pk` / `gsi1sk`.
//!
//! The embedded adapter (SQLite), the DynamoDB adapter and the in-memory table of unit tests
//! all implement [`Table`]. The port's rules (what a request may hold, how a condition and an
//! `ADD` behave) are written once, in [`rules`]; one contract suite runs against every adapter,
//! so the local runtime behaves like AWS.

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::events::DomainEvent;

pub mod memory;
pub mod rules;

pub use rules::{MAX_TRANSACTION_ITEMS, validate_transaction};

/// A stored item: a JSON object that always holds `pk` and `sk` strings.
pub type Item = Map<String, Value>;

/// The primary key of an item. Ordered by `pk`, then `sk`, as strings compare (UTF-8 bytes).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            sk: sk.into(),
        }
    }
}

/// A condition evaluated atomically against the current item (absent item = no attributes).
/// Maps one-to-one onto a DynamoDB `ConditionExpression`.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    /// `attribute_exists(pk)`
    Exists,
    /// `attribute_not_exists(pk)`
    NotExists,
    /// `attribute_not_exists(attr)` (also true when the item is absent)
    AttrNotExists(String),
    /// `attr = value`
    Eq(String, Value),
    /// `attr <> value` (true when the attribute is absent)
    Ne(String, Value),
    /// `attr < n` (numbers only; false when absent)
    Lt(String, i64),
    /// `attr <= n` (numbers only; false when absent)
    Le(String, i64),
    And(Vec<Cond>),
    Or(Vec<Cond>),
}

/// One write of a transaction. All writes of a transaction commit together or not at all.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// Replace (or create) the whole item. The item must contain `pk` and `sk`.
    Put { item: Item, cond: Option<Cond> },
    /// Create the item if absent, then set attributes and add to numeric attributes (absent = 0).
    Update {
        key: Key,
        set: Item,
        add: Vec<(String, i64)>,
        cond: Option<Cond>,
    },
    /// Delete the item (deleting an absent item succeeds unless the condition fails).
    Delete { key: Key, cond: Option<Cond> },
    /// Only check a condition on an item.
    Check { key: Key, cond: Cond },
}

/// Query of one partition, by primary key or by the `gsi1` index, in ascending sort-key order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Query {
    /// `pk` value, or `gsi1pk` value when `index` is true.
    pub partition: String,
    /// Query the `gsi1` index (`gsi1pk`, `gsi1sk`) instead of the primary key.
    pub index: bool,
    /// Only sort keys starting with this prefix.
    pub sk_prefix: Option<String>,
    /// Newest first (descending sort key).
    pub descending: bool,
    pub limit: Option<usize>,
    /// An eventually consistent read is enough (half the read units on DynamoDB; a read model that
    /// is eventually consistent anyway). Base-table reads are strongly consistent otherwise; index
    /// reads are always eventually consistent. The embedded stores always read the latest commit.
    pub eventually_consistent: bool,
}

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum StoreError {
    /// The transaction was cancelled: the conditions of these write indexes failed. Nothing changed.
    #[error("transaction cancelled: condition failed on writes {failed:?}")]
    ConditionFailed { failed: Vec<usize> },
    /// The request itself is invalid (e.g. an item without keys, two writes on one key).
    #[error("invalid store request: {0}")]
    Invalid(String),
    /// The store could not be reached or failed; retrying may succeed.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A permanent fault of the deployment, not of the request: the table does not exist, a
    /// permission or the credentials are missing, a stored item no longer decodes. Retrying
    /// sends the same request to the same configuration, so it fails the same way.
    #[error("store misconfigured: {0}")]
    Misconfigured(String),
}

impl StoreError {
    pub fn is_condition_failed(&self) -> bool {
        matches!(self, StoreError::ConditionFailed { .. })
    }

    /// Whether retrying the same request can succeed (only an unavailable store can recover).
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

/// A context's table. `transact` commits the writes and the events in one atomic, durable step:
/// an event is published if and only if its writes committed (transactional outbox).
#[async_trait]
pub trait Table: Send + Sync {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError>;
    async fn query(&self, query: &Query) -> Result<Vec<Item>, StoreError>;
    /// At most 100 writes, at most one per key (DynamoDB's `TransactWriteItems` limits).
    async fn transact(
        &self,
        writes: Vec<Write>,
        events: Vec<DomainEvent>,
    ) -> Result<(), StoreError>;
    /// Adds `by` to the number `attr` of the item at `key` (an absent item or attribute counts as
    /// 0; the item is created) and answers the new value, atomically: racing increments each get
    /// their own value and none is lost. Not part of any transaction and publishes nothing.
    /// DynamoDB: `UpdateItem` with `ADD` and `ReturnValues: UPDATED_NEW`.
    async fn increment(&self, key: &Key, attr: &str, by: i64) -> Result<i64, StoreError>;
}
