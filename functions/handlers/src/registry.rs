//! Every handler by its function's `Handler` name in `template.yaml`. The local runtime resolves the
//! template's functions here; the Lambda bootstrap dispatches on the same name (`_HANDLER`).
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::api::{ApiRequest, ApiResponse, Problem};
use crate::error::{StepError, StepResult};
use crate::services::Services;
use crate::{consumers, http, steps};

pub type BoxFut<T> = Pin<Box<dyn Future<Output = T> + Send>>;
pub type HttpFn = fn(Arc<Services>, ApiRequest) -> BoxFut<ApiResponse>;
pub type EventFn = fn(Arc<Services>, Value) -> BoxFut<StepResult<()>>;
pub type StepFn = fn(Arc<Services>, Value) -> BoxFut<StepResult<Value>>;

#[derive(Clone, Copy)]
pub enum Handler {
    /// Behind an HTTP API route.
    Http(HttpFn),
    /// Target of an EventBridge rule.
    Event(EventFn),
    /// Invoked by the state machine.
    Step(StepFn),
}

/// An HTTP handler returns a `Result`; its problem becomes the problem+json response here, the
/// one place for every route.
macro_rules! http {
    ($f:path) => {
        Handler::Http(|s, r| {
            Box::pin(async move { $f(&s, r).await.unwrap_or_else(Problem::into_response) })
        })
    };
}
/// A consumer takes its typed event and a step its typed input, parsed here from the wire.
macro_rules! event {
    ($f:path) => {
        Handler::Event(|s, e| Box::pin(async move { $f(&s, input("event", e)?).await }))
    };
}
macro_rules! step {
    ($f:path) => {
        Handler::Step(|s, i| {
            Box::pin(async move { output($f(&s, input("saga input", i)?).await?) })
        })
    };
}

/// The typed input of an event or a step, parsed strictly: what is missing or malformed is named
/// by its path in the payload (`$.detail: missing field `reservationId``), and fails the
/// invocation as [`StepError::InvalidInput`], which neither the saga nor the bus retries.
pub fn input<I: DeserializeOwned>(what: &str, payload: Value) -> StepResult<I> {
    serde_path_to_error::deserialize(payload).map_err(|e| {
        let path = e.path().to_string();
        let at = if path == "." {
            "$".to_owned()
        } else {
            format!("$.{path}")
        };
        StepError::invalid(format!("{what} {at}: {}", e.inner()))
    })
}

/// A step's result as the state machine receives it.
pub fn output<O: Serialize>(result: O) -> StepResult<Value> {
    serde_json::to_value(result).map_err(|e| StepError::invalid(e.to_string()))
}

/// All handlers: (handler name, handler). A table, one handler a line (the layout is kept by
/// hand: `tests/doc_tags.rs` reads each entry's full path here).
#[rustfmt::skip]
pub fn all() -> Vec<(&'static str, Handler)> {
    vec![
        // Behind HTTP API routes.
        ("place-register", http!(http::place::register)),
        ("place-list", http!(http::place::list)),
        ("place-get", http!(http::place::get)),
        ("place-update", http!(http::place::update)),
        ("place-quote", http!(http::place::quote)),
        ("owner-reservations", http!(http::owner::reservations)),
        ("owner-decision", http!(http::owner::decide)),
        ("seed-reservation-management", http!(http::seed::reservation_management)),
        ("reservation-place", http!(http::reservation::place)),
        ("reservation-get", http!(http::reservation::get)),
        ("reservation-cancel", http!(http::reservation::cancel)),
        ("seed-accommodation", http!(http::seed::accommodation)),
        ("payment-get", http!(http::views::payment)),
        ("mypage-get", http!(http::views::mypage_get)),
        ("mypage-list", http!(http::views::mypage_list)),
        ("seed-mypage", http!(http::seed::mypage)),
        ("notification-list", http!(http::views::notifications)),
        ("loyalty-get", http!(http::views::loyalty)),
        ("search", http!(http::search::search)),
        // Targets of EventBridge rules.
        ("reservation-catalogue", event!(consumers::reservation_catalogue)),
        ("mypage-projector", event!(consumers::mypage_projector)),
        ("owner-view-projector", event!(consumers::owner_view_projector)),
        ("search-projection", event!(consumers::search_projection)),
        ("notification-sender", event!(consumers::notification_sender)),
        ("loyalty-awarder", event!(consumers::loyalty_awarder)),
        ("payment-refund-on-cancel", event!(consumers::payment_refund_on_cancel)),
        ("place-release-on-cancel", event!(consumers::place_release_on_cancel)),
        ("place-resume-saga", event!(consumers::place_resume_saga)),
        ("reservation-saga-start", event!(consumers::reservation_saga_start)),
        // Tasks of the state machine.
        ("payment-charge", step!(steps::payment_charge)),
        ("payment-refund", step!(steps::payment_refund)),
        ("reservation-record-payment", step!(steps::reservation_record_payment)),
        ("reservation-await-owner", step!(steps::reservation_await_owner)),
        ("reservation-confirm", step!(steps::reservation_confirm)),
        ("reservation-cancel-step", step!(steps::reservation_cancel_step)),
        ("place-hold-nights", step!(steps::place_hold_nights)),
        ("place-release-nights", step!(steps::place_release_nights)),
        ("place-request-decision", step!(steps::place_request_decision)),
        ("place-expire-decision", step!(steps::place_expire_decision)),
    ]
}

/// The reservation id an event or step input is about: the saga's correlation id in the logs.
/// EventBridge events and saga inputs carry it in `detail`; the callback task input too.
pub fn correlation_id(payload: &Value) -> Option<String> {
    payload
        .pointer("/detail/reservationId")
        .or_else(|| payload.pointer("/reservationId"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

pub fn find(handler: &str) -> Option<Handler> {
    all()
        .into_iter()
        .find(|(name, _)| *name == handler)
        .map(|(_, h)| h)
}
