//! The state machine model and its parser. Parsing validates everything the interpreter relies
//! on, so execution never meets an unknown field or a dangling transition.

use std::collections::HashMap;

use serde_json::{Map, Number, Value};

use crate::error::AslError;
use crate::path::{Path, Template, TemplateError};

/// A parsed, validated state machine definition.
#[derive(Debug, Clone)]
pub struct StateMachine {
    pub(crate) start_at: String,
    pub(crate) states: HashMap<String, State>,
    pub(crate) timeout_seconds: Option<u64>,
    pub(crate) comment: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct State {
    pub kind: Kind,
    /// `None` = `InputPath: null` (the effective input is `{}`).
    pub input_path: Option<Path>,
    /// `None` = `OutputPath: null` (the output is `{}`).
    pub output_path: Option<Path>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Transition {
    Next(String),
    End,
}

/// `ResultPath`; `Discard` is `ResultPath: null` (the state input passes through).
#[derive(Debug, Clone)]
pub(crate) enum ResultPath {
    Discard,
    At(Path),
}

#[derive(Debug, Clone)]
pub(crate) enum Kind {
    Pass {
        parameters: Option<Template>,
        result: Option<Value>,
        result_path: ResultPath,
        next: Transition,
    },
    Task(Box<TaskState>),
    Choice {
        choices: Vec<(Rule, String)>,
        default: Option<String>,
    },
    Wait {
        until: WaitFor,
        next: Transition,
    },
    Succeed,
    Fail {
        error: Option<String>,
        cause: Option<String>,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct TaskState {
    pub resource: String,
    /// `.waitForTaskToken`: completes only through a callback or its timeout.
    pub callback: bool,
    pub parameters: Option<Template>,
    pub result_selector: Option<Template>,
    pub result_path: ResultPath,
    pub timeout: Option<TaskTimeout>,
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
    pub next: Transition,
}

#[derive(Debug, Clone)]
pub(crate) enum TaskTimeout {
    Seconds(u64),
    Path(Path),
}

#[derive(Debug, Clone)]
pub(crate) struct Retrier {
    pub errors: Vec<String>,
    pub interval_seconds: u64,
    pub max_attempts: u32,
    pub backoff_rate: f64,
    pub max_delay_seconds: Option<u64>,
    pub full_jitter: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Catcher {
    pub errors: Vec<String>,
    pub next: String,
    pub result_path: ResultPath,
}

#[derive(Debug, Clone)]
pub(crate) enum WaitFor {
    Seconds(u64),
    SecondsPath(Path),
    /// Unix milliseconds.
    Timestamp(i64),
    TimestampPath(Path),
}

#[derive(Debug, Clone)]
pub(crate) enum Rule {
    And(Vec<Rule>),
    Or(Vec<Rule>),
    Not(Box<Rule>),
    Test { variable: Path, op: Op },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum NumOp {
    Eq,
    Lt,
    Gt,
    Le,
    Ge,
}

#[derive(Debug, Clone)]
pub(crate) enum Op {
    StringEquals(String),
    StringEqualsPath(Path),
    Numeric(NumOp, Number),
    BooleanEquals(bool),
    IsPresent(bool),
    IsNull(bool),
    IsString(bool),
    IsNumeric(bool),
    IsBoolean(bool),
}

pub(crate) const STATES_ALL: &str = "States.ALL";
pub(crate) const STATES_TASK_FAILED: &str = "States.TaskFailed";
pub(crate) const STATES_TIMEOUT: &str = "States.Timeout";
pub(crate) const STATES_RUNTIME: &str = "States.Runtime";

/// Errors AWS treats as terminal: the wildcards never match them.
fn terminal(error: &str) -> bool {
    error == STATES_RUNTIME || error == crate::quota::STATES_DATA_LIMIT_EXCEEDED
}

/// Whether an `ErrorEquals` list matches an error. `States.ALL` and `States.TaskFailed` never
/// match `States.Runtime` or `States.DataLimitExceeded`; `States.TaskFailed` also skips timeouts.
pub(crate) fn error_matches(list: &[String], error: &str) -> bool {
    list.iter().any(|name| {
        name == error
            || (name == STATES_ALL && !terminal(error))
            || (name == STATES_TASK_FAILED && error != STATES_TIMEOUT && !terminal(error))
    })
}

/// Where a problem is: the state (if any) and the field path inside it.
#[derive(Clone)]
struct At<'a> {
    state: Option<&'a str>,
    field: String,
}

impl<'a> At<'a> {
    fn top(field: &str) -> Self {
        At {
            state: None,
            field: field.to_owned(),
        }
    }
    fn state(state: &'a str, field: &str) -> Self {
        At {
            state: Some(state),
            field: field.to_owned(),
        }
    }
    fn child(&self, field: &str) -> Self {
        let field = if self.field.is_empty() {
            field.to_owned()
        } else if field.starts_with('[') {
            format!("{}{field}", self.field)
        } else {
            format!("{}.{field}", self.field)
        };
        At {
            state: self.state,
            field,
        }
    }
    fn invalid(&self, reason: impl Into<String>) -> AslError {
        AslError::Invalid {
            state: self.state.map(str::to_owned),
            field: self.field.clone(),
            reason: reason.into(),
        }
    }
    fn unsupported(&self, reason: impl Into<String>) -> AslError {
        AslError::Unsupported {
            state: self.state.map(str::to_owned),
            field: self.field.clone(),
            reason: reason.into(),
        }
    }
}

/// Fields of valid ASL that this interpreter deliberately does not implement, with the reason
/// reported to the author.
fn unsupported_field(name: &str) -> Option<&'static str> {
    Some(match name {
        "HeartbeatSeconds" | "HeartbeatSecondsPath" => "task heartbeats",
        "Credentials" => "cross-account task credentials",
        "Arguments" | "Output" | "Assign" => "JSONata and variables",
        "QueryLanguage" => "query languages other than JSONPath",
        "ErrorPath" | "CausePath" => "dynamic Fail error and cause",
        "Iterator"
        | "ItemProcessor"
        | "ItemsPath"
        | "ItemReader"
        | "ItemSelector"
        | "ItemBatcher"
        | "ResultWriter"
        | "MaxConcurrency"
        | "MaxConcurrencyPath"
        | "ToleratedFailurePercentage"
        | "ToleratedFailureCount"
        | "Branches" => "Map and Parallel states",
        _ => return None,
    })
}

/// Rejects every key outside `allowed`, naming it.
fn check_keys(map: &Map<String, Value>, allowed: &[&str], at: &At<'_>) -> Result<(), AslError> {
    for key in map.keys() {
        if allowed.contains(&key.as_str()) {
            continue;
        }
        let here = at.child(key);
        // QueryLanguage: JSONPath is the default and the only language implemented.
        if key == "QueryLanguage" && map.get(key) == Some(&Value::String("JSONPath".into())) {
            continue;
        }
        return Err(match unsupported_field(key) {
            Some(what) => here.unsupported(what),
            None => here.invalid("unknown field"),
        });
    }
    Ok(())
}

fn as_object<'v>(v: &'v Value, at: &At<'_>) -> Result<&'v Map<String, Value>, AslError> {
    v.as_object()
        .ok_or_else(|| at.invalid("must be a JSON object"))
}

fn opt_str<'v>(
    map: &'v Map<String, Value>,
    key: &str,
    at: &At<'_>,
) -> Result<Option<&'v str>, AslError> {
    match map.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(at.child(key).invalid("must be a string")),
    }
}

fn req_str<'v>(map: &'v Map<String, Value>, key: &str, at: &At<'_>) -> Result<&'v str, AslError> {
    opt_str(map, key, at)?.ok_or_else(|| at.child(key).invalid("is required"))
}

fn opt_uint(
    map: &Map<String, Value>,
    key: &str,
    min: u64,
    at: &At<'_>,
) -> Result<Option<u64>, AslError> {
    match map.get(key) {
        None => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) if n >= min => Ok(Some(n)),
            _ => Err(at
                .child(key)
                .invalid(format!("must be an integer >= {min}"))),
        },
    }
}

