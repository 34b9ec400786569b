//! The owner's side: the reservations of their places and decisions on request-to-book stays.
use http::StatusCode;
use reserveplace_domain::error::DomainError;
use serde_json::json;

use crate::api::{ApiRequest, ApiResponse, ApiResult};
use crate::services::Services;

/// [owner-reservations] `GET /v1/owner/reservations[?placeId=]`
pub async fn reservations(svc: &Services, req: ApiRequest) -> ApiResult {
    let owner = req.user()?;
    let place = req.query.get("placeId").map(String::as_str);
    if let Some(p) = place
        && (p.is_empty() || p.chars().count() > 128)
    {
        return Err(DomainError::invalid("placeId", "must be 1 to 128 characters").into());
    }
    let rows = svc.owner_view.list(owner, place).await?;
    Ok(ApiResponse::json(StatusCode::OK, &json!({ "items": rows })))
}

/// [owner-decision] `POST /v1/owner/reservations/{reservationId}/confirm` and `POST /v1/owner/reservations/{reservationId}/reject`.
/// The decision commits with its event; `place-resume-saga` resumes the waiting saga from that event.
pub async fn decide(svc: &Services, req: ApiRequest) -> ApiResult {
    let owner = req.user()?;
    let id = req.param("reservationId")?;
    let confirm = !req.path.trim_end_matches('/').ends_with("/reject");
    let hold = svc.places.decide(owner, id, confirm).await?;
    Ok(ApiResponse::json(
        StatusCode::OK,
        &json!({ "reservationId": hold.reservation_id, "placeId": hold.place_id, "decision": hold.decision }),
    ))
}
