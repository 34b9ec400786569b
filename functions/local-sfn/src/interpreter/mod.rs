//! The execution engine. Each execution runs as one tokio task, in memory, and writes a
//! checkpoint only at start, on entering a callback task or a Wait state, and at the end.
//! Callback results are recorded on the token item, so they survive a restart as well.
//!
//! This module is the public face (start, describe, callbacks, resume, shutdown); the rest is
//! split by reason to change:
//! * `exec`: one execution's in-memory state and how it is serialized and ended;
//! * `view`: what `describe_execution` shows;
//! * `checkpoint`: durable writes and reads (versioned records, token items, store retries);
//! * `waiters`: waking runners parked on a callback token;
//! * `run`: the state loop of one execution (entering, exiting, quotas, the execution timeout);
//! * `states`: what each state type does (pass, choice, wait, task, callback).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use reserveplace_domain::store::{Query, Table};
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{Instrument, debug, error, info};

use crate::asl::StateMachine;
use crate::clock::now_ms;
use crate::error::{AslError, SfnError, TaskError};
use crate::persist::{
    Cursor, ExecRecord, ExecutionStatus, TokenStatus, running_partition, token_key,
};
use crate::quota::check_payload;

/// Returns `Ok(Err(e))` (the execution fails) from a runner function on a `TaskError`.
/// Defined before the submodules so that they can use it.
macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => return Ok(Err(e)),
        }
    };
}

mod checkpoint;
mod exec;
mod run;
mod states;
mod view;
mod waiters;

use exec::Exec;
pub use view::ExecutionView;
pub use waiters::TokenWaiters;

/// Runs a Task state's resource.
#[async_trait]
pub trait TaskInvoker: Send + Sync {
    /// Run a Task's resource with its effective input (after InputPath/Parameters). For callback
    /// tasks (`.waitForTaskToken`) the token is available as `$$.Task.Token` to Parameters; the
    /// return value is ignored (an `Err` fails the attempt) and the task completes only via
    /// `send_task_success` / `send_task_failure` / its timeout.
    async fn invoke(&self, resource: &str, input: Value) -> Result<Value, TaskError>;
}

/// A task's result, or a callback's.
type Outcome = Result<Value, TaskError>;

/// An execution that runs in this process.
struct Running {
    view: Arc<watch::Sender<ExecutionView>>,
    task: Option<JoinHandle<()>>,
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

/// Runs executions of one state machine.
pub struct Interpreter {
    machine_name: String,
    machine_id: String,
    machine: StateMachine,
    invoker: Arc<dyn TaskInvoker>,
    store: Arc<dyn Table>,
    running: Mutex<HashMap<String, Running>>,
    /// Runners parked on a callback token; possibly shared with other interpreters.
    waiters: Arc<TokenWaiters>,
}

impl Interpreter {
    /// An interpreter with callback waiters of its own: a callback sent through it wakes the
    /// executions it runs. A callback for one of them sent through another interpreter over the
    /// same table is still recorded durably, but the runner sees it only at the task's timeout
    /// or on its next resume; share the waiters ([`Interpreter::with_waiters`]) to avoid that.
    pub async fn new(
        machine_name: &str,
        machine: StateMachine,
        invoker: Arc<dyn TaskInvoker>,
        store: Arc<dyn Table>,
    ) -> Result<Arc<Self>, AslError> {
        Self::with_waiters(machine_name, machine, invoker, store, TokenWaiters::new()).await
    }

    /// An interpreter sharing `waiters` with others. Step Functions' `SendTaskSuccess` names
    /// no state machine, so interpreters over one table that share their waiters wake each
    /// other's runners, whichever of them the callback is sent through.
    pub async fn with_waiters(
        machine_name: &str,
        machine: StateMachine,
        invoker: Arc<dyn TaskInvoker>,
        store: Arc<dyn Table>,
        waiters: Arc<TokenWaiters>,
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
            waiters,
        }))
    }

    pub fn machine_name(&self) -> &str {
        &self.machine_name
    }

    /// The callback waiters of this interpreter, to share with another one
    /// ([`Interpreter::with_waiters`]).
    pub fn waiters(&self) -> &Arc<TokenWaiters> {
        &self.waiters
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
        self.start_execution_once(name, input)
            .await
            .map(|(id, _)| id)
    }

    /// [`Interpreter::start_execution`], also telling whether this call started the execution
    /// (`false`: it existed already with this input), without a read of the store to find out.
    pub async fn start_execution_once(
        self: &Arc<Self>,
        name: &str,
        input: Value,
    ) -> Result<(String, bool), SfnError> {
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
            return self.existing(&id, &exec.input).await.map(|id| (id, false));
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
                Ok((id, true))
            }
            Err(e) => {
                lock(&self.running).remove(&id);
                if e.is_condition_failed() {
                    self.existing(&id, &exec.input).await.map(|id| (id, false))
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
        match self.resolve_pending(token, status, &outcome).await {
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
        self.waiters.wake(token, &outcome);
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
            let Some(cursor) = rec.cursor.clone().map(Cow::into_owned) else {
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
}
