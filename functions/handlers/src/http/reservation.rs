//! Customer reservation routes.
use http::StatusCode;
use reserveplace_domain::reservation::PlaceReservation;

use crate::api::{ApiRequest, ApiResponse, ApiResult};
use crate::services::Services;

/// [reservation-place] `POST /v1/reservations` — 202 with the PENDING reservation; the saga follows.
/// With an `Idempotency-Key`, a repeat answers the same reservation and has no further effect.
pub async fn place(svc: &Services, req: ApiRequest) -> ApiResult {
    let user = req.user()?;
    let key = req.idempotency_key()?;
    let cmd: PlaceReservation = req.json()?;
    let (r, _created) = svc.reservations.place(user, cmd, key).await?;
    Ok(ApiResponse::json(StatusCode::ACCEPTED, &r)
        .with_header("location", format!("/v1/reservations/{}", r.reservation_id)))
}

/// [reservation-get] `GET /v1/reservations/{reservationId}`
pub async fn get(svc: &Services, req: ApiRequest) -> ApiResult {
    let user = req.user()?;
    let r = svc
        .reservations
        .get_own(user, req.param("reservationId")?)
        .await?;
    Ok(ApiResponse::json(StatusCode::OK, &r))
}

/// [reservation-cancellation] `GET /v1/reservations/{reservationId}/cancellation` — what a cancel
/// now would refund and keep, and why (the cancel computes the same).
pub async fn cancellation(svc: &Services, req: ApiRequest) -> ApiResult {
    let user = req.user()?;
    let c = svc
        .reservations
        .cancellation(user, req.param("reservationId")?)
        .await?;
    Ok(ApiResponse::json(StatusCode::OK, &c))
}

/// [owner-cancel] `POST /v1/owner/reservations/{reservationId}/cancel` and `POST /v1/owner/reservations/{reservationId}/no-show`.
/// The owner ends a confirmed stay: a full refund, or the policy's no-show penalty kept; the
/// payment and the place context follow from ReservationCanceled. Naturally idempotent.
pub async fn owner_cancel(svc: &Services, req: ApiRequest) -> ApiResult {
    let owner = req.user()?;
    req.idempotency_key()?;
    let no_show = req.path.trim_end_matches('/').ends_with("/no-show");
    let r = svc
        .reservations
        .end_by_owner(owner, req.param("reservationId")?, no_show)
        .await?;
    Ok(ApiResponse::json(StatusCode::OK, &r))
}

/// [reservation-cancel] `POST /v1/reservations/{reservationId}/cancel` — naturally idempotent.
pub async fn cancel(svc: &Services, req: ApiRequest) -> ApiResult {
    let user = req.user()?;
    req.idempotency_key()?;
    let r = svc
        .reservations
        .cancel_by_customer(user, req.param("reservationId")?)
        .await?;
    Ok(ApiResponse::json(StatusCode::OK, &r))
}
