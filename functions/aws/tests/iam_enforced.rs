//! A missing IAM permission is a permanent store error, on an emulator that enforces IAM.
//!
//! The emulator checks signatures and policies once its count of unauthenticated requests is used
//! up (`/moto-api/reset-auth`); this binary's emulator is its own, so switching enforcement on
//! here changes nothing for the other suites. One test only: every request after the switch is
//! authenticated.
mod support;

use reserveplace_aws::DynamoDbTable;
use reserveplace_domain::store::{Key, StoreError, Table};

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
    let (key_id, secret) = support::iam_user("no-dynamodb", "sqs:*").await;
    let credentials =
        aws_sdk_dynamodb::config::Credentials::new(key_id, secret, None, None, "iam-user");

    // From here on every request is authenticated and authorized.
    support::enforce_iam().await;

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
