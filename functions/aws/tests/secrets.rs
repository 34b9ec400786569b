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

/// A Secrets Manager JSON-protocol call made before enforcement; the emulator routes it by the
/// signature's service name.
async fn secretsmanager(target: &str, body: serde_json::Value) -> serde_json::Value {
    let resp = reqwest::Client::new()
        .post(support::endpoint())
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", format!("secretsmanager.{target}"))
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=0",
        )
        .body(body.to_string())
        .send()
        .await
        .expect("secretsmanager request");
    let status = resp.status();
    let json: serde_json::Value = resp.json().await.expect("json");
    assert!(status.is_success(), "{target}: {status} {json}");
    json
}

async fn iam(params: &[(&str, &str)]) -> String {
    let body = std::iter::once("Version=2010-05-08".to_string())
        .chain(params.iter().map(|(k, v)| format!("{k}={}", urlencode(v))))
        .collect::<Vec<_>>()
        .join("&");
    let resp = reqwest::Client::new()
        .post(support::endpoint())
        .header("content-type", "application/x-www-form-urlencoded")
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0",
        )
        .body(body)
        .send()
        .await
        .expect("iam request");
    let status = resp.status();
    let text = resp.text().await.expect("iam response");
    assert!(status.is_success(), "{params:?}: {status} {text}");
    text
}

fn xml_field(xml: &str, name: &str) -> String {
    let open = format!("<{name}>");
    let start = xml.find(&open).expect(name) + open.len();
    let end = xml[start..].find(&format!("</{name}>")).expect(name) + start;
    xml[start..end].to_owned()
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
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
    let created = secretsmanager(
        "CreateSecret",
        serde_json::json!({"Name": "reserveplace-stripe", "SecretString": value}),
    )
    .await;
    let arn = created["ARN"].as_str().expect("ARN").to_owned();
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
    let (key_id, secret) = user("payments", "secretsmanager:GetSecretValue").await;
    let (other_id, other_secret) = user("queues", "sqs:*").await;
    let reset = reqwest::Client::new()
        .post(format!("{}/moto-api/reset-auth", support::endpoint()))
        .body("0")
        .send()
        .await
        .expect("reset-auth");
    assert!(reset.status().is_success(), "{}", reset.status());

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

/// An IAM user whose one policy allows `action` on everything, and its access key.
async fn user(name: &str, action: &str) -> (String, String) {
    iam(&[("Action", "CreateUser"), ("UserName", name)]).await;
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"{action}","Resource":"*"}}]}}"#
    );
    iam(&[
        ("Action", "PutUserPolicy"),
        ("UserName", name),
        ("PolicyName", "only"),
        ("PolicyDocument", &policy),
    ])
    .await;
    let key = iam(&[("Action", "CreateAccessKey"), ("UserName", name)]).await;
    (
        xml_field(&key, "AccessKeyId"),
        xml_field(&key, "SecretAccessKey"),
    )
}
