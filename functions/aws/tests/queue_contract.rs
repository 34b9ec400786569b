//! The queue port's contract suite against SQS on the emulator, through the AWS SDK (the same
//! suite runs against the local runtime's queues in `functions/local-store/tests/queue_contract.rs`).
//! The queues are made as the template makes each consumer's: a source queue whose redrive policy
//! names its own dead-letter queue.
mod support;

use std::sync::Arc;

use reserveplace_aws::SqsQueue;
use reserveplace_contract::queue::{MAX_RECEIVE_COUNT, QueueFixture};
use reserveplace_domain::queue::MessageQueue;
use serde_json::json;

struct SqsQueues {
    source: Arc<SqsQueue>,
    dead: Arc<SqsQueue>,
}

async fn fixture() -> SqsQueues {
    let client = reserveplace_aws::sqs::Client::new(&support::sdk().await);
    let prefix = uuid::Uuid::new_v4().simple().to_string();
    let dead_url = client
        .create_queue()
        .queue_name(format!("{prefix}-dead"))
        .send()
        .await
        .expect("create the dead-letter queue")
        .queue_url
        .expect("url");
    let dead_arn = support::queue_arn(&support::endpoint(), &dead_url).await;
    let redrive = json!({"deadLetterTargetArn": dead_arn, "maxReceiveCount": MAX_RECEIVE_COUNT});
    let source_url = client
        .create_queue()
        .queue_name(format!("{prefix}-source"))
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy,
            redrive.to_string(),
        )
        .send()
        .await
        .expect("create the source queue")
        .queue_url
        .expect("url");
    // The adapter finds a queue from the ARN Lambda hands over, as the bootstrap does.
    let source_arn = support::queue_arn(&support::endpoint(), &source_url).await;
    let source = SqsQueue::from_arn(client.clone(), &source_arn)
        .await
        .expect("the source queue by its ARN");
    assert_eq!(source.url(), source_url);
    SqsQueues {
        source: Arc::new(source),
        dead: Arc::new(SqsQueue::new(client, dead_url)),
    }
}

impl QueueFixture for SqsQueues {
    fn source(&self) -> Arc<dyn MessageQueue> {
        self.source.clone()
    }
    fn dead_letters(&self) -> Arc<dyn MessageQueue> {
        self.dead.clone()
    }
}

reserveplace_contract::queue_contract!(fixture());
