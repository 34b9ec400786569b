//! The payment port's contract suite against each provider adapter: the simulation in process,
//! and the Stripe adapter over HTTP against localstripe (a stateful stand-in for Stripe's API,
//! installed by `make test` into `.venv`, started once per test binary on a free port).
use std::sync::Arc;

use async_trait::async_trait;
use reserveplace_contract::payment::{Moved, PaymentFixture};
use reserveplace_domain::payment::PaymentProvider;
use reserveplace_functions::adapters::{SimulatedProvider, SimulationSettings};

mod simulated {
    use super::*;

    struct Sim(Arc<SimulatedProvider>);

    #[async_trait]
    impl PaymentFixture for Sim {
        fn provider(&self) -> Arc<dyn PaymentProvider> {
            self.0.clone()
        }
        fn paying_card(&self) -> Option<String> {
            None
        }
        fn declining_card(&self) -> String {
            "pm_sim_decline".into()
        }
        async fn moved(&self, provider_ref: &str) -> Moved {
            let rid = provider_ref.trim_start_matches("sim-");
            let mut m = Moved::default();
            for c in self.0.calls(rid).iter().filter(|c| c.moved) {
                match c.operation {
                    "capture" => m.captured += c.amount,
                    "refund" => m.refunded += c.amount,
                    "void" => m.voided = true,
                    _ => {}
                }
            }
            m
        }
    }

    async fn fixture() -> Sim {
        Sim(SimulatedProvider::new(SimulationSettings::default()))
    }

    reserveplace_contract::payment_contract!(fixture());
}

#[path = "support/localstripe.rs"]
mod localstripe;

mod stripe {
    use super::*;
    use reserveplace_functions::adapters::{StripeConfig, StripeProvider};

    struct Stripe {
        adapter: Arc<StripeProvider>,
        base: String,
    }

    #[async_trait]
    impl PaymentFixture for Stripe {
        fn provider(&self) -> Arc<dyn PaymentProvider> {
            self.adapter.clone()
        }
        fn paying_card(&self) -> Option<String> {
            Some("pm_card_visa".into())
        }
        fn declining_card(&self) -> String {
            "pm_card_chargeCustomerFail".into()
        }
        async fn moved(&self, provider_ref: &str) -> Moved {
            localstripe::moved(&self.base, provider_ref).await
        }
    }

    async fn fixture() -> Stripe {
        let base = localstripe::url();
        let adapter = StripeProvider::new(StripeConfig {
            api_base: base.clone(),
            secret_key: localstripe::SECRET_KEY.into(),
            request_timeout: std::time::Duration::from_secs(10),
        })
        .expect("adapter");
        Stripe {
            adapter: Arc::new(adapter),
            base,
        }
    }

    reserveplace_contract::payment_contract!(fixture());
}
