//! Glue between the ASL interpreter and the handlers: Lambda-invoke tasks run step handlers
//! in-process, the handlers' `SagaCallbacks` port resumes callback tasks and their `SagaStarter`
//! port starts executions of the machine a function names.
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use reserveplace_domain::saga::{SagaCallbacks, SagaError, SagaResult, SagaStart, SagaStarter};
use reserveplace_local_sfn::{Interpreter, SfnError, TaskError, TaskInvoker};
use serde_json::{Value, json};

use crate::invoke::{Functions, InvokeError};

/// Runs `arn:aws:states:::lambda:invoke[.waitForTaskToken]` tasks like Step Functions does:
/// `Parameters.FunctionName` names the function, `Parameters.Payload` is its event, and the result
/// is `{"Payload": <function output>, "StatusCode": 200}`.
pub struct LambdaInvoker {
    pub functions: Arc<Functions>,
    /// Function ARN used in the definition → function logical id.
    pub arns: BTreeMap<String, String>,
}

#[async_trait]
impl TaskInvoker for LambdaInvoker {
    async fn invoke(&self, resource: &str, input: Value) -> Result<Value, TaskError> {
        let base = resource.trim_end_matches(".waitForTaskToken");
        if base != "arn:aws:states:::lambda:invoke" {
            return Err(TaskError {
                error: "States.Runtime".into(),
                cause: format!("unsupported resource {resource}"),
            });
        }
        let arn = input
            .get("FunctionName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let name = self.arns.get(arn).map(String::as_str).unwrap_or(arn);
        let payload = input.get("Payload").cloned().unwrap_or(Value::Null);
        match self.functions.step(name, payload).await {
            Ok(out) => {
                Ok(json!({ "Payload": out, "StatusCode": 200, "ExecutedVersion": "$LATEST" }))
            }
            Err(e) => Err(lambda_error(arn, e)),
        }
    }
}

/// An invocation's failure as the Lambda error Step Functions would see.
fn lambda_error(arn: &str, e: InvokeError) -> TaskError {
    let (error, cause) = match e {
        InvokeError::NoFunction(_) => (
            "Lambda.ResourceNotFoundException".to_owned(),
            format!("no function {arn}"),
        ),
        e @ InvokeError::WrongKind { .. } => {
            ("Lambda.ResourceNotFoundException".to_owned(), e.to_string())
        }
        InvokeError::Down { function, .. } => (
            "Lambda.ServiceException".to_owned(),
            format!("{function} is down (fault injection)"),
        ),
        InvokeError::Injected { ref error, .. } => (error.clone(), e.to_string()),
        InvokeError::Failed(e) => (e.error_type().to_owned(), e.cause().to_owned()),
    };
    TaskError { error, cause }
}

/// The template's state machines by logical id. The handlers are built before the machines (the
/// machines invoke them), so their saga ports bind to this set once it exists.
#[derive(Default)]
pub struct Machines(OnceLock<BTreeMap<String, Arc<Interpreter>>>);

impl Machines {
    pub fn bind(&self, interpreters: BTreeMap<String, Arc<Interpreter>>) {
        let _ = self.0.set(interpreters);
    }

    fn all(&self) -> Result<&BTreeMap<String, Arc<Interpreter>>, SagaError> {
        self.0
            .get()
            .ok_or_else(|| SagaError::Unavailable("saga engine starting".into()))
    }

    /// The machines by logical id, once bound.
    pub fn interpreters(&self) -> impl Iterator<Item = (&String, &Arc<Interpreter>)> {
        self.0.get().into_iter().flatten()
    }

