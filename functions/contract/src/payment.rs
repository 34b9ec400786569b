//! The payment provider port ([`PaymentProvider`]): what the simulation and the Stripe adapter
//! must both do. An approved authorization is captured in full or in part, voided, and refunded
//! in parts; a movement sent again with its idempotency key moves no more money; a declining card
//! is a decline, not an error. What moved is read from the provider's side by the fixture.
use std::sync::Arc;

use async_trait::async_trait;
use reserveplace_domain::payment::{
    AuthorizeCall, MoveCall, Movement, PaymentProvider, ProviderCharge,
};
use reserveplace_domain::terms::Currency;

/// What the provider holds for one authorization, as the provider itself reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Moved {
    pub captured: i64,
    pub refunded: i64,
    pub voided: bool,
}

#[async_trait]
pub trait PaymentFixture: Send + Sync {
    fn provider(&self) -> Arc<dyn PaymentProvider>;
    /// A card that pays (`None`: the provider's default).
    fn paying_card(&self) -> Option<String>;
    fn declining_card(&self) -> String;
    /// Read from the provider, not from the adapter's answers.
    async fn moved(&self, provider_ref: &str) -> Moved;
}

/// Emits one test per case: `payment_contract!(async { <expression giving a PaymentFixture> })`.
#[macro_export]
macro_rules! payment_contract {
    ($fixture:expr) => {
        $crate::payment_contract!(@cases $fixture;
            an_authorization_is_captured_in_part_and_refunded_in_parts,
            a_movement_sent_again_with_its_key_moves_no_more_money,
            a_void_releases_the_hold_and_a_repeated_void_is_done,
            a_declining_card_is_a_decline_not_an_error,
        );
    };
    (@cases $fixture:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let fixture = $fixture.await;
                $crate::payment::$case(&fixture).await;
            }
        )+
    };
}

const AMOUNT: i64 = 10_001;

/// A fresh reservation id, so cases never share an authorization.
fn reservation() -> String {
    format!("contract-{}", uuid::Uuid::new_v4().simple())
}

async fn authorize(f: &dyn PaymentFixture, rid: &str, card: Option<String>) -> ProviderCharge {
    let key = format!("{rid}:authorize:1");
    f.provider()
        .authorize(AuthorizeCall {
            reservation_id: rid,
            user_id: "contract-user",
            amount: AMOUNT,
            currency: Currency::KRW,
            payment_method: card.as_deref(),
            idempotency_key: &key,
        })
        .await
        .expect("authorize")
}

async fn approved(f: &dyn PaymentFixture) -> String {
    let rid = reservation();
    match authorize(f, &rid, f.paying_card()).await {
        ProviderCharge::Approved { provider_ref } => provider_ref,
        other => panic!("a paying card was not approved: {other:?}"),
    }
}

async fn apply(
    f: &dyn PaymentFixture,
    provider_ref: &str,
    movement: Movement,
    amount: i64,
    key: &str,
) {
    f.provider()
        .apply(MoveCall {
            provider_ref,
            movement,
            amount,
            currency: Currency::KRW,
            idempotency_key: key,
        })
        .await
        .unwrap_or_else(|e| panic!("{movement:?} {amount} ({key}): {e}"));
}

pub async fn an_authorization_is_captured_in_part_and_refunded_in_parts(f: &dyn PaymentFixture) {
    let r = approved(f).await;
    assert_eq!(
        f.moved(&r).await,
        Moved::default(),
        "an authorization takes nothing"
    );
    apply(f, &r, Movement::Capture, 6_000, &format!("{r}:capture:2")).await;
    assert_eq!(
        f.moved(&r).await.captured,
        6_000,
        "a partial capture takes only its amount"
    );
    apply(f, &r, Movement::Refund, 1_000, &format!("{r}:refund:4")).await;
    apply(f, &r, Movement::Refund, 2_500, &format!("{r}:refund:5")).await;
    assert_eq!(
        f.moved(&r).await,
        Moved {
            captured: 6_000,
            refunded: 3_500,
            voided: false
        }
    );
}

pub async fn a_movement_sent_again_with_its_key_moves_no_more_money(f: &dyn PaymentFixture) {
    let r = approved(f).await;
    let capture = format!("{r}:capture:2");
    for _ in 0..2 {
        apply(f, &r, Movement::Capture, AMOUNT, &capture).await;
    }
    let refund = format!("{r}:refund:3");
    for _ in 0..3 {
        apply(f, &r, Movement::Refund, 4_000, &refund).await;
    }
    assert_eq!(
        f.moved(&r).await,
        Moved {
            captured: AMOUNT,
            refunded: 4_000,
            voided: false
        },
        "captured once, refunded once"
    );
}

pub async fn a_void_releases_the_hold_and_a_repeated_void_is_done(f: &dyn PaymentFixture) {
    let r = approved(f).await;
    let key = format!("{r}:void:2");
    for _ in 0..2 {
        apply(f, &r, Movement::Void, AMOUNT, &key).await;
    }
    assert_eq!(
        f.moved(&r).await,
        Moved {
            captured: 0,
            refunded: 0,
            voided: true
        }
    );
}

pub async fn a_declining_card_is_a_decline_not_an_error(f: &dyn PaymentFixture) {
    let rid = reservation();
    match authorize(f, &rid, Some(f.declining_card())).await {
        ProviderCharge::Declined { reason } => assert!(!reason.is_empty()),
        other => panic!("a declining card was approved: {other:?}"),
    }
}
