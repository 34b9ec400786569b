//! A deployment mistake fails at once and for good: a table that does not exist is a permanent
//! store error after exactly one request (the SDK's standard retries leave it alone), while a
//! network failure stays transient and is retried. On the emulator, over the AWS wire protocol,
//! with the retry configuration a Lambda gets from `aws_config::load_defaults`.
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use reserveplace_aws::DynamoDbTable;
use reserveplace_domain::store::{Key, Query, StoreError, Table, Write};
use serde_json::json;

/// Counts the requests the SDK actually sends (every attempt, retries included).
#[derive(Debug, Default, Clone)]
struct Attempts(Arc<AtomicUsize>);

impl Attempts {
    fn take(&self) -> usize {
        self.0.swap(0, Ordering::SeqCst)
    }
}

impl Intercept for Attempts {
    fn name(&self) -> &'static str {
        "Attempts"
    }

    fn read_before_transmit(
        &self,
        _: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// A client like the Lambda's (default retry configuration), counting its attempts.
async fn counting_client(endpoint: Option<&str>) -> (aws_sdk_dynamodb::Client, Attempts) {
    let attempts = Attempts::default();
    let mut config = aws_sdk_dynamodb::config::Builder::from(&support::sdk().await)
        .interceptor(attempts.clone());
    if let Some(url) = endpoint {
        config = config.endpoint_url(url);
    }
    (
        aws_sdk_dynamodb::Client::from_conf(config.build()),
        attempts,
    )
}

fn item() -> serde_json::Map<String, serde_json::Value> {
    json!({"pk": "PLACE#1", "sk": "META", "name": "Sea view"})
        .as_object()
        .cloned()
        .expect("object")
}

#[tokio::test]
async fn a_missing_table_is_misconfigured_after_exactly_one_request() {
    let (client, attempts) = counting_client(None).await;
    let table = DynamoDbTable::new(client, format!("{}-NoSuchTable", uuid::Uuid::new_v4()));

    let get = table.get(&Key::new("PLACE#1", "META")).await;
    assert!(
        matches!(&get, Err(StoreError::Misconfigured(m)) if m.contains("ResourceNotFoundException")),
        "{get:?}"
    );
    assert_eq!(attempts.take(), 1, "GetItem is not retried");

    let query = table
        .query(&Query {
            partition: "PLACE#1".into(),
            ..Default::default()
        })
        .await;
    assert!(
        matches!(query, Err(StoreError::Misconfigured(_))),
        "{query:?}"
    );
    assert_eq!(attempts.take(), 1, "Query is not retried");

    let put = table
        .transact(
            vec![Write::Put {
                item: item(),
                cond: None,
            }],
            vec![],
        )
        .await;
    assert!(matches!(put, Err(StoreError::Misconfigured(_))), "{put:?}");
    assert_eq!(attempts.take(), 1, "PutItem is not retried");

    let both = table
        .transact(
            vec![
                Write::Put {
                    item: item(),
                    cond: None,
                },
                Write::Delete {
                    key: Key::new("PLACE#2", "META"),
                    cond: None,
                },
            ],
            vec![],
        )
        .await;
    assert!(
        matches!(both, Err(StoreError::Misconfigured(_))),
        "{both:?}"
    );
    assert_eq!(attempts.take(), 1, "TransactWriteItems is not retried");
}

#[tokio::test]
async fn an_unreachable_store_stays_transient_and_is_retried() {
    // Nothing listens there: the same counter sees the SDK's standard retries at work.
    let (client, attempts) = counting_client(Some("http://127.0.0.1:9")).await;
    let table = DynamoDbTable::new(client, "AnyTable");
    let get = table.get(&Key::new("PLACE#1", "META")).await;
    assert!(matches!(get, Err(StoreError::Unavailable(_))), "{get:?}");
    assert_eq!(attempts.take(), 3, "standard retry mode: three attempts");
}
