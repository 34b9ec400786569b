//! Adapters that are the same on AWS and locally: the simulated payment provider, the provider
//! timeout and the logging notification channel.
mod log_channel;
mod simulated_payment;
mod timeout;

pub use log_channel::LogChannel;
pub use simulated_payment::{SimulatedProvider, SimulationSettings};
pub use timeout::TimeoutProvider;
