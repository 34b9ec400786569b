//! AWS adapters of the ReservePlace ports.
//!
//! - [`DynamoDbTable`]: the storage port on DynamoDB. A transaction's writes and its events are one
//!   `TransactWriteItems` call: each event becomes an outbox item in the same table, so an event
//!   exists if and only if its change committed.
//! - [`relay`]: the outbox relay. A DynamoDB Streams consumer that publishes new outbox items with
//!   [`EventBridgeBus`] (batches of at most 10, partial failures retried) and reports what it could
//!   not publish as batch item failures, so the stream redelivers it; a permanent refusal (missing
//!   bus or permission) fails the invocation instead.
//! - [`StepFunctionsCallbacks`]: owner decisions resume the waiting saga (`SendTaskSuccess` /
//!   `SendTaskFailure`); [`StepFunctionsStarter`]: the saga's starter names each execution
//!   (`StartExecution`), so a redelivered event starts nothing new.
//! - [`SqsQueue`]: an event consumer's queue; the bootstrap hides each record its handler failed
//!   on for the record's backoff (`ChangeMessageVisibility`).
//! - [`secrets`]: a Secrets Manager secret's value (the payment provider's keys).
//! - [`iam`]: the IAM actions each adapter call needs; a test checks the template grants exactly these.
//! - [`classify`]: which SDK errors are worth a retry and which are a permanent misconfiguration,
//!   shared by every adapter.

pub mod classify;
pub mod dynamodb;
pub mod eventbridge;
pub mod iam;
pub mod relay;
pub mod secrets;
pub mod sfn;
pub mod sqs;

pub use dynamodb::DynamoDbTable;
pub use eventbridge::{EventBridgeBus, PublishError};
pub use sfn::{StepFunctionsCallbacks, StepFunctionsStarter};
pub use sqs::SqsQueue;
