//! The execution engine. Each execution runs as one tokio task, in memory, and writes a
//! checkpoint only at start, on entering a callback task or a Wait state, and at the end.
//! Callback results are recorded on the token item, so they survive a restart as well.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use reserveplace_domain::store::{Cond, Item, Query, StoreError, Table, Write};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tracing::{Instrument, debug, error, info, warn};

use crate::asl::{
    Kind, STATES_TIMEOUT, State, StateMachine, TaskState, TaskTimeout, Transition, WaitFor,
    error_matches,
};
use crate::clock::{format_ms, now_ms, parse_rfc3339_ms, plus_seconds, sleep_until_ms};
use crate::error::{AslError, SfnError, TaskError};
use crate::ops::{
    apply_result_path, random_unit, runtime, select_input, select_output, take_input,
};
use crate::path::Context;
use crate::persist::{
    Cursor, ExecItem, ExecRecord, ExecutionStatus, TokenRecord, TokenStatus, exec_key,
    running_partition, token_key,
};
use crate::quota::{HistoryEvents, check_payload};

/// Runs a Task state's resource.
#[async_trait]
pub trait TaskInvoker: Send + Sync {
    /// Run a Task's resource with its effective input (after InputPath/Parameters). For callback
    /// tasks (`.waitForTaskToken`) the token is available as `$$.Task.Token` to Parameters; the
    /// return value is ignored (an `Err` fails the attempt) and the task completes only via
    /// `send_task_success` / `send_task_failure` / its timeout.
    async fn invoke(&self, resource: &str, input: Value) -> Result<Value, TaskError>;
}

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

impl ExecRecord {
    fn view(&self) -> ExecutionView {
        let running = self.status == ExecutionStatus::Running;
        ExecutionView {
            execution_id: self.execution_id.clone(),
            name: self.name.clone(),
            status: self.status,
            input: self.input.clone(),
            output: match self.status {
                // A stored `null` output reads back as absent.
                ExecutionStatus::Succeeded => Some(self.output.clone().unwrap_or(Value::Null)),
                _ => None,
            },
            error: self.error.clone(),
            cause: self.cause.clone(),
            current_state: if running {
                self.history.last().cloned()
            } else {
                None
            },
            history: self.history.clone(),
            history_events: self.history_events,
            start_time: self.start_time.clone(),
            stop_time: self.stop_time.clone(),
        }
    }
}

type Outcome = Result<Value, TaskError>;

/// An execution that runs in this process.
struct Running {
    view: Arc<watch::Sender<ExecutionView>>,
    task: Option<JoinHandle<()>>,
}

/// The runner gave up: another runner owns the execution, or the store failed. The execution
/// stays RUNNING at its last checkpoint and continues on the next `resume_all`.
struct Stop;

/// How a finished execution ended.
enum Ending {
    Succeeded(Value),
    Failed(TaskError),
    TimedOut,
}

/// Where a state goes next.
enum Flow {
    Next(String, Value),
    Succeed(Value),
}

/// A state's result: a transition, or a failure of the execution.
type Step = Result<Flow, TaskError>;

/// Returns `Ok(Err(e))` (the execution fails) from a runner function on a `TaskError`.
macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => return Ok(Err(e)),
        }
    };
}

