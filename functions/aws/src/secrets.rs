//! Secrets Manager's `GetSecretValue`, the one call the payment functions make to it (for the
//! payment provider's keys), signed with the SDK's own SigV4 signer and sent by the caller's HTTPS
//! client. A whole service client for one call would add hundreds of kilobytes to every
//! function's bootstrap.
use std::time::SystemTime;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_credential_types::provider::ProvideCredentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use serde_json::{Value, json};

/// Sends a signed request and answers its status and body (`Err`: no answer came back).
#[async_trait]
pub trait Transport: Send + Sync {
    async fn send(&self, request: http::Request<Bytes>) -> Result<(u16, Bytes), String>;
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SecretError {
    /// The deployment is wrong (no such secret, no permission, no region, not a string): asking
    /// again cannot help.
    #[error("secret misconfigured: {0}")]
    Misconfigured(String),
    /// Network, throttling or a service error: worth asking again later.
    #[error("secret unavailable: {0}")]
    Unavailable(String),
}

/// Error types of `GetSecretValue` that no retry can fix.
const PERMANENT: [&str; 6] = [
    "ResourceNotFoundException",
    "AccessDeniedException",
    "InvalidParameterException",
    "InvalidRequestException",
    "DecryptionFailure",
    "UnrecognizedClientException",
];

/// The secret's string value. `endpoint` is Secrets Manager's address in the function's region
/// (the template passes it; the SDK configuration's endpoint override wins, as for every client).
pub async fn secret_string(
    sdk: &SdkConfig,
    transport: &dyn Transport,
    endpoint: &str,
    secret_id: &str,
) -> Result<String, SecretError> {
    let misconfigured = |why: String| SecretError::Misconfigured(why);
    let unavailable = |why: String| SecretError::Unavailable(why);
    let region = sdk
        .region()
        .ok_or_else(|| misconfigured("no AWS region".into()))?
        .to_string();
    let endpoint = sdk.endpoint_url().unwrap_or(endpoint).trim_end_matches('/');
    let credentials = sdk
        .credentials_provider()
        .ok_or_else(|| misconfigured("no AWS credentials provider".into()))?
        .provide_credentials()
        .await
        .map_err(|e| unavailable(format!("credentials: {e}")))?;
    let identity: Identity = credentials.into();
    let body = json!({ "SecretId": secret_id }).to_string();
    let headers = [
        ("content-type", "application/x-amz-json-1.1"),
        ("x-amz-target", "secretsmanager.GetSecretValue"),
    ];
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&region)
        .name("secretsmanager")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| misconfigured(format!("signing: {e}")))?
        .into();
    let url = format!("{endpoint}/");
    let signable = SignableRequest::new(
        "POST",
        &url,
        headers.iter().copied(),
        SignableBody::Bytes(body.as_bytes()),
    )
    .map_err(|e| misconfigured(format!("signing: {e}")))?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| misconfigured(format!("signing: {e}")))?
        .into_parts();
    let mut request = http::Request::builder().method("POST").uri(&url);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let mut request = request
        .body(Bytes::from(body))
        .map_err(|e| misconfigured(format!("request: {e}")))?;
    instructions.apply_to_request_http1x(&mut request);
    let (status, bytes) = transport
        .send(request)
        .await
        .map_err(|e| unavailable(format!("Secrets Manager: {e}")))?;
    let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if (200..300).contains(&status) {
        return answer["SecretString"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| misconfigured(format!("{secret_id} has no SecretString")));
    }
    let kind = answer["__type"]
        .as_str()
        .unwrap_or_default()
        .rsplit('#')
        .next()
        .unwrap_or_default()
        .to_string();
    // Secrets Manager answers JSON; a refusal before it (IAM, a proxy) may not.
    let text = String::from_utf8_lossy(&bytes);
    let detail = answer["message"]
        .as_str()
        .or(answer["Message"].as_str())
        .map(str::to_owned)
        .unwrap_or_else(|| text.chars().take(300).collect());
    let why = format!("{status} {kind} {detail}");
    if PERMANENT.contains(&kind.as_str()) || status == 403 {
        Err(misconfigured(why))
    } else {
        Err(unavailable(why))
    }
}
