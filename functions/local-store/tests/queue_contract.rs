//! The queue port's contract suite against the embedded store's queues (the same suite runs
//! against SQS in `functions/aws/tests/queue_contract.rs`).
use std::path::PathBuf;
use std::sync::Arc;

use reserveplace_contract::queue::{MAX_RECEIVE_COUNT, QueueFixture};
use reserveplace_domain::queue::MessageQueue;
use reserveplace_local_store::{Database, LocalQueue, QueueClock, Redrive};

struct LocalQueues {
    dir: PathBuf,
    source: Arc<LocalQueue>,
    dead: Arc<LocalQueue>,
}

impl Drop for LocalQueues {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn fixture() -> LocalQueues {
    let dir = std::env::temp_dir().join(format!("rp-queue-contract-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let db = Database::open(&dir.join("store.sqlite")).expect("open database");
    let clock = QueueClock::new(1);
    let redrive = Redrive {
        dead_letter_queue: "dead".into(),
        max_receive_count: MAX_RECEIVE_COUNT,
    };
    LocalQueues {
        source: Arc::new(LocalQueue::new(
            db.clone(),
            "source",
            Some(redrive),
            345_600,
            clock,
        )),
        dead: Arc::new(LocalQueue::new(db, "dead", None, 1_209_600, clock)),
        dir,
    }
}

impl QueueFixture for LocalQueues {
    fn source(&self) -> Arc<dyn MessageQueue> {
        self.source.clone()
    }
    fn dead_letters(&self) -> Arc<dyn MessageQueue> {
        self.dead.clone()
    }
}

reserveplace_contract::queue_contract!(fixture());
