//! Read-side routes: MyPage, notifications, loyalty and the payment of a reservation.
use http::StatusCode;
use serde::Serialize;
use serde_json::json;

use crate::api::{ApiRequest, ApiResponse, ApiResult, Problem};
use crate::services::Services;

/// The caller's own record as 200, else 404: someone else's is reported as absent, not forbidden.
fn own<T: Serialize>(
    record: Option<T>,
    is_mine: impl FnOnce(&T) -> bool,
    missing: impl FnOnce() -> String,
) -> ApiResult {
    match record {
        Some(r) if is_mine(&r) => Ok(ApiResponse::json(StatusCode::OK, &r)),
        _ => Err(Problem::not_found(missing())),
    }
}

/// [mypage-get] `GET /v1/mypages/{reservationId}`
pub async fn mypage_get(svc: &Services, req: ApiRequest) -> ApiResult {
    let user = req.user()?;
    let id = req.param("reservationId")?;
    own(
        svc.mypages.get(id).await?,
        |r| r.user_id == user,
        || format!("mypage {id} does not exist (yet)"),
    )
}

/// [mypage-list] `GET /v1/mypages`
pub async fn mypage_list(svc: &Services, req: ApiRequest) -> ApiResult {
    let rows = svc.mypages.list_by_user(req.user()?).await?;
    Ok(ApiResponse::json(StatusCode::OK, &json!({ "items": rows })))
}

/// [notification-list] `GET /v1/notifications`
pub async fn notifications(svc: &Services, req: ApiRequest) -> ApiResult {
    let items = svc.notifications.list(req.user()?).await?;
    Ok(ApiResponse::json(
        StatusCode::OK,
        &json!({ "items": items }),
    ))
}

/// [loyalty-get] `GET /v1/loyalty`
pub async fn loyalty(svc: &Services, req: ApiRequest) -> ApiResult {
    let balance = svc.loyalty.balance(req.user()?).await?;
    Ok(ApiResponse::json(StatusCode::OK, &balance))
}

/// [payment-get] `GET /v1/reservations/{reservationId}/payment`
pub async fn payment(svc: &Services, req: ApiRequest) -> ApiResult {
    let user = req.user()?;
    let id = req.param("reservationId")?;
    own(
        svc.payments.view(id).await?,
        |p| p.facts.user_id == user,
        || format!("no payment for reservation {id}"),
    )
}