/// How the current state is (re)entered.
enum Resume {
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

/// In-memory state of one execution, owned by its runner.
struct Exec {
    id: String,
    name: String,
    input: Value,
    start_ms: i64,
    start_time: String,
    history: Vec<String>,
    events: HistoryEvents,
    /// Version of the stored record this runner wrote last.
    version: u64,
    view: Arc<watch::Sender<ExecutionView>>,
}

/// How an execution ended, as recorded.
struct Closing {
    status: ExecutionStatus,
    output: Option<Value>,
    error: Option<String>,
    cause: Option<String>,
    stop_time: String,
}

impl Closing {
    fn new(ending: Ending, timeout_seconds: Option<u64>) -> Self {
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
    fn new(id: String, name: &str, input: Value, start_ms: i64) -> Self {
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

    fn from_record(rec: ExecRecord) -> Self {
        let view = rec.view();
        Exec {
            id: rec.execution_id,
            name: rec.name,
            input: rec.input,
            start_ms: rec.start_ms,
            start_time: rec.start_time,
            history: rec.history,
            events: HistoryEvents(rec.history_events),
            version: rec.version,
            view: Arc::new(watch::Sender::new(view)),
        }
    }

    /// The next version of the stored record, serialized from the runner's state.
    fn item(
        &self,
        machine: &str,
        cursor: Option<&Cursor>,
        closing: Option<&Closing>,
    ) -> Result<Item, StoreError> {
        ExecItem {
            execution_id: &self.id,
            name: &self.name,
            machine,
            status: closing.map_or(ExecutionStatus::Running, |c| c.status),
            input: &self.input,
            start_ms: self.start_ms,
            start_time: &self.start_time,
            stop_time: closing.map(|c| c.stop_time.as_str()),
            output: closing.and_then(|c| c.output.as_ref()),
            error: closing.and_then(|c| c.error.as_deref()),
            cause: closing.and_then(|c| c.cause.as_deref()),
            cursor,
            history: &self.history,
            history_events: self.events.0,
            version: self.version + 1,
        }
        .to_item()
    }

    fn enter(&mut self, state: &str) -> Result<(), TaskError> {
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
    fn record(&mut self, n: u64) -> Result<(), TaskError> {
        self.events.add(n)?;
        let events = self.events.0;
        self.view.send_modify(|v| v.history_events = events);
        Ok(())
    }

    fn reenter(&mut self, state: &str) {
        debug!(state, "state resumed from checkpoint");
        self.view
            .send_modify(|v| v.current_state = Some(state.to_owned()));
    }
}

/// Callback waiters of every interpreter in this process, by token. Step Functions'
/// `SendTaskSuccess` names no state machine, so a callback sent through any interpreter sharing
/// the table must wake the runner, whichever interpreter runs it. Tokens are random UUIDs. A
/// token has several waiters only when two runners run one execution (a stale one and a resumed
/// one); both are woken and the version check on the record lets one of them continue.
static WAITERS: LazyLock<Mutex<HashMap<String, Vec<Waiter>>>> = LazyLock::new(Mutex::default);
static NEXT_WAITER: AtomicU64 = AtomicU64::new(0);

struct Waiter {
    id: u64,
    tx: oneshot::Sender<Outcome>,
}

/// Registers the waiter of one callback attempt and removes it when the attempt ends, however
/// it ends (including an aborted runner).
struct WaiterGuard {
    id: u64,
    token: String,
}

impl WaiterGuard {
    fn register(token: &str) -> (Self, oneshot::Receiver<Outcome>) {
        let (tx, rx) = oneshot::channel();
        let id = NEXT_WAITER.fetch_add(1, AtomicOrdering::Relaxed);
        lock(&WAITERS)
            .entry(token.to_owned())
            .or_default()
            .push(Waiter { id, tx });
        (
            WaiterGuard {
                id,
                token: token.to_owned(),
            },
            rx,
        )
    }

    /// Wakes every runner waiting on `token`.
    fn wake(token: &str, outcome: &Outcome) {
        let waiters = lock(&WAITERS).remove(token).unwrap_or_default();
        for waiter in waiters {
            let _ = waiter.tx.send(outcome.clone());
        }
    }
}

impl Drop for WaiterGuard {
    fn drop(&mut self) {
        let mut waiters = lock(&WAITERS);
        if let Some(list) = waiters.get_mut(&self.token) {
            list.retain(|w| w.id != self.id);
            if list.is_empty() {
                waiters.remove(&self.token);
            }
        }
    }
}

/// Poisoning only means another thread panicked while holding the lock; the maps stay usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Step Functions' name rules: 1-80 characters, no whitespace, brackets, wildcards or the
/// characters that would break an ARN or a URL.
fn valid_name(name: &str) -> bool {
    const FORBIDDEN: &str = "<>{}[]?*\"#%\\^|~`$&,;:/";
    !name.is_empty()
        && name.chars().count() <= 80
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || FORBIDDEN.contains(c))
}

/// Transient store failures are retried this many times before the runner gives up.
const STORE_RETRIES: u32 = 4;

/// Runs executions of one state machine.
pub struct Interpreter {
    machine_name: String,
    machine_id: String,
    machine: StateMachine,
    invoker: Arc<dyn TaskInvoker>,
    store: Arc<dyn Table>,
    running: Mutex<HashMap<String, Running>>,
}

impl Interpreter {
    pub async fn new(
        machine_name: &str,
        machine: StateMachine,
        invoker: Arc<dyn TaskInvoker>,
        store: Arc<dyn Table>,
    ) -> Result<Arc<Self>, AslError> {
        if !valid_name(machine_name) {
            return Err(AslError::InvalidMachineName(machine_name.to_owned()));
        }
        Ok(Arc::new(Self {
            machine_name: machine_name.to_owned(),
            machine_id: format!("arn:aws:states:local:000000000000:stateMachine:{machine_name}"),
            machine,
            invoker,
            store,
            running: Mutex::new(HashMap::new()),
        }))
    }

    pub fn machine_name(&self) -> &str {
        &self.machine_name
    }

    /// The execution id (an ARN, as in Step Functions) of the execution with this name.
    pub fn execution_id(&self, name: &str) -> String {
        format!(
            "arn:aws:states:local:000000000000:execution:{}:{name}",
            self.machine_name
        )
    }

    fn resolve_id(&self, id_or_name: &str) -> String {
        if id_or_name.starts_with("arn:") {
            id_or_name.to_owned()
        } else {
            self.execution_id(id_or_name)
        }
    }

    /// Starts an execution; idempotent by name. A second start with the same name and input
    /// returns the existing id and starts nothing (whatever that execution's status); with a
    /// different input it fails with `ExecutionAlreadyExists`. Returns once the execution is
    /// durably recorded; it then runs in the background.
    pub async fn start_execution(
        self: &Arc<Self>,
        name: &str,
        input: Value,
    ) -> Result<String, SfnError> {
        if !valid_name(name) {
            return Err(SfnError::InvalidName(name.to_owned()));
        }
        if let Err(e) = check_payload(&input, || "the execution input".to_owned()) {
            return Err(SfnError::InvalidExecutionInput(e.cause));
        }
        let id = self.execution_id(name);
        let mut exec = Exec::new(id.clone(), name, input, now_ms());
        // Claim the id in memory before writing, so a concurrent resume_all cannot run it twice.
        let claimed = {
            let mut running = lock(&self.running);
            let free = !running.contains_key(&id);
            if free {
                let view = Arc::clone(&exec.view);
                running.insert(id.clone(), Running { view, task: None });
            }
            free
        };
        if !claimed {
            return self.existing(&id, &exec.input).await;
        }
        let cursor = Cursor::Enter {
            state: self.machine.start_at.clone(),
            input: exec.input.clone(),
        };
        match self.put_record(&exec, Some(&cursor), None, &[]).await {
            Ok(()) => {
                exec.version += 1;
                debug!(execution = name, machine = %self.machine_name, "execution started");
                self.spawn(exec, cursor);
                Ok(id)
            }
            Err(e) => {
                lock(&self.running).remove(&id);
                if e.is_condition_failed() {
                    self.existing(&id, &exec.input).await
                } else {
                    Err(e.into())
                }
            }
        }
    }

    /// A start that found the name taken: same input → the existing id, else an error.
    async fn existing(&self, id: &str, input: &Value) -> Result<String, SfnError> {
        match self.describe_execution(id).await? {
            Some(view) if &view.input == input => Ok(id.to_owned()),
            _ => Err(SfnError::ExecutionAlreadyExists(id.to_owned())),
        }
    }

    /// Completes the callback task of `token` with `output`. `TaskDoesNotExist` if the token was
    /// never issued, `TaskTimedOut` if its task already finished (timed out, failed, completed).
    pub async fn send_task_success(&self, token: &str, output: Value) -> Result<(), SfnError> {
        self.complete(token, TokenStatus::Succeeded, Ok(output))
            .await
    }

    /// Fails the callback task of `token`; Retry and Catch apply to `error`.
    pub async fn send_task_failure(
        &self,
        token: &str,
        error: &str,
        cause: &str,
    ) -> Result<(), SfnError> {
        self.complete(
            token,
            TokenStatus::Failed,
            Err(TaskError::new(error, cause)),
        )
        .await
    }

    async fn complete(
        &self,
        token: &str,
        status: TokenStatus,
        outcome: Outcome,
    ) -> Result<(), SfnError> {
        if token.is_empty() {
            return Err(SfnError::TaskDoesNotExist);
        }
        // The durable write decides: it succeeds only while the token is PENDING.
        match self
            .transact(|| Ok(vec![TokenRecord::resolve(token, status, &outcome)]))
            .await
        {
            Ok(()) => {}
            Err(e) if e.is_condition_failed() => {
                return Err(match self.store.get(&token_key(token)).await? {
                    None => SfnError::TaskDoesNotExist,
                    Some(_) => SfnError::TaskTimedOut,
                });
            }
            Err(e) => return Err(e.into()),
        }
        // If the execution runs here, wake it; otherwise the next resume reads the token item.
        WaiterGuard::wake(token, &outcome);
        Ok(())
    }

    /// The execution with this id (ARN) or name: live state if it runs in this process,
    /// else its last stored checkpoint.
    pub async fn describe_execution(
        &self,
        id_or_name: &str,
    ) -> Result<Option<ExecutionView>, SfnError> {
        let id = self.resolve_id(id_or_name);
        let live = lock(&self.running)
            .get(&id)
            .map(|r| r.view.borrow().clone());
        if live.is_some() {
            return Ok(live);
        }
        Ok(self.load(&id).await?.map(|r| r.view()))
    }

    /// Waits until the execution ends if it runs in this process; otherwise (or if its runner
    /// stopped) returns its stored view at once, which may still be RUNNING.
    pub async fn wait_for_completion(
        &self,
        id_or_name: &str,
    ) -> Result<Option<ExecutionView>, SfnError> {
        let id = self.resolve_id(id_or_name);
        let rx = lock(&self.running).get(&id).map(|r| r.view.subscribe());
        if let Some(mut rx) = rx {
            loop {
                {
                    let view = rx.borrow_and_update();
                    if view.status != ExecutionStatus::Running {
                        return Ok(Some(view.clone()));
                    }
                }
                if rx.changed().await.is_err() {
                    break;
                }
            }
        }
        Ok(self.load(&id).await?.map(|r| r.view()))
    }

    /// Live updates of an execution running in this process (None if it does not run here).
    pub fn subscribe(&self, id_or_name: &str) -> Option<watch::Receiver<ExecutionView>> {
        lock(&self.running)
            .get(&self.resolve_id(id_or_name))
            .map(|r| r.view.subscribe())
    }

    /// How many executions run in this process.
    pub fn running_count(&self) -> usize {
        lock(&self.running).len()
    }

    /// After a restart: continues every RUNNING execution of this machine from its last
    /// checkpoint (timers re-armed, past deadlines fire at once). Executions already running in
    /// this process are skipped. Returns how many were resumed.
    pub async fn resume_all(self: &Arc<Self>) -> Result<usize, SfnError> {
        let query = Query {
            partition: running_partition(&self.machine_name),
            index: true,
            ..Query::default()
        };
        let mut resumed = 0;
        for item in self.store.query(&query).await? {
            let rec = match ExecRecord::from_item(item) {
                Ok(rec) => rec,
                Err(e) => {
                    error!(error = %e, "cannot resume an unreadable execution record");
                    continue;
                }
            };
            if rec.status != ExecutionStatus::Running || rec.machine != self.machine_name {
                continue;
            }
            let Some(cursor) = rec.cursor.clone() else {
                error!(execution = %rec.name, "RUNNING execution without a checkpoint cursor");
                continue;
            };
            let exec = Exec::from_record(rec);
            {
                let mut running = lock(&self.running);
                if running.contains_key(&exec.id) {
                    continue;
                }
                running.insert(
                    exec.id.clone(),
                    Running {
                        view: Arc::clone(&exec.view),
                        task: None,
                    },
                );
            }
            info!(execution = %exec.name, machine = %self.machine_name, "execution resumed");
            self.spawn(exec, cursor);
            resumed += 1;
        }
        Ok(resumed)
    }

    /// Stops every execution running in this process without recording anything, as a crash
    /// or process exit would, and waits until they are stopped (no write of theirs can land
    /// afterwards). A later `resume_all`, here or in another process, continues them.
    pub async fn shutdown(&self) {
        let tasks: Vec<JoinHandle<()>> = lock(&self.running)
            .drain()
            .filter_map(|(_, r)| r.task)
            .collect();
        for task in &tasks {
            task.abort();
        }
        for task in tasks {
            let _ = task.await;
        }
    }

    fn spawn(self: &Arc<Self>, exec: Exec, cursor: Cursor) {
        let span = tracing::info_span!(
            "sfn_execution",
            machine = %self.machine_name,
            execution = %exec.name
        );
        let id = exec.id.clone();
        // Spawning under the lock makes the handle visible before the task can remove itself.
        let mut running = lock(&self.running);
        let task = tokio::spawn(Arc::clone(self).drive(exec, cursor).instrument(span));
        if let Some(r) = running.get_mut(&id) {
            r.task = Some(task);
        }
    }

    async fn load(&self, id: &str) -> Result<Option<ExecRecord>, SfnError> {
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
    async fn put_record(
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
    async fn write_record(
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

    async fn drive(self: Arc<Self>, mut exec: Exec, cursor: Cursor) {
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
        if let Some(Cursor::Callback { token, .. }) = rec.cursor {
            let timeout = Err(TaskError::new(STATES_TIMEOUT, "the execution timed out"));
            // Losing this race to a callback is fine: the execution ends anyway.
            let close = || {
                Ok(vec![TokenRecord::resolve(
                    &token,
                    TokenStatus::TimedOut,
                    &timeout,
                )])
            };
            let _ = self.transact(close).await;
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
        let exec_events = exec.events.0;
        exec.view.send_modify(|v| {
            v.status = closing.status;
            v.output = closing.output;
            v.error = closing.error;
            v.cause = closing.cause;
            v.current_state = None;
            v.history_events = exec_events;
            v.stop_time = Some(closing.stop_time);
        });
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
                } => (|| {
                    let eff = select_input(&state.input_path, &input)?;
                    let value = match (result, parameters) {
                        (Some(r), _) => r.clone(),
                        (None, Some(t)) => {
                            let entered = format_ms(entered_ms);
                            let ctx = self.context(exec, &name, &entered, 0, None);
                            t.eval(&eff, &ctx).map_err(runtime)?
                        }
                        (None, None) => eff.into_owned(),
                    };
                    let out = apply_result_path(result_path, input, value)?;
                    Ok(go(next, select_output(&state.output_path, out)?))
                })(),
                Kind::Task(task) => {
                    self.run_task(exec, &name, state, task, input, entered_ms, resume_now)
                        .await?
                }
                Kind::Choice { choices, default } => (|| {
                    let eff = select_input(&state.input_path, &input)?;
                    let mut target = None;
                    for (rule, next) in choices {
                        if rule.eval(&eff).map_err(runtime)? {
                            target = Some(next);
                            break;
                        }
                    }
                    let target = target.or(default.as_ref()).ok_or_else(|| {
                        TaskError::new(
                            "States.NoChoiceMatched",
                            format!("no choice rule of {name:?} matched and there is no Default"),
                        )
                    })?;
                    let eff = take_input(&state.input_path, input)?;
                    Ok(Flow::Next(
                        target.clone(),
                        select_output(&state.output_path, eff)?,
                    ))
                })(),
                Kind::Wait { until, next } => {
                    self.run_wait(
                        exec, &name, state, until, next, input, entered_ms, resume_now,
                    )
                    .await?
                }
                Kind::Succeed => take_input(&state.input_path, input)
                    .and_then(|eff| select_output(&state.output_path, eff))
                    .map(Flow::Succeed),
                Kind::Fail { error, cause } => Err(TaskError::new(
                    error.clone().unwrap_or_default(),
                    cause.clone().unwrap_or_default(),
                )),
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

    fn context<'a>(
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

    #[allow(clippy::too_many_arguments)]
    async fn run_wait(
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

    #[allow(clippy::too_many_arguments)]
    async fn run_task(
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
            let timeout = match &task.timeout {
                None => None,
                Some(TaskTimeout::Seconds(s)) => Some(*s),
                Some(TaskTimeout::Path(p)) => Some(tri!(
                    p.get(&eff)
                        .and_then(Value::as_u64)
                        .filter(|s| *s > 0)
                        .ok_or_else(|| runtime(format!(
                            "TimeoutSecondsPath {p} does not select a positive integer"
                        )))
                )),
            };
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
                let call = self.invoker.invoke(&task.resource, params);
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

    /// One attempt of a callback task. A fresh attempt is checkpointed (execution record + PENDING
    /// token, atomically) before the resource is invoked, so a fast callback always finds it.
    /// A resumed attempt first checks whether the callback arrived while no runner was waiting,
    /// and otherwise re-invokes the resource with the same token (at-least-once, as for every
    /// step after the last checkpoint).
    async fn callback(
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
        let (_guard, mut rx) = WaiterGuard::register(&token);
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

    /// Moves the token out of PENDING with `proposed`; if a callback got there first, its
    /// recorded outcome wins.
    async fn resolve_token(
        &self,
        token: &str,
        status: TokenStatus,
        proposed: Outcome,
    ) -> Result<Outcome, Stop> {
        match self
            .transact(|| Ok(vec![TokenRecord::resolve(token, status, &proposed)]))
            .await
        {
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

    async fn read_token(&self, token: &str) -> Result<Option<TokenRecord>, Stop> {
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

fn go(next: &Transition, output: Value) -> Flow {
    match next {
        Transition::Next(n) => Flow::Next(n.clone(), output),
        Transition::End => Flow::Succeed(output),
    }
}

fn task_input(task: &TaskState, eff: &Value, ctx: &Context<'_>) -> Result<Value, TaskError> {
    match &task.parameters {
        Some(t) => t.eval(eff, ctx).map_err(runtime),
        None => Ok(eff.clone()),
    }
}

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
