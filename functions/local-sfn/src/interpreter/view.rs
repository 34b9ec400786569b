//! What `describe_execution` shows of an execution, live or from its stored record.

use serde::Serialize;
use serde_json::Value;

use crate::persist::{ExecRecord, ExecutionStatus};

/// What `describe_execution` returns.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionView {
    pub execution_id: String,
    pub name: String,
    pub status: ExecutionStatus,
    pub input: Value,
    /// Set when SUCCEEDED.
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    /// The state being run (None once the execution ended).
    pub current_state: Option<String>,
    /// Names of the states entered, in order (a retried state appears once).
    pub history: Vec<String>,
    /// History events so far, counted as Step Functions counts them (at most 25,000).
    pub history_events: u64,
    pub start_time: String,
    pub stop_time: Option<String>,
}

impl ExecRecord<'_> {
    pub(super) fn view(&self) -> ExecutionView {
        let running = self.status == ExecutionStatus::Running;
        let owned = |s: &Option<std::borrow::Cow<'_, str>>| s.as_deref().map(str::to_owned);
        ExecutionView {
            execution_id: self.execution_id.to_string(),
            name: self.name.to_string(),
            status: self.status,
            input: self.input.as_ref().clone(),
            output: match self.status {
                // A stored `null` output reads back as absent.
                ExecutionStatus::Succeeded => {
                    Some(self.output.as_deref().cloned().unwrap_or(Value::Null))
                }
                _ => None,
            },
            error: owned(&self.error),
            cause: owned(&self.cause),
            current_state: if running {
                self.history.last().cloned()
            } else {
                None
            },
            history: self.history.to_vec(),
            history_events: self.history_events,
            start_time: self.start_time.to_string(),
            stop_time: owned(&self.stop_time),
        }
    }
}
