//! The caller's half of a transaction: the port's rules (validation, in
//! [`reserveplace_domain::store::rules`]) run in the caller's task and the events and put items
//! are serialized there, so the single writer thread spends its time on SQLite only.

use std::sync::Arc;

use reserveplace_domain::events::DomainEvent;
use reserveplace_domain::store::rules::{self, Op, PlannedWrite};
use reserveplace_domain::store::{Item, StoreError, Write};

// The writer decides and applies writes with the port's rules, like every adapter.
pub(crate) use rules::{Outcome, index_keys, resolve};

/// A validated transaction, ready for the writer.
pub(crate) struct PreparedTxn {
    pub table: Arc<str>,
    /// A put's item is moved out into its body (an empty item is left in its `Op::Put`).
    pub writes: Vec<PlannedWrite>,
    /// One per write, in order: the stored form of a put's item, `None` for the other writes.
    pub bodies: Vec<Option<StoredItem>>,
    pub events: Vec<PreparedEvent>,
}

/// An item as a row stores it: its JSON body and its index keys.
pub(crate) struct StoredItem {
    pub body: String,
    pub gsi1: Option<(String, String)>,
}

impl StoredItem {
    pub fn of(item: &Item) -> Result<Self, StoreError> {
        let body = serde_json::to_string(item)
            .map_err(|e| StoreError::Invalid(format!("item cannot be serialized: {e}")))?;
        let gsi1 = index_keys(item).map(|(p, s)| (p.to_owned(), s.to_owned()));
        Ok(Self { body, gsi1 })
    }
}

pub(crate) struct PreparedEvent {
    /// `None` when the event carries no reservation id.
    pub reservation_id: Option<String>,
    pub body: String,
    pub event: DomainEvent,
}

/// Validates a transaction and serializes its events. Fails with `Invalid` before anything is
/// written: too many writes, two writes on one key, malformed items or update expressions.
pub(crate) fn prepare(
    table: Arc<str>,
    writes: Vec<Write>,
    events: Vec<DomainEvent>,
) -> Result<PreparedTxn, StoreError> {
    let mut writes = rules::plan_transaction(writes, &events)?;
    let bodies = writes
        .iter_mut()
        .map(|w| match &mut w.op {
            Op::Put(item) => StoredItem::of(&std::mem::take(item)).map(Some),
            _ => Ok(None),
        })
        .collect::<Result<_, _>>()?;
    let mut prepared_events = Vec::with_capacity(events.len());
    for event in events {
        let body = serde_json::to_string(&event)
            .map_err(|e| StoreError::Invalid(format!("event cannot be serialized: {e}")))?;
        let rid = event.reservation_id();
        let reservation_id = (!rid.is_empty()).then(|| rid.to_owned());
        prepared_events.push(PreparedEvent {
            reservation_id,
            body,
            event,
        });
    }
    Ok(PreparedTxn {
        table,
        writes,
        bodies,
        events: prepared_events,
    })
}
