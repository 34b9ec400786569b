//! The payment lifecycle against the in-memory table: what moves at the provider, what the ledger
//! records, and that the two agree after crashes and retries.
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;

use super::*;
use crate::error::DomainError;
use crate::events::DomainEvent;
use crate::reservation::CancelReason;
use crate::store::memory::MemoryTable;
use crate::store::{Item, Key, Query, StoreError, Table, Write};
use crate::test_support::{FixedClock, ScriptedProvider};

const NOW: i64 = 1_767_225_600; // 2026-01-01

fn payments(
    provider: Arc<ScriptedProvider>,
    clock: Arc<FixedClock>,
    threshold: u32,
) -> (Arc<MemoryTable>, PaymentService) {
    let table = Arc::new(MemoryTable::default());
    let svc = service(table.clone(), provider, clock, threshold);
    (table, svc)
}

fn service(
    table: Arc<dyn Table>,
    provider: Arc<ScriptedProvider>,
    clock: Arc<FixedClock>,
    threshold: u32,
) -> PaymentService {
    PaymentService::new(
        table,
        clock,
        provider,
        BreakerPolicy {
            failure_threshold: threshold,
            open_for_ms: 1_000,
        },
    )
}

fn req(id: &str) -> ChargeRequest {
    ChargeRequest {
        reservation_id: id.into(),
        user_id: "u".into(),
        owner_id: "o".into(),
        amount: 5_000,
        currency: crate::terms::Currency::KRW,
        payment_method: None,
        version: 1,
    }
}

fn approving() -> (Arc<ScriptedProvider>, Arc<MemoryTable>, PaymentService) {
    let provider = Arc::new(ScriptedProvider::approving());
    let (table, svc) = payments(provider.clone(), Arc::new(FixedClock::at(NOW)), 5);
    (provider, table, svc)
}

/// What the provider took and kept: its captures less its refunds, each key once.
fn kept_at_provider(provider: &ScriptedProvider) -> i64 {
    provider
        .moved()
        .iter()
        .map(|(m, a)| match m {
            Movement::Capture => *a,
            Movement::Refund => -a,
            _ => 0,
        })
        .sum()
}

/// The ledger's entries as (movement, amount), and a check that the payment's sums add them up.
async fn ledger(svc: &PaymentService, id: &str) -> Vec<(Movement, i64)> {
    let view = svc.view(id).await.expect("view").expect("payment");
    let mut sums = Sums::default();
    for e in &view.ledger {
        sums.add(e.movement, e.amount);
    }
    assert_eq!(sums, view.facts.sums, "the sums are the entries added up");
    assert_eq!(view.kept, sums.captured - sums.refunded);
    view.ledger.iter().map(|e| (e.movement, e.amount)).collect()
}

#[tokio::test]
async fn an_authorization_happens_once_and_a_capture_takes_it() {
    let (provider, table, svc) = approving();
    for _ in 0..2 {
        assert_eq!(
            svc.authorize(&req("r")).await.expect("authorize").outcome,
            ChargeOutcome::Approved
        );
    }
    assert_eq!(
        *provider.charges.lock().expect("lock"),
        1,
        "a replay does not authorize again"
    );
    for _ in 0..2 {
        let s = svc.capture(&req("r")).await.expect("capture");
        assert_eq!((s.status, s.kept), (Some(PaymentStatus::Captured), 5_000));
    }
    assert_eq!(provider.moved(), vec![(Movement::Capture, 5_000)]);
    assert_eq!(
        ledger(&svc, "r").await,
        vec![(Movement::Authorize, 5_000), (Movement::Capture, 5_000)]
    );
    assert_eq!(
        table.event_names(),
        vec!["PaymentAuthorized", "PaymentCaptured"]
    );
}

