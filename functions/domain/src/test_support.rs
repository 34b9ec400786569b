//! Test doubles for unit tests of the use cases: a settable clock and a scripted payment
//! provider. The in-memory table is [`crate::store::memory::MemoryTable`], built on the port's
//! rules like every other adapter.
use std::sync::Mutex;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::clock::Clock;
use crate::payment::{PaymentProvider, ProviderCharge, ProviderError};

pub struct FixedClock(pub Mutex<OffsetDateTime>);

impl FixedClock {
    pub fn at(unix: i64) -> Self {
        Self(Mutex::new(
            OffsetDateTime::from_unix_timestamp(unix).unwrap_or(OffsetDateTime::UNIX_EPOCH),
        ))
    }
    pub fn advance_ms(&self, ms: i64) {
        if let Ok(mut t) = self.0.lock() {
            *t += time::Duration::milliseconds(ms);
        }
    }
}

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        self.0
            .lock()
            .map(|t| *t)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
}

/// Answers charges from a script (one entry per call; the last one repeats) and counts calls.
pub struct ScriptedProvider {
    pub script: Mutex<Vec<Result<ProviderCharge, ProviderError>>>,
    pub charges: Mutex<usize>,
    pub refunds: Mutex<usize>,
}

impl ScriptedProvider {
    pub fn new(script: Vec<Result<ProviderCharge, ProviderError>>) -> Self {
        Self {
            script: Mutex::new(script),
            charges: Mutex::new(0),
            refunds: Mutex::new(0),
        }
    }
    pub fn approving() -> Self {
        Self::new(vec![Ok(ProviderCharge::Approved {
            provider_ref: "ref".into(),
        })])
    }
}

#[async_trait]
impl PaymentProvider for ScriptedProvider {
    async fn charge(&self, _: &str, _: &str, _: i64) -> Result<ProviderCharge, ProviderError> {
        if let Ok(mut c) = self.charges.lock() {
            *c += 1;
        }
        let mut s = self
            .script
            .lock()
            .map_err(|e| ProviderError::Transient(e.to_string()))?;
        if s.len() > 1 {
            s.remove(0)
        } else {
            s.first()
                .cloned()
                .unwrap_or(Err(ProviderError::Unavailable("empty script".into())))
        }
    }

    async fn refund(&self, _: &str, _: &str, _: i64) -> Result<(), ProviderError> {
        if let Ok(mut c) = self.refunds.lock() {
            *c += 1;
        }
        Ok(())
    }
}
