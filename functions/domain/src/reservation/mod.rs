//! Reservation context (the seed's `place` / `accommodations`): the customer's reservation and its
//! status, advanced by the saga and by the customer's cancel.
mod cancellation;
mod model;
mod service;

pub use cancellation::*;
pub use model::*;
pub use service::*;

#[cfg(test)]
#[path = "cancellation_tests.rs"]
mod cancellation_tests;
