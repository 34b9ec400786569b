//! The Lambda side of every function: ONE bootstrap (`src/main.rs`, the template's shared
//! `Metadata.BuildProperties.Binary`) runs every handler. Lambda passes a custom runtime its
//! function's `Handler` as `_HANDLER`, and the bootstrap dispatches on it; one build serves all the
//! functions, instead of a full link of every handler per function.
//!
//! At init it only reads the environment (a variable the handler needs that is missing or
//! malformed fails init, naming it) and builds the AWS clients once; every invocation then goes
//! through the same handler function the local runtime calls in-process.
mod adapters;
mod drift_tests;
pub mod http;
mod invoke;
pub mod queue;
mod stripe;

pub use adapters::aws_adapters;
pub use invoke::{correlation_id, step_error_diagnostic};

use std::collections::BTreeMap;
use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use reserveplace_functions::error::{StepError, StepResult};
use reserveplace_functions::registry::{self, Handler};
use reserveplace_functions::services::{Config, Services};
use serde_json::Value;
use tracing::Instrument;

/// The handler that relays the tables' outbox items to EventBridge (AWS only: the local runtime
/// relays its own outbox).
pub const OUTBOX_RELAY: &str = "outbox-relay";

/// What Lambda sets to the function's `Handler` for a custom runtime.
pub const HANDLER_VAR: &str = "_HANDLER";

/// Every handler name the bootstrap runs: the registry's and the outbox relay.
pub fn handler_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = registry::all().into_iter().map(|(n, _)| n).collect();
    names.push(OUTBOX_RELAY);
    names.sort_unstable();
    names
}

/// The function `_HANDLER` names, or why it names none (init then fails with that message).
fn select(handler: Option<&str>) -> Result<(&'static str, Option<Handler>), String> {
    let known = || handler_names().join(", ");
    let name = match handler.map(str::trim) {
        None | Some("") => {
            return Err(format!(
                "{HANDLER_VAR} is not set: the function's Handler must name the handler to run (one of: {})",
                known()
            ));
        }
        Some(name) => name,
    };
    if name == OUTBOX_RELAY {
        return Ok((OUTBOX_RELAY, None));
    }
    registry::all()
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(n, h)| (n, Some(h)))
        .ok_or_else(|| {
            format!(
                "{HANDLER_VAR}={name:?} names no handler of this bootstrap (one of: {})",
                known()
            )
        })
}

/// JSON logs at the level of `RUST_LOG` (the template's `LogLevel`: a level, or `target=level`
/// directives); Lambda adds the timestamp. A `Targets` filter rather than `EnvFilter`: the template
/// never filters on spans or fields, and without them the bootstrap carries no regex engine.
fn init_tracing() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{Layer, filter::Targets};
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO));
    let json = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .without_time()
        .with_target(false);
    let _ = tracing_subscriber::registry()
        .with(json.with_filter(filter))
        .try_init();
}

/// The configuration of the handler `name`: the variables its registry row lists, and the
/// tunables, all checked.
fn configure(name: &str, env: &BTreeMap<String, String>) -> Result<Config, String> {
    let uses = registry::uses(name).unwrap_or_default();
    Config::from_env(env, uses).map_err(|e| format!("{name}: {e}"))
}

/// The entry point of the bootstrap: runs the handler `_HANDLER` names. An unknown or missing
/// name, or a variable the handler needs missing or malformed, fails init (before any client is
/// built), with a message naming it.
pub fn main() -> Result<(), Error> {
    init_tracing();
    let env: BTreeMap<String, String> = std::env::vars().collect();
    let init = select(env.get(HANDLER_VAR).map(String::as_str)).and_then(|(name, handler)| {
        let config = handler
            .map(|h| configure(name, &env).map(|c| (h, c)))
            .transpose()?;
        Ok((name, config))
    });
    let (name, handler) = init.inspect_err(|e| {
        tracing::error!(error = %e, "init failed");
    })?;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(serve(name, handler, env))
}

async fn serve(
    name: &'static str,
    handler: Option<(Handler, Config)>,
    env: BTreeMap<String, String>,
) -> Result<(), Error> {
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let Some((handler, config)) = handler else {
        let bus_name = env
            .get("EVENT_BUS_NAME")
            .ok_or("EVENT_BUS_NAME is not set")?
            .clone();
        let bus = Arc::new(reserveplace_aws::EventBridgeBus::new(
            reserveplace_aws::eventbridge::Client::new(&sdk),
            bus_name,
        ));
        return lambda_runtime::run(service_fn(
            move |e: LambdaEvent<aws_lambda_events::event::dynamodb::Event>| {
                let bus = bus.clone();
                // A permanent refusal fails the invocation as `ReservePlace.Misconfigured`.
                async move {
                    reserveplace_aws::relay::relay(&bus, e.payload)
                        .await
                        .map_err(|e| step_error_diagnostic(StepError::misconfigured(e.to_string())))
                }
            },
        ))
        .await;
    };
    let services = Arc::new(Services::new(&config, &aws_adapters(&sdk, &env)));
    match handler {
        Handler::Http(f) => {
            lambda_http::run(lambda_http::service_fn(move |req: lambda_http::Request| {
                let services = services.clone();
                async move {
                    let req = http::api_request(req);
                    let span = tracing::info_span!(
                        "request",
                        function = name,
                        reservation_id = req.path_params.get("reservationId").map(String::as_str)
                    );
                    let resp = f(services, req).instrument(span).await;
                    Ok::<_, Error>(http::lambda_response(resp))
                }
            }))
            .await
        }
        Handler::Event(f) => {
            let client = reserveplace_aws::sqs::Client::new(&sdk);
            queue::serve(services, name, f, client).await
        }
        Handler::Step(f) => {
            let span = |name, p: &Value| {
                tracing::info_span!("step", function = name, reservation_id = correlation_id(p))
            };
            run_json(services, name, span, f).await
        }
    }
}

/// The Lambda loop of an event or a step handler: JSON in, JSON or a step error (as the
/// diagnostic Step Functions matches) out, each invocation inside its `span`.
async fn run_json<F, Fut>(
    services: Arc<Services>,
    name: &'static str,
    span: fn(&'static str, &Value) -> tracing::Span,
    f: F,
) -> Result<(), Error>
where
    F: Fn(Arc<Services>, Value) -> Fut + Copy + Send + Sync + 'static,
    Fut: std::future::Future<Output = StepResult<Value>> + Send,
{
    lambda_runtime::run(service_fn(move |e: LambdaEvent<Value>| {
        let services = services.clone();
        async move {
            let span = span(name, &e.payload);
            f(services, e.payload)
                .instrument(span)
                .await
                .map_err(step_error_diagnostic)
        }
    }))
    .await
}
