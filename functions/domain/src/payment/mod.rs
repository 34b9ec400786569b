//! Payment context: at most one charge per reservation, refunds exactly once, a provider behind a
//! port and a circuit breaker whose state lives in the store (shared by every instance).
mod breaker;
mod model;
mod service;

pub use breaker::*;
pub use model::*;
pub use service::*;
