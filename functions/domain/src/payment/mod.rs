//! Payment context: one authorization per reservation, captured when the stay is confirmed,
//! voided or refunded (in part, by the cancellation policy) on a cancel, every movement an entry
//! of the reservation's ledger; a provider behind a port and a circuit breaker whose state lives
//! in the store (shared by every instance).
mod authorization;
mod breaker;
mod ledger;
mod model;
mod notice;
mod service;

pub use breaker::*;
pub use ledger::*;
pub use model::*;
pub use notice::*;
pub use service::*;

#[cfg(test)]
mod tests;
