//! Fault injection for demonstrations and tests: the simulated payment provider's behaviour and
//! contexts whose functions are "down" (their deliveries and saga steps fail and are retried).
use std::collections::BTreeSet;
use std::sync::{Arc, RwLock};

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
}

pub struct Faults {
    pub provider: Arc<SimulatedProvider>,
    down: RwLock<BTreeSet<String>>,
    delivery: RwLock<(bool, u64)>,
}

impl Faults {
    pub fn new(initial: FaultSettings) -> Arc<Self> {
        Arc::new(Self {
            provider: SimulatedProvider::new(initial.payment),
            down: RwLock::new(initial.down),
            delivery: RwLock::new((initial.duplicate_deliveries, initial.jitter_ms)),
        })
    }

    pub fn is_down(&self, context: Option<&str>) -> bool {
        match (context, self.down.read()) {
            (Some(c), Ok(down)) => down.contains(c),
            _ => false,
        }
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
        }
    }

    pub fn set(&self, settings: FaultSettings) -> Result<(), String> {
        settings.payment.validate()?;
        if settings.jitter_ms > 60_000 {
            return Err("jitterMs is at most 60000".into());
        }
        self.provider.set(settings.payment);
        if let Ok(mut d) = self.down.write() {
            *d = settings.down;
        }
        if let Ok(mut d) = self.delivery.write() {
            *d = (settings.duplicate_deliveries, settings.jitter_ms);
        }
        Ok(())
    }
}
