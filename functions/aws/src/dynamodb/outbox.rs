//! Outbox items: an event committed in the same transaction as the change that caused it.
//!
//! Key `pk = OUTBOX#<eventId>`, `sk = EVENT`; `event` holds the event as JSON and `expiresAt` lets
//! DynamoDB's TTL remove the item once the relay had days to publish it. Table queries never see
//! these partitions: every domain partition key has another prefix.
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use reserveplace_domain::events::DomainEvent;
use reserveplace_domain::store::StoreError;

pub const PK_PREFIX: &str = "OUTBOX#";
pub const SK: &str = "EVENT";
pub const EVENT_ATTR: &str = "event";
pub const TTL_ATTR: &str = "expiresAt";
/// How long an outbox item outlives its commit.
const RETAIN_SECONDS: i64 = 7 * 24 * 3600;

pub(crate) fn put(table: &str, event: &DomainEvent) -> Result<TransactWriteItem, StoreError> {
    let id = event.event_id();
    if id.is_empty() {
        return Err(StoreError::Invalid("an event needs an eventId".into()));
    }
    let body = serde_json::to_string(event)
        .map_err(|e| StoreError::Invalid(format!("event cannot be serialized: {e}")))?;
    let expires = time::OffsetDateTime::now_utc().unix_timestamp() + RETAIN_SECONDS;
    let put = Put::builder()
        .table_name(table)
        .item("pk", AttributeValue::S(format!("{PK_PREFIX}{id}")))
        .item("sk", AttributeValue::S(SK.into()))
        .item(EVENT_ATTR, AttributeValue::S(body))
        .item(TTL_ATTR, AttributeValue::N(expires.to_string()))
        .build()
        .map_err(|e| StoreError::Invalid(format!("outbox item cannot be built: {e}")))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// The event of an outbox item image (`None` for any other item).
pub fn event_of(pk: Option<&str>, event: Option<&str>) -> Option<Result<DomainEvent, String>> {
    let pk = pk?;
    if !pk.starts_with(PK_PREFIX) {
        return None;
    }
    Some(match event {
        Some(body) => serde_json::from_str(body).map_err(|e| format!("outbox item {pk}: {e}")),
        None => Err(format!("outbox item {pk} has no `{EVENT_ATTR}`")),
    })
}
