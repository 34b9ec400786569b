//! Stored records. Layout in the given table:
//!
//! * `pk = EXEC#<execution id>`, `sk = EXEC`: one item per execution, replaced at every checkpoint
//!   with a `version` condition (a runner that lost ownership can never overwrite a newer one).
//!   While RUNNING it is indexed under `gsi1pk = SFN#RUNNING#<machine>` so `resume_all` finds it.
//! * `pk = TOKEN#<token>`, `sk = TOKEN`: one item per callback task attempt. Its `status` moves
//!   from PENDING exactly once (conditional write), which arbitrates callback vs. timeout.

use std::borrow::Cow;

use reserveplace_domain::store::{Cond, Item, Key, StoreError, Write};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{SfnError, TaskError};

pub(crate) const EXEC_SK: &str = "EXEC";
pub(crate) const TOKEN_SK: &str = "TOKEN";

pub(crate) fn exec_key(id: &str) -> Key {
    Key::new(format!("EXEC#{id}"), EXEC_SK)
}

pub(crate) fn token_key(token: &str) -> Key {
    Key::new(format!("TOKEN#{token}"), TOKEN_SK)
}

pub(crate) fn running_partition(machine: &str) -> String {
    format!("SFN#RUNNING#{machine}")
}

/// Status of an execution, as Step Functions spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionStatus {
    Running,
    Succeeded,
    Failed,
    /// The machine's top-level `TimeoutSeconds` elapsed.
    TimedOut,
}

impl ExecutionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionStatus::Running => "RUNNING",
            ExecutionStatus::Succeeded => "SUCCEEDED",
            ExecutionStatus::Failed => "FAILED",
            ExecutionStatus::TimedOut => "TIMED_OUT",
        }
    }
}

/// Where a RUNNING execution continues after a restart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub(crate) enum Cursor {
    /// Enter `state` with `input` (execution start; the state is not in the history yet).
    Enter { state: String, input: Value },
    /// Parked on a callback task attempt.
    Callback {
        state: String,
        input: Value,
        entered_ms: i64,
        token: String,
        deadline_ms: Option<i64>,
        /// Per-retrier attempt counters, so retries stay bounded across restarts.
        retries: Vec<u32>,
    },
    /// Sleeping in a Wait state.
    Wait {
        state: String,
        input: Value,
        entered_ms: i64,
        wake_ms: i64,
    },
}

/// The execution record: written borrowing the runner's state (`Cow::Borrowed`), so a checkpoint
/// serializes straight into the item without intermediate copies, and read back owned.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ExecRecord<'a> {
    pub execution_id: Cow<'a, str>,
    pub name: Cow<'a, str>,
    pub machine: Cow<'a, str>,
    pub status: ExecutionStatus,
    pub input: Cow<'a, Value>,
    pub start_ms: i64,
    pub start_time: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_time: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Cow<'a, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<Cow<'a, Cursor>>,
    pub history: Cow<'a, [String]>,
    /// Absent in records written before the count existed.
    #[serde(default)]
    pub history_events: u64,
    pub version: u64,
}

impl ExecRecord<'_> {
    pub fn to_item(&self) -> Result<Item, StoreError> {
        let key = exec_key(&self.execution_id);
        let mut item = to_item(self, &key, "SfnExecution")?;
        // A sparse index entry: only RUNNING executions are listed for `resume_all`.
        if self.status == ExecutionStatus::Running {
            item.insert(
                "gsi1pk".into(),
                Value::String(running_partition(&self.machine)),
            );
            item.insert(
                "gsi1sk".into(),
                Value::String(format!("{}#{}", self.start_time, self.execution_id)),
            );
        }
        Ok(item)
    }
}

fn to_item(value: impl Serialize, key: &Key, kind: &str) -> Result<Item, StoreError> {
    let invalid = |reason: String| StoreError::Invalid(format!("{}: {reason}", key.pk));
    let Value::Object(mut map) = serde_json::to_value(value).map_err(|e| invalid(e.to_string()))?
    else {
        return Err(invalid("record is not an object".into()));
    };
    map.insert("pk".into(), Value::String(key.pk.clone()));
    map.insert("sk".into(), Value::String(key.sk.clone()));
    map.insert("type".into(), Value::String(kind.into()));
    Ok(map)
}

fn from_item<T: for<'de> Deserialize<'de>>(item: Item) -> Result<T, SfnError> {
    let key = item
        .get("pk")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_owned();
    serde_json::from_value(Value::Object(item)).map_err(|e| SfnError::Corrupt {
        key,
        reason: e.to_string(),
    })
}

