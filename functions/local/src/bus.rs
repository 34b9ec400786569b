//! The in-process event bus. Committed outbox entries arrive in commit order; each is printed (the
//! seed's kafka-console-consumer trace), matched against the template's rules and delivered to every
//! target at least once, with retries and backoff: for the event consumers that is putting it on
//! their queues (`queues.rs`), which wait out a failing consumer. An entry is marked delivered only
//! when all its targets succeeded (or dead-lettered), so a restart replays whatever was still in
//! flight.
use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reserveplace_domain::events::DomainEvent;
use reserveplace_domain::store::Write;
use reserveplace_local_store::OutboxEntry;
use reserveplace_wiring::{Rule, RuleMatcher, Target};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::parts::Parts;

/// What the bus needs: the rules and their targets, the delivery faults and the store it reads
/// the outbox from and keeps dead letters in.
pub struct Bus {
    pub rules: Vec<Rule>,
    pub matcher: RuleMatcher,
    pub parts: Arc<Parts>,
    /// Print every event on stdout.
    pub print_events: bool,
}

/// Backoff between delivery attempts: short first (a local consumer is fast), capped so a context
/// coming back up is noticed within seconds.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis((20u64 << attempt.min(8)).min(5_000))
}

/// The event as printed and as listed by `GET /_local/events`.
pub fn printable(e: &DomainEvent) -> Value {
    // Its own JSON shape: {"detail-type", "source", "time", "detail"}.
    serde_json::to_value(e).unwrap_or(Value::Null)
}

pub async fn run(
    bus: Arc<Bus>,
    replay: Vec<OutboxEntry>,
    mut rx: mpsc::UnboundedReceiver<OutboxEntry>,
) {
    let (done_tx, done_rx) = mpsc::unbounded_channel::<i64>();
    tokio::spawn(mark_delivered(bus.clone(), done_rx));
    let mut last_seq = 0;
    for entry in replay {
        last_seq = last_seq.max(entry.seq);
        dispatch(&bus, entry, &done_tx);
    }
    while let Some(entry) = rx.recv().await {
        // Entries replayed at start-up may also arrive from a commit racing the replay query.
        if entry.seq <= last_seq {
            continue;
        }
        last_seq = entry.seq;
        dispatch(&bus, entry, &done_tx);
    }
}

fn dispatch(bus: &Arc<Bus>, entry: OutboxEntry, done: &mpsc::UnboundedSender<i64>) {
    if bus.print_events {
        let line = printable(&entry.event).to_string();
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
    }
    // One copy for all the deliveries; each attempt hands its function a clone of its own.
    let envelope = Arc::new(entry.event.to_bus_envelope());
    let rules = bus.matcher.matching(&envelope);
    let bus = bus.clone();
    let done = done.clone();
    tokio::spawn(async move {
        let (twice, jitter_ms) = bus.parts.faults.delivery();
        let copies = if twice { 2 } else { 1 };
        let deliveries = rules
            .into_iter()
            .flat_map(|i| (0..copies).map(move |_| i))
            .map(|i| {
                let (bus, envelope) = (bus.clone(), Arc::clone(&envelope));
                async move {
                    if jitter_ms > 0 {
                        // Random delays also reorder deliveries across events.
                        let wait = uuid::Uuid::new_v4().as_u128() as u64 % (jitter_ms + 1);
                        tokio::time::sleep(Duration::from_millis(wait)).await;
                    }
                    deliver(bus, i, envelope).await
                }
            });
        futures_join(deliveries).await;
        let _ = done.send(entry.seq);
    });
}

async fn futures_join<F: std::future::Future<Output = ()> + Send + 'static>(
    futs: impl Iterator<Item = F>,
) {
    let handles: Vec<_> = futs.map(tokio::spawn).collect();
    for h in handles {
        let _ = h.await;
    }
}

/// Delivers one event to one rule's target until it succeeds or the rule's retry policy runs out.
pub(crate) async fn deliver(bus: Arc<Bus>, rule_index: usize, envelope: Arc<Value>) {
    let rule = &bus.rules[rule_index];
    let max_retries = rule.max_retries.unwrap_or(185);
    let max_age = Duration::from_secs(u64::from(rule.max_event_age_seconds.unwrap_or(86_400)));
    let started = Instant::now();
    let mut attempt = 0u32;
    loop {
        let result = match &rule.target {
            Target::Function(name) => bus
                .parts
                .functions
                .event(name, Value::clone(&envelope))
                .await
                .map_err(|e| e.to_string()),
            // EventBridge puts the event on the queue; the queue's poller delivers it.
            Target::Queue(queue) => bus.parts.queues.send(queue, envelope.to_string()).await,
            // A rule that targets a state machine directly (this template's saga has a starter
            // function instead): EventBridge names such executions itself; here the event id
            // names it, so a duplicate delivery starts nothing new.
            Target::StateMachine(machine) => {
                let name = envelope
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                bus.parts
                    .machines
                    .start_execution(machine, &name, Value::clone(&envelope))
                    .await
            }
        };
        match result {
            Ok(()) => return,
            Err(e) if attempt >= max_retries || started.elapsed() >= max_age => {
                tracing::error!(rule = %rule.id, error = %e, "delivery failed for good; dead-lettered");
                dead_letter(&bus, &rule.id, &envelope, &e).await;
                return;
            }
            Err(e) => {
                tracing::debug!(rule = %rule.id, attempt, error = %e, "delivery failed; retrying");
                tokio::time::sleep(backoff(attempt)).await;
                attempt += 1;
            }
        }
    }
}

/// Like the rules' SQS dead-letter queue: kept in the store for inspection.
async fn dead_letter(bus: &Bus, rule: &str, envelope: &Value, error: &str) {
    let id = envelope
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut item = serde_json::Map::new();
    item.insert("pk".into(), json!(format!("DLQ#{rule}")));
    item.insert("sk".into(), json!(id));
    item.insert("event".into(), envelope.clone());
    item.insert("error".into(), json!(error));
    if let Err(e) = bus
        .parts
        .db
        .table("_DeadLetters")
        .transact(vec![Write::Put { item, cond: None }], vec![])
        .await
    {
        tracing::error!(error = %e, "could not store a dead letter");
    }
}

/// Marks delivered entries in batches: one store commit for many events.
async fn mark_delivered(bus: Arc<Bus>, mut rx: mpsc::UnboundedReceiver<i64>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < 1024 {
            match rx.try_recv() {
                Ok(seq) => batch.push(seq),
                Err(_) => break,
            }
        }
        let mut attempt = 0;
        while let Err(e) = bus.parts.db.mark_delivered(batch.clone()).await {
            tracing::warn!(error = %e, "mark_delivered failed; retrying");
            tokio::time::sleep(backoff(attempt)).await;
            attempt += 1;
        }
    }
}
