//! Invoking a function of the template, the one way every trigger does it: the HTTP server for a
//! route, the bus for a rule, the saga for a task. Each invocation is checked the same way (the
//! function exists, is of the kind its trigger needs, its context is not down), may get an injected
//! step fault, and runs in a span named after its trigger carrying the reservation it is about.
use std::collections::BTreeMap;
use std::sync::Arc;

use reserveplace_functions::api::{ApiRequest, ApiResponse};
use reserveplace_functions::error::StepError;
use reserveplace_functions::registry::{self, Handler, HttpFn};
use reserveplace_functions::services::Services;
use reserveplace_wiring::FunctionDef;
use serde_json::Value;
use tracing::Instrument;

use crate::faults::Faults;

/// A template function bound to its handler and the services built from its environment.
pub struct LocalFunction {
    pub def: FunctionDef,
    pub handler: Handler,
    pub services: Arc<Services>,
}

/// What triggers a function, and so which kind of handler it must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Http,
    Event,
    Step,
}

impl Kind {
    pub fn of(handler: &Handler) -> Kind {
        match handler {
            Handler::Http(_) => Kind::Http,
            Handler::Event(_) => Kind::Event,
            Handler::Step(_) => Kind::Step,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Kind::Http => "HTTP",
            Kind::Event => "event consumer",
            Kind::Step => "saga step",
        }
    }
}

/// Why an invocation did not produce its function's answer. Each trigger reports it its own way
/// (a problem response, a dead letter, a Lambda error).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InvokeError {
    #[error("no function {0}")]
    NoFunction(String),
    #[error("{function} is not {}", article(*.want))]
    WrongKind { function: String, want: Kind },
    /// Its context is down (fault injection).
    #[error("{function}: the {context} context is down")]
    Down { function: String, context: String },
    /// A step fault injected for this invocation (the handler may have run: see `after_effect`).
    #[error("{function}: injected {error} (fault injection)")]
    Injected { function: String, error: String },
    /// The handler's own error.
    #[error("{0}")]
    Failed(StepError),
}

fn article(kind: Kind) -> &'static str {
    match kind {
        Kind::Http => "an HTTP function",
        Kind::Event => "an event consumer",
        Kind::Step => "a saga step",
    }
}

/// The template's functions, invoked in-process.
pub struct Functions {
    functions: BTreeMap<String, LocalFunction>,
    faults: Arc<Faults>,
}

impl Functions {
    pub fn new(functions: BTreeMap<String, LocalFunction>, faults: Arc<Faults>) -> Self {
        Self { functions, faults }
    }

    pub fn get(&self, name: &str) -> Option<&LocalFunction> {
        self.functions.get(name)
    }

    /// The function `name` if it may run now as a `want`: the checks before every invocation.
    fn ready(&self, name: &str, want: Kind) -> Result<(&str, &LocalFunction), InvokeError> {
        let (name, f) = self
            .functions
            .get_key_value(name)
            .ok_or_else(|| InvokeError::NoFunction(name.to_owned()))?;
        let context = f.def.context.as_deref();
        if self.faults.is_down(context) {
            return Err(InvokeError::Down {
                function: name.to_owned(),
                context: context.unwrap_or("?").to_owned(),
            });
        }
        if Kind::of(&f.handler) != want {
            return Err(InvokeError::WrongKind {
                function: name.to_owned(),
                want,
            });
        }
        Ok((name, f))
    }

    /// The HTTP function of a route, once it may run; [`HttpCall::call`] runs it.
    pub fn http(&self, name: &str) -> Result<HttpCall<'_>, InvokeError> {
        let (function, f) = self.ready(name, Kind::Http)?;
        let Handler::Http(handler) = f.handler else {
            unreachable!("ready() checked the kind");
        };
        Ok(HttpCall {
            function,
            handler,
            services: &f.services,
        })
    }

    /// Delivers an event to the consumer a rule targets.
    pub async fn event(&self, name: &str, envelope: Value) -> Result<(), InvokeError> {
        let (_, f) = self.ready(name, Kind::Event)?;
        let Handler::Event(handler) = f.handler else {
            unreachable!("ready() checked the kind");
        };
        let span = span(Kind::Event, name, &envelope);
        handler(f.services.clone(), envelope)
            .instrument(span)
            .await
            .map_err(InvokeError::Failed)
    }

    /// Runs a saga step, with the step fault injected into it, if any.
    pub async fn step(&self, name: &str, payload: Value) -> Result<Value, InvokeError> {
        let (_, f) = self.ready(name, Kind::Step)?;
        let Handler::Step(handler) = f.handler else {
            unreachable!("ready() checked the kind");
        };
        let span = span(Kind::Step, name, &payload);
        let fault = self.faults.step_fault(name);
        let injected = |error: &str| InvokeError::Injected {
            function: name.to_owned(),
            error: error.to_owned(),
        };
        if let Some(fault) = fault.as_ref().filter(|f| !f.after_effect) {
            return Err(injected(&fault.error));
        }
        let result = handler(f.services.clone(), payload).instrument(span).await;
        if let Some(fault) = &fault {
            // The handler's effect is committed; the answer is lost, as in a crash after it.
            return Err(injected(&fault.error));
        }
        result.map_err(InvokeError::Failed)
    }
}

/// An HTTP function cleared to run.
pub struct HttpCall<'a> {
    function: &'a str,
    handler: HttpFn,
    services: &'a Arc<Services>,
}

impl HttpCall<'_> {
    pub async fn call(self, req: ApiRequest) -> ApiResponse {
        let reservation_id = req.path_params.get("reservationId").cloned();
        let span = span_of(
            Kind::Http,
            self.function,
            reservation_id.as_deref().unwrap_or_default(),
        );
        (self.handler)(self.services.clone(), req)
            .instrument(span)
            .await
    }
}

/// The span of an invocation: the reservation id is the correlation id that follows a reservation
/// through the API, the bus and the saga.
fn span(kind: Kind, function: &str, input: &Value) -> tracing::Span {
    span_of(
        kind,
        function,
        &registry::correlation_id(input).unwrap_or_default(),
    )
}

fn span_of(kind: Kind, function: &str, reservation_id: &str) -> tracing::Span {
    match kind {
        Kind::Http => {
            tracing::info_span!("request", function = %function, reservation_id = %reservation_id)
        }
        Kind::Event => {
            tracing::info_span!("consumer", function = %function, reservation_id = %reservation_id)
        }
        Kind::Step => {
            tracing::info_span!("saga_task", function = %function, reservation_id = %reservation_id)
        }
    }
}
