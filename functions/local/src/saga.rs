//! Glue between the ASL interpreter and the handlers: Lambda-invoke tasks run step handlers
//! in-process, and the handlers' `SagaCallbacks` port resumes callback tasks.
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use reserveplace_domain::saga::{SagaCallbacks, SagaError};
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
        match handler(f.services.clone(), payload).instrument(span).await {
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

/// The handlers' view of the saga engine; bound to the interpreter once it exists.
#[derive(Default)]
pub struct LocalCallbacks {
    pub interpreter: OnceLock<Arc<Interpreter>>,
}

impl LocalCallbacks {
    fn bound(&self) -> Result<&Arc<Interpreter>, SagaError> {
        self.interpreter
            .get()
            .ok_or_else(|| SagaError::Unavailable("saga engine starting".into()))
    }
}

fn map_err(e: SfnError) -> SagaError {
    match e {
        e @ (SfnError::TaskDoesNotExist | SfnError::TaskTimedOut) => {
            SagaError::TaskGone(e.to_string())
        }
        other => SagaError::Unavailable(other.to_string()),
    }
}

#[async_trait]
impl SagaCallbacks for LocalCallbacks {
    async fn send_task_success(&self, token: &str, output: Value) -> Result<(), SagaError> {
        let i = self.bound()?;
        i.send_task_success(token, output).await.map_err(map_err)
    }

    async fn send_task_failure(
        &self,
        token: &str,
        error: &str,
        cause: &str,
    ) -> Result<(), SagaError> {
        let i = self.bound()?;
        i.send_task_failure(token, error, cause)
            .await
            .map_err(map_err)
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
            interpreter: OnceLock::new(),
        };
        let _ = callbacks.interpreter.set(interpreter);
        Local {
            callbacks,
            _db: db,
            dir,
        }
    }

    reserveplace_contract::saga_contract!(fixture());
}
