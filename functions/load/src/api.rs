//! The HTTP calls the scenarios make, each answering the parsed body or why it failed.
use std::time::Duration;

use serde_json::{Value, json};
use time::OffsetDateTime;

#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
}

/// A call that did not answer what the scenario needed: a status or a transport failure, short
/// enough to count by kind.
pub type Failure = String;

/// A stay for request `i`: spread over `places` places and a year of check-in dates, 1 to 3
/// nights, so a long run does not sell its places out.
pub struct Stay {
    pub place: usize,
    pub check_in: OffsetDateTime,
    pub nights: i64,
}

impl Stay {
    pub fn of(i: usize, places: usize) -> Self {
        let places = places.max(1);
        let offset = 5 + ((i / places) % 360) as i64;
        Stay {
            place: i % places,
            check_in: OffsetDateTime::now_utc() + time::Duration::days(offset),
            nights: 1 + (i % 3) as i64,
        }
    }

    /// A stay for request `i` drawn at random (but the same for the same `i`): any of `places`,
    /// checking in within the next 365 nights, 1 to 3 nights.
    pub fn spread(i: usize, places: usize) -> Self {
        let h = mix64(i as u64);
        Stay {
            place: (h % places.max(1) as u64) as usize,
            check_in: OffsetDateTime::now_utc()
                + time::Duration::days(1 + ((h >> 20) % 365) as i64),
            nights: 1 + ((h >> 40) % 3) as i64,
        }
    }

    fn day(&self, extra: i64, sep: &str) -> String {
        let d = (self.check_in + time::Duration::days(extra)).date();
        format!(
            "{:04}{sep}{:02}{sep}{:02}",
            d.year(),
            u8::from(d.month()),
            d.day()
        )
    }

    pub fn iso(&self) -> (String, String) {
        (self.day(0, "-"), self.day(self.nights, "-"))
    }

    /// The seed's `yyyymmdd`.
    pub fn seed(&self) -> (String, String) {
        (self.day(0, ""), self.day(self.nights, ""))
    }
}

/// SplitMix64's finalizer: well-spread bits from a counter, so a request number picks its random
/// stay, city or place without shared state between workers.
pub fn mix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The body of `POST /v1/places`.
pub struct PlaceSpec {
    pub name: String,
    pub rooms: i64,
    pub price: i64,
    pub city: String,
    pub guests: i64,
    /// `priceRules`, as the API takes them.
    pub rules: Value,
}

/// A search's answer: its items and the read units the server says it would cost on DynamoDB.
pub struct Found {
    pub items: usize,
    pub read_units: Option<f64>,
}

fn status_failure(what: &str, status: reqwest::StatusCode) -> Failure {
    format!("{what} {}", status.as_u16())
}

fn transport(e: &reqwest::Error) -> Failure {
    if e.is_timeout() {
        "timeout".into()
    } else if e.is_connect() {
        "connect".into()
    } else {
        "transport".into()
    }
}

impl Api {
    pub fn new(base: &str, pool: usize, timeout: Duration) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(pool)
            .timeout(timeout)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_string(),
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<(u16, Value), Failure> {
        self.exchange(req).await.map(|(status, _, v)| (status, v))
    }

