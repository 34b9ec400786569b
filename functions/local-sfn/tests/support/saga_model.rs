//! The project's saga definition (`infra/reservation-saga.asl.json`) run over a model of its
//! step functions. Each step is the conditional state transition the real handler commits
//! (one authorization, one capture, one void, one hold, one release, tombstones for a
//! compensation that comes first), so the tests can check what the saga leaves behind: whether
//! money stays held or taken, or nights stay held. Faults (an error before or after the step's effect) and outages (every
//! function of a context down for a while, in virtual time) are injected per function.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::Duration;

use async_trait::async_trait;
use reserveplace_domain::reservation::CancelReason;
use reserveplace_local_sfn::{ExecutionView, Interpreter, StateMachine, TaskError, TaskInvoker};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::MemoryTable;

/// The ASL resource every Task must name once `${Partition}` is resolved to `aws`.
pub const LAMBDA_INVOKE: &str = "arn:aws:states:::lambda:invoke";

/// Each step function (the `${...FunctionArn}` substitution without its suffix) and its context.
pub const FUNCTIONS: [(&str, &str); 11] = [
    ("PaymentAuthorize", "payment"),
    ("ReservationRecordPayment", "reservation"),
    ("PlaceHoldNights", "place"),
    ("ReservationAwaitOwner", "reservation"),
    ("PlaceRequestDecision", "place"),
    ("PlaceExpireDecision", "place"),
    ("ReservationConfirm", "reservation"),
    ("PaymentCapture", "payment"),
    ("PlaceReleaseNights", "place"),
    ("PaymentVoid", "payment"),
    ("ReservationCancelStep", "reservation"),
];

/// The compensation steps; the others after the authorization move the reservation forward.
pub const COMPENSATIONS: [&str; 3] = ["PlaceReleaseNights", "PaymentVoid", "ReservationCancelStep"];

fn context_of(function: &str) -> &'static str {
    FUNCTIONS
        .iter()
        .find(|(f, _)| *f == function)
        .map_or("?", |(_, c)| c)
}