#[tokio::test]
async fn a_compensation_before_capture_voids_and_moves_no_money() {
    let (provider, table, svc) = approving();
    svc.authorize(&req("r")).await.expect("authorize");
    for _ in 0..2 {
        let s = svc
            .settle(&req("r"), 0, CancelReason::SoldOut)
            .await
            .expect("void");
        assert_eq!((s.status, s.captured), (Some(PaymentStatus::Voided), 0));
    }
    assert_eq!(
        provider.moved(),
        vec![(Movement::Void, 5_000)],
        "no capture, no refund"
    );
    // The stay's capture step, had it run late, takes nothing.
    assert_eq!(svc.capture(&req("r")).await.expect("capture").captured, 0);
    assert_eq!(provider.moved().len(), 1);
    assert_eq!(
        ledger(&svc, "r").await,
        vec![(Movement::Authorize, 5_000), (Movement::Void, 5_000)]
    );
    assert_eq!(
        table.event_names(),
        vec!["PaymentAuthorized", "PaymentVoided"]
    );
    let replay = svc.authorize(&req("r")).await.expect("replay");
    assert_eq!(
        (replay.outcome, replay.reason.as_deref()),
        (ChargeOutcome::Cancelled, Some("SOLD_OUT"))
    );
}

#[tokio::test]
async fn a_late_cancel_refunds_all_but_the_penalty_once() {
    let (provider, table, svc) = approving();
    svc.authorize(&req("r")).await.expect("authorize");
    svc.capture(&req("r")).await.expect("capture");
    for _ in 0..2 {
        let s = svc
            .settle(&req("r"), 1_500, CancelReason::CustomerCancelled)
            .await
            .expect("cancel");
        assert_eq!(
            (s.status, s.refunded, s.kept),
            (Some(PaymentStatus::PartiallyRefunded), 3_500, 1_500)
        );
    }
    assert_eq!(
        provider.moved(),
        vec![(Movement::Capture, 5_000), (Movement::Refund, 3_500)]
    );
    assert_eq!(
        table.event_names(),
        vec!["PaymentAuthorized", "PaymentCaptured", "PaymentRefunded"]
    );
}

#[tokio::test]
async fn a_cancel_before_capture_takes_only_the_penalty_and_releases_the_rest() {
    let (provider, _, svc) = approving();
    svc.authorize(&req("r")).await.expect("authorize");
    let s = svc
        .settle(&req("r"), 1_500, CancelReason::CustomerCancelled)
        .await
        .expect("cancel");
    assert_eq!((s.status, s.kept), (Some(PaymentStatus::Captured), 1_500));
    // The saga's capture, arriving after the cancel, does not take the rest.
    svc.capture(&req("r")).await.expect("capture");
    assert_eq!(provider.moved(), vec![(Movement::Capture, 1_500)]);
    assert_eq!(
        ledger(&svc, "r").await,
        vec![
            (Movement::Authorize, 5_000),
            (Movement::Capture, 1_500),
            (Movement::Void, 3_500)
        ]
    );
}

#[tokio::test]
async fn a_cancel_before_the_authorization_leaves_nothing_to_hold() {
    let (provider, table, svc) = approving();
    let s = svc
        .settle(&req("r"), 0, CancelReason::CustomerCancelled)
        .await
        .expect("void");
    assert_eq!(s.status, None);
    assert_eq!(
        svc.authorize(&req("r")).await.expect("authorize").outcome,
        ChargeOutcome::Cancelled
    );
    assert_eq!(
        *provider.charges.lock().expect("lock"),
        0,
        "never authorized"
    );
    assert_eq!(
        table.event_names(),
        vec!["PaymentVoided"],
        "the views learn it once"
    );
}

fn lost_then(answers: Vec<Result<ProviderCharge, ProviderError>>) -> Arc<ScriptedProvider> {
    let mut script = vec![Err(ProviderError::Unknown(
        "no answer within 3000 ms".into(),
    ))];
    script.extend(answers);
    Arc::new(ScriptedProvider::new(script))
}

fn held() -> Result<ProviderCharge, ProviderError> {
    Ok(ProviderCharge::Approved {
        provider_ref: "ref".into(),
    })
}

#[tokio::test]
async fn an_authorization_whose_answer_was_lost_is_asked_again_with_its_key_and_held_once() {
    let provider = lost_then(vec![held()]);
    let (table, svc) = payments(provider.clone(), Arc::new(FixedClock::at(NOW)), 5);
    let lost = svc.authorize(&req("r")).await;
    assert!(
        matches!(lost, Err(DomainError::Unavailable(_))),
        "neither approved nor failed: the step is retried, {lost:?}"
    );
    let p = svc.get("r").await.expect("get").expect("recorded");
    assert_eq!(p.facts.status, PaymentStatus::Authorizing);
    assert_eq!(ledger(&svc, "r").await, vec![], "nothing known to be held");
    assert_eq!(
        svc.authorize(&req("r")).await.expect("retry").outcome,
        ChargeOutcome::Approved
    );
    let keys = provider.authorize_keys.lock().expect("lock").clone();
    assert_eq!(
        keys,
        vec!["r:authorize:1", "r:authorize:1"],
        "the same key twice"
    );
    assert_eq!(ledger(&svc, "r").await, vec![(Movement::Authorize, 5_000)]);
    assert_eq!(table.event_names(), vec!["PaymentAuthorized"]);
}

