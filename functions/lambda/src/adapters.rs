//! The AWS adapters behind the ports, built once per execution environment.
use std::collections::BTreeMap;
use std::sync::Arc;

use reserveplace_aws::{DynamoDbTable, StepFunctionsCallbacks, StepFunctionsStarter};
use reserveplace_domain::clock::SystemClock;
use reserveplace_domain::payment::{NoticeReader, PaymentProvider};
use reserveplace_domain::saga::SagaStarter;
use reserveplace_domain::store::Table;
use reserveplace_functions::adapters::{LogChannel, SimulatedProvider, SimulationSettings};
use reserveplace_functions::services::Adapters;

/// Table names and the state machine ARN come from the environment through `Services::build`;
/// the clients are shared.
pub fn aws_adapters(sdk: &aws_config::SdkConfig, env: &BTreeMap<String, String>) -> Adapters {
    // Stripe when the template names its secret, else the simulation.
    let stripe = crate::stripe::LazyStripe::from_env(sdk, env);
    let payment_provider: Arc<dyn PaymentProvider> = match &stripe {
        Some(s) => s.clone(),
        None => SimulatedProvider::new(SimulationSettings::default()),
    };
    let payment_notices = stripe.map(|s| -> Arc<dyn NoticeReader> { s });
    let dynamodb = reserveplace_aws::dynamodb::Client::new(sdk);
    let sfn = reserveplace_aws::sfn::Client::new(sdk);
    Adapters {
        table: Arc::new(move |name: &str| -> Arc<dyn Table> {
            Arc::new(DynamoDbTable::new(dynamodb.clone(), name))
        }),
        clock: Arc::new(SystemClock),
        payment_provider,
        payment_notices,
        saga: Arc::new(StepFunctionsCallbacks::new(sfn.clone())),
        saga_starter: Arc::new(move |arn: &str| -> Arc<dyn SagaStarter> {
            Arc::new(StepFunctionsStarter::new(sfn.clone(), arn))
        }),
        notifications: Arc::new(LogChannel),
    }
}
