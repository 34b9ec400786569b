//! Offline interpreter of the Amazon States Language subset the ReservePlace saga uses, durable
//! across process restarts through the domain's [`Table`](reserveplace_domain::store::Table)
//! port.
//!
//! * [`StateMachine::parse`] validates a definition up front: anything not implemented (Map,
//!   Parallel, intrinsic functions, heartbeats, JSONata, unknown fields, dangling transitions…)
//!   is an [`AslError`] naming the state and field, never silently ignored.
//! * [`Interpreter`] runs each execution as one tokio task, in memory, and checkpoints only at
//!   start, on entering a callback task (before its resource is invoked) or a Wait state, when
//!   a callback completes (on the token item) and at the end. After a crash,
//!   [`Interpreter::resume_all`] continues every RUNNING execution from its last checkpoint,
//!   re-arming timers from their stored wall-clock deadlines; the steps after that checkpoint
//!   run again (at-least-once), which the saga's idempotent tasks absorb.
//! * Every record write is conditioned on the record's version, so a stale runner (one that
//!   kept running while another process resumed the execution) can never overwrite it; and a
//!   callback token leaves PENDING exactly once, which arbitrates callback vs. timeout.
//! * Step Functions Standard's quotas hold as on AWS: 25,000 history events per execution
//!   (`States.Runtime` past it), 256 KiB per payload (`States.DataLimitExceeded`), 80-character
//!   names. The clock follows tokio's, so tests run days of retries in virtual time.

mod asl;
mod clock;
mod error;
mod interpreter;
mod ops;
mod path;
mod persist;
mod quota;

pub use asl::StateMachine;
pub use error::{AslError, SfnError, TaskError};
pub use interpreter::{ExecutionView, Interpreter, TaskInvoker, TokenWaiters};
pub use persist::ExecutionStatus;
pub use quota::{MAX_HISTORY_EVENTS, MAX_PAYLOAD_BYTES};
