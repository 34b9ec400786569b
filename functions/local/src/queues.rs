//! The template's SQS queues, run in the embedded store: a rule puts each matching event on its
//! consumer's queue, and a poller per queue hands batches to the consumer's function as Lambda's
//! event source mapping does (batch size, `MaximumConcurrency`), deletes what succeeded and hides
//! each failed record for the backoff the shared consumer code chose. A message received
//! `maxReceiveCount` times moves to its dead-letter queue; one older than the queue's retention
//! is dropped. Everything is durable, so a restart resumes where it stopped.
//!
//! The queues' clock may run faster than the wall clock (`--time-scale`): a test then waits out a
//! days-long outage, with every backoff and retention of the template, in seconds.
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use reserveplace_domain::queue::{MessageQueue, Received};
use reserveplace_functions::error::StepError;
use reserveplace_functions::queue::{self, ConsumerRetry, Record};
use reserveplace_local_store::{Database, LocalQueue, QueueClock, QueueOp, Redrive};
use reserveplace_wiring::{QueueConsumer, QueueDef};
use serde_json::{Value, json};
use tokio::sync::{Notify, Semaphore};

use crate::invoke::{Functions, InvokeError};

/// Lambda's concurrency for an SQS mapping without `MaximumConcurrency` is the account's; here a
/// handful of batches at once is plenty.
const DEFAULT_CONCURRENCY: u32 = 5;
/// A batch being handled stays hidden at least this long in wall-clock seconds, however fast the
/// queues' clock runs; a restart makes what was in flight visible again at once.
const IN_FLIGHT_SECONDS: u32 = 60;
/// An idle poller looks again at least this often (wall clock).
const IDLE_POLL: Duration = Duration::from_secs(1);

/// One queue of the template: its definition, its messages and what wakes its poller.
struct Queue {
    def: QueueDef,
    store: LocalQueue,
    wake: Notify,
}

/// The queues of the template and the store that holds their messages.
pub struct Queues {
    queues: BTreeMap<String, Arc<Queue>>,
    db: Arc<Database>,
    clock: QueueClock,
}

impl Queues {
    pub fn new(defs: BTreeMap<String, QueueDef>, db: Arc<Database>, clock: QueueClock) -> Self {
        let queues = defs
            .into_iter()
            .map(|(id, def)| {
                let redrive = def.dead_letter.as_ref().map(|d| Redrive {
                    dead_letter_queue: d.queue.clone(),
                    max_receive_count: d.max_receive_count,
                });
                let store = LocalQueue::new(db.clone(), &id, redrive, def.retention_seconds, clock);
                let queue = Queue {
                    def,
                    store,
                    wake: Notify::new(),
                };
                (id, Arc::new(queue))
            })
            .collect();
        Self { queues, db, clock }
    }

    /// Puts one message on `queue` (a rule's target); its poller wakes up.
    pub async fn send(&self, queue: &str, body: String) -> Result<(), String> {
        let q = self
            .queues
            .get(queue)
            .ok_or_else(|| format!("no queue {queue} in the template"))?;
        q.store.send(&body).await.map_err(|e| e.to_string())?;
        q.wake.notify_one();
        Ok(())
    }

    /// What was being handled when the process stopped is visible again.
    pub async fn recover(&self) -> Result<(), String> {
        self.db
            .queue(QueueOp::Recover {
                now_ms: self.clock.now_ms(),
            })
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }

    /// Each queue's depth, for `GET /_local/queues`.
    pub async fn describe(&self) -> Result<Value, String> {
        let now = self.clock.now_ms();
        let depths = self.db.queue_depths(now).await.map_err(|e| e.to_string())?;
        let by_queue: BTreeMap<&str, (u64, u64, Option<i64>)> = depths
            .iter()
            .map(|d| (d.queue.as_str(), (d.visible, d.hidden, d.oldest_sent_ms)))
            .collect();
        let rows: Vec<Value> = self
            .queues
            .values()
            .map(|q| {
                let d = &q.def;
                let (visible, hidden, oldest) = by_queue
                    .get(d.logical_id.as_str())
                    .copied()
                    .unwrap_or_default();
                json!({
                    "queue": d.logical_id,
                    "consumer": d.consumer.as_ref().map(|c| c.function.clone()),
                    "deadLetterQueue": d.dead_letter.as_ref().map(|r| r.queue.clone()),
                    "maxReceiveCount": d.dead_letter.as_ref().map(|r| r.max_receive_count),
                    "visible": visible,
                    "hidden": hidden,
                    "oldestAgeSeconds": oldest.map(|t| (now - t).max(0) / 1000),
                })
            })
            .collect();
        Ok(json!({"timeScale": self.clock.scale(), "queues": rows}))
    }

