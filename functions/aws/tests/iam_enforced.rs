//! A missing IAM permission is a permanent store error, on an emulator that enforces IAM.
//!
//! The emulator checks signatures and policies once its count of unauthenticated requests is used
//! up (`/moto-api/reset-auth`); this binary's emulator is its own, so switching enforcement on
//! here changes nothing for the other suites. One test only: every request after the switch is
//! authenticated.
mod support;

use reserveplace_aws::DynamoDbTable;
use reserveplace_domain::store::{Key, StoreError, Table};

/// An IAM Query-protocol call; the emulator routes it by the signature's service name.
async fn iam(params: &[(&str, &str)]) -> String {
    let mut body = String::from("Version=2010-05-08");
    for (k, v) in params {
        body.push_str(&format!("&{k}={v}"));
    }
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

async fn table_with_credentials(
    table: &str,
    credentials: aws_sdk_dynamodb::config::Credentials,
) -> DynamoDbTable {
    let config = aws_sdk_dynamodb::config::Builder::from(&support::sdk().await)
        .credentials_provider(credentials)
        .build();
    DynamoDbTable::new(aws_sdk_dynamodb::Client::from_conf(config), table)
}

#[tokio::test]
async fn a_principal_without_the_dynamodb_action_gets_a_permanent_error() {
    let sdk = support::sdk().await;
    let name = format!("{}-PlaceTable", uuid::Uuid::new_v4().simple());
    support::create_table(
        &aws_sdk_dynamodb::Client::new(&sdk),
        &support::wiring().tables["PlaceTable"],
        &name,
    )
    .await;
    // A user with a policy for another service only: no dynamodb:GetItem.
    iam(&[("Action", "CreateUser"), ("UserName", "no-dynamodb")]).await;
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:*","Resource":"*"}]}"#;
    iam(&[
        ("Action", "PutUserPolicy"),
        ("UserName", "no-dynamodb"),
        ("PolicyName", "sqs-only"),
        ("PolicyDocument", &urlencode(policy)),
    ])
    .await;
    let key = iam(&[("Action", "CreateAccessKey"), ("UserName", "no-dynamodb")]).await;
    let credentials = aws_sdk_dynamodb::config::Credentials::new(
        xml_field(&key, "AccessKeyId"),
        xml_field(&key, "SecretAccessKey"),
        None,
        None,
        "iam-user",
    );

    // From here on every request is authenticated and authorized.
    let reset = reqwest::Client::new()
        .post(format!("{}/moto-api/reset-auth", support::endpoint()))
        .body("0")
        .send()
        .await
        .expect("reset-auth");
    assert!(reset.status().is_success(), "{}", reset.status());

    let denied = table_with_credentials(&name, credentials)
        .await
        .get(&Key::new("PLACE#1", "META"))
        .await;
    assert!(
        matches!(&denied, Err(StoreError::Misconfigured(m)) if m.contains("403") && m.contains("AccessDenied")),
        "a missing permission is permanent: {denied:?}"
    );

    // An access key the account does not know is refused for good as well.
    let unknown = table_with_credentials(
        &name,
        aws_sdk_dynamodb::config::Credentials::new("AKIAUNKNOWN", "secret", None, None, "x"),
    )
    .await
    .get(&Key::new("PLACE#1", "META"))
    .await;
    assert!(
        matches!(&unknown, Err(StoreError::Misconfigured(m)) if m.contains("403")),
        "unknown credentials are permanent: {unknown:?}"
    );
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
