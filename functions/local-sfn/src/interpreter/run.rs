//! The state loop of one execution: entering and exiting states (history events, the output
//! quota), dispatching to the state types, the execution-level timeout and the final record.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tracing::{debug, error, warn};

use super::checkpoint::Stop;
use super::exec::{Closing, Ending, Exec};
use super::{Interpreter, lock, states};
use crate::asl::{Kind, STATES_TIMEOUT, Transition};
use crate::clock::{format_ms, now_ms, plus_seconds};
use crate::error::TaskError;
use crate::ops::runtime;
use crate::path::Context;
use crate::persist::{Cursor, ExecutionStatus, TokenStatus};
use crate::quota::{HistoryEvents, check_payload};

/// Where a state goes next.
pub(super) enum Flow {
    Next(String, Value),
    Succeed(Value),
}

/// A state's result: a transition, or a failure of the execution.
pub(super) type Step = Result<Flow, TaskError>;

/// `Next` or `End`, with the state's output.
pub(super) fn go(next: &Transition, output: Value) -> Flow {
    match next {
        Transition::Next(n) => Flow::Next(n.clone(), output),
        Transition::End => Flow::Succeed(output),
    }
}

/// How the current state is (re)entered.
pub(super) enum Resume {
    Fresh,
    Callback {
        entered_ms: i64,
        token: String,
        deadline_ms: Option<i64>,
        retries: Vec<u32>,
    },
    Wait {
        entered_ms: i64,
        wake_ms: i64,
    },
}

impl Cursor {
    fn split(self) -> (String, Value, Resume) {
        match self {
            Cursor::Enter { state, input } => (state, input, Resume::Fresh),
            Cursor::Callback {
                state,
                input,
                entered_ms,
                token,
                deadline_ms,
                retries,
            } => (
                state,
                input,
                Resume::Callback {
                    entered_ms,
                    token,
                    deadline_ms,
                    retries,
                },
            ),
            Cursor::Wait {
                state,
                input,
                entered_ms,
                wake_ms,
            } => (
                state,
                input,
                Resume::Wait {
                    entered_ms,
                    wake_ms,
                },
            ),
        }
    }
}

impl Interpreter {
    /// The runner task of one execution, from `cursor` to its end (or until it stops).
    pub(super) async fn drive(self: Arc<Self>, mut exec: Exec, cursor: Cursor) {
        let deadline_ms = self
            .machine
            .timeout_seconds
            .map(|s| plus_seconds(exec.start_ms, s));
        let ending = match deadline_ms {
            None => self.run(&mut exec, cursor).await,
            Some(deadline) => {
                let remaining = deadline.saturating_sub(now_ms());
                let finished = if remaining <= 0 {
                    None
                } else {
                    let limit = Duration::from_millis(remaining.unsigned_abs());
                    tokio::time::timeout(limit, self.run(&mut exec, cursor))
                        .await
                        .ok()
                };
                match finished {
                    Some(ending) => ending,
                    None => self.timed_out(&mut exec).await,
                }
            }
        };
        if let Ok(ending) = ending {
            self.finish(&mut exec, ending).await;
        }
        lock(&self.running).remove(&exec.id);
    }

    /// The execution-level timeout fired. The dropped run may have had a checkpoint in flight,
    /// so the stored version is adopted, and a pending callback token is closed.
    async fn timed_out(&self, exec: &mut Exec) -> Result<Ending, Stop> {
        let rec = match self.load(&exec.id).await {
            Ok(Some(rec)) if rec.status == ExecutionStatus::Running => rec,
            Ok(_) => return Err(Stop),
            Err(e) => {
                error!(error = %e, "cannot read the execution to time it out");
                return Err(Stop);
            }
        };
        exec.version = rec.version;
        if let Some(Cursor::Callback { token, .. }) = rec.cursor.as_deref() {
            let timeout = Err(TaskError::new(STATES_TIMEOUT, "the execution timed out"));
            // Losing this race to a callback is fine: the execution ends anyway.
            let _ = self
                .resolve_pending(token, TokenStatus::TimedOut, &timeout)
                .await;
        }
        Ok(Ending::TimedOut)
    }