    /// Starts an execution of `machine`, the state machine a rule targets (idempotent by name).
    pub async fn start_execution(
        &self,
        machine: &str,
        name: &str,
        input: Value,
    ) -> Result<(), String> {
        let interp = self
            .all()
            .map_err(|e| e.to_string())?
            .get(machine)
            .ok_or_else(|| format!("no state machine {machine}"))?;
        interp
            .start_execution(name, input)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// The execution `name` of whichever machine has one.
    pub async fn describe_execution(&self, name: &str) -> Result<Option<Value>, String> {
        for interp in self.0.get().into_iter().flat_map(BTreeMap::values) {
            if let Some(view) = interp
                .describe_execution(name)
                .await
                .map_err(|e| e.to_string())?
            {
                return serde_json::to_value(view)
                    .map(Some)
                    .map_err(|e| e.to_string());
            }
        }
        Ok(None)
    }

    /// The machine `reference` names: what `!Ref` of it resolves to locally (its logical id), or
    /// its state machine ARN (`arn:aws:states:…:stateMachine:<id>`).
    fn named(&self, reference: &str) -> Result<&Arc<Interpreter>, SagaError> {
        let id = reference
            .rsplit_once(":stateMachine:")
            .map_or(reference, |(_, id)| id);
        self.all()?.get(id).ok_or_else(|| {
            SagaError::Unavailable(format!("no state machine {reference} in the template"))
        })
    }
}

/// The handlers' callback port. A token belongs to the machine whose execution issued it; each
/// machine stores its own tokens, so the one that knows the token resumes it.
pub struct LocalCallbacks {
    pub machines: Arc<Machines>,
}

fn map_err(e: SfnError) -> SagaError {
    match e {
        e @ (SfnError::TaskDoesNotExist | SfnError::TaskTimedOut) => {
            SagaError::TaskGone(e.to_string())
        }
        other => SagaError::Unavailable(other.to_string()),
    }
}

impl LocalCallbacks {
    /// Runs `complete` on the machine that issued `token`; `TaskDoesNotExist` if none did.
    async fn on_owner<'a, F, Fut>(&'a self, complete: F) -> Result<(), SagaError>
    where
        F: Fn(&'a Arc<Interpreter>) -> Fut,
        Fut: std::future::Future<Output = Result<(), SfnError>> + 'a,
    {
        for interpreter in self.machines.all()?.values() {
            match complete(interpreter).await {
                Err(SfnError::TaskDoesNotExist) => continue,
                other => return other.map_err(map_err),
            }
        }
        Err(map_err(SfnError::TaskDoesNotExist))
    }
}

#[async_trait]
impl SagaCallbacks for LocalCallbacks {
    async fn send_task_success(&self, token: &str, output: Value) -> SagaResult {
        self.on_owner(|i| i.send_task_success(token, output.clone()))
            .await
    }

    async fn send_task_failure(&self, token: &str, error: &str, cause: &str) -> SagaResult {
        self.on_owner(|i| i.send_task_failure(token, error, cause))
            .await
    }
}

/// The saga starter port on the local interpreter: starts the machine the function's
/// `SAGA_STATE_MACHINE_ARN` names, idempotent by name as on Step Functions.
pub struct LocalStarter {
    pub machines: Arc<Machines>,
    pub machine: String,
}

#[async_trait]
impl SagaStarter for LocalStarter {
    async fn start_execution(&self, name: &str, input: Value) -> Result<SagaStart, SagaError> {
        let interpreter = self.machines.named(&self.machine)?;
        match interpreter.start_execution_once(name, input).await {
            Ok((_, true)) => Ok(SagaStart::Started),
            Ok((_, false)) => Ok(SagaStart::AlreadyStarted),
            // Another input under this name: the same event published again (see the AWS adapter).
            Err(SfnError::ExecutionAlreadyExists(_)) => Ok(SagaStart::AlreadyStarted),
            Err(e) => Err(map_err(e)),
        }
    }
}

#[cfg(test)]
mod contract {
    //! The saga callback port's contract suite (`reserveplace_contract::saga`) against the local
    //! interpreter; the same suite runs against Step Functions in `functions/aws/tests`.
    use super::*;
    use reserveplace_contract::saga::SagaFixture;
    use reserveplace_local_sfn::StateMachine;

    struct NoTasks;

    #[async_trait]
    impl TaskInvoker for NoTasks {
        async fn invoke(&self, _: &str, _: Value) -> Result<Value, TaskError> {
            Ok(Value::Null)
        }
    }

    struct Local {
        callbacks: LocalCallbacks,
        _db: Arc<reserveplace_local_store::Database>,
        dir: std::path::PathBuf,
    }

    impl Drop for Local {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    impl SagaFixture for Local {
        fn callbacks(&self) -> &dyn SagaCallbacks {
            &self.callbacks
        }
        fn unknown_token(&self) -> String {
            "AQCEAAAAKgAAAAMAAAAAAAAAAbNoExecutionWaitsOnThisToken".into()
        }
    }

    async fn fixture() -> Local {
        let dir = std::env::temp_dir().join(format!("rp-saga-contract-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        let db = reserveplace_local_store::Database::open(&dir.join("s.db")).expect("store");
        let machine =
            StateMachine::parse(r#"{"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}"#)
                .expect("machine");
        let interpreter = Interpreter::new("Contract", machine, Arc::new(NoTasks), db.table("sfn"))
            .await
            .expect("interpreter");
        let callbacks = LocalCallbacks {
            machines: Arc::new(Machines::default()),
        };
        callbacks
            .machines
            .bind(BTreeMap::from([("Contract".to_owned(), interpreter)]));
        Local {
            callbacks,
            _db: db,
            dir,
        }
    }

    reserveplace_contract::saga_contract!(fixture());
}
