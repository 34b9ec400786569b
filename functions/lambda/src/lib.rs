//! The Lambda side of every function: one binary per handler (`src/bin/<binary>.rs`, named as the
//! template's `Metadata.BuildProperties.Binary`), each a one-line `main` that calls [`main`].
//!
//! At init it only reads the environment and builds the AWS clients once; every invocation then
//! goes through the same handler function the local runtime calls in-process.
mod adapters;
mod drift_tests;
pub mod http;
mod invoke;

pub use adapters::aws_adapters;
pub use invoke::{correlation_id, step_error_diagnostic};

use std::collections::BTreeMap;
use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use reserveplace_functions::registry::{self, Handler};
use reserveplace_functions::services::Services;
use serde_json::Value;
use tracing::Instrument;

/// The binary that relays the tables' outbox items to EventBridge (AWS only: the local runtime
/// relays its own outbox).
pub const OUTBOX_RELAY: &str = "outbox-relay";

/// JSON logs at the level of `RUST_LOG` (the template's `LogLevel`); Lambda adds the timestamp.
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .without_time()
        .with_target(false)
        .try_init();
}

/// The entry point of every function binary.
pub fn main(binary: &'static str) -> Result<(), Error> {
    init_tracing();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(serve(binary))
}

async fn serve(binary: &'static str) -> Result<(), Error> {
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let env: BTreeMap<String, String> = std::env::vars().collect();
    if binary == OUTBOX_RELAY {
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
                async move { Ok::<_, Error>(reserveplace_aws::relay::relay(&bus, e.payload).await) }
            },
        ))
        .await;
    }
    let handler = registry::find(binary).ok_or_else(|| format!("no handler named {binary}"))?;
    let services = Arc::new(Services::build(&env, &aws_adapters(&sdk)));
    match handler {
        Handler::Http(f) => {
            lambda_http::run(lambda_http::service_fn(move |req: lambda_http::Request| {
                let services = services.clone();
                async move {
                    let req = http::api_request(req);
                    let span = tracing::info_span!(
                        "request",
                        function = binary,
                        reservation_id = req.path_params.get("reservationId").map(String::as_str)
                    );
                    let resp = f(services, req).instrument(span).await;
                    Ok::<_, Error>(http::lambda_response(resp))
                }
            }))
            .await
        }
        Handler::Event(f) => {
            lambda_runtime::run(service_fn(move |e: LambdaEvent<Value>| {
                let services = services.clone();
                async move {
                    let span = tracing::info_span!(
                        "event",
                        function = binary,
                        reservation_id = correlation_id(&e.payload)
                    );
                    f(services, e.payload)
                        .instrument(span)
                        .await
                        .map(|()| Value::Null)
                        .map_err(step_error_diagnostic)
                }
            }))
            .await
        }
        Handler::Step(f) => {
            lambda_runtime::run(service_fn(move |e: LambdaEvent<Value>| {
                let services = services.clone();
                async move {
                    let span = tracing::info_span!(
                        "step",
                        function = binary,
                        reservation_id = correlation_id(&e.payload)
                    );
                    f(services, e.payload)
                        .instrument(span)
                        .await
                        .map_err(step_error_diagnostic)
                }
            }))
            .await
        }
    }
}
