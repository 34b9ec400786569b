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
        let resp = req.send().await.map_err(|e| transport(&e))?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| transport(&e))?;
        if status.is_client_error() || status.is_server_error() {
            return Err(status_failure("status", status));
        }
        let value = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&body).map_err(|_| "invalid JSON".to_string())?
        };
        Ok((status.as_u16(), value))
    }

    /// `POST /v1/places` as `owner`; the new place's id. A 401 means the target is not in
    /// development mode.
    pub async fn create_place(&self, owner: &str, i: usize, rooms: i64) -> Result<String, String> {
        let resp = self
            .http
            .post(format!("{}/v1/places", self.base))
            .bearer_auth(format!("dev:{owner}"))
            .json(&json!({"name": format!("load place {i}"), "roomCount": rooms, "nightlyPrice": 10_000, "instantBook": true}))
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