fn path_field(text: &str, at: &At<'_>) -> Result<Path, AslError> {
    let path = Path::parse(text).map_err(|e| {
        if e.unsupported {
            at.unsupported(e.reason)
        } else {
            at.invalid(e.reason)
        }
    })?;
    if path.context {
        return Err(at.unsupported(
            "context object paths are only supported in Parameters and ResultSelector",
        ));
    }
    Ok(path)
}

/// `InputPath` / `OutputPath`: absent = `$`, `null` = `None`.
fn io_path(map: &Map<String, Value>, key: &str, at: &At<'_>) -> Result<Option<Path>, AslError> {
    match map.get(key) {
        None => Ok(Some(Path::root())),
        Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => path_field(s, &at.child(key)).map(Some),
        Some(_) => Err(at.child(key).invalid("must be a path string or null")),
    }
}

fn result_path(map: &Map<String, Value>, at: &At<'_>) -> Result<ResultPath, AslError> {
    match map.get("ResultPath") {
        None => Ok(ResultPath::At(Path::root())),
        Some(Value::Null) => Ok(ResultPath::Discard),
        Some(Value::String(s)) => path_field(s, &at.child("ResultPath")).map(ResultPath::At),
        Some(_) => Err(at
            .child("ResultPath")
            .invalid("must be a path string or null")),
    }
}

