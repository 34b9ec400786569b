//! Test doubles for unit tests of the use cases: a settable clock and a scripted payment
//! provider. The in-memory table is [`crate::store::memory::MemoryTable`], built on the port's
//! rules like every other adapter.
use std::sync::Mutex;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::clock::Clock;
use crate::payment::{
    AuthorizeCall, MoveCall, Movement, PaymentProvider, ProviderCharge, ProviderError,
};

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

/// Answers authorizations from a script (one entry per call; the last one repeats), records
/// every later movement with its idempotency key, and answers a repeated key as the provider's
/// idempotency does: with the first answer, moving nothing more.
pub struct ScriptedProvider {
    pub script: Mutex<Vec<Result<ProviderCharge, ProviderError>>>,
    pub charges: Mutex<usize>,
    /// The idempotency key of every authorization sent.
    pub authorize_keys: Mutex<Vec<String>>,
    /// Every capture, void and refund sent: (movement, amount, idempotency key).
    pub calls: Mutex<Vec<(Movement, i64, String)>>,
}

impl ScriptedProvider {
    pub fn new(script: Vec<Result<ProviderCharge, ProviderError>>) -> Self {
        Self {
            script: Mutex::new(script),
            charges: Mutex::new(0),
            authorize_keys: Mutex::new(vec![]),
            calls: Mutex::new(vec![]),
        }
    }
    pub fn approving() -> Self {
        Self::new(vec![Ok(ProviderCharge::Approved {
            provider_ref: "ref".into(),
        })])
    }

    /// The movements that moved money: one per idempotency key.
    pub fn moved(&self) -> Vec<(Movement, i64)> {
        let calls = self.calls.lock().map(|c| c.clone()).unwrap_or_default();
        let mut seen = std::collections::BTreeSet::new();
        calls
            .into_iter()
            .filter(|(_, _, key)| seen.insert(key.clone()))
            .map(|(m, a, _)| (m, a))
            .collect()
    }
}

#[async_trait]
impl PaymentProvider for ScriptedProvider {
    async fn authorize(&self, call: AuthorizeCall<'_>) -> Result<ProviderCharge, ProviderError> {
        if let Ok(mut c) = self.charges.lock() {
            *c += 1;
        }
        if let Ok(mut k) = self.authorize_keys.lock() {
            k.push(call.idempotency_key.to_string());
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

    async fn apply(&self, call: MoveCall<'_>) -> Result<(), ProviderError> {
        if let Ok(mut c) = self.calls.lock() {
            c.push((call.movement, call.amount, call.idempotency_key.to_string()));
        }
        Ok(())
    }
}