impl ExecRecord<'static> {
    pub fn from_item(item: Item) -> Result<Self, SfnError> {
        from_item(item)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum TokenStatus {
    Pending,
    Succeeded,
    Failed,
    TimedOut,
}

impl TokenStatus {
    fn as_str(self) -> &'static str {
        match self {
            TokenStatus::Pending => "PENDING",
            TokenStatus::Succeeded => "SUCCEEDED",
            TokenStatus::Failed => "FAILED",
            TokenStatus::TimedOut => "TIMED_OUT",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TokenRecord {
    pub execution_id: String,
    pub state: String,
    pub status: TokenStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_ms: Option<i64>,
    #[serde(default)]
    pub output: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}

impl TokenRecord {
    /// The PENDING record written together with the callback checkpoint.
    pub fn pending_put(
        token: &str,
        execution_id: &str,
        state: &str,
        deadline_ms: Option<i64>,
    ) -> Result<Write, StoreError> {
        let record = TokenRecord {
            execution_id: execution_id.to_owned(),
            state: state.to_owned(),
            status: TokenStatus::Pending,
            deadline_ms,
            output: Value::Null,
            error: None,
            cause: None,
        };
        let item = to_item(&record, &token_key(token), "SfnTaskToken")?;
        Ok(Write::Put {
            item,
            cond: Some(Cond::NotExists),
        })
    }

    /// Moves a PENDING token to its final status; fails with a condition error when the token
    /// is unknown or already final.
    pub fn resolve(token: &str, status: TokenStatus, outcome: &Result<Value, TaskError>) -> Write {
        let mut set = Map::new();
        set.insert("status".into(), Value::String(status.as_str().into()));
        match outcome {
            Ok(output) => {
                set.insert("output".into(), output.clone());
            }
            Err(e) => {
                set.insert("error".into(), Value::String(e.error.clone()));
                set.insert("cause".into(), Value::String(e.cause.clone()));
            }
        }
        Write::Update {
            key: token_key(token),
            set,
            add: Vec::new(),
            cond: Some(Cond::Eq(
                "status".into(),
                Value::String(TokenStatus::Pending.as_str().into()),
            )),
        }
    }

    pub fn from_item(item: Item) -> Result<Self, SfnError> {
        from_item(item)
    }

    /// The task outcome, once the token left PENDING.
    pub fn outcome(self) -> Option<Result<Value, TaskError>> {
        match self.status {
            TokenStatus::Pending => None,
            TokenStatus::Succeeded => Some(Ok(self.output)),
            TokenStatus::Failed | TokenStatus::TimedOut => Some(Err(TaskError::new(
                self.error.unwrap_or_default(),
                self.cause.unwrap_or_default(),
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn exec_record_round_trips_and_indexes_only_running() {
        let cursor = Cursor::Callback {
            state: "S".into(),
            input: json!(null),
            entered_ms: 1,
            token: "tok".into(),
            deadline_ms: None,
            retries: vec![1, 0],
        };
        let input = json!({"a": 1});
        let history = vec!["S".to_owned()];
        let mut rec = ExecRecord {
            execution_id: "arn:x:exec".into(),
            name: "exec".into(),
            machine: "m".into(),
            status: ExecutionStatus::Running,
            input: Cow::Borrowed(&input),
            start_ms: 5,
            start_time: "t".into(),
            stop_time: None,
            output: None,
            error: None,
            cause: None,
            cursor: Some(Cow::Borrowed(&cursor)),
            history: Cow::Borrowed(&history),
            history_events: 7,
            version: 3,
        };
        let item = rec.to_item().expect("item");
        assert_eq!(item["pk"], json!("EXEC#arn:x:exec"));
        assert_eq!(item["gsi1pk"], json!("SFN#RUNNING#m"));
        assert_eq!(item["cursor"]["kind"], json!("callback"));
        assert_eq!(item["cursor"]["enteredMs"], json!(1));
        let back = ExecRecord::from_item(item).expect("parse");
        assert_eq!(back.cursor.as_deref(), Some(&cursor));
        assert_eq!(
            (back.version, back.input.as_ref(), back.history.as_ref()),
            (3, &input, history.as_slice())
        );

        let output = json!(null);
        rec.status = ExecutionStatus::Succeeded;
        rec.cursor = None;
        rec.output = Some(Cow::Borrowed(&output));
        rec.stop_time = Some("u".into());
        let item = rec.to_item().expect("item");
        assert!(!item.contains_key("gsi1pk") && !item.contains_key("cursor"));
        assert_eq!(item["status"], json!("SUCCEEDED"));
        let back = ExecRecord::from_item(item).expect("parse");
        assert_eq!(back.stop_time.as_deref(), Some("u"));
    }
}
