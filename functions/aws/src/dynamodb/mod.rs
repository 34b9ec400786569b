//! The storage port on DynamoDB: one table per bounded context, keys `pk`/`sk`, index `gsi1`.
//!
//! `transact` writes the changes and one outbox item per event in a single `TransactWriteItems`
//! (a single change without events uses the matching single-item call). The table's stream
//! carries the outbox items to the relay, which publishes them on EventBridge.
mod expr;
pub mod outbox;

use std::collections::HashMap;

use async_trait::async_trait;
pub use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, Put, ReturnValue, TransactWriteItem, Update,
};
use reserveplace_domain::events::DomainEvent;
use reserveplace_domain::store::rules::{self, Op, PlannedWrite, validate_transaction};
use reserveplace_domain::store::{Item, Key, Query, StoreError, Table, Write};

use crate::classify::{ErrorClass, classify, describe};
use expr::Expr;

pub const INDEX_NAME: &str = "gsi1";

pub struct DynamoDbTable {
    client: Client,
    name: String,
}

impl DynamoDbTable {
    pub fn new(client: Client, name: impl Into<String>) -> Self {
        Self {
            client,
            name: name.into(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

pub(crate) fn key_av(key: &Key) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (rules::PK.to_owned(), AttributeValue::S(key.pk.clone())),
        (rules::SK.to_owned(), AttributeValue::S(key.sk.clone())),
    ])
}

pub(crate) fn to_av_item(item: &Item) -> Result<HashMap<String, AttributeValue>, StoreError> {
    serde_dynamo::aws_sdk_dynamodb_1::to_item(item)
        .map_err(|e| StoreError::Invalid(format!("item cannot be stored: {e}")))
}

/// An item that does not convert reads the same on every retry: permanent.
pub(crate) fn from_av_item(item: HashMap<String, AttributeValue>) -> Result<Item, StoreError> {
    serde_dynamo::aws_sdk_dynamodb_1::from_item(item)
        .map_err(|e| StoreError::Misconfigured(format!("stored item cannot be read: {e}")))
}

/// Throttling, conflicts, timeouts and 5xx are worth retrying. A request DynamoDB refuses as
/// malformed was built by the caller (`Invalid`); any other refusal (missing table, missing IAM
/// action, bad credentials) is the deployment's (`Misconfigured`).
fn sdk_error<E>(e: SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let detail = describe(&e);
    match classify(&e) {
        ErrorClass::Transient => StoreError::Unavailable(detail),
        ErrorClass::Permanent
            if e.as_service_error().and_then(|s| s.code()) == Some("ValidationException") =>
        {
            StoreError::Invalid(detail)
        }
        ErrorClass::Permanent => StoreError::Misconfigured(detail),
    }
}

/// The guard and placeholders of a write request. The SDK's request builders (transaction items
/// and single-item calls alike) share these setters by name, not through a trait.
macro_rules! guarded {
    ($builder:expr, $table:expr, $cond:expr, $names:expr, $values:expr) => {
        $builder
            .table_name($table)
            .set_condition_expression($cond)
            .set_expression_attribute_names($names)
            .set_expression_attribute_values($values)
    };
}

impl DynamoDbTable {
    fn translate(&self, w: &PlannedWrite) -> Result<TransactWriteItem, StoreError> {
        let mut e = Expr::default();
        let update = match &w.op {
            Op::Update { set, add } => Some(e.update(set, add)?),
            _ => None,
        };
        let cond = w.cond.as_ref().map(|c| e.cond(c)).transpose()?;
        let (names, values) = (e.names(), e.values());
        let key = Some(key_av(&w.key));
        let built = match &w.op {
            Op::Put(item) => TransactWriteItem::builder().put(
                guarded!(Put::builder(), &self.name, cond, names, values)
                    .set_item(Some(to_av_item(item)?))
                    .build()
                    .map_err(build_error)?,
            ),
            Op::Update { .. } => TransactWriteItem::builder().update(
                guarded!(Update::builder(), &self.name, cond, names, values)
                    .set_key(key)
                    .set_update_expression(update)
                    .build()
                    .map_err(build_error)?,
            ),
            Op::Delete => TransactWriteItem::builder().delete(
                guarded!(Delete::builder(), &self.name, cond, names, values)
                    .set_key(key)
                    .build()
                    .map_err(build_error)?,
            ),
            Op::Check => TransactWriteItem::builder().condition_check(
                guarded!(ConditionCheck::builder(), &self.name, cond, names, values)
                    .set_key(key)
                    .build()
                    .map_err(build_error)?,
            ),
        };
        Ok(built.build())
    }

