use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use rand::Rng;
use reserveplace_domain::payment::{
    AuthorizeCall, MoveCall, Movement, PaymentProvider, ProviderCharge, ProviderError,
};
use serde::{Deserialize, Serialize};

/// How the simulated provider behaves; changeable at run time for demonstrations and tests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct SimulationSettings {
    /// Latency of each call, uniformly in [min, max] ms (the seed slept 400-620 ms).
    pub latency_min_ms: u64,
    pub latency_max_ms: u64,
    /// Share of charges declined, 0.0..=1.0.
    pub decline_rate: f64,
    /// Share of calls failing with a transient error, 0.0..=1.0.
    pub transient_rate: f64,
    /// Every call fails as unavailable.
    pub outage: bool,
}

impl Default for SimulationSettings {
    fn default() -> Self {
        Self {
            latency_min_ms: 0,
            latency_max_ms: 0,
            decline_rate: 0.0,
            transient_rate: 0.0,
            outage: false,
        }
    }
}

impl SimulationSettings {
    pub fn validate(&self) -> Result<(), String> {
        if self.latency_min_ms > self.latency_max_ms {
            return Err("latencyMinMs must not exceed latencyMaxMs".into());
        }
        if self.latency_max_ms > 60_000 {
            return Err("latencyMaxMs is at most 60000".into());
        }
        for (name, rate) in [
            ("declineRate", self.decline_rate),
            ("transientRate", self.transient_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("{name} must be between 0 and 1"));
            }
        }
        Ok(())
    }
}

/// One call the simulation received, as `GET /_local/payments/{reservationId}` lists them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SimulatedCall {
    pub operation: &'static str,
    pub amount: i64,
    pub currency: String,
    pub idempotency_key: String,
    /// False when the key was seen before: the first answer was repeated and nothing moved.
    pub moved: bool,
}

/// What the simulation knows of one authorization, to refuse what a provider would refuse.
#[derive(Debug, Clone, Copy, Default)]
struct Hold {
    authorized: i64,
    captured: i64,
    refunded: i64,
    closed: bool,
}

/// How many calls (and idempotency keys) the simulation remembers; the oldest go first, so a
/// long load run keeps a bounded footprint.
const REMEMBERED: usize = 100_000;

#[derive(Default)]
struct Memory {
    holds: HashMap<String, Hold>,
    answers: HashMap<String, Result<(), ProviderError>>,
    calls: HashMap<String, Vec<SimulatedCall>>,
    order: VecDeque<(String, String)>,
}

impl Memory {
    fn remember(&mut self, provider_ref: &str, call: SimulatedCall) {
        self.order
            .push_back((provider_ref.to_string(), call.idempotency_key.clone()));
        self.calls
            .entry(provider_ref.to_string())
            .or_default()
            .push(call);
        while self.order.len() > REMEMBERED {
            if let Some((r, key)) = self.order.pop_front() {
                self.answers.remove(&key);
                if self.calls.remove(&r).is_some() {
                    self.holds.remove(&r);
                }
            }
        }
    }
}

/// A payment provider simulation that behaves like a card provider's API: an authorization holds
/// the amount, a capture takes some or all of it (releasing the rest), a void releases it and
/// refunds give back at most what was taken. Every call is idempotent by its key, as a real
/// provider's idempotency keys make them. The settings inject declines, blips and outages.
#[derive(Default)]
pub struct SimulatedProvider {
    settings: RwLock<SimulationSettings>,
    memory: Mutex<Memory>,
}

impl SimulatedProvider {
    pub fn new(settings: SimulationSettings) -> Arc<Self> {
        Arc::new(Self {
            settings: RwLock::new(settings),
            memory: Mutex::new(Memory::default()),
        })
    }

    pub fn settings(&self) -> SimulationSettings {
        self.settings.read().map(|s| s.clone()).unwrap_or_default()
    }

    pub fn set(&self, settings: SimulationSettings) {
        if let Ok(mut s) = self.settings.write() {
            *s = settings;
        }
    }

    /// The calls made for a reservation's payment, oldest first.
    pub fn calls(&self, reservation_id: &str) -> Vec<SimulatedCall> {
        self.memory
            .lock()
            .ok()
            .and_then(|m| m.calls.get(&reference(reservation_id)).cloned())
            .unwrap_or_default()
    }

    /// A refund the provider took and then could not pay out (a closed card): the money is the
    /// merchant's again, which a real provider reports with its `refund.failed` webhook. `false`
    /// when no refund was made with `idempotency_key`.
    pub fn fail_refund(&self, reservation_id: &str, idempotency_key: &str) -> bool {
        let Ok(mut memory) = self.memory.lock() else {
            return false;
        };
        let provider_ref = reference(reservation_id);
        let amount = memory.calls.get(&provider_ref).and_then(|calls| {
            calls
                .iter()
                .find(|c| {
                    c.moved && c.operation == "refund" && c.idempotency_key == idempotency_key
                })
                .map(|c| c.amount)
        });
        match (amount, memory.holds.get_mut(&provider_ref)) {
            (Some(amount), Some(hold)) => {
                hold.refunded -= amount;
                true
            }
            _ => false,
        }
    }

