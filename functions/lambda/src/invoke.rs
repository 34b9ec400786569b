//! What every event and step invocation shares: the correlation id (the registry's, as the local
//! runtime logs it) and the error shape.
use lambda_runtime::Diagnostic;
use reserveplace_functions::error::StepError;
pub use reserveplace_functions::registry::correlation_id;

/// A step error becomes the Lambda error Step Functions matches in `Retry` / `Catch`
/// (`errorType` = `ReservePlace.Transient`, `ReservePlace.InvalidInput`, …).
pub fn step_error_diagnostic(e: StepError) -> Diagnostic {
    Diagnostic {
        error_type: e.error_type().to_owned(),
        error_message: e.cause().to_owned(),
    }
}
