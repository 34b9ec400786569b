//! One execution's in-memory state, owned by its runner: what it records as it goes (history,
//! quota counters, the live view) and how it is serialized and ended.

use std::borrow::Cow;
use std::sync::Arc;

use reserveplace_domain::store::{Item, StoreError};
use serde_json::Value;
use tokio::sync::watch;
use tracing::debug;

use super::ExecutionView;
use crate::asl::STATES_TIMEOUT;
use crate::clock::{format_ms, now_ms};
use crate::error::TaskError;
use crate::persist::{Cursor, ExecRecord, ExecutionStatus};
use crate::quota::HistoryEvents;

/// In-memory state of one execution, owned by its runner.
pub(super) struct Exec {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) input: Value,
    pub(super) start_ms: i64,
    pub(super) start_time: String,
    pub(super) history: Vec<String>,
    pub(super) events: HistoryEvents,
    /// Version of the stored record this runner wrote last.
    pub(super) version: u64,
    pub(super) view: Arc<watch::Sender<ExecutionView>>,
}

/// How a finished execution ended.
pub(super) enum Ending {
    Succeeded(Value),
    Failed(TaskError),
    TimedOut,
}

/// How an execution ended, as recorded.
pub(super) struct Closing {
    pub(super) status: ExecutionStatus,
    pub(super) output: Option<Value>,
    pub(super) error: Option<String>,
    pub(super) cause: Option<String>,
    pub(super) stop_time: String,
}

impl Closing {
    pub(super) fn new(ending: Ending, timeout_seconds: Option<u64>) -> Self {
        let non_empty = |s: String| (!s.is_empty()).then_some(s);
        let (status, output, error, cause) = match ending {
            Ending::Succeeded(v) => (ExecutionStatus::Succeeded, Some(v), None, None),
            Ending::Failed(e) => (
                ExecutionStatus::Failed,
                None,
                non_empty(e.error),
                non_empty(e.cause),
            ),
            Ending::TimedOut => (
                ExecutionStatus::TimedOut,
                None,
                Some(STATES_TIMEOUT.to_owned()),
                Some(format!(
                    "the execution did not finish within {} seconds",
                    timeout_seconds.unwrap_or_default()
                )),
            ),
        };
        Closing {
            status,
            output,
            error,
            cause,
            stop_time: format_ms(now_ms()),
        }
    }
}

impl Exec {
    pub(super) fn new(id: String, name: &str, input: Value, start_ms: i64) -> Self {
        let start_time = format_ms(start_ms);
        let view = ExecutionView {
            execution_id: id.clone(),
            name: name.to_owned(),
            status: ExecutionStatus::Running,
            input: input.clone(),
            output: None,
            error: None,
            cause: None,
            current_state: None,
            history: Vec::new(),
            history_events: 1,
            start_time: start_time.clone(),
            stop_time: None,
        };
        Exec {
            id,
            name: name.to_owned(),
            input,
            start_ms,
            start_time,
            history: Vec::new(),
            // ExecutionStarted.
            events: HistoryEvents(1),
            version: 0,
            view: Arc::new(watch::Sender::new(view)),
        }
    }

    pub(super) fn from_record(rec: ExecRecord<'_>) -> Self {
        let view = rec.view();
        Exec {
            id: rec.execution_id.into_owned(),
            name: rec.name.into_owned(),
            input: rec.input.into_owned(),
            start_ms: rec.start_ms,
            start_time: rec.start_time.into_owned(),
            history: rec.history.into_owned(),
            events: HistoryEvents(rec.history_events),
            version: rec.version,
            view: Arc::new(watch::Sender::new(view)),
        }
    }

    /// The next version of the stored record, serialized from the runner's state.
    pub(super) fn item(
        &self,
        machine: &str,
        cursor: Option<&Cursor>,
        closing: Option<&Closing>,
    ) -> Result<Item, StoreError> {
        ExecRecord {
            execution_id: Cow::Borrowed(&self.id),
            name: Cow::Borrowed(&self.name),
            machine: Cow::Borrowed(machine),
            status: closing.map_or(ExecutionStatus::Running, |c| c.status),
            input: Cow::Borrowed(&self.input),
            start_ms: self.start_ms,
            start_time: Cow::Borrowed(&self.start_time),
            stop_time: closing.map(|c| Cow::Borrowed(c.stop_time.as_str())),
            output: closing.and_then(|c| c.output.as_ref()).map(Cow::Borrowed),
            error: closing.and_then(|c| c.error.as_deref()).map(Cow::Borrowed),
            cause: closing.and_then(|c| c.cause.as_deref()).map(Cow::Borrowed),
            cursor: cursor.map(Cow::Borrowed),
            history: Cow::Borrowed(&self.history),
            history_events: self.events.0,
            version: self.version + 1,
        }
        .to_item()
    }

    pub(super) fn enter(&mut self, state: &str) -> Result<(), TaskError> {
        debug!(state, "state entered");
        self.events.add(HistoryEvents::STATE_ENTERED)?;
        self.history.push(state.to_owned());
        let events = self.events.0;
        self.view.send_modify(|v| {
            v.current_state = Some(state.to_owned());
            v.history.push(state.to_owned());
            v.history_events = events;
        });
        Ok(())
    }

    /// Adds history events (a state's exit, a task attempt); fails past the quota.
    pub(super) fn record(&mut self, n: u64) -> Result<(), TaskError> {
        self.events.add(n)?;
        let events = self.events.0;
        self.view.send_modify(|v| v.history_events = events);
        Ok(())
    }

    pub(super) fn reenter(&mut self, state: &str) {
        debug!(state, "state resumed from checkpoint");
        self.view
            .send_modify(|v| v.current_state = Some(state.to_owned()));
    }

    /// Publishes the recorded ending to the live view.
    pub(super) fn close_view(&self, closing: Closing) {
        let events = self.events.0;
        self.view.send_modify(|v| {
            v.status = closing.status;
            v.output = closing.output;
            v.error = closing.error;
            v.cause = closing.cause;
            v.current_state = None;
            v.history_events = events;
            v.stop_time = Some(closing.stop_time);
        });
    }
}
