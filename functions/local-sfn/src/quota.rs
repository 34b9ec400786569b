//! Step Functions Standard quotas, enforced locally so that a definition which would break them on
//! AWS breaks here first: the history-event count of an execution and the payload size.

use std::io;

use serde_json::Value;

use crate::error::TaskError;

/// Most events one execution's history may hold, its closing event included.
pub const MAX_HISTORY_EVENTS: u64 = 25_000;

/// Largest input or output of a task, a state or an execution: 256 KiB as UTF-8 JSON.
pub const MAX_PAYLOAD_BYTES: usize = 262_144;

/// Raised when a payload exceeds [`MAX_PAYLOAD_BYTES`]. `States.ALL` does not match it.
pub const STATES_DATA_LIMIT_EXCEEDED: &str = "States.DataLimitExceeded";

/// History events, counted as Step Functions writes them:
/// * the execution: `ExecutionStarted`, then one of `ExecutionSucceeded/Failed/TimedOut`;
/// * every state: `<Type>StateEntered`, and `<Type>StateExited` when it moves on (a Fail state
///   and a failing state only enter);
/// * every Task attempt: `TaskScheduled`, `TaskStarted` and `TaskSucceeded/Failed/TimedOut`, plus
///   `TaskSubmitted` for a callback task, so a retried task adds 3 (callback 4) per retry.
///
/// A caught error counts an exit as well, and a callback attempt always counts its
/// `TaskSubmitted`: where AWS may write one event fewer, the local count is the higher one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct HistoryEvents(pub u64);

impl HistoryEvents {
    pub const STATE_ENTERED: u64 = 1;
    pub const STATE_EXITED: u64 = 1;
    pub const TASK_ATTEMPT: u64 = 3;
    pub const CALLBACK_ATTEMPT: u64 = 4;

    /// Adds `n` events, or fails the execution (`States.Runtime`, which nothing catches) when
    /// they would leave no room for the closing event.
    pub fn add(&mut self, n: u64) -> Result<(), TaskError> {
        let next = self.0.saturating_add(n);
        if next.saturating_add(1) > MAX_HISTORY_EVENTS {
            return Err(TaskError::new(
                crate::asl::STATES_RUNTIME,
                format!(
                    "the execution exceeded the maximum number of history events ({MAX_HISTORY_EVENTS})"
                ),
            ));
        }
        self.0 = next;
        Ok(())
    }
}

/// Counts bytes without keeping them.
struct Counter(usize);

impl io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 = self.0.saturating_add(buf.len());
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Size of `value` as compact UTF-8 JSON.
pub(crate) fn payload_bytes(value: &Value) -> usize {
    let mut counter = Counter(0);
    // Writing a `Value` into a sink that never fails cannot fail.
    let _ = serde_json::to_writer(&mut counter, value);
    counter.0
}

/// `States.DataLimitExceeded` when `value` is larger than [`MAX_PAYLOAD_BYTES`]; `what` says
/// which payload (e.g. `the output of state "Hold"`).
pub(crate) fn check_payload(value: &Value, what: impl FnOnce() -> String) -> Result<(), TaskError> {
    let bytes = payload_bytes(value);
    if bytes > MAX_PAYLOAD_BYTES {
        return Err(TaskError::new(
            STATES_DATA_LIMIT_EXCEEDED,
            format!(
                "{} is {bytes} bytes, more than the maximum of {MAX_PAYLOAD_BYTES}",
                what()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn payload_size_is_the_compact_utf8_length() {
        assert_eq!(payload_bytes(&json!({"a": "é"})), r#"{"a":"é"}"#.len());
        let at_limit = json!("x".repeat(MAX_PAYLOAD_BYTES - 2));
        assert!(check_payload(&at_limit, String::new).is_ok());
        let over = json!("x".repeat(MAX_PAYLOAD_BYTES - 1));
        let err = check_payload(&over, || "it".into()).expect_err("over the limit");
        assert_eq!(err.error, STATES_DATA_LIMIT_EXCEEDED);
    }

    #[test]
    fn history_keeps_room_for_the_closing_event() {
        let mut h = HistoryEvents(MAX_HISTORY_EVENTS - 3);
        assert!(h.add(2).is_ok());
        let err = h.add(1).expect_err("no room left");
        assert_eq!(err.error, "States.Runtime");
        assert_eq!(h.0, MAX_HISTORY_EVENTS - 1);
    }
}
