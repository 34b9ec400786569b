//! The port of a message queue an event consumer reads (SQS on AWS, the embedded store locally).
//! Only what the consumers and their tests use: send, receive with a visibility timeout, delete,
//! and hiding a received message again for a while (the backoff of a failed record). Where a
//! message goes after too many receives (its dead-letter queue) is the queue's configuration.
use async_trait::async_trait;

use crate::store::StoreError;

/// One message as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub message_id: String,
    /// Names this receive; a later receive of the same message makes it stale.
    pub receipt: String,
    /// Receives so far, this one included.
    pub receive_count: u32,
    pub body: String,
}

#[async_trait]
pub trait MessageQueue: Send + Sync {
    /// Puts a message on the queue; answers its id.
    async fn send(&self, body: &str) -> Result<String, StoreError>;
    /// Up to `max` visible messages (fewer, or none, is not an error), each hidden for
    /// `visibility_seconds` unless deleted first.
    async fn receive(&self, max: u32, visibility_seconds: u32)
    -> Result<Vec<Received>, StoreError>;
    /// Removes received messages for good.
    async fn delete(&self, receipts: &[String]) -> Result<(), StoreError>;
    /// Hides a received message for `seconds` from now (0: visible again at once).
    async fn hide(&self, receipt: &str, seconds: u32) -> Result<(), StoreError>;
}
