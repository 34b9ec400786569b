//! The operator's tool for the event consumers' queues: on AWS every consumer reads its events
//! from its own SQS queue (rule → queue → event source mapping), whose RedrivePolicy names a
//! dead-letter queue, and the bus keeps an archive. Three commands cover what an operator does
//! with them:
//!
//! * [`queues::list`]: each queue with a RedrivePolicy beside its dead-letter queue (depths, the
//!   age of the oldest dead letter), so one look says which consumer is failing;
//! * [`redrive::redrive`]: a dead-letter queue's messages back to their source queue, with
//!   SQS's own move task, or by receive → send → delete where the endpoint lacks it;
//! * [`replay::replay`]: the archive's events of a time range sent to the bus again.
//!
//! The functions take the SDK clients, so the binary only parses arguments and prints, and the
//! tests run them against the AWS emulator.
//!
//! # What the emulator (moto 5.2) verified, and what it did not
//!
//! `tests/on_emulator.rs` runs every command against moto. On it:
//!
//! * `queues`: depths, `maxReceiveCount`, the dead-letter queue's peeked oldest age, ListQueues
//!   read page by page, the table, the JSON and the exit statuses 3 and 0 of the binary.
//! * `redrive`: moto implements neither StartMessageMoveTask nor ListMessageMoveTasks (it
//!   answers HTTP 500 with an HTML page), so only the receive → send → delete path runs there:
//!   bodies and message attributes arrive, the dead-letter queue ends empty, and a destination
//!   that rejects the messages (too large for it) leaves every unsent one in the dead-letter
//!   queue. The move-task path (start, progress, completion, failure) is not verified on any
//!   emulator; nor are FIFO queues.
//! * `replay`: StartReplay and DescribeReplay run, and the replayed events reach an SQS target of
//!   a rule, carrying the `replay-name` field. moto replays the whole archive whatever the range
//!   and ignores the destination's rule filter (`--rule`), and completes the replay before it
//!   answers StartReplay, so the range, the filter and the polling through the RUNNING state are
//!   not verified on it.

pub mod queues;
pub mod redrive;
pub mod replay;

use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// Exit status when a dead-letter queue holds messages (`queues`), distinct from a failure (1)
/// and from a usage error (2, clap's), so a script can alarm on it.
pub const EXIT_DEAD_LETTERS: u8 = 3;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// An AWS call failed; `code` is the service's error code when it sent one.
    #[error("{operation}: {message}")]
    Aws {
        operation: &'static str,
        code: Option<String>,
        message: String,
    },
    #[error("queue {0} does not exist")]
    NoSuchQueue(String),
    #[error("{0} is not an SQS queue ARN (arn:<partition>:sqs:<region>:<account>:<name>)")]
    NotAQueueArn(String),
    #[error("queue {queue}: RedrivePolicy {policy:?} has no deadLetterTargetArn")]
    BadRedrivePolicy { queue: String, policy: String },
    #[error("building the {operation} request: {message}")]
    Build {
        operation: &'static str,
        message: String,
    },
    #[error("the response of {operation} lacks {field}")]
    Incomplete {
        operation: &'static str,
        field: &'static str,
    },
    #[error("no queue names {dlq} as its dead-letter queue: name the destination with --to")]
    NoSourceQueue { dlq: String },
    #[error("{} queues name {dlq} as their dead-letter queue ({}): name the destination with --to", sources.len(), sources.join(", "))]
    SeveralSourceQueues { dlq: String, sources: Vec<String> },
    #[error("the destination is the dead-letter queue {0} itself")]
    DestinationIsSource(String),
    #[error("a message move task is already running on {dlq}: wait for it, or cancel it")]
    MoveTaskRunning { dlq: String },
    #[error("the message move task ended {status}: {reason} ({moved} messages moved)")]
    MoveTaskEnded {
        status: String,
        reason: String,
        moved: u64,
    },
    /// A batch could not be sent: its messages stay in the dead-letter queue (visible again);
    /// every message sent before was deleted from it, except `duplicated` whose delete failed.
    #[error(
        "redrive stopped after moving {moved} messages ({duplicated} of them still in the dead-letter queue too): {cause}"
    )]
    RedriveStopped {
        moved: u64,
        duplicated: u64,
        cause: Box<OpsError>,
    },
    #[error("{count} messages were not sent to {to}, first {code}: {message}")]
    NotSent {
        to: String,
        count: usize,
        code: String,
        message: String,
    },
    #[error("--from {from} is not before --to {to}")]
    EmptyRange { from: String, to: String },
    #[error(
        "archive {archive} records bus {source_bus}, not {bus}: events replay to their own bus"
    )]
    ArchiveNotOnBus {
        archive: String,
        source_bus: String,
        bus: String,
    },
    #[error(
        "a replay named {0} exists already (this range was replayed before): give this one another name with --name"
    )]
    ReplayExists(String),
    #[error("writing JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("replay {name} ended {state}: {reason}")]
    ReplayEnded {
        name: String,
        state: String,
        reason: String,
    },
}

impl OpsError {
    /// An SDK error as [`OpsError::Aws`]: the service's code and message when it answered
    /// with them, otherwise the whole error chain (a timeout, a refused connection, …).
    pub(crate) fn aws<E, R>(operation: &'static str, e: SdkError<E, R>) -> OpsError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let service = e.as_service_error();
        let code = service.and_then(|s| s.code()).map(str::to_owned);
        let message = match (service, &code) {
            (Some(s), Some(code)) => format!("{code}: {}", s.message().unwrap_or("no message")),
            _ => DisplayErrorContext(&e).to_string(),
        };
        OpsError::Aws {
            operation,
            code,
            message,
        }
    }
}
