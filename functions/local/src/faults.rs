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
}

pub struct Faults {
    pub provider: Arc<SimulatedProvider>,
    down: RwLock<BTreeSet<String>>,
}

impl Faults {
    pub fn new(initial: FaultSettings) -> Arc<Self> {
        Arc::new(Self {
            provider: SimulatedProvider::new(initial.payment),
            down: RwLock::new(initial.down),
        })
    }

    pub fn is_down(&self, context: Option<&str>) -> bool {
        match (context, self.down.read()) {
            (Some(c), Ok(down)) => down.contains(c),
            _ => false,
        }
    }

    pub fn get(&self) -> FaultSettings {
        FaultSettings {
            payment: self.provider.settings(),
            down: self.down.read().map(|d| d.clone()).unwrap_or_default(),
        }
    }

    pub fn set(&self, settings: FaultSettings) -> Result<(), String> {
        settings.payment.validate()?;
        self.provider.set(settings.payment);
        if let Ok(mut d) = self.down.write() {
            *d = settings.down;
        }
        Ok(())
    }
}
