//! Fault injection for demonstrations and tests: the simulated payment provider's behaviour and
//! contexts whose functions are "down" (their deliveries and saga steps fail and are retried).
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, RwLock};

use reserveplace_functions::adapters::{SimulatedProvider, SimulationSettings};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct FaultSettings {
    pub payment: SimulationSettings,
    /// Contexts (template `Tags.context`) whose functions fail as if down, e.g. `["place"]`.
    pub down: BTreeSet<String>,
    /// Deliver every event twice to every target, each copy after a random delay of up to
    /// `jitter_ms` (so deliveries also arrive out of order): consumers must not care.
    pub duplicate_deliveries: bool,
    pub jitter_ms: u64,
    /// Saga step failures by function logical id, e.g. `{"PlaceHoldNightsFunction":
    /// {"error": "Runtime.ExitError"}}`: what Step Functions would see if that Lambda crashed,
    /// timed out or reported an error.
    pub steps: BTreeMap<String, StepFault>,
}

/// One saga step's injected failure.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct StepFault {
    /// The Lambda error the state machine sees, e.g. `States.Timeout`, `Lambda.Unknown`.
    pub error: String,
    /// Fail only this many invocations (counted from when the fault is set); every one if absent.
    /// Read back, it is how many are left.
    pub calls: Option<u32>,
    /// Run the handler (its effect commits), then fail: a timeout or crash after the write.
    pub after_effect: bool,
}

/// What fault settings may name: the template's contexts (`Tags.context`) and functions (logical
/// ids). A misspelt name would otherwise be accepted and inject nothing.
#[derive(Debug, Clone, Default)]
pub struct Known {
    pub contexts: BTreeSet<String>,
    pub functions: BTreeSet<String>,
}

impl Known {
    /// Names `settings` uses that are not known, as "down: paymnt" lines; empty when all are.
    fn unknown(&self, settings: &FaultSettings) -> Result<(), String> {
        let bad_down: Vec<&String> = settings
            .down
            .iter()
            .filter(|c| !self.contexts.contains(*c))
            .collect();
        if !bad_down.is_empty() {
            return Err(format!(
                "down: unknown context {bad_down:?}; the contexts are {:?}",
                self.contexts
            ));
        }
        let bad_steps: Vec<&String> = settings
            .steps
            .keys()
            .filter(|f| !self.functions.contains(*f))
            .collect();
        if !bad_steps.is_empty() {
            return Err(format!(
                "steps: unknown function {bad_steps:?} (name a function by its logical id, e.g. PlaceHoldNightsFunction)"
            ));
        }
        Ok(())
    }
}

pub struct Faults {
    pub provider: Arc<SimulatedProvider>,
    known: Known,
    down: RwLock<BTreeSet<String>>,
    delivery: RwLock<(bool, u64)>,
    /// Each step fault with how many invocations it has failed.
    steps: Mutex<BTreeMap<String, (StepFault, u32)>>,
}

impl Faults {
    /// The faults to start with, refused when they name what `known` does not have.
    pub fn new(initial: FaultSettings, known: Known) -> Result<Arc<Self>, String> {
        known.unknown(&initial)?;
        check(&initial)?;
        Ok(Arc::new(Self {
            known,
            provider: SimulatedProvider::new(initial.payment),
            down: RwLock::new(initial.down),
            delivery: RwLock::new((initial.duplicate_deliveries, initial.jitter_ms)),
            steps: Mutex::new(counted(initial.steps)),
        }))
    }

    pub fn is_down(&self, context: Option<&str>) -> bool {
        match (context, self.down.read()) {
            (Some(c), Ok(down)) => down.contains(c),
            _ => false,
        }
    }

    /// The fault to inject into this invocation of a saga step, if any (and counts it).
    pub fn step_fault(&self, function: &str) -> Option<StepFault> {
        let mut steps = self.steps.lock().ok()?;
        let (fault, failed) = steps.get_mut(function)?;
        if fault.calls.is_some_and(|max| *failed >= max) {
            return None;
        }
        *failed += 1;
        Some(fault.clone())
    }

    /// (deliver twice, max random delay in ms) for event deliveries.
    pub fn delivery(&self) -> (bool, u64) {
        self.delivery.read().map(|d| *d).unwrap_or((false, 0))
    }

    pub fn get(&self) -> FaultSettings {
        let (duplicate_deliveries, jitter_ms) = self.delivery();
        FaultSettings {
            payment: self.provider.settings(),
            down: self.down.read().map(|d| d.clone()).unwrap_or_default(),
            duplicate_deliveries,
            jitter_ms,
            steps: self
                .steps
                .lock()
                .map(|s| {
                    s.iter()
                        .map(|(k, (f, failed))| (k.clone(), left(f, *failed)))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    pub fn set(&self, settings: FaultSettings) -> Result<(), String> {
        self.known.unknown(&settings)?;
        check(&settings)?;
        self.provider.set(settings.payment);
        if let Ok(mut d) = self.down.write() {
            *d = settings.down;
        }
        if let Ok(mut d) = self.delivery.write() {
            *d = (settings.duplicate_deliveries, settings.jitter_ms);
        }
        if let Ok(mut s) = self.steps.lock() {
            *s = counted(settings.steps);
        }
        Ok(())
    }
}

/// The limits of every setting, at start-up as on `PUT /_local/faults`.
fn check(settings: &FaultSettings) -> Result<(), String> {
    settings.payment.validate()?;
    if settings.jitter_ms > 60_000 {
        return Err("jitterMs is at most 60000".into());
    }
    if let Some((f, _)) = settings.steps.iter().find(|(_, s)| s.error.is_empty()) {
        return Err(format!("steps.{f}.error must not be empty"));
    }
    Ok(())
}

/// A step fault as `GET /_local/faults` shows it: `calls` is how many failures are still to come.
fn left(fault: &StepFault, failed: u32) -> StepFault {
    StepFault {
        calls: fault.calls.map(|max| max.saturating_sub(failed)),
        ..fault.clone()
    }
}

fn counted(steps: BTreeMap<String, StepFault>) -> BTreeMap<String, (StepFault, u32)> {
    steps.into_iter().map(|(k, f)| (k, (f, 0))).collect()
}
