//! Glue between the ASL interpreter and the handlers: Lambda-invoke tasks run step handlers
//! in-process, the handlers' `SagaCallbacks` port resumes callback tasks and their `SagaStarter`
//! port starts executions of the machine a function names.
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use reserveplace_domain::saga::{SagaCallbacks, SagaError, SagaStart, SagaStarter};
use reserveplace_functions::registry::Handler;
use reserveplace_local_sfn::{Interpreter, SfnError, TaskError, TaskInvoker};
use serde_json::{Value, json};
use tracing::Instrument;

use crate::faults::Faults;
use crate::runtime::LocalFunction;

/// Runs `arn:aws:states:::lambda:invoke[.waitForTaskToken]` tasks like Step Functions does:
/// `Parameters.FunctionName` names the function, `Parameters.Payload` is its event, and the result
/// is `{"Payload": <function output>, "StatusCode": 200}`.
pub struct LambdaInvoker {
    pub functions: Arc<BTreeMap<String, LocalFunction>>,
    /// Function ARN used in the definition → function logical id.
    pub arns: BTreeMap<String, String>,
    pub faults: Arc<Faults>,
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
        let f = self.functions.get(name).ok_or_else(|| TaskError {
            error: "Lambda.ResourceNotFoundException".into(),
            cause: format!("no function {arn}"),
        })?;
        if self.faults.is_down(f.def.context.as_deref()) {
            return Err(TaskError {
                error: "Lambda.ServiceException".into(),
                cause: format!("{name} is down (fault injection)"),
            });
        }
        let Handler::Step(handler) = f.handler else {
            return Err(TaskError {
                error: "Lambda.ResourceNotFoundException".into(),
                cause: format!("{name} is not a saga step"),
            });
        };
        let payload = input.get("Payload").cloned().unwrap_or(Value::Null);
        // The reservation id is the correlation id that follows a reservation through the saga.
        let reservation_id = payload
            .pointer("/detail/reservationId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let span =
            tracing::info_span!("saga_task", function = %name, reservation_id = %reservation_id);
        let fault = self.faults.step_fault(name);
        let injected = |fault: &crate::faults::StepFault| TaskError {
            error: fault.error.clone(),
            cause: format!("{name}: injected {} (fault injection)", fault.error),
        };
        if let Some(fault) = fault.as_ref().filter(|f| !f.after_effect) {
            return Err(injected(fault));
        }
        let result = handler(f.services.clone(), payload).instrument(span).await;
        if let Some(fault) = &fault {
            // The handler's effect is committed; the answer is lost, as in a crash after it.
            return Err(injected(fault));
        }
        match result {
            Ok(out) => {
                Ok(json!({ "Payload": out, "StatusCode": 200, "ExecutedVersion": "$LATEST" }))
            }
            Err(e) => Err(TaskError {
                error: e.error,
                cause: e.cause,
            }),
        }
    }
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
    async fn send_task_success(&self, token: &str, output: Value) -> Result<(), SagaError> {
        self.on_owner(|i| i.send_task_success(token, output.clone()))
            .await
    }

    async fn send_task_failure(
        &self,
        token: &str,
        error: &str,
        cause: &str,
    ) -> Result<(), SagaError> {
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
        let existed = interpreter
            .describe_execution(name)
            .await
            .map_err(map_err)?
            .is_some();
        match interpreter.start_execution(name, input).await {
            Ok(_) if existed => Ok(SagaStart::AlreadyStarted),
            Ok(_) => Ok(SagaStart::Started),
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
