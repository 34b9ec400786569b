//! Publishes domain events on the EventBridge bus: `PutEvents` in batches of at most 10 entries,
//! retrying only the entries that failed, with a short backoff.
use std::time::Duration;

pub use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::primitives::DateTime;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use reserveplace_domain::events::DomainEvent;

use crate::classify::{ErrorClass, classify, classify_code, describe};

/// EventBridge accepts at most 10 entries per `PutEvents`.
pub const MAX_BATCH: usize = 10;

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
#[error("{} event(s) not published: {reason}", failed.len())]
pub struct PublishError {
    /// Indexes (into the published slice) of the events that were not accepted.
    pub failed: Vec<usize>,
    pub reason: String,
    /// At least one refusal was for good (missing bus, missing permission, malformed entry):
    /// publishing again fails the same way until the deployment is fixed.
    pub permanent: bool,
}

pub struct EventBridgeBus {
    client: Client,
    bus_name: String,
    attempts: u32,
    backoff: Duration,
}

impl EventBridgeBus {
    pub fn new(client: Client, bus_name: impl Into<String>) -> Self {
        Self {
            client,
            bus_name: bus_name.into(),
            attempts: 4,
            backoff: Duration::from_millis(50),
        }
    }

    fn entry(&self, e: &DomainEvent) -> PutEventsRequestEntry {
        let time =
            time::OffsetDateTime::parse(&e.time, &time::format_description::well_known::Rfc3339)
                .ok()
                .map(|t| DateTime::from_secs(t.unix_timestamp()));
        PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus_name)
            .source(&e.source)
            .detail_type(e.detail_type())
            .detail(e.detail_json())
            .set_time(time)
            .build()
    }

    /// Publishes every event or reports which were not accepted after the retries. A permanent
    /// refusal is not retried: of the whole call, it ends the publication (every later chunk
    /// goes to the same bus with the same credentials); of an entry, it drops that entry.
    /// Delivery is at least once: consumers deduplicate by `eventId`.
    pub async fn publish(&self, events: &[DomainEvent]) -> Result<(), PublishError> {
        let mut failed = Vec::new();
        let mut reason = String::new();
        let mut permanent = false;
        for (chunk_no, chunk) in events.chunks(MAX_BATCH).enumerate() {
            let base = chunk_no * MAX_BATCH;
            let mut pending: Vec<usize> = (0..chunk.len()).collect();
            for attempt in 0..self.attempts {
                if attempt > 0 {
                    tokio::time::sleep(self.backoff * 2u32.pow(attempt - 1)).await;
                }
                let entries = pending.iter().map(|&i| self.entry(&chunk[i])).collect();
                match self
                    .client
                    .put_events()
                    .set_entries(Some(entries))
                    .send()
                    .await
                {
                    Ok(out) if out.failed_entry_count() == 0 => {
                        pending.clear();
                    }
                    Ok(out) => {
                        // Result entries are in request order; a failed one carries an error code.
                        let results = out.entries();
                        let mut still = Vec::new();
                        for (k, &i) in pending.iter().enumerate() {
                            match results.get(k) {
                                Some(r) if r.error_code().is_none() && r.event_id().is_some() => {}
                                Some(r) => {
                                    let code = r.error_code().unwrap_or("?");
                                    reason = format!(
                                        "{code}: {}",
                                        r.error_message().unwrap_or_default()
                                    );
                                    if classify_code(code) == Some(ErrorClass::Permanent) {
                                        permanent = true;
                                        failed.push(base + i);
                                    } else {
                                        still.push(i);
                                    }
                                }
                                None => still.push(i),
                            }
                        }
                        pending = still;
                    }
                    Err(e) => {
                        reason = format!("PutEvents failed: {}", describe(&e));
                        if classify(&e) == ErrorClass::Permanent {
                            failed.extend(pending.iter().map(|&i| base + i));
                            failed.extend(base + chunk.len()..events.len());
                            return Err(PublishError {
                                failed,
                                reason,
                                permanent: true,
                            });
                        }
                    }
                }
                if pending.is_empty() {
                    break;
                }
                tracing::warn!(attempt, failed = pending.len(), %reason, "retrying PutEvents entries");
            }
            failed.extend(pending.into_iter().map(|i| base + i));
        }
        if failed.is_empty() {
            Ok(())
        } else {
            failed.sort_unstable();
            Err(PublishError {
                failed,
                reason,
                permanent,
            })
        }
    }
}
