//! Measured speed and cost of the serverless stack.
//!
//! - [`cold`]: every template function's bootstrap started as Lambda starts it, behind the
//!   [`runtime_api`] stub, its AWS calls going to the emulator through the [`recorder`], which
//!   counts them in billed units.
//! - [`cost`]: a million reservations by outcome, in Lambda GB-seconds, state transitions,
//!   DynamoDB request units, events and HTTP requests, priced by [`prices`]; with the monthly
//!   cost of the seed's always-on cluster beside it.
//! - [`sam`]: what `sam local invoke` runs against (`tests/sam-local.sh`): the template's resources
//!   on an emulator started elsewhere, and the deliveries Lambda makes that `sam local` does not.
pub mod cold;
pub mod cost;
pub mod emulator;
pub mod prices;
pub mod recorder;
pub mod runtime_api;
pub mod sam;
pub mod template;

/// Why a probe or a model could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("template: {0}")]
    Template(String),
    #[error("events/{0}.json: {1}")]
    Sample(String, String),
    #[error("{0}: the bootstrap did not answer within a minute")]
    NoAnswer(String),
    #[error(
        "{0} not found: `make tools` installs the AWS emulator into .venv (or set RESERVEPLACE_PYTHON)"
    )]
    NoEmulator(String),
    #[error("outcome {0:?}: {1}")]
    SagaPath(String, String),
    #[error("no measurement of handler {0} (run the probe on every function)")]
    NotMeasured(String),
    #[error("{0}")]
    Json(String),
}
