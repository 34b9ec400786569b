use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use rand::Rng;
use reserveplace_domain::payment::{PaymentProvider, ProviderCharge, ProviderError};
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

/// A payment provider simulation. Charges are idempotent per reservation (the reference is derived
/// from it), as a real provider's idempotency key would make them.
#[derive(Default)]
pub struct SimulatedProvider {
    settings: RwLock<SimulationSettings>,
}

impl SimulatedProvider {
    pub fn new(settings: SimulationSettings) -> Arc<Self> {
        Arc::new(Self {
            settings: RwLock::new(settings),
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

#[async_trait]
impl PaymentProvider for SimulatedProvider {
    async fn charge(
        &self,
        reservation_id: &str,
        _user_id: &str,
        _amount: i64,
    ) -> Result<ProviderCharge, ProviderError> {
        let s = self.behave().await?;
        if rand::rng().random_bool(s.decline_rate.clamp(0.0, 1.0)) {
            return Ok(ProviderCharge::Declined {
                reason: "card declined (simulated)".into(),
            });
        }
        Ok(ProviderCharge::Approved {
            provider_ref: format!("sim-{reservation_id}"),
        })
    }

    async fn refund(
        &self,
        _reservation_id: &str,
        _provider_ref: &str,
        _amount: i64,
    ) -> Result<(), ProviderError> {
        // Refunds ignore the outage flag and decline rate: they must eventually succeed.
        let s = self.settings();
        if s.latency_max_ms > 0 {
            tokio::time::sleep(Duration::from_millis(s.latency_min_ms)).await;
        }
        Ok(())
    }
}
