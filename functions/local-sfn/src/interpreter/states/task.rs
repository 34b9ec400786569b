//! The Task state: effective input (Parameters, `$$` context), the attempt (a plain call with
//! its timeout, or a callback), the result (ResultSelector, ResultPath), and Retry / Catch.

use std::time::Duration;

use serde_json::{Value, json};
use tracing::debug;

use crate::asl::{STATES_TIMEOUT, State, TaskState, TaskTimeout, error_matches};
use crate::clock::{format_ms, now_ms, plus_seconds};
use crate::error::TaskError;
use crate::interpreter::checkpoint::Stop;
use crate::interpreter::exec::Exec;
use crate::interpreter::run::{Flow, Resume, Step, go};
use crate::interpreter::{Interpreter, Outcome};
use crate::ops::{apply_result_path, random_unit, runtime, select_input, select_output};
use crate::path::Context;
use crate::persist::Cursor;
use crate::quota::{HistoryEvents, check_payload};

impl Interpreter {
    #[allow(clippy::too_many_arguments)]
    pub(in crate::interpreter) async fn run_task(
        &self,
        exec: &mut Exec,
        name: &str,
        state: &State,
        task: &TaskState,
        input: Value,
        entered_ms: i64,
        resume: Resume,
    ) -> Result<Step, Stop> {
        let (mut retries, mut parked) = match resume {
            Resume::Callback {
                token,
                deadline_ms,
                retries,
                ..
            } => (retries, Some((token, deadline_ms))),
            _ => (Vec::new(), None),
        };
        // Also guards against a checkpoint written by a definition with fewer retriers.
        retries.resize(task.retry.len(), 0);
        let entered = format_ms(entered_ms);
        loop {
            let retry_count = retries.iter().fold(0u32, |a, b| a.saturating_add(*b));
            let eff = tri!(select_input(&state.input_path, &input));
            let timeout = tri!(timeout_seconds(task, &eff));
            // A resumed callback attempt was counted before the restart.
            if parked.is_none() {
                tri!(exec.record(if task.callback {
                    HistoryEvents::CALLBACK_ATTEMPT
                } else {
                    HistoryEvents::TASK_ATTEMPT
                }));
            }
            let outcome = if task.callback {
                let (token, deadline_ms, fresh) = match parked.take() {
                    Some((token, deadline_ms)) => (token, deadline_ms, false),
                    None => (
                        uuid::Uuid::new_v4().to_string(),
                        timeout.map(|s| plus_seconds(now_ms(), s)),
                        true,
                    ),
                };
                let params = {
                    let ctx = self.context(exec, name, &entered, retry_count, Some(&token));
                    tri!(task_input(task, &eff, &ctx))
                };
                tri!(check_payload(&params, || format!(
                    "the input of state {name:?}"
                )));
                let cursor = Cursor::Callback {
                    state: name.to_owned(),
                    input: input.clone(),
                    entered_ms,
                    token: token.clone(),
                    deadline_ms,
                    retries: retries.clone(),
                };
                self.callback(exec, cursor, fresh, &task.resource, params)
                    .await?
            } else {
                let params = {
                    let ctx = self.context(exec, name, &entered, retry_count, None);
                    tri!(task_input(task, &eff, &ctx))
                };
                tri!(check_payload(&params, || format!(
                    "the input of state {name:?}"
                )));
                self.invoke(&task.resource, params, timeout).await
            };
            // A result over the quota fails the attempt; only an explicit
            // `States.DataLimitExceeded` retrier or catcher matches it.
            let outcome = outcome.and_then(|result| {
                check_payload(&result, || format!("the result of state {name:?}"))?;
                Ok(result)
            });
            match outcome {
                Ok(result) => {
                    let result = match &task.result_selector {
                        Some(t) => {
                            let ctx = self.context(exec, name, &entered, retry_count, None);
                            tri!(t.eval(&result, &ctx).map_err(runtime))
                        }
                        None => result,
                    };
                    let out = tri!(apply_result_path(&task.result_path, input, result));
                    return Ok(
                        select_output(&state.output_path, out).map(|out| go(&task.next, out))
                    );
                }
                Err(err) => {
                    // Only the first retrier whose ErrorEquals matches counts, as in AWS.
                    let retrier = task
                        .retry
                        .iter()
                        .enumerate()
                        .find(|(_, r)| error_matches(&r.errors, &err.error));
                    if let Some((i, r)) = retrier
                        && retries[i] < r.max_attempts
                    {
                        retries[i] += 1;
                        let delay = r.delay(retries[i], random_unit());
                        debug!(state = name, error = %err.error, retry = retries[i], ?delay, "retrying task");
                        if !delay.is_zero() {
                            tokio::time::sleep(delay).await;
                        }
                        continue;
                    }
                    if let Some(c) = task
                        .catch
                        .iter()
                        .find(|c| error_matches(&c.errors, &err.error))
                    {
                        debug!(state = name, error = %err.error, next = %c.next, "error caught");
                        let error_output = json!({ "Error": err.error, "Cause": err.cause });
                        let out = tri!(apply_result_path(&c.result_path, input, error_output));
                        return Ok(Ok(Flow::Next(c.next.clone(), out)));
                    }
                    return Ok(Err(err));
                }
            }
        }
    }

    /// One attempt of a plain (request-response) task, bounded by its TimeoutSeconds.
    async fn invoke(&self, resource: &str, params: Value, timeout: Option<u64>) -> Outcome {
        let call = self.invoker.invoke(resource, params);
        match timeout {
            None => call.await,
            Some(s) => match tokio::time::timeout(Duration::from_secs(s), call).await {
                Ok(r) => r,
                Err(_) => Err(TaskError::new(
                    STATES_TIMEOUT,
                    format!("the task did not finish within {s} seconds"),
                )),
            },
        }
    }
}

/// TimeoutSeconds, or the positive integer TimeoutSecondsPath selects in the effective input.
fn timeout_seconds(task: &TaskState, eff: &Value) -> Result<Option<u64>, TaskError> {
    match &task.timeout {
        None => Ok(None),
        Some(TaskTimeout::Seconds(s)) => Ok(Some(*s)),
        Some(TaskTimeout::Path(p)) => p
            .get(eff)
            .and_then(Value::as_u64)
            .filter(|s| *s > 0)
            .map(Some)
            .ok_or_else(|| {
                runtime(format!(
                    "TimeoutSecondsPath {p} does not select a positive integer"
                ))
            }),
    }
}

/// The resource's input: Parameters evaluated against the effective input, or that input.
fn task_input(task: &TaskState, eff: &Value, ctx: &Context<'_>) -> Result<Value, TaskError> {
    match &task.parameters {
        Some(t) => t.eval(eff, ctx).map_err(runtime),
        None => Ok(eff.clone()),
    }
}