    async fn finish(&self, exec: &mut Exec, ending: Ending) {
        let closing = Closing::new(ending, self.machine.timeout_seconds);
        // ExecutionSucceeded / Failed / TimedOut: `HistoryEvents::add` always leaves room for it.
        exec.events.0 = exec.events.0.saturating_add(1);
        if self
            .write_record(exec, None, Some(&closing), &[])
            .await
            .is_err()
        {
            return;
        }
        // One line per execution at info would dominate the log under load; failures stand out.
        if closing.status == ExecutionStatus::Succeeded {
            debug!(status = closing.status.as_str(), "execution finished");
        } else {
            warn!(
                status = closing.status.as_str(),
                error = closing.error.as_deref().unwrap_or_default(),
                cause = closing.cause.as_deref().unwrap_or_default(),
                "execution finished"
            );
        }
        exec.close_view(closing);
    }

    async fn run(&self, exec: &mut Exec, cursor: Cursor) -> Result<Ending, Stop> {
        let (mut name, mut input, mut resume) = cursor.split();
        loop {
            let Some(state) = self.machine.states.get(&name) else {
                return Ok(Ending::Failed(runtime(format!(
                    "state {name:?} does not exist"
                ))));
            };
            let resume_now = std::mem::replace(&mut resume, Resume::Fresh);
            let entered_ms = match &resume_now {
                Resume::Fresh => {
                    if let Err(e) = exec.enter(&name) {
                        return Ok(Ending::Failed(e));
                    }
                    now_ms()
                }
                Resume::Callback { entered_ms, .. } | Resume::Wait { entered_ms, .. } => {
                    exec.reenter(&name);
                    *entered_ms
                }
            };
            let step = match &state.kind {
                Kind::Pass {
                    parameters,
                    result,
                    result_path,
                    next,
                } => {
                    let entered = format_ms(entered_ms);
                    let ctx = self.context(exec, &name, &entered, 0, None);
                    let pass = states::pass::Pass {
                        parameters: parameters.as_ref(),
                        result: result.as_ref(),
                        result_path,
                        next,
                    };
                    states::pass::run(state, &pass, input, &ctx)
                }
                Kind::Task(task) => {
                    self.run_task(exec, &name, state, task, input, entered_ms, resume_now)
                        .await?
                }
                Kind::Choice { choices, default } => {
                    states::choice::run(&name, state, choices, default.as_ref(), input)
                }
                Kind::Wait { until, next } => {
                    self.run_wait(
                        exec, &name, state, until, next, input, entered_ms, resume_now,
                    )
                    .await?
                }
                Kind::Succeed => states::succeed(state, input),
                Kind::Fail { error, cause } => states::fail(error.as_deref(), cause.as_deref()),
            };
            // Moving on: `<Type>StateExited`, and the state's output must fit the quota.
            let step = step.and_then(|flow| {
                let output = match &flow {
                    Flow::Next(_, out) | Flow::Succeed(out) => out,
                };
                check_payload(output, || format!("the output of state {name:?}"))?;
                exec.record(HistoryEvents::STATE_EXITED)?;
                Ok(flow)
            });
            match step {
                Ok(Flow::Next(next, output)) => {
                    name = next;
                    input = output;
                }
                Ok(Flow::Succeed(output)) => return Ok(Ending::Succeeded(output)),
                Err(e) => return Ok(Ending::Failed(e)),
            }
        }
    }

    /// The `$$` context object of a state attempt.
    pub(super) fn context<'a>(
        &'a self,
        exec: &'a Exec,
        state: &'a str,
        entered: &'a str,
        retry_count: u32,
        token: Option<&'a str>,
    ) -> Context<'a> {
        Context {
            execution_id: &exec.id,
            execution_name: &exec.name,
            execution_input: &exec.input,
            start_time: &exec.start_time,
            machine_id: &self.machine_id,
            machine_name: &self.machine_name,
            state_name: state,
            entered_time: entered,
            retry_count,
            token,
        }
    }
}
