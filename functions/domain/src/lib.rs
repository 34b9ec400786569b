//! ReservePlace domain. Depends on no AWS crate and performs no I/O: ports are traits.
pub mod clock;
pub mod error;
pub mod events;
mod idempotency;
mod ids;
#[cfg(test)]
mod isolation_tests;
pub mod item;
pub mod payment;
pub mod place;
pub mod queue;
mod records;
pub mod reservation;
mod retry;
pub mod saga;
pub mod search;
pub mod seed;
pub mod stay;
pub mod store;
pub mod terms;
#[cfg(test)]
mod test_support;
pub mod text;
#[cfg(test)]
mod unit_tests;
pub mod views;