#[tokio::test]
async fn a_compensation_after_a_lost_authorization_asks_until_it_knows_then_voids() {
    let provider = lost_then(vec![
        Err(ProviderError::Unknown("still no answer".into())),
        held(),
    ]);
    let (_, svc) = payments(provider.clone(), Arc::new(FixedClock::at(NOW)), 5);
    assert!(svc.authorize(&req("r")).await.is_err());
    let r = req("r");
    let void = || svc.settle(&r, 0, CancelReason::PaymentUnavailable);
    assert!(
        void().await.is_err(),
        "a hold that may exist is not called void"
    );
    assert_eq!(
        svc.get("r").await.expect("get").map(|p| p.facts.status),
        Some(PaymentStatus::Authorizing)
    );
    let s = void().await.expect("known now");
    assert_eq!((s.status, s.kept), (Some(PaymentStatus::Voided), 0));
    assert_eq!(
        ledger(&svc, "r").await,
        vec![(Movement::Authorize, 5_000), (Movement::Void, 5_000)]
    );
    assert_eq!(provider.moved(), vec![(Movement::Void, 5_000)]);
}

/// Holds the first authorization until `open` is notified: a cancel lands while it is in flight.
struct InFlight {
    inner: Arc<ScriptedProvider>,
    open: tokio::sync::Notify,
}

#[async_trait]
impl PaymentProvider for InFlight {
    async fn authorize(&self, call: AuthorizeCall<'_>) -> Result<ProviderCharge, ProviderError> {
        if self
            .inner
            .authorize_keys
            .lock()
            .map(|k| k.is_empty())
            .unwrap_or(false)
        {
            self.open.notified().await;
        }
        self.inner.authorize(call).await
    }
    async fn apply(&self, call: MoveCall<'_>) -> Result<(), ProviderError> {
        self.inner.apply(call).await
    }
}

#[tokio::test]
async fn a_lost_authorization_after_a_cancel_is_learnt_and_released() {
    let scripted = lost_then(vec![held()]);
    let provider = Arc::new(InFlight {
        inner: scripted.clone(),
        open: tokio::sync::Notify::new(),
    });
    let table = Arc::new(MemoryTable::default());
    let svc = PaymentService::new(
        table.clone(),
        Arc::new(FixedClock::at(NOW)),
        provider.clone(),
        BreakerPolicy {
            failure_threshold: 5,
            open_for_ms: 1_000,
        },
    );
    let r = req("r");
    let cancel = async {
        svc.settle(&r, 0, CancelReason::CustomerCancelled)
            .await
            .expect("tombstone");
        provider.open.notify_one();
    };
    let (first, ()) = tokio::join!(svc.authorize(&r), cancel);
    assert!(first.is_err(), "the answer was lost");
    assert_eq!(
        svc.get("r").await.expect("get").map(|p| p.facts.status),
        Some(PaymentStatus::Authorizing),
        "the tombstone learns that money may be held"
    );
    assert_eq!(
        svc.authorize(&r).await.expect("replay").outcome,
        ChargeOutcome::Cancelled
    );
    assert_eq!(
        ledger(&svc, "r").await,
        vec![(Movement::Authorize, 5_000), (Movement::Void, 5_000)]
    );
    assert_eq!(scripted.moved(), vec![(Movement::Void, 5_000)]);
    assert_eq!(
        table.event_names(),
        vec!["PaymentVoided", "PaymentAuthorized", "PaymentVoided"]
    );
}

/// A table that loses the next commit writing a ledger entry: the process died after the
/// provider answered and before the ledger write.
struct CrashBeforeLedger {
    inner: Arc<MemoryTable>,
    armed: AtomicBool,
}

