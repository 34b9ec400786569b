//! Offline interpreter of the Amazon States Language subset the ReservePlace saga uses, durable
//! across process restarts through the domain's [`Table`](reserveplace_domain::store::Table)
//! port.
//!
//! * [`StateMachine::parse`] validates a definition up front: anything not implemented (Map,
//!   Parallel, intrinsic functions, heartbeats, unknown fields…) is an [`AslError`] naming the
//!   state and field, never silently ignored.
//! * [`Interpreter`] runs executions in memory on tokio and checkpoints only at start, on
//!   entering a callback task or a Wait state, when a callback completes (on the token item) and
//!   at the end. After a crash, [`Interpreter::resume_all`] continues every RUNNING execution
//!   from its last checkpoint; steps after that checkpoint run again (at-least-once).

mod asl;
mod clock;
mod error;
mod interpreter;
mod ops;
mod path;
mod persist;

pub use asl::StateMachine;
pub use error::{AslError, SfnError, TaskError};
pub use interpreter::{ExecutionView, Interpreter, TaskInvoker};
pub use persist::ExecutionStatus;