    /// The status, headers and parsed body of a call that answered 1xx-3xx.
    async fn exchange(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<(u16, reqwest::header::HeaderMap, Value), Failure> {
        let resp = req.send().await.map_err(|e| transport(&e))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.bytes().await.map_err(|e| transport(&e))?;
        if status.is_client_error() || status.is_server_error() {
            return Err(status_failure("status", status));
        }
        let value = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&body).map_err(|_| "invalid JSON".to_string())?
        };
        Ok((status.as_u16(), headers, value))
    }

    /// `POST /v1/places` as `owner`; the new place's id. A 401 means the target is not in
    /// development mode.
    pub async fn create_place(&self, owner: &str, place: &PlaceSpec) -> Result<String, String> {
        let body = json!({"name": place.name, "roomCount": place.rooms, "nightlyPrice": place.price,
            "instantBook": true, "city": place.city, "guests": place.guests,
            "priceRules": place.rules});
        let resp = self
            .http
            .post(format!("{}/v1/places", self.base))
            .bearer_auth(format!("dev:{owner}"))
            .json(&body)
            .send()
            .await
            .map_err(|e| format!("cannot reach {}: {e}", self.base))?;
        if resp.status() == reqwest::StatusCode::UNAUTHORIZED {
            return Err(format!(
                "{} refuses dev: tokens: start it in development mode (make run, or --dev)",
                self.base
            ));
        }
        let status = resp.status();
        let body: Value = resp.json().await.map_err(|e| e.to_string())?;
        body["placeId"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("POST /v1/places answered {status}: {body}"))
    }

    /// `GET /v1/search?<query>` as `user`: how many items the first page has and the
    /// `X-Read-Units` header.
    pub async fn search(&self, user: &str, query: &str) -> Result<Found, Failure> {
        let req = self
            .http
            .get(format!("{}/v1/search?{query}", self.base))
            .bearer_auth(format!("dev:{user}"));
        let (_, headers, v) = self.exchange(req).await?;
        Ok(Found {
            items: v["items"].as_array().map_or(0, Vec::len),
            read_units: headers
                .get("x-read-units")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok()),
        })
    }

    /// `POST /v1/reservations`; the reservation id of its 202.
    pub async fn reserve(&self, user: &str, place: &str, stay: &Stay) -> Result<String, Failure> {
        let (check_in, check_out) = stay.iso();
        let body =
            json!({"placeId": place, "checkIn": check_in, "checkOut": check_out, "rooms": 1});
        let (status, v) = self
            .send(
                self.http
                    .post(format!("{}/v1/reservations", self.base))
                    .bearer_auth(format!("dev:{user}"))
                    .json(&body),
            )
            .await?;
        if status != 202 {
            return Err(format!("status {status}"));
        }
        v["reservationId"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| "no reservationId".into())
    }

    /// Whether the reservation side's catalogue knows `place`: a reservation of a past night is
    /// refused as invalid (422) for a known place, as unknown (404) otherwise.
    pub async fn catalogued(&self, place: &str) -> bool {
        let body = json!({"placeId": place, "checkIn": "2000-01-01", "checkOut": "2000-01-02"});
        let req = self
            .http
            .post(format!("{}/v1/reservations", self.base))
            .bearer_auth("dev:load-probe")
            .json(&body);
        matches!(self.send(req).await, Err(e) if e == "status 422")
    }

    /// `GET /v1/reservations/{id}`.
    pub async fn reservation(&self, user: &str, id: &str) -> Result<Value, Failure> {
        self.get(&format!("/v1/reservations/{id}"), user).await
    }

    /// `GET /v1/mypages/{id}`; `None` while the view has no row yet (404).
    pub async fn mypage(&self, user: &str, id: &str) -> Result<Option<Value>, Failure> {
        match self.get(&format!("/v1/mypages/{id}"), user).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if e == "status 404" => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET <path>` with a `dev:<user>` token (the hello-world reference ignores it).
    pub async fn get(&self, path: &str, user: &str) -> Result<Value, Failure> {
        self.send(
            self.http
                .get(format!("{}{path}", self.base))
                .bearer_auth(format!("dev:{user}")),
        )
        .await
        .map(|(_, v)| v)
    }

    pub async fn faults(&self) -> Result<Value, String> {
        self.send(self.http.get(format!("{}/_local/faults", self.base)))
            .await
            .map(|(_, v)| v)
            .map_err(|e| format!("GET /_local/faults: {e} (is the target in development mode?)"))
    }

    pub async fn set_faults(&self, settings: &Value) -> Result<(), String> {
        self.send(
            self.http
                .put(format!("{}/_local/faults", self.base))
                .json(settings),
        )
        .await
        .map(drop)
        .map_err(|e| format!("PUT /_local/faults: {e}"))
    }

    /// The seed's `POST /reservationManagements {placeId, stock}`.
    pub async fn seed_place(&self, place: &str, stock: i64) -> Result<(), String> {
        self.send(
            self.http
                .post(format!("{}/reservationManagements", self.base))
                .json(&json!({"placeId": place, "stock": stock.to_string()})),
        )
        .await
        .map(drop)
        .map_err(|e| format!("POST /reservationManagements: {e} (is the seed facade on?)"))
    }

    /// The seed's `POST /accommodations`; its `orderId`.
    pub async fn seed_reserve(
        &self,
        place: &str,
        user: &str,
        stay: &Stay,
    ) -> Result<String, Failure> {
        let (str_dt, end_dt) = stay.seed();
        let body = json!({"placeNm": "bench", "status": "예약처리", "usrId": user, "strDt": str_dt,
            "endDt": end_dt, "qty": "1", "amount": "5000", "placeId": place});
        let (_, v) = self
            .send(
                self.http
                    .post(format!("{}/accommodations", self.base))
                    .json(&body),
            )
            .await?;
        match &v["orderId"] {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            _ => Err("no orderId".into()),
        }
    }

    /// The seed's `GET /mypages/{id}`; `None` while it has no row yet.
    pub async fn seed_mypage(&self, id: &str) -> Result<Option<Value>, Failure> {
        match self
            .send(self.http.get(format!("{}/mypages/{id}", self.base)))
            .await
        {
            Ok((_, v)) => Ok(Some(v)),
            Err(e) if e == "status 404" => Ok(None),
            Err(e) => Err(e),
        }
    }
}
