//! What every event and step invocation shares: the correlation id and the error shape.
use lambda_runtime::Diagnostic;
use reserveplace_functions::error::StepError;
use serde_json::Value;

/// The reservation id an event or step input is about: the saga's correlation id in the logs.
/// EventBridge events and saga inputs carry it in `detail`; the callback task input too.
pub fn correlation_id(payload: &Value) -> Option<String> {
    payload
        .pointer("/detail/reservationId")
        .or_else(|| payload.pointer("/reservationId"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// A step error becomes the Lambda error Step Functions matches in `Retry` / `Catch`
/// (`errorType` = `ReservePlace.Transient`, `ReservePlace.InvalidInput`, …).
pub fn step_error_diagnostic(e: StepError) -> Diagnostic {
    Diagnostic {
        error_type: e.error,
        error_message: e.cause,
    }
}
