//! The payment provider's keys from Secrets Manager: `GetSecretValue`, signed by hand with SigV4,
//! on an emulator that checks signatures and policies once enforcement is on
//! (`/moto-api/reset-auth`). This binary's emulator is its own: one test only.
mod support;

use reserveplace_aws::secrets::{SecretError, Transport};

/// The test's own HTTP client carries the signed request.
struct Reqwest;

#[async_trait::async_trait]
impl Transport for Reqwest {
    async fn send(
        &self,
        request: http::Request<bytes::Bytes>,
    ) -> Result<(u16, bytes::Bytes), String> {
        let request = reqwest::Request::try_from(request).map_err(|e| e.to_string())?;
        let resp = reqwest::Client::new()
            .execute(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        Ok((status, resp.bytes().await.map_err(|e| e.to_string())?))
    }
}

async fn secret_string(
    sdk: &aws_config::SdkConfig,
    endpoint: &str,
    id: &str,
) -> Result<String, SecretError> {
    reserveplace_aws::secrets::secret_string(sdk, &Reqwest, endpoint, id).await
}

async fn sdk_as(key_id: &str, secret: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(support::endpoint())
        .credentials_provider(aws_credential_types::Credentials::new(
            key_id, secret, None, None, "iam-user",
        ))
        .load()
        .await
}

#[tokio::test]
async fn the_stripe_keys_are_read_with_a_signed_request_and_a_deployment_mistake_is_permanent() {
    let value = r#"{"secretKey":"sk_test_x","webhookSigningSecret":"whsec_x"}"#;
    let arn = support::create_secret(value).await;
    // The endpoint override of the SDK configuration wins over the regional address given.
    let sdk = support::sdk().await;
    assert_eq!(
        secret_string(&sdk, "https://unused.invalid", &arn).await,
        Ok(value.to_string())
    );
    let missing = secret_string(&sdk, "", "reserveplace-no-such-secret").await;
    assert!(
        matches!(&missing, Err(SecretError::Misconfigured(m)) if m.contains("ResourceNotFound")),
        "{missing:?}"
    );

    // A user allowed the action, and one allowed another service only. (The emulator matches
    // Secrets Manager's actions against `*`, not a secret's ARN: the template check asserts that
    // exactly the payment functions may read exactly the Stripe secret.)
    let (key_id, secret) = support::iam_user("payments", "secretsmanager:GetSecretValue").await;
    let (other_id, other_secret) = support::iam_user("queues", "sqs:*").await;
    support::enforce_iam().await;

    // From here on the emulator checks each request's signature and policy.
    let signed = secret_string(&sdk_as(&key_id, &secret).await, "", &arn).await;
    assert_eq!(
        signed,
        Ok(value.to_string()),
        "a correct signature reads it"
    );
    let forged = secret_string(&sdk_as(&key_id, "not-the-secret").await, "", &arn).await;
    assert!(
        matches!(&forged, Err(SecretError::Misconfigured(_))),
        "a wrong signing key is refused for good: {forged:?}"
    );
    let denied = secret_string(&sdk_as(&other_id, &other_secret).await, "", &arn).await;
    assert!(
        matches!(&denied, Err(SecretError::Misconfigured(m)) if m.contains("AccessDenied")),
        "a function without the permission is refused for good: {denied:?}"
    );
}
