//! Contract suites: what every adapter of a port must do, written once and run against each adapter
//! (the embedded store and DynamoDB, the local interpreter and Step Functions, the local queues and
//! SQS, the simulated payment provider and Stripe), so the local
//! runtime cannot drift from AWS behaviour.
//!
//! An adapter's test file implements the fixture trait and invokes the suite's macro, which emits
//! one `#[tokio::test]` per case.
pub mod payment;
pub mod queue;
pub mod saga;
pub mod table;
