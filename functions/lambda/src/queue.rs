//! An event consumer on Lambda: its SQS event source mapping hands it batches of its queue; the
//! shared consumer code (the same the local runtime's queues call) runs each record, and every
//! record it failed on is reported (`ReportBatchItemFailures`) after being hidden for its backoff
//! (`ChangeMessageVisibility`), so a consumer down for days is retried all along.
use std::collections::HashMap;
use std::sync::Arc;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use reserveplace_aws::SqsQueue;
use reserveplace_domain::queue::MessageQueue;
use reserveplace_functions::queue::{Record, consume};
use reserveplace_functions::registry::EventFn;
use reserveplace_functions::services::Services;
use tokio::sync::Mutex;
use tracing::Instrument;

/// The queues this function reads, by ARN: looked up once per execution environment.
type QueueCache = Arc<Mutex<HashMap<String, Arc<SqsQueue>>>>;

async fn queue_of(
    cache: &QueueCache,
    client: &reserveplace_aws::sqs::Client,
    arn: &str,
) -> Option<Arc<SqsQueue>> {
    let mut cache = cache.lock().await;
    if let Some(q) = cache.get(arn) {
        return Some(q.clone());
    }
    match SqsQueue::from_arn(client.clone(), arn).await {
        Ok(q) => {
            let q = Arc::new(q);
            cache.insert(arn.to_owned(), q.clone());
            Some(q)
        }
        Err(e) => {
            // The records still come back, after the queue's visibility timeout.
            tracing::error!(queue = arn, error = %e, "cannot find the queue to set a backoff");
            None
        }
    }
}

/// The records of a batch as the consumer code takes them.
pub fn records(event: &SqsEvent) -> Vec<Record> {
    event
        .records
        .iter()
        .map(|m| Record {
            message_id: m.message_id.clone().unwrap_or_default(),
            receipt: m.receipt_handle.clone().unwrap_or_default(),
            receive_count: m
                .attributes
                .get("ApproximateReceiveCount")
                .and_then(|n| n.parse().ok())
                .unwrap_or(1),
            body: m.body.clone().unwrap_or_default(),
        })
        .collect()
}

pub async fn serve(
    services: Arc<Services>,
    name: &'static str,
    f: EventFn,
    client: reserveplace_aws::sqs::Client,
) -> Result<(), Error> {
    let cache: QueueCache = Arc::default();
    lambda_runtime::run(service_fn(move |e: LambdaEvent<SqsEvent>| {
        let (services, cache, client) = (services.clone(), cache.clone(), client.clone());
        async move {
            let span = tracing::info_span!("batch", function = name, records = e.payload.records.len());
            let source = e
                .payload
                .records
                .iter()
                .find_map(|m| m.event_source_arn.clone());
            let retry = services.consumer_retry;
            let failed = consume(records(&e.payload), retry, |event| {
                let span = tracing::info_span!(
                    "event",
                    function = name,
                    reservation_id = crate::correlation_id(&event)
                );
                f(services.clone(), event).instrument(span)
            })
            .instrument(span)
            .await;
            if !failed.is_empty()
                && let Some(arn) = source
                && let Some(queue) = queue_of(&cache, &client, &arn).await
            {
                for f in &failed {
                    let seconds = u32::try_from(f.retry_in_seconds).unwrap_or(u32::MAX);
                    if let Err(e) = queue.hide(&f.receipt, seconds).await {
                        tracing::warn!(message_id = %f.message_id, error = %e, "cannot set the backoff");
                    }
                }
            }
            let mut response = SqsBatchResponse::default();
            response.batch_item_failures = failed
                .into_iter()
                .map(|f| {
                    let mut item = BatchItemFailure::default();
                    item.item_identifier = f.message_id;
                    item
                })
                .collect();
            Ok::<_, Error>(response)
        }
    }))
    .await
}