#[async_trait]
impl Table for CrashBeforeLedger {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.inner.get(key).await
    }
    async fn query(&self, q: &Query) -> Result<Vec<Item>, StoreError> {
        self.inner.query(q).await
    }
    async fn transact(
        &self,
        writes: Vec<Write>,
        events: Vec<DomainEvent>,
    ) -> Result<(), StoreError> {
        let ledger = writes.iter().any(|w| {
            matches!(w, Write::Put { item, .. }
                if item.get("sk").and_then(|v| v.as_str()).is_some_and(|sk| sk.starts_with(LedgerEntry::PREFIX)))
        });
        if ledger && self.armed.swap(false, Ordering::SeqCst) {
            return Err(StoreError::Unavailable(
                "crashed before the ledger write".into(),
            ));
        }
        self.inner.transact(writes, events).await
    }
    async fn increment(&self, key: &Key, attr: &str, by: i64) -> Result<i64, StoreError> {
        self.inner.increment(key, attr, by).await
    }
}

#[tokio::test]
async fn a_crash_between_the_providers_answer_and_the_ledger_write_moves_money_once() {
    let provider = Arc::new(ScriptedProvider::approving());
    let memory = Arc::new(MemoryTable::default());
    let table = Arc::new(CrashBeforeLedger {
        inner: memory.clone(),
        armed: AtomicBool::new(false),
    });
    let svc = service(
        table.clone(),
        provider.clone(),
        Arc::new(FixedClock::at(NOW)),
        5,
    );
    svc.authorize(&req("r")).await.expect("authorize");
    for (movement, run) in [(Movement::Capture, 0), (Movement::Refund, 1)] {
        table.armed.store(true, Ordering::SeqCst);
        let first = if run == 0 {
            svc.capture(&req("r")).await.map(|_| ())
        } else {
            svc.settle(&req("r"), 1_000, CancelReason::CustomerCancelled)
                .await
                .map(|_| ())
        };
        assert!(
            first.is_err(),
            "{movement:?}: the step fails and is retried"
        );
        let sent = provider.calls.lock().expect("lock").len();
        // The retry (here a fresh instance, as after a crash) sends the pending call again with the
        // same key and records its answer.
        let retry = service(
            table.clone(),
            provider.clone(),
            Arc::new(FixedClock::at(NOW)),
            5,
        );
        if run == 0 {
            retry.capture(&req("r")).await.expect("retry");
        } else {
            retry
                .settle(&req("r"), 1_000, CancelReason::CustomerCancelled)
                .await
                .expect("retry");
        }
        let calls = provider.calls.lock().expect("lock").clone();
        assert_eq!(calls.len(), sent + 1, "{movement:?}: sent again");
        assert_eq!(
            calls[sent - 1].2,
            calls[sent].2,
            "with the same idempotency key"
        );
    }
    assert_eq!(
        provider.moved(),
        vec![(Movement::Capture, 5_000), (Movement::Refund, 4_000)],
        "each moved once"
    );
    assert_eq!(
        ledger(&svc, "r").await,
        vec![
            (Movement::Authorize, 5_000),
            (Movement::Capture, 5_000),
            (Movement::Refund, 4_000)
        ]
    );
}

#[tokio::test]
async fn whatever_the_order_the_books_balance() {
    // Every interleaving of capture and one cancel keeping `keep`, for a few keeps.
    for keep in [0, 1, 2_500, 5_000, 9_999] {
        for capture_first in [true, false] {
            let (provider, _, svc) = approving();
            svc.authorize(&req("r")).await.expect("authorize");
            if capture_first {
                svc.capture(&req("r")).await.expect("capture");
            }
            svc.settle(&req("r"), keep, CancelReason::CustomerCancelled)
                .await
                .expect("cancel");
            svc.capture(&req("r")).await.expect("capture");
            let p = svc.get("r").await.expect("get").expect("payment");
            let s = p.facts.sums;
            assert_eq!(
                p.facts.kept(),
                keep.min(5_000),
                "keep {keep}, capture first {capture_first}"
            );
            assert_eq!(s.open(), 0, "nothing stays held");
            assert!(p.pending.is_none());
            let moved = kept_at_provider(&provider);
            assert_eq!(moved, p.facts.kept(), "the provider agrees with the ledger");
            ledger(&svc, "r").await;
        }
    }
}

