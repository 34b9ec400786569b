//! The seed-compatible facade, so the seed README's httpie walkthrough runs unchanged. httpie sends
//! every `key=value` as a JSON string, so numbers are accepted as numbers or numeric strings.
//!
//! The facade has no identities, so it acts only in its own world: the client's `usrId` and
//! `placeId` name the facade's users and places (`reserveplace_domain::seed`), never a `/v1` user
//! or place, and it shows only its own numbered orders.
use http::StatusCode;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reserveplace_domain::error::DomainError;
use reserveplace_domain::place::{RegisterPlace, UpdatePlace};
use reserveplace_domain::reservation::SeedReservation;
use reserveplace_domain::seed;
use reserveplace_domain::stay::{format_date, parse_date};
use reserveplace_domain::views::MyPageRow;
use serde_json::{Map, Value, json};

use crate::api::{ApiRequest, ApiResponse, ApiResult, Problem};
use crate::services::Services;

/// Places registered through the facade belong to this owner (the seed had no identities).
pub const SEED_OWNER: &str = seed::OWNER;

fn field<'a>(body: &'a Map<String, Value>, name: &str) -> Result<&'a Value, Problem> {
    body.get(name)
        .filter(|v| !v.is_null())
        .ok_or_else(|| invalid(name, "is required"))
}

/// The 422 problem naming `name`, as every other route answers a broken rule.
fn invalid(name: &str, detail: &str) -> Problem {
    DomainError::invalid(name, detail).into()
}

/// A string, or a number written as one.
fn text(body: &Map<String, Value>, name: &str) -> Result<String, Problem> {
    match field(body, name)? {
        Value::String(s) => Ok(s.trim().to_string()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(invalid(name, "must be a string or a number")),
    }
}

/// An integer, given as a JSON integer or a string of digits (never a fraction: money is integral).
fn integer(body: &Map<String, Value>, name: &str) -> Result<i64, Problem> {
    let v = field(body, name)?;
    let parsed = match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9e15)
                .map(|f| f as i64)
        }),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    parsed.ok_or_else(|| invalid(name, "must be an integer"))
}

/// The seed's `yyyymmdd` (ISO `YYYY-MM-DD` is accepted too).
fn seed_date(body: &Map<String, Value>, name: &str) -> Result<String, Problem> {
    let raw = text(body, name)?;
    let iso = if raw.len() == 8 && raw.bytes().all(|b| b.is_ascii_digit()) {
        format!("{}-{}-{}", &raw[0..4], &raw[4..6], &raw[6..8])
    } else {
        raw.clone()
    };
    parse_date(name, &iso)
        .map(format_date)
        .map_err(|_| invalid(name, "must be a date yyyymmdd"))
}

/// Numeric-looking ids are answered as numbers, as the seed did.
/// The characters a path segment keeps as they are (RFC 3986 unreserved); the seed's ids are any
/// text, and a `Location` header must stay a valid URI reference.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn segment(id: &str) -> String {
    utf8_percent_encode(id, SEGMENT).to_string()
}

fn id_value(id: &str) -> Value {
    id.parse::<i64>()
        .map(Value::from)
        .unwrap_or_else(|_| Value::String(id.to_string()))
}

fn object(req: &ApiRequest) -> Result<Map<String, Value>, Problem> {
    match req.json_value()? {
        Value::Object(m) => Ok(m),
        _ => Err(Problem::malformed("the body must be a JSON object")),
    }
}

/// [seed-reservation-management] `POST /reservationManagements {placeId, stock}`: registers the
/// place (instant book, `stock` rooms per night) or sets its room count.
pub async fn reservation_management(svc: &Services, req: ApiRequest) -> ApiResult {
    let body = object(&req)?;
    let place_id = text(&body, "placeId")?;
    let stock = integer(&body, "stock")?;
    let name = match body.get("placeNm").or_else(|| body.get("name")) {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
        _ => format!("place {place_id}"),
    };
    if place_id.is_empty() || place_id.contains('#') || place_id.len() > 128 {
        return Err(invalid(
            "placeId",
            "must be 1 to 128 characters, without '#'",
        ));
    }
    let cmd = RegisterPlace::new(name, stock, 0);
    let internal = seed::place_id(&place_id);
    let (place, created) = svc
        .places
        .register(SEED_OWNER, internal.clone(), cmd)
        .await?;
    let place = if created || place.facts.room_count == stock {
        place
    } else {
        svc.places
            .update(
                SEED_OWNER,
                &internal,
                UpdatePlace {
                    room_count: Some(stock),
                    ..Default::default()
                },
            )
            .await?
    };
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(ApiResponse::json(
        status,
        &json!({ "placeId": id_value(&place_id), "stock": place.facts.room_count, "orderId": null }),
    )
    .with_header("location", format!("/reservationManagements/{}", segment(&place_id))))
}

