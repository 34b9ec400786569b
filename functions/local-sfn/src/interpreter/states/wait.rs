//! The Wait state: a timer, checkpointed with its wall-clock wake time so that a restart
//! re-arms it (a wake time already past fires at once).

use serde_json::Value;

use crate::asl::{State, Transition, WaitFor};
use crate::clock::{now_ms, parse_rfc3339_ms, plus_seconds, sleep_until_ms};
use crate::error::TaskError;
use crate::interpreter::Interpreter;
use crate::interpreter::checkpoint::Stop;
use crate::interpreter::exec::Exec;
use crate::interpreter::run::{Resume, Step, go};
use crate::ops::{runtime, select_input, select_output};
use crate::persist::Cursor;

impl Interpreter {
    #[allow(clippy::too_many_arguments)]
    pub(in crate::interpreter) async fn run_wait(
        &self,
        exec: &mut Exec,
        name: &str,
        state: &State,
        until: &WaitFor,
        next: &Transition,
        input: Value,
        entered_ms: i64,
        resume: Resume,
    ) -> Result<Step, Stop> {
        let eff = tri!(select_input(&state.input_path, &input)).into_owned();
        let wake_ms = match resume {
            Resume::Wait { wake_ms, .. } => wake_ms,
            _ => {
                let now = now_ms();
                let wake_ms = tri!(wake_time(until, &eff, now));
                if wake_ms > now {
                    let cursor = Cursor::Wait {
                        state: name.to_owned(),
                        input,
                        entered_ms,
                        wake_ms,
                    };
                    self.write_record(exec, Some(&cursor), None, &[]).await?;
                }
                wake_ms
            }
        };
        sleep_until_ms(wake_ms).await;
        Ok(select_output(&state.output_path, eff).map(|out| go(next, out)))
    }
}

/// When the Wait state ends, in Unix milliseconds.
fn wake_time(until: &WaitFor, eff: &Value, now: i64) -> Result<i64, TaskError> {
    match until {
        WaitFor::Seconds(s) => Ok(plus_seconds(now, *s)),
        WaitFor::Timestamp(ms) => Ok(*ms),
        WaitFor::SecondsPath(p) => p
            .get(eff)
            .and_then(Value::as_u64)
            .map(|s| plus_seconds(now, s))
            .ok_or_else(|| {
                runtime(format!(
                    "SecondsPath {p} does not select a non-negative integer"
                ))
            }),
        WaitFor::TimestampPath(p) => p
            .get(eff)
            .and_then(Value::as_str)
            .and_then(parse_rfc3339_ms)
            .ok_or_else(|| {
                runtime(format!(
                    "TimestampPath {p} does not select an RFC 3339 timestamp"
                ))
            }),
    }
}
