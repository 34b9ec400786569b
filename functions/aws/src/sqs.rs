//! An event consumer's queue on SQS: the port the Lambda bootstrap uses to hide a failed record
//! for its backoff (`ChangeMessageVisibility`), and the one the queue contract suite runs against
//! the emulator, next to the local runtime's queues.
use async_trait::async_trait;
pub use aws_sdk_sqs::Client;
use aws_sdk_sqs::config::http::HttpResponse;
use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use reserveplace_domain::queue::{MessageQueue, Received};
use reserveplace_domain::store::StoreError;

use crate::classify::{ErrorClass, classify, describe};

/// SQS answers at most ten messages per receive and takes ten entries per batch.
const SQS_BATCH: usize = 10;

fn queue_error<E>(e: SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let detail = describe(&e);
    match classify(&e) {
        ErrorClass::Transient => StoreError::Unavailable(detail),
        ErrorClass::Permanent => StoreError::Misconfigured(detail),
    }
}

pub struct SqsQueue {
    client: Client,
    url: String,
}

impl SqsQueue {
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
        }
    }

    /// The queue an event source ARN (`arn:<partition>:sqs:<region>:<account>:<name>`) names.
    pub async fn from_arn(client: Client, arn: &str) -> Result<Self, StoreError> {
        let parts: Vec<&str> = arn.split(':').collect();
        let [_, _, "sqs", _, account, name] = parts.as_slice() else {
            return Err(StoreError::Misconfigured(format!(
                "{arn} is not an SQS queue ARN"
            )));
        };
        let url = client
            .get_queue_url()
            .queue_name(*name)
            .queue_owner_aws_account_id(*account)
            .send()
            .await
            .map_err(queue_error)?
            .queue_url
            .ok_or_else(|| StoreError::Misconfigured(format!("no URL for {arn}")))?;
        Ok(Self::new(client, url))
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

#[async_trait]
impl MessageQueue for SqsQueue {
    async fn send(&self, body: &str) -> Result<String, StoreError> {
        let out = self
            .client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .send()
            .await
            .map_err(queue_error)?;
        out.message_id
            .ok_or_else(|| StoreError::Unavailable("SendMessage answered no id".into()))
    }

    async fn receive(
        &self,
        max: u32,
        visibility_seconds: u32,
    ) -> Result<Vec<Received>, StoreError> {
        let max = i32::try_from(max.clamp(1, SQS_BATCH as u32)).unwrap_or(1);
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max)
            .visibility_timeout(i32::try_from(visibility_seconds).unwrap_or(i32::MAX))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(queue_error)?;
        Ok(out
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(|m| {
                let receive_count = m
                    .attributes
                    .as_ref()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(1);
                Received {
                    message_id: m.message_id.unwrap_or_default(),
                    receipt: m.receipt_handle.unwrap_or_default(),
                    receive_count,
                    body: m.body.unwrap_or_default(),
                }
            })
            .collect())
    }

    async fn delete(&self, receipts: &[String]) -> Result<(), StoreError> {
        for chunk in receipts.chunks(SQS_BATCH) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(r)
                        .build()
                        .map_err(|e| StoreError::Invalid(e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let out = self
                .client
                .delete_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(queue_error)?;
            if let Some(failed) = out.failed.first() {
                return Err(StoreError::Unavailable(format!(
                    "DeleteMessageBatch refused entry {}: {}",
                    failed.id,
                    failed.message.as_deref().unwrap_or(&failed.code)
                )));
            }
        }
        Ok(())
    }

    async fn hide(&self, receipt: &str, seconds: u32) -> Result<(), StoreError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .visibility_timeout(i32::try_from(seconds).unwrap_or(i32::MAX))
            .send()
            .await
            .map(drop)
            .map_err(queue_error)
    }
}
