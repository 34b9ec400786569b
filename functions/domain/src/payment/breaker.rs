//! A circuit breaker whose state is one store item, so every function instance sees the same state.
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::clock::Clock;
use crate::error::DomainResult;
use crate::item::to_item;
use crate::records;
use crate::store::{Cond, Item, Key, Table, Write};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerPolicy {
    /// Consecutive failures that open the circuit.
    pub failure_threshold: u32,
    /// How long it stays open before one trial call is let through.
    pub open_for_ms: i64,
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            open_for_ms: 10_000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CircuitState {
    Closed,
    Open,
    HalfOpen,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Circuit {
    pub state: CircuitState,
    pub failures: i64,
    /// Epoch ms when it opened (or when the half-open trial started).
    pub since_ms: i64,
    pub version: u64,
}

impl Default for Circuit {
    fn default() -> Self {
        Self {
            state: CircuitState::Closed,
            failures: 0,
            since_ms: 0,
            version: 0,
        }
    }
}

/// Whether a call may go to the provider.
#[derive(Debug, Clone, PartialEq)]
pub enum Admission {
    /// Closed: call; `failures` is what was seen, so a success only writes when it must reset.
    Allowed { failures: i64 },
    /// This caller owns the half-open trial.
    Trial { version: u64 },
    /// Open: fail fast without calling.
    Rejected,
}

pub struct CircuitBreaker {
    table: Arc<dyn Table>,
    clock: Arc<dyn Clock>,
    policy: BreakerPolicy,
    key: Key,
}

impl CircuitBreaker {
    pub fn new(
        table: Arc<dyn Table>,
        clock: Arc<dyn Clock>,
        policy: BreakerPolicy,
        name: &str,
    ) -> Self {
        Self {
            table,
            clock,
            policy,
            key: Key::new(format!("CIRCUIT#{name}"), "CIRCUIT"),
        }
    }

    pub async fn state(&self) -> DomainResult<Circuit> {
        Ok(records::get(&*self.table, &self.key)
            .await?
            .unwrap_or_default())
    }

    fn put(&self, c: &Circuit, expected_version: u64) -> Write {
        Write::Put {
            item: to_item(&self.key, None, c),
            cond: Some(if expected_version == 0 {
                Cond::Or(vec![Cond::NotExists, Cond::Eq("version".into(), json!(0))])
            } else {
                Cond::Eq("version".into(), json!(expected_version))
            }),
        }
    }

    /// Writes `next` if nobody changed the circuit since `seen`; false when someone did.
    async fn swap(&self, seen: &Circuit, mut next: Circuit) -> DomainResult<bool> {
        next.version = seen.version + 1;
        match self
            .table
            .transact(vec![self.put(&next, seen.version)], vec![])
            .await
        {
            Ok(()) => Ok(true),
            Err(e) if e.is_condition_failed() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn admit(&self) -> DomainResult<Admission> {
        let c = self.state().await?;
        let now = self.clock.now_millis();
        match c.state {
            CircuitState::Closed => Ok(Admission::Allowed {
                failures: c.failures,
            }),
            // A trial that never reported back (crashed caller) is taken over after the same wait.
            CircuitState::Open | CircuitState::HalfOpen
                if now >= c.since_ms + self.policy.open_for_ms =>
            {
                let next = Circuit {
                    state: CircuitState::HalfOpen,
                    failures: c.failures,
                    since_ms: now,
                    version: 0,
                };
                if self.swap(&c, next).await? {
                    Ok(Admission::Trial {
                        version: c.version + 1,
                    })
                } else {
                    Ok(Admission::Rejected)
                }
            }
            _ => Ok(Admission::Rejected),
        }
    }

    /// Ends the half-open trial that admitted at `version` (`swap` checks only the version).
    async fn end_trial(&self, version: u64, next: Circuit) -> DomainResult<()> {
        let seen = Circuit {
            state: CircuitState::HalfOpen,
            failures: 0,
            since_ms: 0,
            version,
        };
        self.swap(&seen, next).await.map(|_| ())
    }

    pub async fn on_success(&self, admission: &Admission) -> DomainResult<()> {
        match admission {
            Admission::Allowed { failures: 0 } | Admission::Rejected => Ok(()),
            Admission::Allowed { .. } => {
                let set: Item = [("failures".to_string(), json!(0))].into_iter().collect();
                let reset = Write::Update {
                    key: self.key.clone(),
                    set,
                    add: vec![],
                    cond: Some(Cond::Eq("state".into(), json!(CircuitState::Closed))),
                };
                match self.table.transact(vec![reset], vec![]).await {
                    Ok(()) => Ok(()),
                    Err(e) if e.is_condition_failed() => Ok(()),
                    Err(e) => Err(e.into()),
                }
            }
            Admission::Trial { version } => {
                let closed = Circuit {
                    state: CircuitState::Closed,
                    failures: 0,
                    since_ms: self.clock.now_millis(),
                    version: 0,
                };
                self.end_trial(*version, closed).await
            }
        }
    }

    pub async fn on_failure(&self, admission: &Admission) -> DomainResult<()> {
        let now = self.clock.now_millis();
        match admission {
            Admission::Rejected => Ok(()),
            Admission::Trial { version } => {
                let open = Circuit {
                    state: CircuitState::Open,
                    failures: self.policy.failure_threshold as i64,
                    since_ms: now,
                    version: 0,
                };
                self.end_trial(*version, open).await
            }
            Admission::Allowed { .. } => {
                for _ in 0..16 {
                    let c = self.state().await?;
                    if c.state != CircuitState::Closed {
                        return Ok(());
                    }
                    let failures = c.failures + 1;
                    let next = if failures >= self.policy.failure_threshold as i64 {
                        Circuit {
                            state: CircuitState::Open,
                            failures,
                            since_ms: now,
                            version: 0,
                        }
                    } else {
                        Circuit {
                            failures,
                            ..c.clone()
                        }
                    };
                    if self.swap(&c, next).await? {
                        if failures >= self.policy.failure_threshold as i64 {
                            tracing::warn!(failures, "payment circuit opened");
                        }
                        return Ok(());
                    }
                }
                Ok(())
            }
        }
    }
}
