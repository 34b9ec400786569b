//! The queue port ([`MessageQueue`]) an event consumer reads: what SQS does and the local
//! runtime's queues must do alike: a received message is hidden for its visibility timeout, a
//! deleted one never comes back, hiding a received message again for 0 seconds makes it
//! receivable at once with its receive count grown, and a message received `max_receive_count`
//! times moves to the dead-letter queue on the next receive.
use std::collections::BTreeSet;
use std::sync::Arc;

use reserveplace_domain::queue::{MessageQueue, Received};

/// How many receives the fixture's source queue allows before it dead-letters a message.
pub const MAX_RECEIVE_COUNT: u32 = 3;

/// One isolated pair of queues per case: a source queue whose redrive policy sends a message to
/// the dead-letter queue after [`MAX_RECEIVE_COUNT`] receives, and that dead-letter queue.
pub trait QueueFixture: Send + Sync {
    fn source(&self) -> Arc<dyn MessageQueue>;
    fn dead_letters(&self) -> Arc<dyn MessageQueue>;
}

/// Emits one test per case: `queue_contract!(async { <expression giving a QueueFixture> })`.
#[macro_export]
macro_rules! queue_contract {
    ($fixture:expr) => {
        $crate::queue_contract!(@cases $fixture;
            a_received_message_is_hidden_until_its_visibility_ends,
            a_deleted_message_never_comes_back,
            hiding_for_zero_seconds_makes_it_receivable_again_with_its_count,
            a_message_received_too_often_moves_to_the_dead_letter_queue,
            a_receive_answers_at_most_what_it_asks_for_and_loses_nothing,
        );
    };
    (@cases $fixture:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let fixture = $fixture.await;
                $crate::queue::$case(&fixture).await;
            }
        )+
    };
}

/// Receives until `want` messages came or a few empty answers in a row (SQS may answer fewer
/// than are visible).
async fn receive_all(q: &dyn MessageQueue, want: usize, visibility: u32) -> Vec<Received> {
    let mut got: Vec<Received> = Vec::new();
    let mut empty = 0;
    while got.len() < want && empty < 5 {
        let batch = q.receive(10, visibility).await.expect("receive");
        if batch.is_empty() {
            empty += 1;
        }
        got.extend(batch);
    }
    got
}

pub async fn a_received_message_is_hidden_until_its_visibility_ends(f: &dyn QueueFixture) {
    let q = f.source();
    let id = q.send(r#"{"n":1}"#).await.expect("send");
    let got = receive_all(q.as_ref(), 1, 30).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        (got[0].message_id.as_str(), got[0].body.as_str()),
        (id.as_str(), r#"{"n":1}"#)
    );
    assert_eq!(got[0].receive_count, 1);
    assert!(
        q.receive(10, 30).await.expect("receive").is_empty(),
        "received twice within its visibility timeout"
    );
    // A visibility of one second passes: it comes back, counted twice.
    let q2 = f.source();
    q2.send("second").await.expect("send");
    let first = receive_all(q2.as_ref(), 1, 1).await;
    assert_eq!(first.len(), 1);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let again = receive_all(q2.as_ref(), 1, 30).await;
    assert_eq!(
        again.len(),
        1,
        "not received again after its visibility ended"
    );
    assert_eq!(again[0].body, "second");
    assert_eq!(again[0].receive_count, 2);
}

pub async fn a_deleted_message_never_comes_back(f: &dyn QueueFixture) {
    let q = f.source();
    q.send("gone").await.expect("send");
    let got = receive_all(q.as_ref(), 1, 1).await;
    assert_eq!(got.len(), 1);
    q.delete(&[got[0].receipt.clone()]).await.expect("delete");
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert!(q.receive(10, 30).await.expect("receive").is_empty());
    // Deleting nothing is fine.
    q.delete(&[]).await.expect("empty delete");
}

pub async fn hiding_for_zero_seconds_makes_it_receivable_again_with_its_count(
    f: &dyn QueueFixture,
) {
    let q = f.source();
    q.send("retry me").await.expect("send");
    let first = receive_all(q.as_ref(), 1, 60).await;
    assert_eq!(first.len(), 1);
    q.hide(&first[0].receipt, 0).await.expect("hide 0");
    let second = receive_all(q.as_ref(), 1, 60).await;
    assert_eq!(second.len(), 1, "not receivable after hide(0)");
    assert_eq!(second[0].message_id, first[0].message_id);
    assert_eq!(second[0].receive_count, 2);
    // Hidden for a minute: nothing to receive now.
    q.hide(&second[0].receipt, 60).await.expect("hide 60");
    assert!(q.receive(10, 60).await.expect("receive").is_empty());
}

pub async fn a_message_received_too_often_moves_to_the_dead_letter_queue(f: &dyn QueueFixture) {
    let (q, dlq) = (f.source(), f.dead_letters());
    q.send("poison").await.expect("send");
    for n in 1..=MAX_RECEIVE_COUNT {
        let got = receive_all(q.as_ref(), 1, 60).await;
        assert_eq!(got.len(), 1, "receive {n}");
        assert_eq!(got[0].receive_count, n);
        q.hide(&got[0].receipt, 0).await.expect("hide");
    }
    // The next receive moves it instead of answering it.
    assert!(q.receive(10, 60).await.expect("receive").is_empty());
    let dead = receive_all(dlq.as_ref(), 1, 60).await;
    assert_eq!(dead.len(), 1, "not in the dead-letter queue");
    assert_eq!(dead[0].body, "poison");
}

pub async fn a_receive_answers_at_most_what_it_asks_for_and_loses_nothing(f: &dyn QueueFixture) {
    let q = f.source();
    let mut sent = BTreeSet::new();
    for n in 0..13 {
        q.send(&format!("m{n}")).await.expect("send");
        sent.insert(format!("m{n}"));
    }
    let three = q.receive(3, 60).await.expect("receive");
    assert!(!three.is_empty() && three.len() <= 3, "{}", three.len());
    let mut got: BTreeSet<String> = three.into_iter().map(|m| m.body).collect();
    got.extend(
        receive_all(q.as_ref(), 13 - got.len(), 60)
            .await
            .into_iter()
            .map(|m| m.body),
    );
    assert_eq!(got, sent);
}
