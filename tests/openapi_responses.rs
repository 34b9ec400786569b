//! What the local runtime answers is what `openapi.yaml` declares. The main flows (places,
//! instant and request-to-book reservations, owner decisions, cancels, views, the seed facade, the
//! runtime's own routes) and their error cases are walked over HTTP, and every answer is checked
//! against the operation it reached: its status must be declared, its content type must be one the
//! response declares, its body must validate against that schema (with `format`s checked), a
//! declared header it carries must match its schema, and a problem's `status` is the HTTP status.
//! Paths no operation serves are checked against the API-wide 404 and 405 responses.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::spec::Spec;
use crate::support::{Local, day};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The runtime under test and what its answers have covered.
struct Checked {
    rt: Local,
    spec: Spec,
    /// (operationId or API-wide response, status) of every answer checked.
    seen: Mutex<BTreeSet<(String, u16)>>,
}

struct Req<'a> {
    c: &'a Checked,
    method: &'static str,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<(String, Vec<u8>)>,
}

impl Req<'_> {
    fn user(mut self, user: &str) -> Self {
        let bearer = self.c.rt.bearer(user);
        self.headers.push(("authorization".into(), bearer));
        self
    }
    fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
    fn json(self, body: Value) -> Self {
        self.raw("application/json", body.to_string().into_bytes())
    }
    fn raw(mut self, content_type: &str, body: Vec<u8>) -> Self {
        self.body = Some((content_type.into(), body));
        self
    }

    async fn send(self) -> Answer {
        let method = reqwest::Method::from_bytes(self.method.as_bytes()).expect("method");
        let mut req = self
            .c
            .rt
            .http
            .request(method, format!("{}{}", self.c.rt.base, self.path));
        for (k, v) in &self.headers {
            req = req.header(k, v);
        }
        if let Some((ct, body)) = self.body {
            req = req.header("content-type", ct).body(body);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let is_json = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| media_type(ct).ends_with("json"));
        let body = if is_json {
            serde_json::from_str(&text).unwrap_or_else(|e| {
                panic!(
                    "{} {}: a JSON content type with a body that is not JSON ({e}): {text}",
                    self.method, self.path
                )
            })
        } else {
            Value::String(text)
        };
        let answer = Answer {
            status,
            headers,
            body,
        };
        self.c.check(self.method, &self.path, &answer);
        answer
    }

    /// Sends and asserts the status the walk expects (the schema check runs either way).
    async fn expect(self, status: u16) -> Answer {
        let what = format!("{} {}", self.method, self.path);
        let a = self.send().await;
        assert_eq!(a.status, status, "{what}: {}", a.body);
        a
    }
}

fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

