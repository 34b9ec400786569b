//! Search: the places of a city free for a stay, from the search read model.
use http::StatusCode;

use crate::api::{ApiRequest, ApiResponse, ApiResult};
use crate::services::Services;

/// What the search's reads cost on DynamoDB (read capacity units, eventually consistent).
pub const READ_UNITS_HEADER: &str = "x-read-units";

/// [search] `GET /v1/search` — `?city=&checkIn=&checkOut=&rooms=&guests=&limit=&cursor=`.
pub async fn search(svc: &Services, req: ApiRequest) -> ApiResult {
    req.user()?;
    let page = svc.search.search(&req.query).await?;
    Ok(ApiResponse::json(StatusCode::OK, &page)
        .with_header(READ_UNITS_HEADER, page.read_units.to_string()))
}
