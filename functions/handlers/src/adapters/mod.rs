//! Adapters that are the same on AWS and locally: the payment providers (the simulation, Stripe)
//! and their timeout, the logging notification channel and the timer.
mod https;
mod log_channel;
mod simulated_payment;
mod sleeper;
mod stripe;
mod stripe_webhook;
mod timeout;

pub use https::{HttpsClient, NoAnswer, exchange, https_client};
pub use log_channel::LogChannel;
pub use simulated_payment::{SimulatedCall, SimulatedProvider, SimulationSettings};
pub use sleeper::TokioSleeper;
pub use stripe::{StripeConfig, StripeProvider, from_stripe_amount, stripe_amount};
pub use stripe_webhook::{StripeNotices, TOLERANCE_SECONDS, sign as sign_stripe_webhook};
pub use timeout::TimeoutProvider;