impl Checked {
    fn req(&self, method: &'static str, path: impl Into<String>) -> Req<'_> {
        Req {
            c: self,
            method,
            path: path.into(),
            headers: Vec::new(),
            body: None,
        }
    }

    fn check(&self, method: &str, path_and_query: &str, a: &Answer) {
        let path = path_and_query.split('?').next().unwrap_or_default();
        let what = format!("{method} {path_and_query} → {}", a.status);
        let (label, response) = match self.spec.find(method, path) {
            Some(op) => {
                let declared = &op.op["responses"];
                let r = declared
                    .get(a.status.to_string())
                    .or_else(|| declared.get("default"))
                    .unwrap_or_else(|| {
                        panic!(
                            "{what}: {} ({}) does not declare {}: {}",
                            op.id(),
                            op.key(),
                            a.status,
                            a.body
                        )
                    });
                (op.id().to_string(), r)
            }
            None => {
                let allowed = self.spec.methods_of(path);
                let (name, status) = if allowed.is_empty() {
                    ("NotFound", 404)
                } else {
                    ("MethodNotAllowed", 405)
                };
                assert_eq!(
                    a.status, status,
                    "{what}: openapi.yaml serves {allowed:?} on this path"
                );
                if status == 405 {
                    let allow: BTreeSet<String> = a
                        .header("allow")
                        .unwrap_or_else(|| panic!("{what}: 405 without Allow"))
                        .split(',')
                        .map(|m| m.trim().to_string())
                        .collect();
                    let documented: BTreeSet<String> =
                        allowed.iter().map(|m| m.to_string()).collect();
                    assert_eq!(allow, documented, "{what}: Allow vs openapi.yaml's methods");
                }
                let r = &self.spec.doc["components"]["responses"][name];
                (format!("(any path) {name}"), r)
            }
        };
        self.check_response(&what, self.spec.deref(response), a);
        self.seen.lock().expect("seen").insert((label, a.status));
    }

    fn check_response(&self, what: &str, declared: &Value, a: &Answer) {
        let ct = a.header("content-type").map(media_type);
        match (declared.get("content").and_then(Value::as_object), ct) {
            (None, _) => assert!(
                a.body.as_str().is_some_and(str::is_empty),
                "{what}: the response declares no content, got {}",
                a.body
            ),
            (Some(content), Some(ct)) => {
                let media = content.get(&ct).unwrap_or_else(|| {
                    panic!(
                        "{what}: content type {ct}, declared: {:?}",
                        content.keys().collect::<Vec<_>>()
                    )
                });
                if let Some(schema) = media.get("schema") {
                    let validator = self.spec.validator(schema);
                    let errors: Vec<String> = validator
                        .iter_errors(&a.body)
                        .map(|e| format!("{} at {}", e, e.instance_path()))
                        .collect();
                    assert!(
                        errors.is_empty(),
                        "{what}: the body does not match {schema}:\n  {}\nbody: {}",
                        errors.join("\n  "),
                        a.body
                    );
                }
                if ct == "application/problem+json" {
                    assert_eq!(a.body["status"], a.status, "{what}: problem status");
                }
            }
            (Some(_), None) => panic!("{what}: no content type, body {}", a.body),
        }
        let headers = declared.get("headers").and_then(Value::as_object);
        for (name, h) in headers.into_iter().flatten() {
            let h = self.spec.deref(h);
            let Some(value) = a.header(name) else {
                assert_ne!(h["required"], true, "{what}: no {name} header");
                continue;
            };
            let schema = &h["schema"];
            let instance = if schema["type"] == "integer" {
                value
                    .parse::<i64>()
                    .map(Value::from)
                    .unwrap_or_else(|_| Value::String(value.to_string()))
            } else {
                Value::String(value.to_string())
            };
            assert!(
                self.spec.validator(schema).is_valid(&instance),
                "{what}: header {name}: {value} does not match {schema}"
            );
        }
    }

    /// Repeats a request (each answer checked) until `done` holds for it.
    async fn until<'a, F>(
        &'a self,
        what: &str,
        mut make: impl FnMut() -> Req<'a>,
        done: F,
    ) -> Answer
    where
        F: Fn(&Answer) -> bool,
    {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let a = make().send().await;
            if done(&a) {
                return a;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; last {}: {}",
                a.status,
                a.body
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn wait_status(&self, user: &str, id: &str, status: &str) -> Answer {
        self.until(
            &format!("{id} {status}"),
            || self.req("GET", format!("/v1/reservations/{id}")).user(user),
            |a| a.status == 200 && a.body["status"] == status,
        )
        .await
    }

    /// Registers a place and waits until the reservation context can book it.
    async fn place(&self, owner: &str, rooms: i64, instant: bool) -> String {
        let a = self
            .req("POST", "/v1/places")
            .user(owner)
            .json(json!({"name": format!("{owner}'s place"), "roomCount": rooms, "nightlyPrice": 50_000, "instantBook": instant}))
            .expect(201)
            .await;
        let id = a.body["placeId"].as_str().expect("placeId").to_string();
        // A stay in the past is refused (422) only once the catalogue knows the place (404 before).
        self.until(
            "catalogue",
            || {
                self.req("POST", "/v1/reservations")
                    .user("probe")
                    .json(json!({"placeId": id, "checkIn": "2000-01-01", "checkOut": "2000-01-02"}))
            },
            |a| a.status == 422,
        )
        .await;
        id
    }

    async fn reserve(&self, user: &str, place: &str, from: i64, to: i64) -> String {
        let a = self
            .req("POST", "/v1/reservations")
            .user(user)
            .json(json!({"placeId": place, "checkIn": day(from), "checkOut": day(to), "rooms": 1}))
            .expect(202)
            .await;
        a.body["reservationId"]
            .as_str()
            .expect("reservationId")
            .to_string()
    }
}

/// The seed's `orderId`, a number (or a string when it does not look like one).
fn order_id(body: &Value) -> String {
    match &body["orderId"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn seed_day(days: i64) -> String {
    day(days).replace('-', "")
}

#[tokio::test]
async fn every_answer_of_the_main_flows_is_declared_by_openapi() {
    let c = Checked {
        rt: Local::start("openapi-responses", &[]).await,
        spec: Spec::load(),
        seen: Mutex::new(BTreeSet::new()),
    };

    // The runtime's own routes.
    c.req("GET", "/health").expect(200).await;
    c.req("GET", "/.well-known/jwks.json").expect(200).await;
    c.req("GET", "/").expect(200).await;
    c.req("POST", "/_local/token")
        .json(json!({"sub": "alice"}))
        .expect(200)
        .await;
    c.req("POST", "/_local/token")
        .json(json!({"user": "alice"}))
        .expect(400)
        .await;

    // Places, and their errors.
    let key = [("idempotency-key", "olivia-place-1")];
    let register =
        json!({"name": "Sea view", "roomCount": 2, "nightlyPrice": 50_000, "instantBook": true});
    let first = c
        .req("POST", "/v1/places")
        .user("olivia")
        .header(key[0].0, key[0].1)
        .json(register.clone())
        .expect(201)
        .await;
    let again = c
        .req("POST", "/v1/places")
        .user("olivia")
        .header(key[0].0, key[0].1)
        .json(register.clone())
        .expect(200)
        .await;
    assert_eq!(first.body["placeId"], again.body["placeId"]);
    let place = c.place("olivia", 2, true).await;
    let cabin = c.place("oscar", 1, false).await;
    c.req("GET", "/v1/places").user("olivia").expect(200).await;
    c.req("GET", format!("/v1/places/{place}"))
        .user("alice")
        .expect(200)
        .await;
    c.req("GET", format!("/v1/places/{place}?from=notadate"))
        .user("olivia")
        .expect(422)
        .await;
    c.req("GET", "/v1/places/no-such-place")
        .user("olivia")
        .expect(404)
        .await;
    c.req("GET", "/v1/places").expect(401).await;
    c.req("GET", "/v1/places")
        .header("authorization", "Bearer not-a-token")
        .expect(401)
        .await;
    c.req("POST", "/v1/places")
        .user("olivia")
        .raw("text/plain", register.to_string().into_bytes())
        .expect(415)
        .await;
    c.req("POST", "/v1/places")
        .user("olivia")
        .raw("application/json", b"{\"name\":".to_vec())
        .expect(400)
        .await;
    c.req("POST", "/v1/places")
        .user("olivia")
        .json(json!({"name": "   ", "roomCount": 1, "nightlyPrice": 1}))
        .expect(422)
        .await;
    c.req("POST", "/v1/places")
        .user("olivia")
        .json(json!({"name": "x".repeat(20_000), "roomCount": 1, "nightlyPrice": 1}))
        .expect(413)
        .await;
    c.req("POST", "/v1/places")
        .user("olivia")
        .header("idempotency-key", "a b")
        .json(register.clone())
        .expect(400)
        .await;
    c.req("PATCH", format!("/v1/places/{place}"))
        .user("olivia")
        .json(json!({"roomCount": 3}))
        .expect(200)
        .await;
    c.req("PATCH", format!("/v1/places/{place}"))
        .user("mallory")
        .json(json!({"roomCount": 9}))
        .expect(403)
        .await;
    c.req("PATCH", "/v1/places/no-such-place")
        .user("olivia")
        .json(json!({"roomCount": 9}))
        .expect(404)
        .await;
    c.req("PATCH", format!("/v1/places/{place}"))
        .user("olivia")
        .json(json!({"roomCount": "three"}))
        .expect(400)
        .await;
    // Place facts, price calendars and quotes.
    let priced = c
        .req("POST", "/v1/places")
        .user("olivia")
        .json(json!({"name": "Hanok", "roomCount": 2, "nightlyPrice": 100_000, "city": " Seoul ",
            "address": "12 Bukchon-ro", "description": "Quiet.\nNear the palace.", "guests": 4,
            "priceRules": [{"from": day(0), "to": day(60), "nightlyPrice": 150_000},
                           {"from": day(0), "to": day(60), "nightlyPrice": 180_000, "days": ["FRI", "SAT"]}]}))
        .expect(201)
        .await;
    assert_eq!(priced.body["city"], "Seoul", "{}", priced.body);
    let priced = priced.body["placeId"].as_str().expect("placeId");
    let quote = |place: &str, rooms: &str| {
        format!(
            "/v1/places/{place}/quote?checkIn={}&checkOut={}{rooms}",
            day(3),
            day(5)
        )
    };
    let q = c.req("GET", quote(priced, "&rooms=2")).user("alice");
    let q = q.expect(200).await;
    assert_eq!(q.body["available"], true, "{}", q.body);
    let q = c.req("GET", quote(priced, "&rooms=0")).user("alice");
    q.expect(422).await;
    let q = c.req("GET", quote("no-such-place", "")).user("alice");
    q.expect(404).await;
    c.req("GET", quote(priced, "")).expect(401).await;
    c.req("PATCH", format!("/v1/places/{priced}"))
        .user("olivia")
        .json(json!({"city": "Busan"}))
        .expect(400)
        .await;
    c.req("PATCH", format!("/v1/places/{priced}"))
        .user("olivia")
        .json(json!({"priceRules": [{"from": day(5), "to": day(5), "nightlyPrice": 1}]}))
        .expect(422)
        .await;

    // An instant-book stay: reserve (idempotently), confirmed by the saga, seen by every view.
    let stay = json!({"placeId": place, "checkIn": day(10), "checkOut": day(12), "rooms": 1});
    let booked = c
        .req("POST", "/v1/reservations")
        .user("alice")
        .header("idempotency-key", "alice-trip-1")
        .json(stay.clone())
        .expect(202)
        .await;
    let id = booked.body["reservationId"]
        .as_str()
        .expect("id")
        .to_string();
    let repeat = c
        .req("POST", "/v1/reservations")
        .user("alice")
        .header("idempotency-key", "alice-trip-1")
        .json(stay.clone())
        .expect(202)
        .await;
    assert_eq!(repeat.body["reservationId"], id.as_str());
    c.req("POST", "/v1/reservations")
        .user("alice")
        .header("idempotency-key", "alice-trip-1")
        .json(json!({"placeId": place, "checkIn": day(20), "checkOut": day(21)}))
        .expect(409)
        .await;
    c.req("POST", "/v1/reservations")
        .user("alice")
        .json(json!({"placeId": "no-such-place", "checkIn": day(10), "checkOut": day(11)}))
        .expect(404)
        .await;
    c.wait_status("alice", &id, "CONFIRMED").await;
    c.until(
        "payment",
        || {
            c.req("GET", format!("/v1/reservations/{id}/payment"))
                .user("alice")
        },
        |a| a.status == 200,
    )
    .await;
    c.req("GET", format!("/v1/reservations/{id}/cancellation"))
        .user("alice")
        .expect(200)
        .await;
    c.until(
        "mypage",
        || c.req("GET", format!("/v1/mypages/{id}")).user("alice"),
        |a| a.status == 200 && a.body["reservationStatus"] == "CONFIRMED",
    )
    .await;
    c.until(
        "notification",
        || c.req("GET", "/v1/notifications").user("alice"),
        |a| a.body["items"].as_array().is_some_and(|i| !i.is_empty()),
    )
    .await;
    c.until(
        "loyalty",
        || c.req("GET", "/v1/loyalty").user("alice"),
        |a| a.body["points"].as_i64().is_some_and(|p| p > 0),
    )
    .await;
    // Search finds a place of the city once its read model has it; a bad request is a 422.
    c.req("POST", "/v1/places")
        .user("sofia")
        .json(json!({"name": "Hanok", "city": "Openapi City", "roomCount": 1, "nightlyPrice": 70_000}))
        .expect(201)
        .await;
    let search = format!(
        "/v1/search?city=openapi%20city&checkIn={}&checkOut={}",
        day(40),
        day(42)
    );
    c.until(
        "search",
        || c.req("GET", search.clone()).user("alice"),
        |a| a.body["items"].as_array().is_some_and(|i| !i.is_empty()),
    )
    .await;
    c.req("GET", format!("{search}&limit=0"))
        .user("alice")
        .expect(422)
        .await;
    c.req("GET", format!("{search}&cursor=nope"))
        .user("alice")
        .expect(422)
        .await;
    c.req("GET", "/v1/mypages").user("alice").expect(200).await;
    c.until(
        "owner view",
        || {
            c.req("GET", format!("/v1/owner/reservations?placeId={place}"))
                .user("olivia")
        },
        |a| a.body["items"].as_array().is_some_and(|i| !i.is_empty()),
    )
    .await;
    c.req("GET", "/v1/owner/reservations")
        .user("olivia")
        .expect(200)
        .await;
    c.req(
        "GET",
        format!("/v1/owner/reservations?placeId={}", "p".repeat(129)),
    )
    .user("olivia")
    .expect(422)
    .await;
    c.req("GET", format!("/v1/places/{place}?from={}", day(0)))
        .user("olivia")
        .expect(200)
        .await;
    c.req("PATCH", format!("/v1/places/{place}"))
        .user("olivia")
        .json(json!({"roomCount": 0}))
        .expect(409)
        .await;
    for other in [
        format!("/v1/reservations/{id}"),
        format!("/v1/reservations/{id}/payment"),
        format!("/v1/reservations/{id}/cancellation"),
        format!("/v1/mypages/{id}"),
    ] {
        c.req("GET", other).user("bob").expect(404).await;
    }
    // The simulated provider sends no webhooks (the Stripe runtime's answers: tests/money.rs);
    // an unsigned delivery is refused wherever it is sent.
    c.req("POST", "/v1/payments/webhooks/stripe")
        .header("stripe-signature", "t=1,v1=00")
        .json(json!({"id": "evt_1", "type": "refund.failed"}))
        .expect(404)
        .await;
    c.req("POST", "/v1/payments/webhooks/stripe")
        .json(json!({"id": "evt_1", "type": "refund.failed"}))
        .expect(400)
        .await;
    c.req("GET", format!("/_local/executions/{id}"))
        .expect(200)
        .await;
    c.req("GET", "/_local/executions/no-such-execution")
        .expect(404)
        .await;
    c.req("GET", format!("/_local/events?reservationId={id}"))
        .expect(200)
        .await;

    // Request-to-book: the owner confirms one stay and rejects another.
    let asked = c.reserve("alice", &cabin, 30, 31).await;
    c.wait_status("alice", &asked, "AWAITING_OWNER").await;
    let confirm = format!("/v1/owner/reservations/{asked}/confirm");
    c.req("POST", confirm.clone())
        .user("olivia")
        .expect(404)
        .await;
    c.req("POST", confirm.clone())
        .user("oscar")
        .expect(200)
        .await;
    c.req("POST", confirm).user("oscar").expect(200).await;
    c.req("POST", format!("/v1/owner/reservations/{asked}/reject"))
        .user("oscar")
        .expect(409)
        .await;
    c.wait_status("alice", &asked, "CONFIRMED").await;
    let refused = c.reserve("alice", &cabin, 40, 41).await;
    c.wait_status("alice", &refused, "AWAITING_OWNER").await;
    c.req("POST", format!("/v1/owner/reservations/{refused}/reject"))
        .user("oscar")
        .expect(200)
        .await;
    c.wait_status("alice", &refused, "CANCELLED").await;
    c.req("POST", "/v1/owner/reservations/no-such-stay/confirm")
        .user("oscar")
        .expect(404)
        .await;
    // The owner ends the confirmed one: no no-show before its check-in day, then a cancel.
    c.req("POST", format!("/v1/owner/reservations/{asked}/no-show"))
        .user("oscar")
        .expect(409)
        .await;
    c.req("POST", format!("/v1/owner/reservations/{refused}/cancel"))
        .user("oscar")
        .expect(409)
        .await;
    c.req("POST", format!("/v1/owner/reservations/{asked}/cancel"))
        .user("olivia")
        .expect(404)
        .await;
    c.req("POST", format!("/v1/owner/reservations/{asked}/cancel"))
        .user("oscar")
        .expect(200)
        .await;

    // Cancelling: once, again (no change), not someone else's, not with a bad key.
    let cancel = format!("/v1/reservations/{id}/cancel");
    c.req("POST", cancel.clone())
        .user("alice")
        .header("idempotency-key", "not visible")
        .expect(400)
        .await;
    c.req("POST", cancel.clone()).user("bob").expect(404).await;
    c.req("POST", cancel.clone())
        .user("alice")
        .expect(200)
        .await;
    c.req("POST", cancel).user("alice").expect(200).await;
    c.wait_status("alice", &id, "CANCELLED").await;

    // The seed facade, as its httpie client calls it.
    c.req("POST", "/reservationManagements")
        .json(json!({"placeId": "1", "stock": "1"}))
        .expect(201)
        .await;
    c.req("POST", "/reservationManagements")
        .json(json!({"placeId": "1", "stock": "1"}))
        .expect(200)
        .await;
    c.req("POST", "/reservationManagements")
        .json(json!({"placeId": "1"}))
        .expect(422)
        .await;
    c.req("POST", "/reservationManagements")
        .raw("text/plain", b"placeId=1".to_vec())
        .expect(415)
        .await;
    let seed_stay = |usr: &str| json!({"placeNm": "test01", "status": "예약처리", "usrId": usr, "strDt": seed_day(50), "endDt": seed_day(51), "qty": "1", "amount": "5000", "placeId": "1"});
    let order = c
        .req("POST", "/accommodations")
        .json(seed_stay("2"))
        .expect(201)
        .await;
    let order = order_id(&order.body);
    c.until(
        "seed order 1",
        || c.req("GET", format!("/mypages/{order}")),
        |a| a.status == 200 && a.body["status"] == "예약완료",
    )
    .await;
    let sold_out = c
        .req("POST", "/accommodations")
        .json(seed_stay("33"))
        .expect(201)
        .await;
    let sold_out = order_id(&sold_out.body);
    c.until(
        "seed order 2",
        || c.req("GET", format!("/mypages/{sold_out}")),
        |a| a.status == 200 && a.body["payStatus"] == "결제취소",
    )
    .await;
    c.req("POST", "/accommodations")
        .json(json!({"usrId": "2", "placeId": "no-such-seed-place", "strDt": seed_day(50), "endDt": seed_day(51), "amount": 1}))
        .expect(404)
        .await;
    c.req("POST", "/accommodations")
        .raw("application/json", b"[".to_vec())
        .expect(400)
        .await;
    c.req("GET", "/mypages/999999").expect(404).await;

    // A context that is down answers 503 with Retry-After; the fault settings round-trip.
    c.req("GET", "/_local/faults").expect(200).await;
    c.req("PUT", "/_local/faults")
        .json(json!({"down": ["place"]}))
        .expect(200)
        .await;
    let down = c.req("GET", "/v1/places").user("olivia").expect(503).await;
    assert!(
        down.header("retry-after").is_some(),
        "503 without Retry-After"
    );
    c.req("POST", "/reservationManagements")
        .json(json!({"placeId": "1", "stock": "2"}))
        .expect(503)
        .await;
    c.req("PUT", "/_local/faults")
        .json(json!({}))
        .expect(200)
        .await;
    c.req("PUT", "/_local/faults")
        .json(json!({"payment": {"latencyMinMs": 50, "latencyMaxMs": 10}}))
        .expect(422)
        .await;
    c.req("PUT", "/_local/faults")
        .json(json!({"nonsense": true}))
        .expect(400)
        .await;
    c.req("GET", "/_local/events").expect(200).await;

    // Paths and methods no operation serves.
    c.req("DELETE", "/v1/places")
        .user("olivia")
        .expect(405)
        .await;
    c.req("PUT", format!("/v1/reservations/{id}"))
        .user("alice")
        .expect(405)
        .await;
    c.req("GET", "/v1/nothing-here")
        .user("alice")
        .expect(404)
        .await;

    // The walk reached every operation and every kind of client error.
    let seen = c.seen.lock().expect("seen").clone();
    let reached: BTreeSet<&str> = seen.iter().map(|(op, _)| op.as_str()).collect();
    let missed: Vec<String> = c
        .spec
        .operations()
        .iter()
        .filter(|o| !reached.contains(o.id()))
        .map(|o| o.key())
        .collect();
    assert!(
        missed.is_empty(),
        "operations the walk never reached: {missed:?}"
    );
    let statuses: BTreeSet<u16> = seen.iter().map(|(_, s)| *s).collect();
    for s in [
        200, 201, 202, 400, 401, 403, 404, 405, 409, 413, 415, 422, 503,
    ] {
        assert!(
            statuses.contains(&s),
            "no answer with status {s} was checked"
        );
    }
}
