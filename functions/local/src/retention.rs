//! Retention, as AWS keeps data, so a long-running local store does not grow without bound:
//! items past their table's TTL attribute (the template's `TimeToLiveSpecification`), delivered
//! outbox entries after the outbox item's TTL on AWS (7 days), finished saga executions after
//! Step Functions' 90 days, and queue messages past their queue's `MessageRetentionPeriod`.
//! Runs once an hour (faster under `--time-scale`, whose clock also ages everything but TTLs:
//! those are instants the handlers wrote).
use std::sync::Arc;
use std::time::Duration;

use reserveplace_local_store::{Database, PrunePlan, QueueClock};
use reserveplace_wiring::Wiring;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// How long an outbox item outlives its commit on AWS (`functions/aws/src/dynamodb/outbox.rs`).
const OUTBOX_SECONDS: i64 = 7 * 86_400;
/// How long Step Functions keeps a finished Standard execution.
const EXECUTION_SECONDS: i64 = 90 * 86_400;
const PERIOD_SECONDS: u64 = 3_600;

/// What to prune, read from the template once.
pub struct Retention {
    ttl: Vec<(String, String)>,
    execution_tables: Vec<String>,
    /// (queue, retention seconds)
    queues: Vec<(String, u64)>,
    clock: QueueClock,
}

impl Retention {
    pub fn new(wiring: &Wiring, clock: QueueClock) -> Self {
        Self {
            ttl: wiring
                .tables
                .values()
                .filter_map(|t| Some((t.logical_id.clone(), t.ttl.clone()?)))
                .collect(),
            execution_tables: wiring
                .state_machines
                .keys()
                .map(|id| format!("_StateMachine_{id}"))
                .collect(),
            queues: wiring
                .queues
                .values()
                .map(|q| (q.logical_id.clone(), q.retention_seconds))
                .collect(),
            clock,
        }
    }

    /// The plan for now: ages count `scale` times faster than the wall clock.
    pub fn plan(&self) -> PrunePlan {
        let now = OffsetDateTime::now_utc();
        let scale = i64::from(self.clock.scale());
        let before = |seconds: i64| {
            (now - time::Duration::seconds(seconds / scale))
                .format(&Rfc3339)
                .unwrap_or_default()
        };
        let queue_now = self.clock.now_ms();
        PrunePlan {
            ttl: self.ttl.clone(),
            now_epoch_seconds: now.unix_timestamp(),
            outbox_before: before(OUTBOX_SECONDS),
            execution_tables: self.execution_tables.clone(),
            executions_before: before(EXECUTION_SECONDS),
            queues: self
                .queues
                .iter()
                .map(|(q, seconds)| {
                    let ms = i64::try_from(seconds.saturating_mul(1000)).unwrap_or(i64::MAX);
                    (q.clone(), queue_now.saturating_sub(ms))
                })
                .collect(),
        }
    }

    /// Prunes now and then every period, for as long as the runtime runs.
    pub fn start(self, db: Arc<Database>) {
        let period = Duration::from_secs(PERIOD_SECONDS / u64::from(self.clock.scale()))
            .max(Duration::from_secs(1));
        tokio::spawn(async move {
            loop {
                match db.prune(self.plan()).await {
                    Ok(0) => {}
                    Ok(removed) => tracing::info!(removed, "retention: removed expired rows"),
                    Err(e) => tracing::warn!(error = %e, "retention: prune failed; next period"),
                }
                tokio::time::sleep(period).await;
            }
        });
    }
}
