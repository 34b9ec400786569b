//! One classification of AWS SDK errors for every adapter: worth a retry (throttled, the service
//! failed, the network failed) or permanent (the deployment is wrong: a missing table, bus or state
//! machine, a missing IAM action, bad credentials, a request the service refuses as malformed).
//! A permanent error fails at once instead of being retried for hours by the saga or the bus.
//!
//! The codes follow the services' error tables: DynamoDB marks throttling, `InternalServerError`
//! and `TransactionConflict` retryable and access, signature, missing-resource and validation
//! errors not; the SDK's standard retry mode treats the same codes as throttling or transient.
//! One deliberate difference: DynamoDB calls `UnrecognizedClientException` retryable (a new access
//! key takes a moment to propagate), but a deployed function's key comes from its role, so an
//! unknown one does not heal by itself.
use std::error::Error as StdError;

use aws_credential_types::provider::error::CredentialsError;
// Every SDK client answers with the same smithy HTTP response type.
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Retrying the same request may succeed.
    Transient,
    /// Retrying sends the same request to the same configuration: it fails the same way.
    Permanent,
}

/// Throttling, conflicts with concurrent writers, service failures and (for `ExpiredToken*`)
/// credentials the provider refreshes before the next attempt.
const TRANSIENT_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "LimitExceededException",
    "TransactionConflict",
    "TransactionConflictException",
    "TransactionInProgressException",
    "ReplicatedWriteConflictException",
    "InternalServerError",
    "InternalFailure",
    "InternalException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "RequestTimeout",
    "RequestTimeoutException",
    "InvalidEndpointException",
    "ExecutionLimitExceeded",
    "KmsThrottlingException",
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
];

/// Refused because of who is asking or what they ask for: nothing changes until someone fixes
/// the deployment (or the code that built the request).
const PERMANENT_CODES: &[&str] = &[
    "AccessDeniedException",
    "AccessDenied",
    "NotAuthorized",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "IncompleteSignatureException",
    "MissingAuthenticationToken",
    "MissingAuthenticationTokenException",
    "OptInRequired",
    "ResourceNotFoundException",
    "StateMachineDoesNotExist",
    "StateMachineDeleting",
    "InvalidArn",
    "KmsAccessDeniedException",
    "ValidationException",
    "ValidationError",
    "SerializationException",
    // PutEvents entry codes.
    "InvalidArgument",
    "MalformedDetail",
    "NotAuthorizedForSourceException",
];

/// The class of a service error code, if it is one this module knows (also for per-entry codes
/// of batch calls such as `PutEvents`).
pub fn classify_code(code: &str) -> Option<ErrorClass> {
    if TRANSIENT_CODES.contains(&code) {
        Some(ErrorClass::Transient)
    } else if PERMANENT_CODES.contains(&code) {
        Some(ErrorClass::Permanent)
    } else {
        None
    }
}

/// Classifies an SDK error by its typed kind, then the service's error code, then the HTTP status.
pub fn classify<E: ProvideErrorMetadata>(e: &SdkError<E, HttpResponse>) -> ErrorClass {
    match e {
        // The request could not even be built (bad input or configuration): never sent.
        SdkError::ConstructionFailure(_) => ErrorClass::Permanent,
        SdkError::TimeoutError(_) => ErrorClass::Transient,
        SdkError::DispatchFailure(d) => {
            if d.is_io() || d.is_timeout() {
                ErrorClass::Transient
            } else if d.is_user() || missing_credentials(e) {
                ErrorClass::Permanent
            } else {
                ErrorClass::Transient
            }
        }
        // An unreadable answer: a refusal of who we are stays one; anything else (a cut-off
        // response, a 5xx page from a proxy) may not happen again.
        SdkError::ResponseError(r) => match r.raw().status().as_u16() {
            401 | 403 => ErrorClass::Permanent,
            _ => ErrorClass::Transient,
        },
        SdkError::ServiceError(s) => {
            let status = s.raw().status().as_u16();
            match s.err().code().and_then(classify_code) {
                Some(class) => class,
                // An unknown code: 4xx means "fix the request before sending it again".
                None if status == 429 || status >= 500 => ErrorClass::Transient,
                None if (400..500).contains(&status) => ErrorClass::Permanent,
                None => ErrorClass::Transient,
            }
        }
        _ => ErrorClass::Transient,
    }
}

/// No credentials at all, or a credentials configuration that cannot work: both are set up by
/// the deployment. A provider that timed out or failed (STS, the metadata service) may recover.
fn missing_credentials<E, R>(e: &SdkError<E, R>) -> bool {
    let mut source: Option<&(dyn StdError + 'static)> = match e {
        SdkError::DispatchFailure(d) => d.as_connector_error().map(|c| c as _),
        _ => None,
    };
    while let Some(err) = source {
        if let Some(c) = err.downcast_ref::<CredentialsError>() {
            return matches!(
                c,
                CredentialsError::CredentialsNotLoaded(_)
                    | CredentialsError::InvalidConfiguration(_)
            );
        }
        source = err.source();
    }
    false
}

