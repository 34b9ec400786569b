//! Every handler by its function's `Handler` name in `template.yaml`. The local runtime resolves the
//! template's functions here; the Lambda bootstrap dispatches on the same name (`_HANDLER`).
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::Value;

use crate::api::{ApiRequest, ApiResponse, Problem};
use crate::error::StepResult;
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
macro_rules! event {
    ($f:path) => {
        Handler::Event(|s, e| Box::pin(async move { $f(&s, e).await }))
    };
}
macro_rules! step {
    ($f:path) => {
        Handler::Step(|s, i| Box::pin(async move { $f(&s, i).await }))
    };
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