    /// A lone change without events: the single-item call costs half a transaction.
    async fn write_one(&self, t: TransactWriteItem) -> Result<(), StoreError> {
        // The single-item call of a translated write, with the write's guard and placeholders.
        macro_rules! send {
            ($call:expr, $w:ident) => {
                guarded!(
                    $call,
                    $w.table_name,
                    $w.condition_expression,
                    $w.expression_attribute_names,
                    $w.expression_attribute_values
                )
                .send()
                .await
                .map_err(single_error)?
            };
        }
        if let Some(p) = t.put {
            send!(self.client.put_item().set_item(Some(p.item)), p);
        } else if let Some(u) = t.update {
            let call = self.client.update_item().set_key(Some(u.key));
            send!(call.update_expression(u.update_expression), u);
        } else if let Some(d) = t.delete {
            send!(self.client.delete_item().set_key(Some(d.key)), d);
        }
        Ok(())
    }
}

/// A single-item write's failed condition is the port's `ConditionFailed` of write 0.
fn single_error<E>(e: SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match e.as_service_error().and_then(|s| s.code()) {
        Some("ConditionalCheckFailedException") => StoreError::ConditionFailed { failed: vec![0] },
        _ => sdk_error(e),
    }
}

fn build_error(e: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Invalid(format!("request cannot be built: {e}"))
}

#[async_trait]
impl Table for DynamoDbTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        rules::validate_key(key)?;
        let out = self
            .client
            .get_item()
            .table_name(&self.name)
            .set_key(Some(key_av(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        out.item.map(from_av_item).transpose()
    }

    async fn query(&self, q: &Query) -> Result<Vec<Item>, StoreError> {
        rules::validate_query(q)?;
        let (pk, sk) = if q.index {
            (rules::GSI1PK, rules::GSI1SK)
        } else {
            (rules::PK, rules::SK)
        };
        let mut e = Expr::default();
        let (p, v) = (e.name(pk), e.value(AttributeValue::S(q.partition.clone())));
        let mut key_cond = format!("{p} = {v}");
        if let Some(prefix) = q.sk_prefix.as_ref().filter(|s| !s.is_empty()) {
            let (s, v) = (e.name(sk), e.value(AttributeValue::S(prefix.clone())));
            key_cond.push_str(&format!(" AND begins_with({s}, {v})"));
        }
        let mut items = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let remaining = q.limit.map(|l| l.saturating_sub(items.len()));
            if remaining == Some(0) {
                break;
            }
            let out = self
                .client
                .query()
                .table_name(&self.name)
                .set_index_name(q.index.then(|| INDEX_NAME.to_owned()))
                // Index reads are eventually consistent on DynamoDB; base-table reads need not be,
                // unless the caller says an eventually consistent read is enough.
                .consistent_read(!q.index && !q.eventually_consistent)
                .key_condition_expression(&key_cond)
                .set_expression_attribute_names(e.names())
                .set_expression_attribute_values(e.values())
                .scan_index_forward(!q.descending)
                .set_limit(remaining.map(|r| r.min(1_000) as i32))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(sdk_error)?;
            for item in out.items.unwrap_or_default() {
                items.push(from_av_item(item)?);
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        Ok(items)
    }

    async fn transact(
        &self,
        writes: Vec<Write>,
        events: Vec<DomainEvent>,
    ) -> Result<(), StoreError> {
        let writes = rules::plan_transaction(writes, &events)?;
        if writes.is_empty() && events.is_empty() {
            return Ok(());
        }
        let mut items = Vec::with_capacity(writes.len() + events.len());
        for w in &writes {
            items.push(self.translate(w)?);
        }
        if events.is_empty() && items.len() == 1 && writes[0].op != Op::Check {
            return self.write_one(items.remove(0)).await;
        }
        let mut request = items;
        for event in &events {
            request.push(outbox::put(&self.name, event)?);
        }
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(request))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => Err(match e.as_service_error() {
                Some(aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c)) => {
                    cancelled(c.cancellation_reasons(), writes.len())
                }
                _ => sdk_error(e),
            }),
        }
    }

    async fn increment(&self, key: &Key, attr: &str, by: i64) -> Result<i64, StoreError> {
        let add = vec![(attr.to_owned(), by)];
        // The refusals of a transaction's update (key and index attributes), before any call.
        validate_transaction(&[rules::increment_write(key, attr, by)], &[])?;
        let mut e = Expr::default();
        let update = e.update(&Item::new(), &add)?;
        let out = guarded!(
            self.client.update_item(),
            &self.name,
            None,
            e.names(),
            e.values()
        )
        .set_key(Some(key_av(key)))
        .update_expression(update)
        .return_values(ReturnValue::UpdatedNew)
        .send()
        .await
        .map_err(sdk_error)?;
        match out.attributes.as_ref().and_then(|a| a.get(attr)) {
            Some(AttributeValue::N(n)) => n.parse::<i64>().map_err(|_| {
                StoreError::Invalid(format!("`{attr}` = {n} does not fit a 64-bit integer"))
            }),
            other => Err(StoreError::Misconfigured(format!(
                "UpdateItem answered `{attr}` as {other:?}"
            ))),
        }
    }
}

/// Maps `TransactionCanceledException` reasons (one per item, in request order) to the port's error.
fn cancelled(reasons: &[aws_sdk_dynamodb::types::CancellationReason], writes: usize) -> StoreError {
    let code =
        |r: &aws_sdk_dynamodb::types::CancellationReason| r.code().unwrap_or("None").to_owned();
    let failed: Vec<usize> = reasons
        .iter()
        .enumerate()
        .filter(|(i, r)| *i < writes && code(r) == "ConditionalCheckFailed")
        .map(|(i, _)| i)
        .collect();
    if !failed.is_empty() {
        return StoreError::ConditionFailed { failed };
    }
    let codes: Vec<String> = reasons.iter().map(code).filter(|c| c != "None").collect();
    if codes.iter().any(|c| c == "ValidationError") {
        StoreError::Invalid(format!("transaction refused: {codes:?}"))
    } else {
        // TransactionConflict, throttling: another writer got there first; retrying may succeed.
        StoreError::Unavailable(format!("transaction cancelled: {codes:?}"))
    }
}
