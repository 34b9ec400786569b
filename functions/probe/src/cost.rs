//! The AWS cost of a million reservations, by how they end. Each outcome is what it runs: its
//! HTTP calls, its path through the saga (checked against the state machine of the template, so
//! a path that no longer exists is an error, not a stale figure), and the events it publishes
//! (their consumers found by the template's own rules). Per Lambda invocation, the duration and
//! the DynamoDB units are the probe's measurements of that handler.
use std::collections::BTreeMap;

use reserveplace_wiring::{RuleMatcher, Wiring};
use serde::Serialize;
use serde_json::{Value, json};

use crate::ProbeError;
use crate::cold::ColdReport;
use crate::prices::Prices;
use crate::recorder::Usage;

/// One event an outcome publishes: its source context, detail-type and the detail fields the
/// rules filter on.
struct Published {
    source: &'static str,
    detail_type: &'static str,
    detail: Value,
}

fn ev(source: &'static str, detail_type: &'static str, detail: Value) -> Published {
    Published {
        source,
        detail_type,
        detail,
    }
}

/// One way a reservation ends.
struct Outcome {
    name: &'static str,
    /// Handlers called through the HTTP API.
    http: Vec<&'static str>,
    /// The states the saga enters, in order.
    saga: Vec<&'static str>,
    events: Vec<Published>,
}

fn status(s: &str) -> Value {
    json!({"status": s})
}

const CHARGED: &[&str] = &[
    "AuthorizePayment",
    "PaymentOutcome",
    "RecordPayment",
    "PaidOutcome",
    "HoldNights",
    "HoldOutcome",
];
const AWAIT: &[&str] = &[
    "AwaitOwner",
    "AwaitingOutcome",
    "WaitForOwner",
    "DecisionOutcome",
];
const CONFIRM: &[&str] = &[
    "ConfirmReservation",
    "ConfirmedOutcome",
    "CapturePayment",
    "Confirmed",
];
const REFUND_CANCEL: &[&str] = &["VoidPayment", "CancelReservation", "Cancelled"];