/// The definition file: `RESERVEPLACE_SAGA_ASL` if set (to run these tests against another
/// version of it), else the project's.
pub fn definition_text() -> String {
    let path = std::env::var("RESERVEPLACE_SAGA_ASL").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../infra/reservation-saga.asl.json"
        )
        .to_owned()
    });
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// The definition with its substitutions resolved as the wiring does (`${Partition}` → `aws`),
/// each function ARN being the function's name.
pub fn machine() -> StateMachine {
    let mut text = definition_text().replace("${Partition}", "aws");
    for (function, _) in FUNCTIONS {
        text = text.replace(&format!("${{{function}FunctionArn}}"), function);
    }
    StateMachine::parse(&text).unwrap_or_else(|e| panic!("the saga definition is rejected: {e}"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Confirms,
    Rejects,
    /// Never answers: the owner timeout fires.
    Silent,
}

#[derive(Debug, Clone, Copy)]
pub struct Scenario {
    pub instant_book: bool,
    pub sold_out: bool,
    pub owner: Owner,
}

pub const SCENARIOS: [Scenario; 5] = [
    Scenario {
        instant_book: true,
        sold_out: false,
        owner: Owner::Confirms,
    },
    Scenario {
        instant_book: false,
        sold_out: false,
        owner: Owner::Confirms,
    },
    Scenario {
        instant_book: false,
        sold_out: false,
        owner: Owner::Rejects,
    },
    Scenario {
        instant_book: false,
        sold_out: false,
        owner: Owner::Silent,
    },
    Scenario {
        instant_book: true,
        sold_out: true,
        owner: Owner::Confirms,
    },
];

/// How long the owner takes to answer, and the owner timeout (shorter than the forward retries).
pub const OWNER_ANSWERS_AFTER: Duration = Duration::from_secs(60);
pub const OWNER_TIMEOUT_SECONDS: u64 = 3600;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payment {
    /// Held on the card.
    Approved,
    /// Taken: the stay is confirmed.
    Captured,
    /// Released: no money moved (with the reason; before any authorization, a tombstone that a
    /// later authorization answers as cancelled).
    Voided(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hold {
    /// With the owner's decision so far (`NONE`, `CONFIRMED`).
    Held(String),
    /// With why (`CANCELLED`, `REJECTED`, `TIMED_OUT`); a tombstone if nothing was ever held.
    Released(String),
}

/// What the step functions committed.
#[derive(Debug, Clone, Default)]
pub struct World {
    pub payment: Option<Payment>,
    pub hold: Option<Hold>,
    pub status: String,
    pub reason: Option<String>,
    pub charges: u32,
    pub voids: u32,
    pub captures: u32,
    pub holds: u32,
    pub releases: u32,
    /// Calls per function.
    pub calls: BTreeMap<String, u32>,
}

#[derive(Debug, Clone)]
pub struct Fault {
    pub function: &'static str,
    pub error: &'static str,
    /// Fail the first `n` calls (`None`: every call).
    pub calls: Option<u32>,
    /// Commit the step's effect, then fail (a timeout or crash after the write).
    pub after_effect: bool,
}

/// Every function of `context` fails (`Lambda.ServiceException`, as when the local runtime marks
/// a context down) for `length` of virtual time from the first call of `from`.
#[derive(Debug, Clone)]
pub struct Outage {
    pub context: &'static str,
    pub from: &'static str,
    pub length: Duration,
    pub began: Option<Instant>,
}

pub struct SagaModel {
    scenario: Scenario,
    world: Arc<Mutex<World>>,
    faults: Vec<Fault>,
    outage: Mutex<Option<Outage>>,
    interpreter: OnceLock<Weak<Interpreter>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn fail(error: &str, cause: impl Into<String>) -> TaskError {
    TaskError::new(error, cause)
}

fn reason_of(payload: &Value) -> Result<String, TaskError> {
    let reason = payload.get("reason").cloned().unwrap_or(Value::Null);
    // The real steps parse it into the domain's reason; anything else is invalid input.
    serde_json::from_value::<CancelReason>(reason.clone())
        .map_err(|e| fail("ReservePlace.InvalidInput", format!("reason {reason}: {e}")))?;
    Ok(reason.as_str().unwrap_or_default().to_owned())
}

impl SagaModel {
    pub fn new(scenario: Scenario, faults: Vec<Fault>, outage: Option<Outage>) -> Arc<Self> {
        Arc::new(Self {
            scenario,
            world: Arc::new(Mutex::new(World {
                status: "PENDING".into(),
                ..World::default()
            })),
            faults,
            outage: Mutex::new(outage),
            interpreter: OnceLock::new(),
        })
    }

    pub fn world(&self) -> World {
        lock(&self.world).clone()
    }

    fn down(&self, function: &str) -> bool {
        let mut outage = lock(&self.outage);
        let Some(o) = outage.as_mut() else {
            return false;
        };
        if o.began.is_none() && o.from == function {
            o.began = Some(Instant::now());
        }
        o.began
            .is_some_and(|t| o.context == context_of(function) && t.elapsed() < o.length)
    }

    /// The step's effect: what the real handler commits, and its answer.
    fn effect(&self, function: &str, payload: &Value) -> Result<Value, TaskError> {
        let s = self.scenario;
        let mut w = lock(&self.world);
        let cancelled = w.status == "CANCELLED";
        Ok(match function {
            "PaymentAuthorize" => match &w.payment {
                None => {
                    w.payment = Some(Payment::Approved);
                    w.charges += 1;
                    json!({"outcome": "APPROVED", "paymentId": "pay-1"})
                }
                Some(Payment::Approved | Payment::Captured) => {
                    json!({"outcome": "APPROVED", "paymentId": "pay-1"})
                }
                Some(Payment::Voided(r)) => {
                    json!({"outcome": "CANCELLED", "reason": r})
                }
            },
            "PaymentVoid" => {
                let reason = reason_of(payload)?;
                match &w.payment {
                    Some(Payment::Approved) => {
                        w.payment = Some(Payment::Voided(reason));
                        w.voids += 1;
                    }
                    None => w.payment = Some(Payment::Voided(reason)),
                    Some(_) => {}
                }
                json!({"status": "VOIDED"})
            }
            "PaymentCapture" => {
                if w.payment == Some(Payment::Approved) {
                    w.payment = Some(Payment::Captured);
                    w.captures += 1;
                }
                json!({"status": "CAPTURED"})
            }
            "ReservationRecordPayment" | "ReservationAwaitOwner" | "ReservationConfirm" => {
                if !cancelled {
                    w.status = match function {
                        "ReservationRecordPayment" => "PAID",
                        "ReservationAwaitOwner" => "AWAITING_OWNER",
                        _ => "CONFIRMED",
                    }
                    .into();
                }
                json!({"status": w.status})
            }
            "ReservationCancelStep" => {
                let reason = reason_of(payload)?;
                // A confirmed stay is left as it is (the customer may cancel it).
                if !cancelled && w.status != "CONFIRMED" {
                    w.status = "CANCELLED".into();
                    w.reason = Some(reason);
                }
                json!({"status": w.status})
            }
            "PlaceHoldNights" => {
                let held = |decision: &str| {
                    json!({"outcome": "HELD", "instantBook": s.instant_book,
                        "ownerTimeoutSeconds": OWNER_TIMEOUT_SECONDS, "decision": decision})
                };
                match w.hold.clone() {
                    None if s.sold_out => json!({"outcome": "SOLD_OUT"}),
                    None => {
                        w.hold = Some(Hold::Held("NONE".into()));
                        w.holds += 1;
                        held("NONE")
                    }
                    Some(Hold::Held(d)) => held(&d),
                    Some(Hold::Released(d)) => json!({"outcome": "RELEASED", "decision": d}),
                }
            }
            "PlaceReleaseNights" => {
                match w.hold {
                    Some(Hold::Held(_)) => {
                        w.hold = Some(Hold::Released("CANCELLED".into()));
                        w.releases += 1;
                    }
                    None => w.hold = Some(Hold::Released("CANCELLED".into())),
                    Some(Hold::Released(_)) => {}
                }
                json!({"released": true})
            }
            "PlaceExpireDecision" => match w.hold.clone() {
                Some(Hold::Held(d)) if d == "NONE" => {
                    w.hold = Some(Hold::Released("TIMED_OUT".into()));
                    w.releases += 1;
                    json!({"decision": "TIMED_OUT"})
                }
                Some(Hold::Held(d) | Hold::Released(d)) => json!({"decision": d}),
                None => json!({"decision": "TIMED_OUT"}),
            },
            "PlaceRequestDecision" => {
                let token = payload
                    .get("taskToken")
                    .and_then(Value::as_str)
                    .ok_or_else(|| fail("ReservePlace.InvalidInput", "no taskToken"))?;
                self.owner_answers_later(token.to_owned());
                json!({"waiting": true})
            }
            other => return Err(fail("Lambda.ResourceNotFoundException", other.to_owned())),
        })
    }

    /// The owner decides (the place context commits it), then the saga is resumed with it.
    fn owner_answers_later(&self, token: String) {
        if self.scenario.owner == Owner::Silent {
            return;
        }
        let rejects = self.scenario.owner == Owner::Rejects;
        let world = Arc::clone(&self.world);
        let interpreter = self.interpreter.get().cloned();
        tokio::spawn(async move {
            tokio::time::sleep(OWNER_ANSWERS_AFTER).await;
            let decision = {
                let mut w = lock(&world);
                match w.hold.clone() {
                    Some(Hold::Held(d)) if d == "NONE" => {
                        if rejects {
                            w.hold = Some(Hold::Released("REJECTED".into()));
                            w.releases += 1;
                            "REJECTED".to_owned()
                        } else {
                            w.hold = Some(Hold::Held("CONFIRMED".into()));
                            "CONFIRMED".to_owned()
                        }
                    }
                    Some(Hold::Held(d) | Hold::Released(d)) => d,
                    None => return,
                }
            };
            if let Some(i) = interpreter.and_then(|w| w.upgrade()) {
                // The attempt that issued the token may be over: then the token is gone.
                let _ = i
                    .send_task_success(&token, json!({"decision": decision}))
                    .await;
            }
        });
    }
}

#[async_trait]
impl TaskInvoker for SagaModel {
    async fn invoke(&self, resource: &str, input: Value) -> Result<Value, TaskError> {
        if resource.trim_end_matches(".waitForTaskToken") != LAMBDA_INVOKE {
            return Err(fail(
                "States.Runtime",
                format!("unsupported resource {resource}"),
            ));
        }
        let function = input
            .get("FunctionName")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let payload = input.get("Payload").cloned().unwrap_or(Value::Null);
        let n = {
            let mut w = lock(&self.world);
            let n = w.calls.entry(function.clone()).or_default();
            *n += 1;
            *n
        };
        if self.down(&function) {
            return Err(fail(
                "Lambda.ServiceException",
                format!("{function} is down (outage)"),
            ));
        }
        let fault = self
            .faults
            .iter()
            .find(|f| f.function == function && f.calls.is_none_or(|max| n <= max));
        match fault {
            None => self
                .effect(&function, &payload)
                .map(|out| json!({"Payload": out, "StatusCode": 200})),
            Some(f) => {
                if f.after_effect {
                    // Whatever the effect answered is lost with the failed attempt.
                    let _ = self.effect(&function, &payload);
                }
                Err(fail(f.error, format!("{function}: injected {}", f.error)))
            }
        }
    }
}

/// A ReservationPlaced event as the rule starts the saga with.
pub fn saga_input() -> Value {
    json!({
        "id": "evt-1",
        "detail-type": "ReservationPlaced",
        "source": "reserveplace.reservation",
        "detail": {"reservationId": "r-1", "userId": "u-1", "placeId": "p-1",
            "checkIn": "2030-05-01", "checkOut": "2030-05-03", "rooms": 1, "amount": 100000}
    })
}

/// Runs one execution to its end (in virtual time: the caller's runtime must have a paused
/// clock) and returns it with what the steps committed and the virtual time it took.
pub async fn run(model: Arc<SagaModel>) -> (ExecutionView, World, Duration) {
    let store = MemoryTable::new();
    let invoker: Arc<dyn TaskInvoker> = model.clone();
    let interpreter = Interpreter::new("ReservationSaga", machine(), invoker, store)
        .await
        .unwrap_or_else(|e| panic!("interpreter: {e}"));
    let _ = model.interpreter.set(Arc::downgrade(&interpreter));
    let began = Instant::now();
    interpreter
        .start_execution("evt-1", saga_input())
        .await
        .unwrap_or_else(|e| panic!("start: {e}"));
    let view = interpreter
        .wait_for_completion("evt-1")
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("the execution is gone"));
    (view, model.world(), began.elapsed())
}

/// What must hold after any execution: CONFIRMED with the payment captured once and the nights
/// held, or CANCELLED with the payment voided (or never authorized) and no night held. `Err`
/// describes the breach.
pub fn money_and_nights_settled(view: &ExecutionView, w: &World) -> Result<(), String> {
    use reserveplace_local_sfn::ExecutionStatus;
    let state = format!(
        "execution {:?} ({:?}: {:?}), reservation {} {:?}, payment {:?}, hold {:?}",
        view.status, view.error, view.cause, w.status, w.reason, w.payment, w.hold
    );
    if view.status != ExecutionStatus::Succeeded {
        return Err(format!("the execution did not succeed: {state}"));
    }
    if w.charges > 1 || w.voids > 1 || w.captures > 1 || w.holds > 1 || w.releases > 1 {
        return Err(format!(
            "a step took effect twice (authorizations {}, voids {}, captures {}, holds {}, releases {}): {state}",
            w.charges, w.voids, w.captures, w.holds, w.releases
        ));
    }
    let held = matches!(w.hold, Some(Hold::Held(_)));
    match w.status.as_str() {
        "CONFIRMED" if w.payment == Some(Payment::Captured) && held => Ok(()),
        "CANCELLED" if matches!(w.payment, None | Some(Payment::Voided(_))) && !held => Ok(()),
        _ => Err(format!("money or nights left taken: {state}")),
    }
}