#[tokio::test]
async fn the_shared_circuit_opens_fails_fast_half_opens_and_closes() {
    let clock = Arc::new(FixedClock::at(NOW));
    let provider = Arc::new(ScriptedProvider::new(vec![
        Err(ProviderError::Unavailable("down".into())),
        Err(ProviderError::Unavailable("down".into())),
        Ok(ProviderCharge::Approved {
            provider_ref: "ok".into(),
        }),
    ]));
    let (table, svc) = payments(provider.clone(), clock.clone(), 2);
    for id in ["a", "b"] {
        assert_eq!(
            svc.authorize(&req(id)).await.expect("authorize").outcome,
            ChargeOutcome::Unavailable
        );
    }
    assert_eq!(
        svc.breaker().state().await.expect("state").state,
        CircuitState::Open
    );
    // Open: fail fast without calling the provider.
    assert_eq!(
        svc.authorize(&req("c")).await.expect("authorize").outcome,
        ChargeOutcome::Unavailable
    );
    assert_eq!(*provider.charges.lock().expect("lock"), 2);
    // A second instance over the same table sees the same open circuit.
    let other = service(table.clone(), provider.clone(), clock.clone(), 2);
    assert_eq!(
        other.authorize(&req("d")).await.expect("authorize").outcome,
        ChargeOutcome::Unavailable
    );
    assert_eq!(*provider.charges.lock().expect("lock"), 2);
    // After the open period one trial goes through and closes the circuit.
    clock.advance_ms(1_001);
    assert_eq!(
        other.authorize(&req("e")).await.expect("trial").outcome,
        ChargeOutcome::Approved
    );
    assert_eq!(
        svc.breaker().state().await.expect("state").state,
        CircuitState::Closed
    );
    assert_eq!(
        svc.authorize(&req("f")).await.expect("closed").outcome,
        ChargeOutcome::Approved
    );
}

