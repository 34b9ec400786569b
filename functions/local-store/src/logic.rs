//! The caller's half of a transaction: the port's rules (validation, in
//! [`reserveplace_domain::store::rules`]) run in the caller's task and the events are serialized
//! there, so the single writer thread spends its time on SQLite only.

use std::sync::Arc;

use reserveplace_domain::events::DomainEvent;
use reserveplace_domain::store::rules::{self, PlannedWrite};
use reserveplace_domain::store::{StoreError, Write};

// The writer decides and applies writes with the port's rules, like every adapter.
pub(crate) use rules::{Outcome, index_keys, resolve};

/// A validated transaction, ready for the writer.
pub(crate) struct PreparedTxn {
    pub table: Arc<str>,
    pub writes: Vec<PlannedWrite>,
    pub events: Vec<PreparedEvent>,
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
    let writes = rules::plan_transaction(writes, &events)?;
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
        events: prepared_events,
    })
}