fn template(
    map: &Map<String, Value>,
    key: &str,
    at: &At<'_>,
    allow_token: bool,
) -> Result<Option<Template>, AslError> {
    let Some(v) = map.get(key) else {
        return Ok(None);
    };
    as_object(v, &at.child(key))?;
    let t = Template::compile(v, key, allow_token).map_err(
        |TemplateError {
             field,
             unsupported,
             reason,
         }| {
            let here = At {
                state: at.state,
                field,
            };
            if unsupported {
                here.unsupported(reason)
            } else {
                here.invalid(reason)
            }
        },
    )?;
    Ok(Some(t))
}

fn transition(map: &Map<String, Value>, at: &At<'_>) -> Result<Transition, AslError> {
    let end = match map.get("End") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(at.child("End").invalid("must be a boolean")),
    };
    match (opt_str(map, "Next", at)?, end) {
        (Some(_), true) => Err(at
            .child("Next")
            .invalid("a state has either Next or End: true, not both")),
        (Some(next), false) => Ok(Transition::Next(next.to_owned())),
        (None, true) => Ok(Transition::End),
        (None, false) => Err(at.child("Next").invalid("Next or End: true is required")),
    }
}

fn error_equals(map: &Map<String, Value>, at: &At<'_>) -> Result<Vec<String>, AslError> {
    let here = at.child("ErrorEquals");
    let Some(Value::Array(items)) = map.get("ErrorEquals") else {
        return Err(here.invalid("is required and must be a non-empty array of strings"));
    };
    let names = items
        .iter()
        .map(|v| v.as_str().map(str::to_owned))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| here.invalid("must contain only strings"))?;
    if names.is_empty() {
        return Err(here.invalid("must not be empty"));
    }
    if names.len() > 1 && names.iter().any(|n| n == STATES_ALL) {
        return Err(here.invalid("States.ALL must appear alone"));
    }
    Ok(names)
}

/// `States.ALL` must be in the last retrier / catcher.
fn check_all_last(lists: &[&Vec<String>], at: &At<'_>) -> Result<(), AslError> {
    let n = lists.len();
    for (i, list) in lists.iter().enumerate() {
        if i + 1 < n && list.iter().any(|e| e == STATES_ALL) {
            return Err(at
                .child(&format!("[{i}]"))
                .child("ErrorEquals")
                .invalid("States.ALL must be in the last entry"));
        }
    }
    Ok(())
}

