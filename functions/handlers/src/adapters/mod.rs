//! Adapters that are the same on AWS and locally: the simulated payment provider, the provider
//! timeout, the logging notification channel and the timer.
mod log_channel;
mod simulated_payment;
mod sleeper;
mod timeout;

pub use log_channel::LogChannel;
pub use simulated_payment::{SimulatedCall, SimulatedProvider, SimulationSettings};
pub use sleeper::TokioSleeper;
pub use timeout::TimeoutProvider;