/// [seed-accommodation] `POST /accommodations {placeNm, status, usrId, strDt, endDt, qty, amount, placeId}`:
/// a reservation charged the client's `amount`; `orderId` is the reservation's id.
pub async fn accommodation(svc: &Services, req: ApiRequest) -> ApiResult {
    let body = object(&req)?;
    let cmd = SeedReservation {
        user_id: text(&body, "usrId")?,
        place_id: text(&body, "placeId")?,
        place_name: body
            .get("placeNm")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .trim()
            .to_string(),
        check_in: seed_date(&body, "strDt")?,
        check_out: seed_date(&body, "endDt")?,
        rooms: if body.contains_key("qty") {
            integer(&body, "qty")?
        } else {
            1
        },
        amount: integer(&body, "amount")?,
    };
    let r = svc.reservations.place_seed(cmd).await?;
    let answer = json!({
        "orderId": id_value(&r.reservation_id),
        "placeNm": r.place_name,
        "status": seed_label(r.status.as_str()),
        "usrId": seed::external_user(&r.user_id),
        "strDt": r.check_in.replace('-', ""),
        "endDt": r.check_out.replace('-', ""),
        "qty": r.rooms,
        "amount": r.amount,
        "placeId": id_value(seed::external_place(&r.place_id)),
    });
    Ok(ApiResponse::json(StatusCode::CREATED, &answer)
        .with_header("location", format!("/accommodations/{}", r.reservation_id)))
}

/// The seed's Korean status labels.
pub fn seed_label(status: &str) -> &'static str {
    match status {
        "PENDING" => "예약처리",
        "PAID" => "결제완료",
        "AWAITING_OWNER" => "승인대기",
        "CONFIRMED" => "예약완료",
        "CANCELLED" => "예약취소",
        // The seed had one "payment done" and one "payment cancelled".
        "AUTHORIZED" | "CAPTURED" | "APPROVED" => "결제완료",
        "REFUNDED" | "PARTIALLY_REFUNDED" | "VOIDED" => "결제취소",
        "DECLINED" => "결제거절",
        _ => "예약처리",
    }
}

fn seed_mypage(row: &MyPageRow) -> Value {
    json!({
        "orderId": id_value(&row.reservation_id),
        "placeNm": row.place_name,
        "usrId": seed::external_user(&row.user_id),
        "placeId": id_value(seed::external_place(&row.place_id)),
        "amount": row.amount,
        "qty": row.rooms,
        "strDt": row.check_in.replace('-', ""),
        "endDt": row.check_out.replace('-', ""),
        "status": seed_label(row.reservation_status.as_deref().unwrap_or("PENDING")),
        "payStatus": row.payment_status.as_deref().map(seed_label),
    })
}

/// [seed-mypage] `GET /mypages/{id}` with the seed's field names and labels.
pub async fn mypage(svc: &Services, req: ApiRequest) -> ApiResult {
    let id = req.param("id")?;
    // Anonymous by design (as in the seed): anyone may read the facade's own orders, and
    // only those, never a /v1 reservation (whose ids are UUIDs, whose users are not seed users).
    if !seed::is_order_number(id) {
        return Err(Problem::not_found(format!("mypage {id} does not exist")));
    }
    let row = svc
        .mypages
        .get(id)
        .await?
        .filter(|row| seed::is_seed_id(&row.user_id))
        .ok_or_else(|| Problem::not_found(format!("mypage {id} does not exist (yet)")))?;
    Ok(ApiResponse::json(StatusCode::OK, &seed_mypage(&row)))
}