/// The entries of a state's `Retry` or `Catch` array (none when absent): each an object with only
/// `keys`, read by `entry`; `States.ALL` may only be in the last entry's `ErrorEquals`.
fn parse_entries<T>(
    state: &Map<String, Value>,
    field: &str,
    state_at: &At<'_>,
    keys: &[&str],
    entry: impl Fn(&Map<String, Value>, &At<'_>) -> Result<T, AslError>,
    errors: impl Fn(&T) -> &Vec<String>,
) -> Result<Vec<T>, AslError> {
    let at = &state_at.child(field);
    let Some(v) = state.get(field) else {
        return Ok(Vec::new());
    };
    let Value::Array(items) = v else {
        return Err(at.invalid("must be an array"));
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let at = at.child(&format!("[{i}]"));
        let map = as_object(item, &at)?;
        check_keys(map, keys, &at)?;
        out.push(entry(map, &at)?);
    }
    check_all_last(&out.iter().map(errors).collect::<Vec<_>>(), at)?;
    Ok(out)
}

fn parse_retry(state: &Map<String, Value>, state_at: &At<'_>) -> Result<Vec<Retrier>, AslError> {
    let keys = [
        "ErrorEquals",
        "IntervalSeconds",
        "MaxAttempts",
        "BackoffRate",
        "MaxDelaySeconds",
        "JitterStrategy",
        "Comment",
    ];
    let retrier = |map: &Map<String, Value>, at: &At<'_>| {
        let max_attempts = opt_uint(map, "MaxAttempts", 0, at)?.unwrap_or(3);
        let max_attempts = u32::try_from(max_attempts)
            .map_err(|_| at.child("MaxAttempts").invalid("is too large"))?;
        let backoff_rate = match map.get("BackoffRate") {
            None => 2.0,
            Some(v) => match v.as_f64() {
                Some(r) if r >= 1.0 && r.is_finite() => r,
                _ => return Err(at.child("BackoffRate").invalid("must be a number >= 1.0")),
            },
        };
        let full_jitter = match opt_str(map, "JitterStrategy", at)? {
            None | Some("NONE") => false,
            Some("FULL") => true,
            Some(_) => return Err(at.child("JitterStrategy").invalid("must be FULL or NONE")),
        };
        Ok(Retrier {
            errors: error_equals(map, at)?,
            interval_seconds: opt_uint(map, "IntervalSeconds", 0, at)?.unwrap_or(1),
            max_attempts,
            backoff_rate,
            max_delay_seconds: opt_uint(map, "MaxDelaySeconds", 1, at)?,
            full_jitter,
        })
    };
    parse_entries(state, "Retry", state_at, &keys, retrier, |r| &r.errors)
}

fn parse_catch(state: &Map<String, Value>, state_at: &At<'_>) -> Result<Vec<Catcher>, AslError> {
    let keys = ["ErrorEquals", "Next", "ResultPath", "Comment"];
    let catcher = |map: &Map<String, Value>, at: &At<'_>| {
        Ok(Catcher {
            errors: error_equals(map, at)?,
            next: req_str(map, "Next", at)?.to_owned(),
            result_path: result_path(map, at)?,
        })
    };
    parse_entries(state, "Catch", state_at, &keys, catcher, |c| &c.errors)
}

const COMMON: &[&str] = &["Type", "Comment", "InputPath", "OutputPath"];

