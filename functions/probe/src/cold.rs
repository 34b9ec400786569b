//! The cold-start probe: each template function's bootstrap process started as Lambda starts it
//! (`_HANDLER`, the template's environment, a Runtime API), its AWS calls going to the emulator
//! through the recording proxy, for one invocation of its sample event from `events/`.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use reserveplace_wiring::{FunctionDef, Wiring};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ProbeError;
use crate::emulator::{Emulator, Stack};
use crate::recorder::{Recorder, Usage};
use crate::runtime_api::{Outcome, RuntimeApi};

/// One function's cold start.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ColdRun {
    pub function: String,
    pub handler: String,
    pub memory_mb: u64,
    /// Process start to its first `…/invocation/next`.
    pub init_ms: f64,
    /// The first invocation: its event's hand-out to the function's answer.
    pub first_invocation_ms: Option<f64>,
    /// `ok`, or the error type the function reported.
    pub outcome: String,
    /// Peak resident memory of the process (`VmHWM`), in KB.
    pub peak_rss_kb: Option<u64>,
    /// What its AWS calls cost in billed units.
    pub usage: Usage,
}

/// Every function's cold start, with the bootstrap they share.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ColdReport {
    pub bootstrap: String,
    pub bootstrap_bytes: u64,
    pub runs: Vec<ColdRun>,
}

/// The order the samples run in, over the same tables: those that create what later ones read
/// come first (a place and its catalogue copy before a reservation of it, a reservation before
/// its saga's steps). Handlers not named here run after, in template order.
const FLOW: &[&str] = &[
    "place-register",
    "reservation-catalogue",
    "seed-reservation-management",
    "reservation-place",
    "outbox-relay",
    "reservation-saga-start",
    "payment-authorize",
    "reservation-record-payment",
    "place-hold-nights",
    "reservation-confirm",
    "mypage-projector",
    "owner-view-projector",
];

/// The functions to probe, in flow order; `only` (handler names) restricts them.
pub fn functions<'a>(wiring: &'a Wiring, only: &[String]) -> Vec<&'a FunctionDef> {
    let mut defs: Vec<&FunctionDef> = wiring
        .functions
        .values()
        .filter(|f| only.is_empty() || only.contains(&f.handler))
        .collect();
    defs.sort_by_key(|f| {
        FLOW.iter()
            .position(|h| *h == f.handler)
            .unwrap_or(FLOW.len())
    });
    defs
}

/// The bootstrap every function runs, as `make lambda-build` leaves it.
pub fn default_bootstrap() -> PathBuf {
    crate::template::repo_root().join("target/lambda/reserveplace/bootstrap")
}

