//! Place & inventory routes.
use http::StatusCode;
use reserveplace_domain::place::{RegisterPlace, UpdatePlace};
use reserveplace_domain::stay::parse_date;
use serde_json::json;

use crate::api::{ApiRequest, ApiResponse, ApiResult, Problem};
use crate::services::Services;

/// [place-register] `POST /v1/places`
pub async fn register(svc: &Services, req: ApiRequest) -> ApiResult {
    let owner = req.user()?;
    let cmd: RegisterPlace = req.json()?;
    let (place, created) = match req.idempotency_key()? {
        Some(key) => svc.places.register_idempotent(owner, key, cmd).await?,
        None => {
            let id = uuid::Uuid::now_v7().to_string();
            svc.places.register(owner, id, cmd).await?
        }
    };
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(ApiResponse::json(status, &place)
        .with_header("location", format!("/v1/places/{}", place.place_id)))
}

/// [place-list] `GET /v1/places` — the caller's own places.
pub async fn list(svc: &Services, req: ApiRequest) -> ApiResult {
    let owner = req.user()?;
    let places = svc.places.list_places(owner).await?;
    Ok(ApiResponse::json(
        StatusCode::OK,
        &json!({ "items": places }),
    ))
}

/// [place-get] `GET /v1/places/{placeId}` — the place and the rooms held per night and room type (from `?from=`, default: all).
pub async fn get(svc: &Services, req: ApiRequest) -> ApiResult {
    req.user()?;
    let id = req.param("placeId")?;
    let place = svc
        .places
        .get_listed(id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("place {id} does not exist")))?;
    let from = match req.query.get("from") {
        Some(f) => Some(parse_date("from", f)?),
        None => None,
    };
    let nights = svc
        .places
        .availability_from(id, from, &place.facts.room_types)
        .await?;
    Ok(ApiResponse::json(
        StatusCode::OK,
        &json!({ "place": place, "nights": nights }),
    ))
}

/// [place-update] `PATCH /v1/places/{placeId}`
pub async fn update(svc: &Services, req: ApiRequest) -> ApiResult {
    let owner = req.user()?;
    let id = req.param("placeId")?;
    let patch: UpdatePlace = req.json()?;
    let place = svc.places.update(owner, id, patch).await?;
    Ok(ApiResponse::json(StatusCode::OK, &place))
}

/// [place-quote] `GET /v1/places/{placeId}/quote` — each night's price and free rooms, and the
/// stay's total (what a reservation of it would cost).
pub async fn quote(svc: &Services, req: ApiRequest) -> ApiResult {
    let user = req.user()?;
    let id = req.param("placeId")?;
    let quote = svc.places.quote(user, id, &req.query).await?;
    Ok(ApiResponse::json(StatusCode::OK, &quote))
}