fn allowed(extra: &[&'static str]) -> Vec<&'static str> {
    COMMON.iter().chain(extra).copied().collect()
}

fn parse_state(name: &str, v: &Value) -> Result<State, AslError> {
    let at = At::state(name, "");
    let map = v
        .as_object()
        .ok_or_else(|| At::state(name, "").invalid("a state must be a JSON object"))?;
    let ty = req_str(map, "Type", &at)?;
    let kind = match ty {
        "Pass" => {
            check_keys(
                map,
                &allowed(&["Parameters", "Result", "ResultPath", "Next", "End"]),
                &at,
            )?;
            Kind::Pass {
                parameters: template(map, "Parameters", &at, false)?,
                result: map.get("Result").cloned(),
                result_path: result_path(map, &at)?,
                next: transition(map, &at)?,
            }
        }
        "Task" => Kind::Task(Box::new(parse_task(map, &at)?)),
        "Choice" => {
            check_keys(map, &allowed(&["Choices", "Default"]), &at)?;
            let here = at.child("Choices");
            let Some(Value::Array(items)) = map.get("Choices") else {
                return Err(here.invalid("is required and must be a non-empty array"));
            };
            if items.is_empty() {
                return Err(here.invalid("must not be empty"));
            }
            let mut choices = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let at = here.child(&format!("[{i}]"));
                let rule_map = as_object(item, &at)?;
                let next = req_str(rule_map, "Next", &at)?.to_owned();
                choices.push((parse_rule(rule_map, true, &at)?, next));
            }
            Kind::Choice {
                choices,
                default: opt_str(map, "Default", &at)?.map(str::to_owned),
            }
        }
        "Wait" => {
            check_keys(
                map,
                &allowed(&[
                    "Seconds",
                    "SecondsPath",
                    "Timestamp",
                    "TimestampPath",
                    "Next",
                    "End",
                ]),
                &at,
            )?;
            let given: Vec<&str> = ["Seconds", "SecondsPath", "Timestamp", "TimestampPath"]
                .into_iter()
                .filter(|k| map.contains_key(*k))
                .collect();
            if given.len() != 1 {
                return Err(at.child("Seconds").invalid(
                    "exactly one of Seconds, SecondsPath, Timestamp, TimestampPath is required",
                ));
            }
            let until = match given[0] {
                "Seconds" => WaitFor::Seconds(opt_uint(map, "Seconds", 0, &at)?.unwrap_or(0)),
                "SecondsPath" => WaitFor::SecondsPath(path_field(
                    req_str(map, "SecondsPath", &at)?,
                    &at.child("SecondsPath"),
                )?),
                "Timestamp" => {
                    let text = req_str(map, "Timestamp", &at)?;
                    let ms = crate::clock::parse_rfc3339_ms(text).ok_or_else(|| {
                        at.child("Timestamp")
                            .invalid("must be an RFC 3339 timestamp")
                    })?;
                    WaitFor::Timestamp(ms)
                }
                _ => WaitFor::TimestampPath(path_field(
                    req_str(map, "TimestampPath", &at)?,
                    &at.child("TimestampPath"),
                )?),
            };
            Kind::Wait {
                until,
                next: transition(map, &at)?,
            }
        }
        "Succeed" => {
            check_keys(map, COMMON, &at)?;
            Kind::Succeed
        }
        "Fail" => {
            // Fail has no InputPath/OutputPath: its output is never used.
            check_keys(map, &["Type", "Comment", "Error", "Cause"], &at)?;
            Kind::Fail {
                error: opt_str(map, "Error", &at)?.map(str::to_owned),
                cause: opt_str(map, "Cause", &at)?.map(str::to_owned),
            }
        }
        "Map" | "Parallel" => {
            return Err(at.child("Type").unsupported(format!("{ty} states")));
        }
        other => {
            return Err(at
                .child("Type")
                .invalid(format!("unknown state type {other:?}")));
        }
    };
    Ok(State {
        kind,
        input_path: io_path(map, "InputPath", &at)?,
        output_path: io_path(map, "OutputPath", &at)?,
    })
}

fn parse_task(map: &Map<String, Value>, at: &At<'_>) -> Result<TaskState, AslError> {
    check_keys(
        map,
        &allowed(&[
            "Resource",
            "Parameters",
            "ResultSelector",
            "ResultPath",
            "TimeoutSeconds",
            "TimeoutSecondsPath",
            "Retry",
            "Catch",
            "Next",
            "End",
        ]),
        at,
    )?;
    let resource = req_str(map, "Resource", at)?;
    if resource.is_empty() {
        return Err(at.child("Resource").invalid("must not be empty"));
    }
    let callback = resource.ends_with(".waitForTaskToken");
    let timeout = match (
        opt_uint(map, "TimeoutSeconds", 1, at)?,
        map.get("TimeoutSecondsPath"),
    ) {
        (Some(_), Some(_)) => {
            return Err(at
                .child("TimeoutSecondsPath")
                .invalid("TimeoutSeconds and TimeoutSecondsPath are exclusive"));
        }
        (Some(s), None) => Some(TaskTimeout::Seconds(s)),
        (None, Some(Value::String(p))) => Some(TaskTimeout::Path(path_field(
            p,
            &at.child("TimeoutSecondsPath"),
        )?)),
        (None, Some(_)) => {
            return Err(at
                .child("TimeoutSecondsPath")
                .invalid("must be a path string"));
        }
        (None, None) => None,
    };
    let retry = parse_retry(map, at)?;
    let catch = parse_catch(map, at)?;
    Ok(TaskState {
        resource: resource.to_owned(),
        callback,
        parameters: template(map, "Parameters", at, callback)?,
        result_selector: template(map, "ResultSelector", at, false)?,
        result_path: result_path(map, at)?,
        timeout,
        retry,
        catch,
        next: transition(map, at)?,
    })
}

const COMPARISONS: &[&str] = &[
    "StringEquals",
    "StringEqualsPath",
    "NumericEquals",
    "NumericLessThan",
    "NumericGreaterThan",
    "NumericLessThanEquals",
    "NumericGreaterThanEquals",
    "BooleanEquals",
    "IsPresent",
    "IsNull",
    "IsString",
    "IsNumeric",
    "IsBoolean",
];

/// Valid ASL comparison operators this interpreter does not implement.
const UNSUPPORTED_COMPARISONS: &[&str] = &[
    "StringLessThan",
    "StringGreaterThan",
    "StringLessThanEquals",
    "StringGreaterThanEquals",
    "StringLessThanPath",
    "StringGreaterThanPath",
    "StringLessThanEqualsPath",
    "StringGreaterThanEqualsPath",
    "StringMatches",
    "NumericEqualsPath",
    "NumericLessThanPath",
    "NumericGreaterThanPath",
    "NumericLessThanEqualsPath",
    "NumericGreaterThanEqualsPath",
    "BooleanEqualsPath",
    "TimestampEquals",
    "TimestampLessThan",
    "TimestampGreaterThan",
    "TimestampLessThanEquals",
    "TimestampGreaterThanEquals",
    "TimestampEqualsPath",
    "TimestampLessThanPath",
    "TimestampGreaterThanPath",
    "TimestampLessThanEqualsPath",
    "TimestampGreaterThanEqualsPath",
    "IsTimestamp",
    "Condition",
];

fn parse_rule(map: &Map<String, Value>, top: bool, at: &At<'_>) -> Result<Rule, AslError> {
    if !top && map.contains_key("Next") {
        return Err(at
            .child("Next")
            .invalid("only top-level choice rules have Next"));
    }
    let extra: &[&str] = if top {
        &["Next", "Comment"]
    } else {
        &["Comment"]
    };
    let ok = |k: &str| extra.contains(&k);
    for combinator in ["And", "Or", "Not"] {
        let Some(v) = map.get(combinator) else {
            continue;
        };
        if let Some(k) = map.keys().find(|k| k.as_str() != combinator && !ok(k)) {
            return Err(at
                .child(k)
                .invalid(format!("not allowed next to {combinator}")));
        }
        let here = at.child(combinator);
        return if combinator == "Not" {
            Ok(Rule::Not(Box::new(parse_rule(
                as_object(v, &here)?,
                false,
                &here,
            )?)))
        } else {
            let Value::Array(items) = v else {
                return Err(here.invalid("must be a non-empty array"));
            };
            if items.is_empty() {
                return Err(here.invalid("must not be empty"));
            }
            let rules = items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let at = here.child(&format!("[{i}]"));
                    parse_rule(as_object(item, &at)?, false, &at)
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(if combinator == "And" {
                Rule::And(rules)
            } else {
                Rule::Or(rules)
            })
        };
    }
    let variable = path_field(req_str(map, "Variable", at)?, &at.child("Variable"))?;
    let mut op = None;
    for (key, value) in map {
        if key == "Variable" || ok(key) {
            continue;
        }
        let here = at.child(key);
        if UNSUPPORTED_COMPARISONS.contains(&key.as_str()) {
            return Err(here.unsupported(format!("choice operator {key}")));
        }
        if !COMPARISONS.contains(&key.as_str()) {
            return Err(here.invalid("unknown field"));
        }
        if op.is_some() {
            return Err(here.invalid("a choice rule has exactly one comparison operator"));
        }
        let boolean = || {
            value
                .as_bool()
                .ok_or_else(|| here.invalid("must be a boolean"))
        };
        let number = || match value {
            Value::Number(n) => Ok(n.clone()),
            _ => Err(here.invalid("must be a number")),
        };
        op = Some(match key.as_str() {
            "StringEquals" => Op::StringEquals(
                value
                    .as_str()
                    .ok_or_else(|| here.invalid("must be a string"))?
                    .to_owned(),
            ),
            "StringEqualsPath" => Op::StringEqualsPath(path_field(
                value
                    .as_str()
                    .ok_or_else(|| here.invalid("must be a path string"))?,
                &here,
            )?),
            "NumericEquals" => Op::Numeric(NumOp::Eq, number()?),
            "NumericLessThan" => Op::Numeric(NumOp::Lt, number()?),
            "NumericGreaterThan" => Op::Numeric(NumOp::Gt, number()?),
            "NumericLessThanEquals" => Op::Numeric(NumOp::Le, number()?),
            "NumericGreaterThanEquals" => Op::Numeric(NumOp::Ge, number()?),
            "BooleanEquals" => Op::BooleanEquals(boolean()?),
            "IsPresent" => Op::IsPresent(boolean()?),
            "IsNull" => Op::IsNull(boolean()?),
            "IsString" => Op::IsString(boolean()?),
            "IsNumeric" => Op::IsNumeric(boolean()?),
            _ => Op::IsBoolean(boolean()?),
        });
    }
    let op =
        op.ok_or_else(|| at.invalid("a choice rule needs a comparison operator (or And/Or/Not)"))?;
    Ok(Rule::Test { variable, op })
}

impl StateMachine {
    /// Parses and validates an Amazon States Language definition (JSON). Anything the
    /// interpreter would not run exactly as AWS does is an error naming the state and field.
    pub fn parse(json: &str) -> Result<Self, AslError> {
        let root: Value = serde_json::from_str(json).map_err(|e| AslError::Json(e.to_string()))?;
        let at = At::top("");
        let map = root
            .as_object()
            .ok_or_else(|| AslError::Json("the definition must be a JSON object".into()))?;
        check_keys(
            map,
            &["StartAt", "States", "Comment", "TimeoutSeconds", "Version"],
            &at,
        )?;
        if let Some(v) = map.get("Version")
            && v != "1.0"
        {
            return Err(At::top("Version").invalid("only \"1.0\" exists"));
        }
        let start_at = req_str(map, "StartAt", &at)?.to_owned();
        let timeout_seconds = opt_uint(map, "TimeoutSeconds", 1, &at)?;
        let comment = opt_str(map, "Comment", &at)?.map(str::to_owned);
        let Some(Value::Object(raw_states)) = map.get("States") else {
            return Err(At::top("States").invalid("is required and must be an object"));
        };
        if raw_states.is_empty() {
            return Err(At::top("States").invalid("must not be empty"));
        }
        let mut states = HashMap::with_capacity(raw_states.len());
        for (name, v) in raw_states {
            if name.is_empty() || name.chars().count() > 80 {
                return Err(At::state(name, "").invalid("state names are 1-80 characters"));
            }
            states.insert(name.clone(), parse_state(name, v)?);
        }
        let machine = StateMachine {
            start_at,
            states,
            timeout_seconds,
            comment,
        };
        machine.check_targets()?;
        Ok(machine)
    }

    /// Every transition must name an existing state.
    fn check_targets(&self) -> Result<(), AslError> {
        if !self.states.contains_key(&self.start_at) {
            return Err(
                At::top("StartAt").invalid(format!("state {:?} does not exist", self.start_at))
            );
        }
        for (name, state) in &self.states {
            let mut targets: Vec<(String, &str)> = Vec::new();
            match &state.kind {
                Kind::Pass {
                    next: Transition::Next(n),
                    ..
                }
                | Kind::Wait {
                    next: Transition::Next(n),
                    ..
                } => {
                    targets.push(("Next".into(), n));
                }
                Kind::Task(t) => {
                    if let Transition::Next(n) = &t.next {
                        targets.push(("Next".into(), n));
                    }
                    for (i, c) in t.catch.iter().enumerate() {
                        targets.push((format!("Catch[{i}].Next"), &c.next));
                    }
                }
                Kind::Choice { choices, default } => {
                    for (i, (_, n)) in choices.iter().enumerate() {
                        targets.push((format!("Choices[{i}].Next"), n));
                    }
                    if let Some(d) = default {
                        targets.push(("Default".into(), d));
                    }
                }
                _ => {}
            }
            for (field, target) in targets {
                if !self.states.contains_key(target) {
                    return Err(
                        At::state(name, &field).invalid(format!("state {target:?} does not exist"))
                    );
                }
            }
        }
        Ok(())
    }

    /// The name of the first state.
    pub fn start_at(&self) -> &str {
        &self.start_at
    }

    /// The execution-level `TimeoutSeconds`, if any.
    pub fn timeout_seconds(&self) -> Option<u64> {
        self.timeout_seconds
    }

    pub fn comment(&self) -> Option<&str> {
        self.comment.as_deref()
    }

    /// Names of all states (in no particular order).
    pub fn state_names(&self) -> impl Iterator<Item = &str> {
        self.states.keys().map(String::as_str)
    }
}
