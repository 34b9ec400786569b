//! Durable state: the versioned execution record, the callback token items, and retries of
//! transient store failures. Every record write is conditioned on the version the runner wrote
//! last, so a stale runner can never overwrite a record another runner moved on.

use std::time::Duration;

use reserveplace_domain::store::{Cond, StoreError, Write};
use serde_json::json;
use tracing::{error, warn};

use super::exec::{Closing, Exec};
use super::{Interpreter, Outcome};
use crate::error::SfnError;
use crate::persist::{Cursor, ExecRecord, TokenRecord, TokenStatus, exec_key, token_key};

/// Transient store failures are retried this many times before the runner gives up.
const STORE_RETRIES: u32 = 4;

/// The runner gave up: another runner owns the execution, or the store failed. The execution
/// stays RUNNING at its last checkpoint and continues on the next `resume_all`.
pub(super) struct Stop;

impl Interpreter {
    pub(super) async fn load(&self, id: &str) -> Result<Option<ExecRecord<'static>>, SfnError> {
        match self.store.get(&exec_key(id)).await? {
            Some(item) => ExecRecord::from_item(item).map(Some),
            None => Ok(None),
        }
    }

    /// `Table::transact` with retries of transient (`Unavailable`) failures. The writes are
    /// built per attempt, which spares a deep copy of every checkpoint item.
    async fn transact(
        &self,
        build: impl Fn() -> Result<Vec<Write>, StoreError>,
    ) -> Result<(), StoreError> {
        let mut delay = Duration::from_millis(20);
        for _ in 0..STORE_RETRIES {
            match self.store.transact(build()?, Vec::new()).await {
                Err(StoreError::Unavailable(reason)) => {
                    warn!(%reason, "store unavailable, retrying");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
                other => return other,
            }
        }
        self.store.transact(build()?, Vec::new()).await
    }

    /// Writes the next version of the execution record (with `extra` writes, atomically),
    /// conditioned on the version this runner wrote last (absent for the first write).
    pub(super) async fn put_record(
        &self,
        exec: &Exec,
        cursor: Option<&Cursor>,
        closing: Option<&Closing>,
        extra: &[Write],
    ) -> Result<(), StoreError> {
        let cond = if exec.version == 0 {
            Cond::NotExists
        } else {
            Cond::Eq("version".into(), json!(exec.version))
        };
        self.transact(|| {
            let item = exec.item(&self.machine_name, cursor, closing)?;
            let mut writes = vec![Write::Put {
                item,
                cond: Some(cond.clone()),
            }];
            writes.extend_from_slice(extra);
            Ok(writes)
        })
        .await
    }

    /// `put_record` for a runner: on failure the runner stops (see [`Stop`]).
    pub(super) async fn write_record(
        &self,
        exec: &mut Exec,
        cursor: Option<&Cursor>,
        closing: Option<&Closing>,
        extra: &[Write],
    ) -> Result<(), Stop> {
        match self.put_record(exec, cursor, closing, extra).await {
            Ok(()) => {
                exec.version += 1;
                Ok(())
            }
            Err(e) if e.is_condition_failed() => {
                warn!("execution record changed under this runner (resumed elsewhere?); stopping");
                Err(Stop)
            }
            Err(e) => {
                error!(error = %e, "checkpoint failed; the execution continues on the next resume");
                Err(Stop)
            }
        }
    }

    /// Moves a PENDING token to `status` with `outcome`; a condition failure means the token is
    /// unknown or no longer PENDING.
    pub(super) async fn resolve_pending(
        &self,
        token: &str,
        status: TokenStatus,
        outcome: &Outcome,
    ) -> Result<(), StoreError> {
        self.transact(|| Ok(vec![TokenRecord::resolve(token, status, outcome)]))
            .await
    }

    /// Moves the token out of PENDING with `proposed`; if a callback got there first, its
    /// recorded outcome wins.
    pub(super) async fn resolve_token(
        &self,
        token: &str,
        status: TokenStatus,
        proposed: Outcome,
    ) -> Result<Outcome, Stop> {
        match self.resolve_pending(token, status, &proposed).await {
            Ok(()) => Ok(proposed),
            Err(e) if e.is_condition_failed() => match self.read_token(token).await? {
                Some(rec) => rec.outcome().ok_or(Stop),
                None => Err(Stop),
            },
            Err(e) => {
                error!(error = %e, "cannot record the task token outcome");
                Err(Stop)
            }
        }
    }

    pub(super) async fn read_token(&self, token: &str) -> Result<Option<TokenRecord>, Stop> {
        let item = self.store.get(&token_key(token)).await.map_err(|e| {
            error!(error = %e, "cannot read the task token");
            Stop
        })?;
        item.map(TokenRecord::from_item).transpose().map_err(|e| {
            error!(error = %e, "unreadable task token record");
            Stop
        })
    }
}
