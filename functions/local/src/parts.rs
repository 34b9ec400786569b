//! The handles the bus and the HTTP side both reach, the same objects in each.
use std::sync::Arc;

use reserveplace_local_store::Database;

use crate::faults::Faults;
use crate::invoke::Functions;
use crate::queues::Queues;
use crate::saga::Machines;

/// The functions to run, the executions, the injected faults, the store (outbox, event log,
/// dead letters) and the queues in it.
pub struct Parts {
    pub functions: Arc<Functions>,
    pub machines: Arc<Machines>,
    pub faults: Arc<Faults>,
    pub db: Arc<Database>,
    pub queues: Arc<Queues>,
}