pub(crate) fn sample(handler: &str) -> Result<Value, ProbeError> {
    let path = crate::template::repo_root().join(format!("events/{handler}.json"));
    let text = std::fs::read_to_string(&path).map_err(|source| ProbeError::Io {
        what: path.display().to_string(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| ProbeError::Sample(handler.to_owned(), e.to_string()))
}

fn peak_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn outcome_name(outcome: &Outcome) -> String {
    match outcome {
        // A consumer answers the records it failed on rather than an error.
        Outcome::Response(r)
            if r["batchItemFailures"]
                .as_array()
                .is_some_and(|f| !f.is_empty()) =>
        {
            "a record failed".to_owned()
        }
        Outcome::Response(_) => "ok".to_owned(),
        Outcome::Error(e) => {
            let e = if e["init"].is_null() { e } else { &e["init"] };
            let kind = e["errorType"].as_str().unwrap_or("error");
            let message: String = e["errorMessage"]
                .as_str()
                .unwrap_or("")
                .chars()
                .take(80)
                .collect();
            format!("{kind}: {message}")
        }
    }
}

/// The first string under `key` anywhere in `v`.
fn find_string(v: &Value, key: &str) -> Option<String> {
    match v {
        Value::Object(m) => m
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| m.values().find_map(|x| find_string(x, key))),
        Value::Array(a) => a.iter().find_map(|x| find_string(x, key)),
        _ => None,
    }
}

/// Replaces `from` by `to` inside every string of `v` (paths, bodies, details alike).
fn replace_strings(v: &mut Value, from: &str, to: &str) {
    match v {
        Value::String(s) if s.contains(from) => *s = s.replace(from, to),
        Value::Object(m) => m.values_mut().for_each(|x| replace_strings(x, from, to)),
        Value::Array(a) => a.iter_mut().for_each(|x| replace_strings(x, from, to)),
        _ => {}
    }
}

/// Runs `bootstrap` as `def` for one invocation of `event`.
async fn run_one(
    bootstrap: &Path,
    def: &FunctionDef,
    stack: &Stack,
    memory_mb: u64,
    recorder: &Recorder,
    event: Value,
) -> Result<(ColdRun, Outcome), ProbeError> {
    let mut api = RuntimeApi::start(vec![event])
        .await
        .map_err(|source| ProbeError::Io {
            what: "runtime API".into(),
            source,
        })?;
    let _ = recorder.take();
    let started = Instant::now();
    let mut child = tokio::process::Command::new(bootstrap)
        .env_clear()
        .envs(stack.env_for(def))
        .envs(crate::emulator::lambda_env(
            &def.handler,
            &api.address(),
            recorder.url(),
            memory_mb,
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| ProbeError::Io {
            what: bootstrap.display().to_string(),
            source,
        })?;
    let answer = api.answer(Duration::from_secs(60)).await;
    let peak = child.id().and_then(peak_rss_kb);
    let _ = child.kill().await;
    let answer = answer.ok_or_else(|| ProbeError::NoAnswer(def.handler.clone()))?;
    let init_ms = api
        .first_poll()
        .map(|t| t.saturating_duration_since(started).as_secs_f64() * 1000.0)
        .ok_or_else(|| ProbeError::NoAnswer(def.handler.clone()))?;
    let run = ColdRun {
        function: def.logical_id.clone(),
        handler: def.handler.clone(),
        memory_mb,
        init_ms,
        first_invocation_ms: answer.duration().map(|d| d.as_secs_f64() * 1000.0),
        outcome: outcome_name(&answer.outcome),
        peak_rss_kb: peak,
        usage: recorder.take(),
    };
    Ok((run, answer.outcome))
}

/// Whether the function is an event consumer behind its own queue.
fn reads_a_queue(wiring: &Wiring, def: &FunctionDef) -> bool {
    wiring.queues.values().any(|q| {
        q.consumer
            .as_ref()
            .is_some_and(|c| c.function == def.logical_id)
    })
}

/// A consumer's sample (the EventBridge event) as Lambda hands it over: one record of an SQS
/// batch whose body is the event.
fn sqs_batch(event: &Value) -> Value {
    serde_json::json!({"Records": [sqs_record(
        "00000000-0000-4000-8000-000000000001",
        "probe",
        &event.to_string(),
        "1",
        "arn:aws:sqs:us-east-1:000000000000:probe",
    )]})
}

/// One record of the SQS batch Lambda hands a queue's consumer.
pub fn sqs_record(
    message_id: &str,
    receipt_handle: &str,
    body: &str,
    receive_count: &str,
    queue_arn: &str,
) -> Value {
    serde_json::json!({
        "messageId": message_id,
        "receiptHandle": receipt_handle,
        "body": body,
        "attributes": {"ApproximateReceiveCount": receive_count},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": "us-east-1"
    })
}

/// Probes every function of `only` (all when empty) with `bootstrap`.
pub async fn probe(
    wiring: &Wiring,
    memory: &BTreeMap<String, u64>,
    bootstrap: &Path,
    only: &[String],
) -> Result<ColdReport, ProbeError> {
    let bootstrap_bytes = std::fs::metadata(bootstrap)
        .map_err(|source| ProbeError::Io {
            what: bootstrap.display().to_string(),
            source,
        })?
        .len();
    let emulator = Emulator::start()?;
    let stack = emulator.stack(wiring).await?;
    let recorder = Recorder::start(emulator.url())
        .await
        .map_err(|source| ProbeError::Io {
            what: "recording proxy".into(),
            source,
        })?;
    // The samples name one reservation; the one `reservation-place` makes here has an id of
    // its own, so later samples are pointed at it.
    let sample_id = find_string(&sample("payment-authorize")?, "reservationId");
    let mut made_id: Option<String> = None;
    let mut runs = Vec::new();
    for def in functions(wiring, only) {
        let mut event = sample(&def.handler)?;
        if let (Some(from), Some(to)) = (&sample_id, &made_id) {
            replace_strings(&mut event, from, to);
        }
        if reads_a_queue(wiring, def) {
            event = sqs_batch(&event);
        }
        let memory_mb = memory.get(&def.logical_id).copied().unwrap_or(128);
        let (run, answer) = run_one(bootstrap, def, &stack, memory_mb, &recorder, event).await?;
        if def.handler == "reservation-place"
            && let Outcome::Response(resp) = &answer
        {
            let body: Value = resp["body"]
                .as_str()
                .and_then(|b| serde_json::from_str(b).ok())
                .unwrap_or(Value::Null);
            made_id = body["reservationId"].as_str().map(str::to_owned);
        }
        runs.push(run);
    }
    Ok(ColdReport {
        bootstrap: bootstrap.display().to_string(),
        bootstrap_bytes,
        runs,
    })
}

/// The report as a fixed-width table.
pub fn table(report: &ColdReport) -> String {
    let mut out = format!(
        "bootstrap {} ({:.1} MB)\n{:<30} {:>5} {:>8} {:>10} {:>9} {:>8} {:>6} {:>6}  outcome\n",
        report.bootstrap,
        report.bootstrap_bytes as f64 / 1e6,
        "handler",
        "MB",
        "init ms",
        "1st inv ms",
        "AWS ms",
        "RSS MB",
        "RRU",
        "WRU"
    );
    for r in &report.runs {
        out.push_str(&format!(
            "{:<30} {:>5} {:>8.1} {:>10} {:>9.1} {:>8} {:>6} {:>6}  {}\n",
            r.handler,
            r.memory_mb,
            r.init_ms,
            r.first_invocation_ms
                .map_or("-".to_owned(), |d| format!("{d:.1}")),
            r.usage.upstream_ms,
            r.peak_rss_kb
                .map_or("-".to_owned(), |k| format!("{:.1}", k as f64 / 1024.0)),
            r.usage.read_units,
            r.usage.write_units,
            r.outcome
        ));
    }
    out
}