fn path(parts: &[&[&'static str]]) -> Vec<&'static str> {
    parts.iter().flat_map(|p| p.iter().copied()).collect()
}

fn outcomes() -> Vec<Outcome> {
    let placed = || ev("reservation", "ReservationPlaced", json!({}));
    let approved = || ev("payment", "PaymentAuthorized", json!({}));
    let captured = || ev("payment", "PaymentCaptured", json!({}));
    let paid = || ev("reservation", "ReservationStatusChanged", status("PAID"));
    let awaiting = || {
        ev(
            "reservation",
            "ReservationStatusChanged",
            status("AWAITING_OWNER"),
        )
    };
    let confirmed = || {
        ev(
            "reservation",
            "ReservationStatusChanged",
            status("CONFIRMED"),
        )
    };
    let cancelled = |reason: &str| {
        [
            ev(
                "reservation",
                "ReservationStatusChanged",
                status("CANCELLED"),
            ),
            ev(
                "reservation",
                "ReservationCanceled",
                json!({"reason": reason}),
            ),
        ]
    };
    let voided = || ev("payment", "PaymentVoided", json!({}));
    let refunded = || ev("payment", "PaymentRefunded", json!({}));
    let decided = |t: &'static str, by: &str| ev("place", t, json!({"decidedBy": by}));
    // The place context's own account of the nights (the search projection's input).
    let held = || ev("place", "RoomsHeld", json!({}));
    let released = || ev("place", "RoomsReleased", json!({}));
    // Every outcome past the payment starts with these; an owner's turn adds `awaiting`.
    let charged = |owner_asked: bool| {
        let mut events = vec![placed(), approved(), paid()];
        events.extend(owner_asked.then(awaiting));
        events
    };
    let confirmed_by = |owner_asked: bool, by: &str| {
        let mut events = charged(owner_asked);
        events.extend([
            held(),
            decided("ReservationConfirmed", by),
            confirmed(),
            captured(),
        ]);
        events
    };
    // Only a refusal after the owner's turn had its nights held (a sold-out hold held none).
    let refused = |owner_asked: bool, by: &str, reason: &str| {
        let mut events = charged(owner_asked);
        if owner_asked {
            events.extend([held(), released()]);
        }
        events.extend([decided("ReservationCancelConfirmed", by), voided()]);
        events.extend(cancelled(reason));
        events
    };
    let mut cancelled_by_customer = confirmed_by(false, "instant");
    cancelled_by_customer.extend(cancelled("CUSTOMER_CANCELLED"));
    cancelled_by_customer.extend([released(), refunded()]);
    let mut declined = vec![placed(), ev("payment", "PaymentDeclined", json!({}))];
    declined.extend(cancelled("PAYMENT_DECLINED"));
    vec![
        Outcome {
            name: "confirmed (instant book)",
            http: vec!["reservation-place"],
            saga: path(&[CHARGED, CONFIRM]),
            events: confirmed_by(false, "instant"),
        },
        Outcome {
            name: "confirmed by the owner",
            http: vec!["reservation-place", "owner-decision"],
            saga: path(&[CHARGED, AWAIT, CONFIRM]),
            events: confirmed_by(true, "owner"),
        },
        Outcome {
            name: "declined payment",
            http: vec!["reservation-place"],
            saga: path(&[
                &["AuthorizePayment", "PaymentOutcome", "PaymentDeclined"],
                &["CancelReservation", "Cancelled"],
            ]),
            events: declined,
        },
        Outcome {
            name: "sold out",
            http: vec!["reservation-place"],
            saga: path(&[CHARGED, &["SoldOut"], REFUND_CANCEL]),
            events: refused(false, "system", "SOLD_OUT"),
        },
        Outcome {
            name: "owner rejected",
            http: vec!["reservation-place", "owner-decision"],
            saga: path(&[CHARGED, AWAIT, &["OwnerRejected"], REFUND_CANCEL]),
            events: refused(true, "owner", "OWNER_REJECTED"),
        },
        Outcome {
            name: "owner timed out",
            http: vec!["reservation-place"],
            saga: path(&[
                CHARGED,
                &["AwaitOwner", "AwaitingOutcome", "WaitForOwner"],
                &["ExpireOwnerDecision", "DecisionOutcome", "OwnerTimedOut"],
                REFUND_CANCEL,
            ]),
            events: refused(true, "timeout", "OWNER_TIMEOUT"),
        },
        Outcome {
            name: "cancelled by the customer",
            http: vec!["reservation-place", "reservation-cancel"],
            saga: path(&[CHARGED, CONFIRM]),
            events: cancelled_by_customer,
        },
    ]
}

/// The states a state may go to next: `Next`, `Default`, each choice's and each catcher's.
fn successors(state: &Value) -> Vec<&str> {
    let mut next: Vec<&str> = ["Next", "Default"]
        .iter()
        .filter_map(|k| state[*k].as_str())
        .collect();
    for list in ["Choices", "Catch"] {
        if let Some(items) = state[list].as_array() {
            next.extend(items.iter().filter_map(|c| c["Next"].as_str()));
        }
    }
    next
}

/// The handlers the Task states of `path` invoke, after checking `path` is a run of the
/// definition from its start to a terminal state.
fn saga_invocations(
    wiring: &Wiring,
    definition: &Value,
    machine: &reserveplace_wiring::StateMachineDef,
    outcome: &str,
    path: &[&str],
) -> Result<Vec<String>, ProbeError> {
    let bad = |why: String| ProbeError::SagaPath(outcome.to_owned(), why);
    let states = &definition["States"];
    if path.first().copied() != definition["StartAt"].as_str() {
        return Err(bad("does not begin at StartAt".into()));
    }
    let mut handlers = Vec::new();
    for (i, name) in path.iter().enumerate() {
        let state = &states[*name];
        if state.is_null() {
            return Err(bad(format!("{name} is not a state")));
        }
        match path.get(i + 1) {
            Some(next) if !successors(state).contains(next) => {
                return Err(bad(format!("{name} cannot go to {next}")));
            }
            None if !matches!(state["Type"].as_str(), Some("Succeed" | "Fail")) => {
                return Err(bad(format!("ends at {name}, which is not terminal")));
            }
            _ => {}
        }
        if state["Type"].as_str() == Some("Task") {
            let arn = state["Parameters"]["FunctionName"].as_str().unwrap_or("");
            let handler = machine
                .function_arns
                .get(arn)
                .and_then(|id| wiring.functions.get(id))
                .map(|f| f.handler.clone())
                .ok_or_else(|| bad(format!("{name} invokes no template function ({arn})")))?;
            handlers.push(handler);
        }
    }
    Ok(handlers)
}

/// Per handler: what one invocation takes, from the probe.
#[derive(Debug, Clone)]
pub struct Measured {
    pub duration_ms: f64,
    pub memory_mb: u64,
    pub usage: Usage,
}

/// What one invocation of each handler takes: the probe's first invocation, its time waiting on
/// the emulator replaced by `aws_call_ms` per AWS call (the emulator is far slower than AWS),
/// or `override_ms` where given.
pub fn measured(
    report: &ColdReport,
    aws_call_ms: f64,
    overrides: &BTreeMap<String, f64>,
) -> BTreeMap<String, Measured> {
    report
        .runs
        .iter()
        .map(|r| {
            let calls: u64 = r.usage.calls.values().sum();
            let own = (r.first_invocation_ms.unwrap_or(0.0) - r.usage.upstream_ms).max(1.0);
            let duration_ms = overrides
                .get(&r.handler)
                .copied()
                .unwrap_or(own + calls as f64 * aws_call_ms);
            let m = Measured {
                duration_ms,
                memory_mb: r.memory_mb,
                usage: r.usage.clone(),
            };
            (r.handler.clone(), m)
        })
        .collect()
}

/// The cost of a million reservations ending one way.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Line {
    pub outcome: String,
    pub lambda_invocations: f64,
    pub lambda_gb_seconds: f64,
    pub state_transitions: f64,
    pub read_units: f64,
    pub write_units: f64,
    pub events: f64,
    /// Events put on a consumer's queue (one per matching rule).
    pub queue_messages: f64,
    pub http_requests: f64,
    /// USD by service: Lambda, Step Functions, DynamoDB, EventBridge, SQS, HTTP API.
    pub usd_by_service: BTreeMap<&'static str, f64>,
    pub usd: f64,
}

/// Everything the model assumes besides prices and measurements.
#[derive(Debug, Clone, Serialize)]
pub struct Assumptions {
    /// Events the outbox relay forwards per invocation (its stream batch).
    pub events_per_relay: f64,
    /// Share of invocations that are cold starts (their init is billed too).
    pub cold_share: f64,
    /// Init duration billed per cold start, ms.
    pub init_ms: f64,
}

const MILLION: f64 = 1_000_000.0;

/// SQS requests per message on a consumer's queue: the rule's `SendMessage`, the event source
/// mapping's `ReceiveMessage` and its `DeleteMessage`, unbatched (the most it costs). The
/// mappings' idle long polls are a fixed monthly cost, not per reservation.
const SQS_REQUESTS_PER_MESSAGE: f64 = 3.0;

/// The cost table: one line per outcome, per million reservations.
pub fn model(
    wiring: &Wiring,
    measured: &BTreeMap<String, Measured>,
    prices: &Prices,
    assume: &Assumptions,
) -> Result<Vec<Line>, ProbeError> {
    let machine = wiring
        .state_machines
        .values()
        .next()
        .ok_or_else(|| ProbeError::Template("no state machine".into()))?;
    let definition: Value = serde_json::from_str(&machine.definition)
        .map_err(|e| ProbeError::Template(e.to_string()))?;
    let rules = RuleMatcher::new(&wiring.rules).map_err(|e| ProbeError::Template(e.to_string()))?;
    let mut lines = Vec::new();
    for outcome in outcomes() {
        let mut invocations: Vec<String> = outcome.http.iter().map(|h| h.to_string()).collect();
        let mut queued = 0usize;
        invocations.extend(saga_invocations(
            wiring,
            &definition,
            machine,
            outcome.name,
            &outcome.saga,
        )?);
        for event in &outcome.events {
            let envelope = json!({
                "source": format!("reserveplace.{}", event.source),
                "detail-type": event.detail_type,
                "detail": event.detail,
            });
            for i in rules.matching(&envelope) {
                if matches!(
                    wiring.rules[i].target,
                    reserveplace_wiring::Target::Queue(_)
                ) {
                    queued += 1;
                }
                if let Some(id) = wiring.consumer_of(&wiring.rules[i].target)
                    && let Some(f) = wiring.functions.get(id)
                {
                    invocations.push(f.handler.clone());
                }
            }
        }
        let events = outcome.events.len() as f64;
        let mut line = Line {
            outcome: outcome.name.to_owned(),
            state_transitions: outcome.saga.len() as f64 * MILLION,
            events: events * MILLION,
            queue_messages: queued as f64 * MILLION,
            http_requests: outcome.http.len() as f64 * MILLION,
            ..Line::default()
        };
        let relay = events / assume.events_per_relay;
        let mut weighted: Vec<(String, f64)> = invocations.into_iter().map(|h| (h, 1.0)).collect();
        weighted.push(("outbox-relay".into(), relay));
        for (handler, times) in weighted {
            let m = measured
                .get(&handler)
                .ok_or_else(|| ProbeError::NotMeasured(handler.clone()))?;
            let gb = m.memory_mb as f64 / 1024.0;
            let billed_ms = m.duration_ms.ceil() + assume.cold_share * assume.init_ms;
            line.lambda_invocations += times * MILLION;
            line.lambda_gb_seconds += times * MILLION * gb * billed_ms / 1000.0;
            // The relay's own units are its reads of nothing: it only puts events.
            line.read_units += times * MILLION * m.usage.read_units;
            line.write_units += times * MILLION * m.usage.write_units;
        }
        line.usd_by_service = BTreeMap::from([
            (
                "Lambda",
                prices.lambda_gb_second * line.lambda_gb_seconds
                    + prices.lambda_request * line.lambda_invocations,
            ),
            (
                "Step Functions",
                prices.state_transition * line.state_transitions,
            ),
            (
                "DynamoDB",
                prices.read_unit * line.read_units + prices.write_unit * line.write_units,
            ),
            ("EventBridge", prices.event * line.events),
            (
                "SQS",
                prices.sqs_request * SQS_REQUESTS_PER_MESSAGE * line.queue_messages,
            ),
            ("HTTP API", prices.http_request * line.http_requests),
        ]);
        line.usd = line.usd_by_service.values().sum();
        lines.push(line);
    }
    Ok(lines)
}

/// The lines as a fixed-width table.
pub fn table(lines: &[Line], prices: &Prices) -> String {
    let mut out = format!(
        "per 1,000,000 reservations; {}\n{:<28} {:>8} {:>9} {:>8} {:>8} {:>8} {:>7} {:>6} {:>9}\n",
        prices.source,
        "outcome",
        "Lambda M",
        "GB-s",
        "SFN M",
        "RRU M",
        "WRU M",
        "events M",
        "HTTP M",
        "USD"
    );
    for l in lines {
        out.push_str(&format!(
            "{:<28} {:>8.1} {:>9.0} {:>8.1} {:>8.2} {:>8.2} {:>7.1} {:>6.1} {:>9.2}\n",
            l.outcome,
            l.lambda_invocations / MILLION,
            l.lambda_gb_seconds,
            l.state_transitions / MILLION,
            l.read_units / MILLION,
            l.write_units / MILLION,
            l.events / MILLION,
            l.http_requests / MILLION,
            l.usd
        ));
    }
    let services: Vec<&str> = lines
        .first()
        .map(|l| l.usd_by_service.keys().copied().collect())
        .unwrap_or_default();
    out.push_str(&format!("\nUSD by service\n{:<28}", "outcome"));
    for s in &services {
        out.push_str(&format!(" {s:>14}"));
    }
    out.push('\n');
    for l in lines {
        out.push_str(&format!("{:<28}", l.outcome));
        for s in &services {
            out.push_str(&format!(
                " {:>14.2}",
                l.usd_by_service.get(s).copied().unwrap_or(0.0)
            ));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wiring() -> Wiring {
        Wiring::load(
            &crate::template::repo_root().join("template.yaml"),
            &Default::default(),
        )
        .expect("template")
    }

    #[test]
    fn every_outcome_is_a_run_of_the_saga() {
        let w = wiring();
        let machine = w.state_machines.values().next().expect("saga");
        let def: Value = serde_json::from_str(&machine.definition).expect("asl");
        for o in outcomes() {
            let handlers =
                saga_invocations(&w, &def, machine, o.name, &o.saga).expect("a path of the saga");
            assert_eq!(
                handlers.first().map(String::as_str),
                Some("payment-authorize")
            );
        }
    }

    #[test]
    fn a_path_the_saga_does_not_have_is_refused() {
        let w = wiring();
        let machine = w.state_machines.values().next().expect("saga");
        let def: Value = serde_json::from_str(&machine.definition).expect("asl");
        let skip = ["AuthorizePayment", "HoldNights", "Cancelled"];
        assert!(saga_invocations(&w, &def, machine, "x", &skip).is_err());
        let unfinished = ["AuthorizePayment", "PaymentOutcome"];
        assert!(saga_invocations(&w, &def, machine, "x", &unfinished).is_err());
    }
}