/// `code: message` of a service error, or the HTTP status and the error with its causes (an
/// answer without a readable code, a transport failure): for the logs.
pub fn describe<E>(e: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + StdError + 'static,
{
    let coded = e
        .as_service_error()
        .and_then(|s| Some((s.code()?, s.message().unwrap_or_default())));
    match (coded, e.raw_response()) {
        (Some((code, message)), _) => format!("{code}: {message}"),
        (None, Some(raw)) => format!("HTTP {}: {}", raw.status().as_u16(), DisplayErrorContext(e)),
        (None, None) => DisplayErrorContext(e).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_credential_types::provider::error::CredentialsError;
    use aws_sdk_dynamodb::error::{ConnectorError, ErrorMetadata};
    use aws_sdk_dynamodb::operation::get_item::GetItemError;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    fn response(status: u16) -> HttpResponse {
        HttpResponse::new(
            StatusCode::try_from(status).expect("status"),
            SdkBody::empty(),
        )
    }

    fn service(code: &str, status: u16) -> SdkError<GetItemError, HttpResponse> {
        SdkError::service_error(
            GetItemError::generic(ErrorMetadata::builder().code(code).message("m").build()),
            response(status),
        )
    }

    #[test]
    fn refusals_of_the_deployment_are_permanent() {
        for (code, status) in [
            ("AccessDeniedException", 400),
            ("ResourceNotFoundException", 400),
            ("UnrecognizedClientException", 400),
            ("InvalidSignatureException", 400),
            ("MissingAuthenticationToken", 403),
            ("MissingAuthenticationTokenException", 400),
            ("ValidationException", 400),
            ("SerializationException", 400),
            ("StateMachineDoesNotExist", 400),
            // A code this list does not know, refused with a 4xx.
            ("SomeNewRefusal", 400),
        ] {
            assert_eq!(
                classify(&service(code, status)),
                ErrorClass::Permanent,
                "{code}"
            );
        }
    }

    #[test]
    fn throttling_conflicts_and_service_failures_are_transient() {
        for (code, status) in [
            ("ThrottlingException", 400),
            ("ProvisionedThroughputExceededException", 400),
            ("RequestLimitExceeded", 400),
            ("LimitExceededException", 400),
            ("TransactionConflict", 400),
            ("TransactionInProgressException", 400),
            ("InternalServerError", 500),
            ("ExpiredTokenException", 400),
            // Unknown codes: by status.
            ("SomethingBroke", 503),
            ("SlowDownPlease", 429),
        ] {
            assert_eq!(
                classify(&service(code, status)),
                ErrorClass::Transient,
                "{code}"
            );
        }
    }

    #[test]
    fn transport_failures_are_transient_and_unbuildable_requests_permanent() {
        type E = SdkError<GetItemError, HttpResponse>;
        let io = E::dispatch_failure(ConnectorError::io("connection reset".into()));
        let timeout = E::dispatch_failure(ConnectorError::timeout("connect timeout".into()));
        let unknown = E::dispatch_failure(ConnectorError::other("h2 goaway".into(), None));
        for e in [io, timeout, unknown, E::timeout_error("operation timeout")] {
            assert_eq!(classify(&e), ErrorClass::Transient, "{e:?}");
        }
        assert_eq!(
            classify(&E::construction_failure("missing table name")),
            ErrorClass::Permanent
        );
        assert_eq!(
            classify(&E::dispatch_failure(ConnectorError::user(
                "invalid request".into()
            ))),
            ErrorClass::Permanent
        );
        assert_eq!(
            classify(&E::response_error("unreadable", response(502))),
            ErrorClass::Transient
        );
        assert_eq!(
            classify(&E::response_error("<AccessDenied/>", response(403))),
            ErrorClass::Permanent
        );
    }

    #[test]
    fn missing_credentials_are_permanent_a_failing_provider_is_not() {
        type E = SdkError<GetItemError, HttpResponse>;
        let credentials =
            |c: CredentialsError| E::dispatch_failure(ConnectorError::other(Box::new(c), None));
        assert_eq!(
            classify(&credentials(CredentialsError::not_loaded("no provider"))),
            ErrorClass::Permanent
        );
        assert_eq!(
            classify(&credentials(CredentialsError::invalid_configuration(
                "bad profile"
            ))),
            ErrorClass::Permanent
        );
        assert_eq!(
            classify(&credentials(CredentialsError::provider_error("STS 503"))),
            ErrorClass::Transient
        );
    }

    #[test]
    fn a_description_names_the_code_or_the_cause() {
        assert_eq!(
            describe(&service("ResourceNotFoundException", 400)),
            "ResourceNotFoundException: m"
        );
        let io = SdkError::<GetItemError, HttpResponse>::dispatch_failure(ConnectorError::io(
            "connection refused".into(),
        ));
        assert!(
            describe(&io).contains("connection refused"),
            "{}",
            describe(&io)
        );
    }
}