#[test]
fn payments_stored_before_the_ledger_read_with_the_sums_their_status_implies() {
    let stored = serde_json::json!({
        "paymentId": "p", "reservationId": "r", "userId": "u", "amount": 160000,
        "status": "APPROVED", "providerRef": "sim-r", "declineReason": null
    });
    let facts: PaymentFacts = serde_json::from_value(stored).expect("legacy");
    let facts = facts.with_legacy_sums();
    assert_eq!(facts.status, PaymentStatus::Captured);
    assert_eq!((facts.sums.captured, facts.kept()), (160_000, 160_000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capture_racing_a_cancel_ends_keeping_what_the_cancel_keeps() {
    for round in 0..40 {
        let keep = [0, 1_500, 5_000][round % 3];
        let (provider, _, svc) = approving();
        let svc = Arc::new(svc);
        svc.authorize(&req("r")).await.expect("authorize");
        let (a, b) = (svc.clone(), svc.clone());
        let capture = tokio::spawn(async move { a.capture(&req("r")).await });
        let cancel = tokio::spawn(async move {
            b.settle(&req("r"), keep, CancelReason::CustomerCancelled)
                .await
        });
        let (c1, c2) = (capture.await.expect("join"), cancel.await.expect("join"));
        c1.expect("capture");
        c2.expect("cancel");
        let p = svc.get("r").await.expect("get").expect("payment");
        assert_eq!(p.facts.kept(), keep, "round {round}");
        assert_eq!(p.facts.sums.open(), 0, "round {round}: nothing stays held");
        assert!(p.pending.is_none(), "round {round}");
        let moved = kept_at_provider(&provider);
        assert_eq!(moved, keep, "round {round}: the provider agrees");
        ledger(&svc, "r").await;
    }
}

fn refund_failed(id: &str, key: &str) -> Notice {
    Notice {
        id: id.into(),
        reservation_id: "r".into(),
        kind: NoticeKind::RefundFailed {
            idempotency_key: key.into(),
            reason: "expired_or_canceled_card".into(),
        },
    }
}

/// The keys of the ledger's refunds, oldest first.
async fn refund_keys(svc: &PaymentService) -> Vec<String> {
    let view = svc.view("r").await.expect("view").expect("payment");
    view.ledger
        .iter()
        .filter(|e| e.movement == Movement::Refund)
        .map(|e| e.idempotency_key.clone())
        .collect()
}

#[tokio::test]
async fn a_failed_refund_is_reversed_in_the_ledger_and_sent_anew_once_per_notice() {
    let (provider, table, svc) = approving();
    svc.authorize(&req("r")).await.expect("authorize");
    svc.capture(&req("r")).await.expect("capture");
    svc.settle(&req("r"), 1_000, CancelReason::CustomerCancelled)
        .await
        .expect("refund");
    let first = refund_keys(&svc).await;
    assert_eq!(first, vec!["r:refund:3"]);
    let n = refund_failed("evt_1", "r:refund:3");
    assert_eq!(
        svc.on_notice(&n).await.expect("notice"),
        NoticeOutcome::RefundFailed { sent_again: true }
    );
    assert_eq!(
        svc.on_notice(&n).await.expect("again"),
        NoticeOutcome::Repeated,
        "a notice delivered twice is applied once"
    );
    assert_eq!(
        ledger(&svc, "r").await,
        vec![
            (Movement::Authorize, 5_000),
            (Movement::Capture, 5_000),
            (Movement::Refund, 4_000),
            (Movement::RefundFailed, 4_000),
            (Movement::Refund, 4_000),
        ]
    );
    assert_eq!(refund_keys(&svc).await, vec!["r:refund:3", "r:refund:5"]);
    let p = svc.get("r").await.expect("get").expect("payment");
    assert_eq!(
        (p.facts.status, p.facts.kept()),
        (PaymentStatus::PartiallyRefunded, 1_000),
        "the books balance again once the new refund went out"
    );
    assert_eq!(kept_at_provider(&provider), 5_000 - 8_000, "sent twice");
    assert!(
        table
            .event_names()
            .contains(&"PaymentRefundFailed".to_string())
    );
}

#[tokio::test]
async fn a_refund_that_keeps_failing_waits_for_a_person_and_keeps_nothing_silently() {
    let (_, _, svc) = approving();
    svc.authorize(&req("r")).await.expect("authorize");
    svc.capture(&req("r")).await.expect("capture");
    svc.settle(&req("r"), 0, CancelReason::CustomerCancelled)
        .await
        .expect("refund");
    for attempt in 0..REFUND_ATTEMPTS {
        let key = refund_keys(&svc).await.pop().expect("a refund");
        let outcome = svc
            .on_notice(&refund_failed(&format!("evt_{attempt}"), &key))
            .await
            .expect("notice");
        assert_eq!(
            outcome,
            NoticeOutcome::RefundFailed {
                sent_again: attempt + 1 < REFUND_ATTEMPTS
            }
        );
    }
    let p = svc.get("r").await.expect("get").expect("payment");
    assert_eq!(
        (p.facts.status, p.facts.kept()),
        (PaymentStatus::Captured, 5_000),
        "the ledger says the guest has not got the money back"
    );
    let unknown = refund_failed("evt_x", "r:refund:99");
    assert_eq!(
        svc.on_notice(&unknown).await.expect("unknown refund"),
        NoticeOutcome::RefundFailed { sent_again: false },
        "a refund the ledger does not have reverses nothing"
    );
    assert_eq!(
        svc.get("r").await.expect("get").expect("p").facts.kept(),
        5_000
    );
}

#[tokio::test]
async fn a_dispute_is_recorded_once_and_a_notice_about_another_payment_is_not_ours() {
    let (_, table, svc) = approving();
    svc.authorize(&req("r")).await.expect("authorize");
    svc.capture(&req("r")).await.expect("capture");
    let n = Notice {
        id: "evt_d".into(),
        reservation_id: "r".into(),
        kind: NoticeKind::Disputed {
            amount: 5_000,
            reason: "fraudulent".into(),
        },
    };
    assert_eq!(
        svc.on_notice(&n).await.expect("dispute"),
        NoticeOutcome::Applied
    );
    assert_eq!(
        svc.on_notice(&n).await.expect("again"),
        NoticeOutcome::Repeated
    );
    let p = svc.get("r").await.expect("get").expect("payment");
    let d = p.facts.dispute.expect("flagged");
    assert_eq!((d.amount, d.reason.as_str()), (5_000, "fraudulent"));
    assert_eq!(
        table
            .event_names()
            .iter()
            .filter(|e| **e == "PaymentDisputed")
            .count(),
        1
    );
    let other = Notice {
        reservation_id: "elsewhere".into(),
        ..n
    };
    assert_eq!(
        svc.on_notice(&other).await.expect("other"),
        NoticeOutcome::NotOurs
    );
}