    async fn behave(&self) -> Result<SimulationSettings, ProviderError> {
        let s = self.settings();
        let (latency, transient) = {
            let mut rng = rand::rng();
            let latency = if s.latency_max_ms > 0 {
                rng.random_range(s.latency_min_ms..=s.latency_max_ms)
            } else {
                0
            };
            (latency, rng.random_bool(s.transient_rate.clamp(0.0, 1.0)))
        };
        if s.outage {
            return Err(ProviderError::Unavailable("payment provider outage".into()));
        }
        if latency > 0 {
            tokio::time::sleep(Duration::from_millis(latency)).await;
        }
        if transient {
            return Err(ProviderError::Transient("simulated network blip".into()));
        }
        Ok(s)
    }
}

/// The simulation's test cards (`paymentMethod`): any other method, or none, is a card that pays.
pub const TEST_DECLINE: &str = "pm_sim_decline";
pub const TEST_UNAVAILABLE: &str = "pm_sim_unavailable";
pub const TEST_TIMEOUT: &str = "pm_sim_timeout";

fn reference(reservation_id: &str) -> String {
    format!("sim-{reservation_id}")
}

/// What a provider refuses of `movement` on `hold`; `None` when it goes through.
fn refusal(hold: &Hold, movement: Movement, amount: i64) -> Option<String> {
    let kept = hold.captured - hold.refunded;
    match movement {
        Movement::Capture | Movement::Void if hold.closed => {
            Some("the authorization was already captured or voided".into())
        }
        Movement::Capture if amount > hold.authorized => {
            Some(format!("cannot capture {amount} of {}", hold.authorized))
        }
        Movement::Refund if amount > kept => Some(format!("cannot refund {amount} of {kept}")),
        _ => None,
    }
}

#[async_trait]
impl PaymentProvider for SimulatedProvider {
    async fn authorize(&self, call: AuthorizeCall<'_>) -> Result<ProviderCharge, ProviderError> {
        // The simulation's own test cards fail on purpose, whatever the settings.
        match call.payment_method {
            Some(TEST_DECLINE) => {
                return Ok(ProviderCharge::Declined {
                    reason: "card declined (test card pm_sim_decline)".into(),
                });
            }
            Some(TEST_UNAVAILABLE) => {
                return Err(ProviderError::Unavailable(
                    "test card pm_sim_unavailable".into(),
                ));
            }
            _ => {}
        }
        let s = self.behave().await?;
        let provider_ref = reference(call.reservation_id);
        let repeated = {
            let mut memory = self
                .memory
                .lock()
                .map_err(|_| ProviderError::Transient("simulation state poisoned".into()))?;
            let repeated = memory.holds.contains_key(&provider_ref);
            if !repeated && rand::rng().random_bool(s.decline_rate.clamp(0.0, 1.0)) {
                return Ok(ProviderCharge::Declined {
                    reason: "card declined (simulated)".into(),
                });
            }
            memory.holds.entry(provider_ref.clone()).or_insert(Hold {
                authorized: call.amount,
                ..Hold::default()
            });
            memory.remember(
                &provider_ref,
                SimulatedCall {
                    operation: Movement::Authorize.as_str(),
                    amount: call.amount,
                    currency: call.currency.code().to_string(),
                    idempotency_key: call.idempotency_key.to_string(),
                    moved: !repeated,
                },
            );
            repeated
        };
        if call.payment_method == Some(TEST_TIMEOUT) && !repeated {
            // The hold is made and the answer lost (longer than any caller waits): only the same
            // call again, with its key, learns that it was approved.
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
        Ok(ProviderCharge::Approved { provider_ref })
    }

    async fn apply(&self, call: MoveCall<'_>) -> Result<(), ProviderError> {
        // Captures, voids and refunds ignore the outage flag and decline rate: they must
        // eventually succeed.
        let s = self.settings();
        if s.latency_max_ms > 0 {
            tokio::time::sleep(Duration::from_millis(s.latency_min_ms)).await;
        }
        let mut memory = self
            .memory
            .lock()
            .map_err(|_| ProviderError::Transient("simulation state poisoned".into()))?;
        let record = |moved| SimulatedCall {
            operation: call.movement.as_str(),
            amount: call.amount,
            currency: call.currency.code().to_string(),
            idempotency_key: call.idempotency_key.to_string(),
            moved,
        };
        if let Some(answer) = memory.answers.get(call.idempotency_key).cloned() {
            memory.remember(call.provider_ref, record(false));
            return answer;
        }
        // An authorization this instance never saw (another Lambda instance made it) is taken
        // on trust: the simulation has no shared state.
        let mut hold = memory
            .holds
            .get(call.provider_ref)
            .copied()
            .unwrap_or(Hold {
                authorized: call.amount,
                captured: if call.movement == Movement::Refund {
                    call.amount
                } else {
                    0
                },
                ..Hold::default()
            });
        let answer = match refusal(&hold, call.movement, call.amount) {
            Some(why) => Err(ProviderError::Refused(why)),
            None => {
                match call.movement {
                    Movement::Capture => {
                        hold.captured = call.amount;
                        hold.closed = true;
                    }
                    Movement::Void => hold.closed = true,
                    Movement::Refund => hold.refunded += call.amount,
                    Movement::Authorize | Movement::RefundFailed => {}
                }
                Ok(())
            }
        };
        memory.holds.insert(call.provider_ref.to_string(), hold);
        memory
            .answers
            .insert(call.idempotency_key.to_string(), answer.clone());
        memory.remember(call.provider_ref, record(answer.is_ok()));
        answer
    }
}
