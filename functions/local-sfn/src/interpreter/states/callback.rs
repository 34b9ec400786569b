//! One attempt of a callback task (`.waitForTaskToken`): checkpoint, invoke, then wait for
//! `send_task_*` or the deadline, whichever moves the token out of PENDING first.

use serde_json::Value;
use tracing::error;

use crate::asl::STATES_TIMEOUT;
use crate::clock::sleep_until_ms;
use crate::error::TaskError;
use crate::interpreter::checkpoint::Stop;
use crate::interpreter::exec::Exec;
use crate::interpreter::{Interpreter, Outcome};
use crate::ops::runtime;
use crate::persist::{Cursor, TokenRecord, TokenStatus};

impl Interpreter {
    /// A fresh attempt is checkpointed (execution record + PENDING token, atomically) before
    /// the resource is invoked, so a fast callback always finds it. A resumed attempt first
    /// checks whether the callback arrived while no runner was waiting, and otherwise
    /// re-invokes the resource with the same token (at-least-once, as for every step after the
    /// last checkpoint).
    pub(in crate::interpreter) async fn callback(
        &self,
        exec: &mut Exec,
        cursor: Cursor,
        fresh: bool,
        resource: &str,
        params: Value,
    ) -> Result<Outcome, Stop> {
        let Cursor::Callback {
            state,
            token,
            deadline_ms,
            ..
        } = &cursor
        else {
            return Ok(Err(runtime("internal: callback without a callback cursor")));
        };
        let (state, token, deadline_ms) = (state.clone(), token.clone(), *deadline_ms);
        let (_guard, mut rx) = self.waiters.register(&token);
        if fresh {
            let put =
                TokenRecord::pending_put(&token, &exec.id, &state, deadline_ms).map_err(|e| {
                    error!(error = %e, "cannot encode the task token record");
                    Stop
                })?;
            self.write_record(exec, Some(&cursor), None, &[put]).await?;
        } else {
            match self.read_token(&token).await? {
                Some(rec) => {
                    if let Some(outcome) = rec.outcome() {
                        return Ok(outcome);
                    }
                }
                None => return Ok(Err(runtime(format!("task token {token} is not stored")))),
            }
        }
        let deadline = async move {
            match deadline_ms {
                Some(ms) => sleep_until_ms(ms).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(deadline);
        let invoked = tokio::select! {
            r = self.invoker.invoke(resource, params) => Some(r),
            () = &mut deadline => None,
        };
        let timed_out = || {
            Err(TaskError::new(
                STATES_TIMEOUT,
                "the callback did not arrive within TimeoutSeconds",
            ))
        };
        let (status, proposed) = match invoked {
            Some(Ok(_)) => tokio::select! {
                received = &mut rx => match received {
                    // send_task_* already made this durable.
                    Ok(outcome) => return Ok(outcome),
                    // Cannot happen (waiters are always sent to before removal); be safe.
                    Err(_) => {
                        deadline.await;
                        (TokenStatus::TimedOut, timed_out())
                    }
                },
                () = &mut deadline => (TokenStatus::TimedOut, timed_out()),
            },
            Some(Err(e)) => (TokenStatus::Failed, Err(e)),
            None => (TokenStatus::TimedOut, timed_out()),
        };
        self.resolve_token(&token, status, proposed).await
    }
}