    /// Starts one poller per queue a function reads.
    pub fn start(&self, functions: Arc<Functions>) {
        for q in self.queues.values() {
            if let Some(consumer) = q.def.consumer.clone() {
                tokio::spawn(poll(q.clone(), functions.clone(), consumer, self.clock));
            }
        }
    }
}

/// A local invocation's failure as the consumer code sees it: the function's own error, or a
/// context that is down (transient, like a throttled or failing Lambda).
fn step_error(e: InvokeError) -> StepError {
    match e {
        InvokeError::Failed(e) => e,
        other => StepError::transient(other.to_string()),
    }
}

async fn poll(q: Arc<Queue>, functions: Arc<Functions>, c: QueueConsumer, clock: QueueClock) {
    let permits = Arc::new(Semaphore::new(
        c.max_concurrency.unwrap_or(DEFAULT_CONCURRENCY).max(1) as usize,
    ));
    let visibility = u32::try_from(q.def.visibility_timeout_seconds)
        .unwrap_or(u32::MAX)
        .max(clock.scaled_seconds(IN_FLIGHT_SECONDS));
    let retry = functions
        .get(&c.function)
        .map(|f| f.services.consumer_retry)
        .unwrap_or_default();
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        // Registered before looking, so a send in between is not missed.
        let woken = q.wake.notified();
        let batch = match q.store.receive(c.batch_size, visibility).await {
            Ok(batch) if !batch.is_empty() => batch,
            Ok(_) => {
                drop(permit);
                let next = q.store.next_visible().await.ok().flatten();
                let wait = next
                    .map(|t| clock.wall(t - clock.now_ms()))
                    .unwrap_or(IDLE_POLL)
                    .min(IDLE_POLL);
                let _ = tokio::time::timeout(wait, woken).await;
                continue;
            }
            Err(e) => {
                drop(permit);
                tracing::warn!(queue = %q.def.logical_id, error = %e, "cannot receive; trying again");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let (q, functions, function) = (q.clone(), functions.clone(), c.function.clone());
        tokio::spawn(async move {
            handle(&q, &functions, &function, retry, batch).await;
            drop(permit);
        });
    }
}

/// Hands one batch to the function and settles each message: deleted, or hidden for its backoff.
async fn handle(
    q: &Queue,
    functions: &Functions,
    function: &str,
    retry: ConsumerRetry,
    batch: Vec<Received>,
) {
    let receipts: Vec<String> = batch.iter().map(|m| m.receipt.clone()).collect();
    let records = batch
        .into_iter()
        .map(|m| Record {
            message_id: m.message_id,
            receipt: m.receipt,
            receive_count: m.receive_count,
            body: m.body,
        })
        .collect();
    let failed = queue::consume(records, retry, |event| async move {
        functions.event(function, event).await.map_err(step_error)
    })
    .await;
    let queue = q.def.logical_id.as_str();
    let mut again_now = false;
    for f in &failed {
        again_now |= f.retry_in_seconds == 0;
        let seconds = u32::try_from(f.retry_in_seconds).unwrap_or(u32::MAX);
        if let Err(e) = q.store.hide(&f.receipt, seconds).await {
            // The in-flight visibility still brings it back.
            tracing::warn!(queue, error = %e, "cannot set a failed record's backoff");
        }
    }
    let done: Vec<String> = receipts
        .into_iter()
        .filter(|r| !failed.iter().any(|f| &f.receipt == r))
        .collect();
    if !done.is_empty()
        && let Err(e) = q.store.delete(&done).await
    {
        // Received again later; the consumers are idempotent.
        tracing::warn!(queue, error = %e, "cannot delete handled messages");
    }
    if again_now {
        q.wake.notify_one();
    }
}
