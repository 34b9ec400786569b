//! A saga step or consumer whose input lacks a field it reads fails as invalid input naming the
//! field, through the registry's one parse: it never runs on a guessed value.
use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use reserveplace_domain::clock::SystemClock;
use reserveplace_domain::saga::{SagaCallbacks, SagaError, SagaStart, SagaStarter};
use reserveplace_domain::store::Table;
use reserveplace_domain::store::memory::MemoryTable;
use serde_json::Value;

use crate::adapters::{LogChannel, SimulatedProvider, SimulationSettings};
use crate::error::{INVALID, StepError};
use crate::registry::{self, Handler};
use crate::services::{Adapters, Config, Services};

struct NoSaga;

#[async_trait]
impl SagaCallbacks for NoSaga {
    async fn send_task_success(&self, _: &str, _: Value) -> Result<(), SagaError> {
        Err(SagaError::Misconfigured("no saga in this test".into()))
    }
    async fn send_task_failure(&self, _: &str, _: &str, _: &str) -> Result<(), SagaError> {
        Err(SagaError::Misconfigured("no saga in this test".into()))
    }
}

#[async_trait]
impl SagaStarter for NoSaga {
    async fn start_execution(&self, _: &str, _: Value) -> Result<SagaStart, SagaError> {
        Err(SagaError::Misconfigured("no saga in this test".into()))
    }
}

fn services() -> Arc<Services> {
    let adapters = Adapters {
        table: Arc::new(|_: &str| -> Arc<dyn Table> { MemoryTable::new() }),
        clock: Arc::new(SystemClock),
        payment_provider: SimulatedProvider::new(SimulationSettings::default()),
        payment_notices: None,
        saga: Arc::new(NoSaga),
        saga_starter: Arc::new(|_: &str| -> Arc<dyn SagaStarter> { Arc::new(NoSaga) }),
        notifications: Arc::new(LogChannel),
    };
    // No resource at all: the input is refused before any is reached.
    let config = Config::from_env(&BTreeMap::new(), &[]).expect("the defaults");
    Arc::new(Services::new(&config, &adapters))
}

fn sample(handler: &str) -> Value {
    let path = format!("{}/../../events/{handler}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The sample of `handler` with the field at `pointer` removed.
fn without(handler: &str, pointer: &str) -> Value {
    let mut input = sample(handler);
    let (parent, field) = pointer.rsplit_once('/').expect("a pointer");
    let removed = input
        .pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .and_then(|o| o.remove(field));
    assert!(removed.is_some(), "{handler}'s sample has no {pointer}");
    input
}

async fn step(handler: &str, input: Value) -> Result<Value, StepError> {
    let Some(Handler::Step(f)) = registry::find(handler) else {
        panic!("{handler} is no step");
    };
    f(services(), input).await
}

async fn event(handler: &str, input: Value) -> Result<(), StepError> {
    let Some(Handler::Event(f)) = registry::find(handler) else {
        panic!("{handler} is no consumer");
    };
    f(services(), input).await
}

fn assert_invalid_naming(result: Result<impl std::fmt::Debug, StepError>, words: &[&str]) {
    let err = result.expect_err("the input is incomplete");
    assert_eq!(err.error_type(), INVALID, "{err}");
    for word in words {
        assert!(err.cause().contains(word), "{word:?} not named: {err}");
    }
}

#[tokio::test]
async fn a_refund_without_its_reason_fails_instead_of_defaulting() {
    let out = step("payment-void", without("payment-void", "/reason")).await;
    assert_invalid_naming(out, &["saga input $", "missing field `reason`"]);
}

#[tokio::test]
async fn a_refund_with_an_unknown_reason_fails_naming_it() {
    let mut input = sample("payment-void");
    input["reason"] = Value::from("BECAUSE");
    let out = step("payment-void", input).await;
    assert_invalid_naming(out, &["$.reason", "BECAUSE"]);
}

#[tokio::test]
async fn a_cancel_without_its_reason_fails_instead_of_defaulting() {
    let out = step(
        "reservation-cancel-step",
        without("reservation-cancel-step", "/reason"),
    )
    .await;
    assert_invalid_naming(out, &["missing field `reason`"]);
}

#[tokio::test]
async fn a_step_without_the_reservation_id_fails_naming_it() {
    for handler in [
        "payment-authorize",
        "payment-void",
        "reservation-record-payment",
        "reservation-await-owner",
        "reservation-confirm",
        "reservation-cancel-step",
        "place-hold-nights",
        "place-release-nights",
        "place-request-decision",
        "place-expire-decision",
    ] {
        let out = step(handler, without(handler, "/detail/reservationId")).await;
        assert_invalid_naming(out, &["$.detail", "missing field `reservationId`"]);
    }
}

#[tokio::test]
async fn the_callback_task_without_its_token_fails_naming_it() {
    let out = step(
        "place-request-decision",
        without("place-request-decision", "/taskToken"),
    )
    .await;
    assert_invalid_naming(out, &["missing field `taskToken`"]);
}

#[tokio::test]
async fn a_consumer_refuses_an_event_missing_a_field() {
    let out = event(
        "notification-sender",
        without("notification-sender", "/detail/userId"),
    )
    .await;
    assert_invalid_naming(out, &["event $", "userId"]);
    let out = event(
        "reservation-saga-start",
        without("reservation-saga-start", "/detail-type"),
    )
    .await;
    assert_invalid_naming(out, &["detail-type"]);
}
