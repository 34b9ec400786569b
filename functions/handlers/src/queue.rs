//! An event consumer's batch from its own queue (SQS on AWS, the local runtime's queues alike):
//! each record's body is the EventBridge event the rule put there. The records the handler fails
//! on are reported (Lambda's `ReportBatchItemFailures`), each with how long the queue hides it
//! before it is received again, so a context down for days is retried all along without a hot loop.

use std::future::Future;

use serde_json::Value;

use crate::error::StepError;

/// One message of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub message_id: String,
    /// What names this receive of the message (SQS's receipt handle).
    pub receipt: String,
    /// Receives so far, this one included (SQS's `ApproximateReceiveCount`).
    pub receive_count: u32,
    pub body: String,
}

/// A record the handler failed on, to be received again after `retry_in_seconds`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failed {
    pub message_id: String,
    pub receipt: String,
    pub retry_in_seconds: u64,
    pub error: String,
}

/// The backoff of a failing record: doubling from `first_seconds` with each receive, up to
/// `max_seconds` (`CONSUMER_RETRY_FIRST_SECONDS` / `CONSUMER_RETRY_MAX_SECONDS`).
/// `tests/cfn/check_template.py` adds the same delays up against each queue's `maxReceiveCount`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsumerRetry {
    pub first_seconds: u64,
    pub max_seconds: u64,
}

impl Default for ConsumerRetry {
    fn default() -> Self {
        Self {
            first_seconds: 10,
            max_seconds: 900,
        }
    }
}

impl ConsumerRetry {
    /// The wait after the `receive_count`-th receive failed.
    pub fn delay(&self, receive_count: u32) -> u64 {
        let doublings = receive_count.saturating_sub(1).min(30);
        self.first_seconds
            .saturating_mul(1 << doublings)
            .min(self.max_seconds)
    }
}

/// Runs `handle` on each record's event, in order, and answers the records it failed on. A
/// record whose body is not an event, or that the handler refuses as invalid or misconfigured,
/// is received again at once: it reaches the dead-letter queue within its receives instead of
/// being retried for a week, and a fixed deployment takes it back with a redrive.
pub async fn consume<F, Fut>(records: Vec<Record>, retry: ConsumerRetry, handle: F) -> Vec<Failed>
where
    F: Fn(Value) -> Fut,
    Fut: Future<Output = Result<(), StepError>>,
{
    let mut failed = Vec::new();
    for record in records {
        let result = match serde_json::from_str::<Value>(&record.body) {
            Ok(event) => handle(event).await,
            Err(e) => Err(StepError::invalid(format!("the message is not JSON: {e}"))),
        };
        let Err(error) = result else { continue };
        let retry_in_seconds = match error {
            StepError::Transient(_) => retry.delay(record.receive_count),
            StepError::InvalidInput(_) | StepError::Misconfigured(_) => 0,
        };
        tracing::warn!(
            message_id = %record.message_id,
            receive_count = record.receive_count,
            retry_in_seconds,
            error = %error,
            "a record failed; it is received again later"
        );
        failed.push(Failed {
            message_id: record.message_id,
            receipt: record.receipt,
            retry_in_seconds,
            error: error.to_string(),
        });
    }
    failed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, body: &str, receive_count: u32) -> Record {
        Record {
            message_id: id.to_owned(),
            receipt: format!("{id}#{receive_count}"),
            receive_count,
            body: body.to_owned(),
        }
    }

    #[test]
    fn the_backoff_doubles_up_to_its_cap() {
        let r = ConsumerRetry::default();
        let delays: Vec<u64> = (1..=9).map(|n| r.delay(n)).collect();
        assert_eq!(delays, [10, 20, 40, 80, 160, 320, 640, 900, 900]);
        assert_eq!(r.delay(0), 10);
        assert_eq!(r.delay(u32::MAX), 900);
    }

    #[tokio::test]
    async fn only_the_failed_records_are_reported_with_their_backoff() {
        let records = vec![
            record("a", r#"{"id":"ok"}"#, 1),
            record("b", r#"{"id":"down"}"#, 3),
            record("c", "not json", 1),
            record("d", r#"{"id":"bad"}"#, 2),
        ];
        let failed = consume(
            records,
            ConsumerRetry::default(),
            |event: Value| async move {
                match event["id"].as_str() {
                    Some("down") => Err(StepError::transient("payment is down")),
                    Some("bad") => Err(StepError::invalid("no such field")),
                    _ => Ok(()),
                }
            },
        )
        .await;
        let got: Vec<(&str, u64)> = failed
            .iter()
            .map(|f| (f.message_id.as_str(), f.retry_in_seconds))
            .collect();
        assert_eq!(got, [("b", 40), ("c", 0), ("d", 0)]);
        assert_eq!(failed[0].receipt, "b#3");
    }
}
