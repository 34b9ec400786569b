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
use crate::services::{Resource, Services};
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

// The registry's column of resources, short.
const PLACE: Resource = Resource::PlaceTable;
const RESERVATION: Resource = Resource::ReservationTable;
const PAYMENT: Resource = Resource::PaymentTable;
const MYPAGE: Resource = Resource::MyPageTable;
const OWNER_VIEW: Resource = Resource::OwnerViewTable;
const NOTIFICATION: Resource = Resource::NotificationTable;
const LOYALTY: Resource = Resource::LoyaltyTable;
const SEARCH: Resource = Resource::SearchTable;
const SAGA: Resource = Resource::SagaStateMachine;

/// One handler: its name (the function's `Handler`), the resources it uses (its function's
/// environment must name each, or it fails to start; no other table is opened), the handler.
pub type Row = (&'static str, &'static [Resource], Handler);

/// All handlers, one a line (the layout is kept by hand: `tests/doc_tags.rs` reads each entry's
/// full path here, and the local runtime checks each row's tables against its function's policy).
#[rustfmt::skip]
pub fn rows() -> Vec<Row> {
    vec![
        // Behind HTTP API routes.
        ("place-register", &[PLACE], http!(http::place::register)),
        ("place-list", &[PLACE], http!(http::place::list)),
        ("place-get", &[PLACE], http!(http::place::get)),
        ("place-update", &[PLACE], http!(http::place::update)),
        ("place-quote", &[PLACE], http!(http::place::quote)),
        ("owner-reservations", &[OWNER_VIEW], http!(http::owner::reservations)),
        ("owner-decision", &[PLACE], http!(http::owner::decide)),
        ("seed-reservation-management", &[PLACE], http!(http::seed::reservation_management)),
        ("reservation-place", &[RESERVATION, PLACE], http!(http::reservation::place)),
        ("reservation-get", &[RESERVATION], http!(http::reservation::get)),
        ("reservation-cancellation", &[RESERVATION], http!(http::reservation::cancellation)),
        ("reservation-cancel", &[RESERVATION], http!(http::reservation::cancel)),
        ("owner-cancel", &[RESERVATION], http!(http::reservation::owner_cancel)),
        ("seed-accommodation", &[RESERVATION], http!(http::seed::accommodation)),
        ("payment-get", &[PAYMENT], http!(http::views::payment)),
        ("payment-webhook", &[PAYMENT], http!(http::webhooks::stripe)),
        ("mypage-get", &[MYPAGE], http!(http::views::mypage_get)),
        ("mypage-list", &[MYPAGE], http!(http::views::mypage_list)),
        ("seed-mypage", &[MYPAGE], http!(http::seed::mypage)),
        ("notification-list", &[NOTIFICATION], http!(http::views::notifications)),
        ("loyalty-get", &[LOYALTY], http!(http::views::loyalty)),
        ("search", &[SEARCH], http!(http::search::search)),
        // Targets of EventBridge rules.
        ("reservation-catalogue", &[RESERVATION], event!(consumers::reservation_catalogue)),
        ("mypage-projector", &[MYPAGE], event!(consumers::mypage_projector)),
        ("owner-view-projector", &[OWNER_VIEW], event!(consumers::owner_view_projector)),
        ("search-projection", &[SEARCH], event!(consumers::search_projection)),
        ("notification-sender", &[NOTIFICATION], event!(consumers::notification_sender)),
        ("loyalty-awarder", &[LOYALTY], event!(consumers::loyalty_awarder)),
        ("payment-refund-on-cancel", &[PAYMENT], event!(consumers::payment_refund_on_cancel)),
        ("place-release-on-cancel", &[PLACE], event!(consumers::place_release_on_cancel)),
        ("place-resume-saga", &[PLACE], event!(consumers::place_resume_saga)),
        ("reservation-saga-start", &[SAGA], event!(consumers::reservation_saga_start)),
        // Tasks of the state machine.
        ("payment-authorize", &[PAYMENT], step!(steps::payment_authorize)),
        ("payment-void", &[PAYMENT], step!(steps::payment_void)),
        ("payment-capture", &[PAYMENT], step!(steps::payment_capture)),
        ("reservation-record-payment", &[RESERVATION], step!(steps::reservation_record_payment)),
        ("reservation-await-owner", &[RESERVATION], step!(steps::reservation_await_owner)),
        ("reservation-confirm", &[RESERVATION], step!(steps::reservation_confirm)),
        ("reservation-cancel-step", &[RESERVATION], step!(steps::reservation_cancel_step)),
        ("place-hold-nights", &[PLACE], step!(steps::place_hold_nights)),
        ("place-release-nights", &[PLACE], step!(steps::place_release_nights)),
        ("place-request-decision", &[PLACE], step!(steps::place_request_decision)),
        ("place-expire-decision", &[PLACE], step!(steps::place_expire_decision)),
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

/// All handlers: (handler name, handler).
pub fn all() -> Vec<(&'static str, Handler)> {
    rows().into_iter().map(|(name, _, h)| (name, h)).collect()
}

pub fn find(handler: &str) -> Option<Handler> {
    rows()
        .into_iter()
        .find(|(name, _, _)| *name == handler)
        .map(|(_, _, h)| h)
}

/// The resources the handler `handler` uses.
pub fn uses(handler: &str) -> Option<&'static [Resource]> {
    rows()
        .into_iter()
        .find(|(name, _, _)| *name == handler)
        .map(|(_, uses, _)| uses)
}
