//! Waking the runners parked on a callback token when `send_task_success` / `send_task_failure`
//! completes it. Only a wake-up: the outcome is already durable on the token item, so a runner
//! that misses it (none waiting, another process) reads it back on resume or at its timeout.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use super::{Outcome, lock};

/// Callback waiters by task token, owned by one interpreter or shared by several (see
/// [`Interpreter::with_waiters`](super::Interpreter::with_waiters)). Tokens are random UUIDs.
/// A token has several waiters only when two runners run one execution (a stale one and a
/// resumed one); both are woken and the version check on the record lets one of them continue.
#[derive(Default)]
pub struct TokenWaiters {
    by_token: Mutex<HashMap<String, Vec<Waiter>>>,
    next_id: AtomicU64,
}

struct Waiter {
    id: u64,
    tx: oneshot::Sender<Outcome>,
}

impl TokenWaiters {
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// Registers the waiter of one callback attempt; dropping the guard unregisters it.
    pub(super) fn register(
        self: &Arc<Self>,
        token: &str,
    ) -> (WaiterGuard, oneshot::Receiver<Outcome>) {
        let (tx, rx) = oneshot::channel();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        lock(&self.by_token)
            .entry(token.to_owned())
            .or_default()
            .push(Waiter { id, tx });
        let guard = WaiterGuard {
            waiters: Arc::clone(self),
            id,
            token: token.to_owned(),
        };
        (guard, rx)
    }

    /// Wakes every runner waiting on `token`.
    pub(super) fn wake(&self, token: &str, outcome: &Outcome) {
        let waiters = lock(&self.by_token).remove(token).unwrap_or_default();
        for waiter in waiters {
            let _ = waiter.tx.send(outcome.clone());
        }
    }
}

/// Removes the waiter of one callback attempt when the attempt ends, however it ends
/// (including an aborted runner).
pub(super) struct WaiterGuard {
    waiters: Arc<TokenWaiters>,
    id: u64,
    token: String,
}

impl Drop for WaiterGuard {
    fn drop(&mut self) {
        let mut by_token = lock(&self.waiters.by_token);
        if let Some(list) = by_token.get_mut(&self.token) {
            list.retain(|w| w.id != self.id);
            if list.is_empty() {
                by_token.remove(&self.token);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_wake_reaches_every_waiter_of_its_token_in_its_registry_only() {
        let (mine, theirs) = (TokenWaiters::new(), TokenWaiters::new());
        let (_a, mut rx_a) = mine.register("t1");
        let (_b, mut rx_b) = mine.register("t1");
        let (_other_token, mut rx_other_token) = mine.register("t2");
        let (_elsewhere, mut rx_elsewhere) = theirs.register("t1");
        mine.wake("t1", &Ok(json!({"paid": true})));
        assert_eq!(rx_a.try_recv().ok(), Some(Ok(json!({"paid": true}))));
        assert_eq!(rx_b.try_recv().ok(), Some(Ok(json!({"paid": true}))));
        assert!(
            rx_other_token.try_recv().is_err(),
            "another token is not woken"
        );
        assert!(
            rx_elsewhere.try_recv().is_err(),
            "another registry is not woken"
        );
    }

    #[test]
    fn an_ended_attempt_leaves_no_waiter_behind() {
        let waiters = TokenWaiters::new();
        let (first, _rx1) = waiters.register("t");
        let (second, mut rx2) = waiters.register("t");
        drop(first);
        assert_eq!(lock(&waiters.by_token)["t"].len(), 1);
        drop(second);
        assert!(lock(&waiters.by_token).is_empty());
        // Waking a token nobody waits on any more is a no-op.
        waiters.wake("t", &Ok(json!(1)));
        assert!(rx2.try_recv().is_err());
    }
}
