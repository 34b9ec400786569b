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

    /// A proxy to `upstream` that, on its first `cuts` connections, hangs up on the caller as soon
    /// as the upstream answer begins: Stripe acted, and the caller never hears of it. Its address,
    /// and how many connections it cut so far.
    async fn cutting_proxy(
        upstream: &str,
        cuts: usize,
    ) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        let cut = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = cut.clone();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        tokio::spawn(async move {
            for n in 0.. {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await else {
                    return;
                };
                let counted = counted.clone();
                tokio::spawn(async move {
                    if n >= cuts {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        return;
                    }
                    let (mut from_client, _to_client) = client.split();
                    let (mut from_server, mut to_server) = server.split();
                    let mut buf = [0u8; 1];
                    let forward = async {
                        let mut chunk = [0u8; 4096];
                        loop {
                            match from_client.read(&mut chunk).await {
                                Ok(0) | Err(_) => break,
                                Ok(k) => {
                                    if to_server.write_all(&chunk[..k]).await.is_err() {
                                        break;
                                    }
                                }
                            }
                        }
                    };
                    // The first byte of the answer means the request was taken: hang up.
                    tokio::select! {
                        _ = forward => {}
                        _ = from_server.read(&mut buf) => {
                            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        }
                    }
                });
            }
        });
        (format!("http://{address}"), cut)
    }

    fn adapter(base: &str) -> StripeProvider {
        StripeProvider::new(StripeConfig {
            api_base: base.to_owned(),
            secret_key: localstripe::SECRET_KEY.into(),
            request_timeout: std::time::Duration::from_secs(10),
        })
        .expect("adapter")
    }

    /// The connection is cut after Stripe acted: a capture reads the intent back and knows it is
    /// done (moving nothing more), and an authorization is an unknown outcome, neither approved
    /// nor failed, for the step to ask again with its key.
    #[tokio::test]
    async fn an_answer_cut_off_after_stripe_acted_is_learnt_not_counted_as_failed() {
        use reserveplace_domain::payment::{
            AuthorizeCall, MoveCall, Movement, ProviderCharge, ProviderError,
        };
        use reserveplace_domain::terms::Currency;
        let base = localstripe::url();
        let rid = format!("cut-{}", uuid::Uuid::new_v4().simple());
        let key = format!("{rid}:authorize:1");
        let call = AuthorizeCall {
            reservation_id: &rid,
            user_id: "contract-user",
            amount: 10_001,
            currency: Currency::KRW,
            payment_method: Some("pm_card_visa"),
            idempotency_key: &key,
        };
        let Ok(ProviderCharge::Approved { provider_ref }) =
            adapter(&base).authorize(call.clone()).await
        else {
            panic!("the paying card was not approved");
        };
        let (proxy, cuts) = cutting_proxy(&base, 1).await;
        let capture = adapter(&proxy)
            .apply(MoveCall {
                provider_ref: &provider_ref,
                movement: Movement::Capture,
                amount: 10_001,
                currency: Currency::KRW,
                idempotency_key: &format!("{rid}:capture:2"),
            })
            .await;
        assert_eq!(
            cuts.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "the answer was cut off"
        );
        assert_eq!(capture, Ok(()), "read back: the intent is captured");
        let at_stripe = localstripe::moved(&base, &provider_ref).await;
        assert_eq!((at_stripe.captured, at_stripe.refunded), (10_001, 0));

        let cut = adapter(&cutting_proxy(&base, 1).await.0);
        let other = format!("cut-{}", uuid::Uuid::new_v4().simple());
        let lost = cut
            .authorize(AuthorizeCall {
                reservation_id: &other,
                ..call
            })
            .await;
        assert!(
            matches!(lost, Err(ProviderError::Unknown(_))),
            "an authorization whose answer was cut off: {lost:?}"
        );
    }
}
