//! `GET /v1/search` over HTTP against the running runtime, judged by a brute-force count over the
//! place context's own nights (`GET /v1/places/{id}`, the source of truth): every place of the city
//! with `rooms` free on every night of the stay, and no other, cheapest first then by placeId,
//! each exactly once across the pages. Checked on an empty calendar, after a burst of concurrent
//! overlapping bookings (some sold out), and after cancels and owner rejections gave rooms back.
//! The search read model is built from events, so each check retries until it agrees or a deadline
//! passes; once the sagas rest nothing changes, so a lasting disagreement is a wrong answer.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::{Local, Rng, date_of, night_price, today};
use serde_json::{Value, json};

/// A place as registered, and what search must say of it.
#[derive(Clone)]
struct Spec {
    id: String,
    owner: String,
    name: String,
    /// As stored: the registered city trimmed.
    city: String,
    /// The search key: lowercased; "" = never found.
    key: String,
    rooms: i64,
    price: i64,
    guests: i64,
    instant: bool,
    rules: Value,
}

/// One search: `city` as sent (any case, padded), the stay as days from 1970-01-01.
#[derive(Debug, Clone)]
struct Query {
    city: String,
    key: String,
    check_in: i64,
    nights: i64,
    rooms: i64,
    guests: Option<i64>,
    limit: Option<i64>,
}

/// Rooms held per night of each place (date -> held), read from the place context.
type Truth = BTreeMap<String, BTreeMap<String, i64>>;

/// Percent-encodes everything but unreserved characters (cities with spaces, opaque cursors).
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Query {
    fn path(&self, cursor: Option<&str>) -> String {
        let mut p = format!(
            "/v1/search?city={}&checkIn={}&checkOut={}&rooms={}",
            enc(&self.city),
            date_of(self.check_in),
            date_of(self.check_in + self.nights),
            self.rooms
        );
        if let Some(g) = self.guests {
            p += &format!("&guests={g}");
        }
        if let Some(l) = self.limit {
            p += &format!("&limit={l}");
        }
        if let Some(c) = cursor {
            p += &format!("&cursor={}", enc(c));
        }
        p
    }
}

/// The city as a customer might type it: random case, spaces around.
fn typed(rng: &mut Rng, city: &str) -> String {
    let mixed: String = city
        .chars()
        .map(|c| {
            if rng.chance(50) {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect();
    let pad = |rng: &mut Rng| " ".repeat(rng.range(0, 2) as usize);
    format!("{}{mixed}{}", pad(rng), pad(rng))
}

async fn truth(rt: &Local, places: &[Spec]) -> Truth {
    let mut t = Truth::new();
    for p in places {
        let nights = rt.nights(&p.owner, &p.id).await;
        t.insert(p.id.clone(), nights.into_iter().collect());
    }
    t
}

/// The brute-force answer: `(placeId, total, free)` in the order search must give.
fn expected(places: &[Spec], truth: &Truth, q: &Query) -> Vec<(String, i64, i64)> {
    let mut out: Vec<(String, i64, i64)> = places
        .iter()
        .filter(|p| !p.key.is_empty() && p.key == q.key)
        .filter(|p| q.guests.is_none_or(|g| p.guests * q.rooms >= g))
        .filter_map(|p| {
            let held = &truth[&p.id];
            let nights = q.check_in..q.check_in + q.nights;
            let free = nights
                .clone()
                .map(|d| (p.rooms - held.get(&date_of(d)).copied().unwrap_or(0)).max(0))
                .min()
                .unwrap_or(0);
            let total: i64 = nights.map(|d| night_price(p.price, &p.rules, d)).sum();
            (free >= q.rooms).then(|| (p.id.clone(), total * q.rooms, free))
        })
        .collect();
    out.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
    out
}

/// Every page of a search, following `nextCursor`; refuses a page longer than its limit.
async fn search_all(rt: &Local, q: &Query) -> Result<Vec<Value>, String> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..200 {
        let (s, page) = rt
            .call("GET", &q.path(cursor.as_deref()), Some("searcher"), None)
            .await;
        if s != 200 {
            return Err(format!("{q:?}: status {s}: {page}"));
        }
        let got = page["items"].as_array().cloned().unwrap_or_default();
        let limit = q.limit.unwrap_or(20) as usize;
        if got.len() > limit {
            return Err(format!("{q:?}: a page of {} > limit {limit}", got.len()));
        }
        items.extend(got);
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return Ok(items),
        }
    }
    Err(format!("{q:?}: more than 200 pages"))
}

/// One query against the brute force: the same places in the same order, each with its facts.
async fn check(rt: &Local, places: &[Spec], truth: &Truth, q: &Query) -> Result<(), String> {
    let want = expected(places, truth, q);
    let items = search_all(rt, q).await?;
    let got: Vec<(String, i64, i64)> = items
        .iter()
        .map(|i| {
            (
                i["placeId"].as_str().unwrap_or_default().to_string(),
                i["total"].as_i64().unwrap_or(-1),
                i["free"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    if got != want {
        return Err(format!(
            "{q:?} (checkOut {}):\n  search     {got:?}\n  brute force {want:?}",
            date_of(q.check_in + q.nights)
        ));
    }
    let by_id: BTreeMap<&str, &Spec> = places.iter().map(|p| (p.id.as_str(), p)).collect();
    for i in &items {
        let p = by_id[i["placeId"].as_str().unwrap_or_default()];
        let facts = json!({"name": p.name, "city": p.city, "guests": p.guests,
            "instantBook": p.instant, "nightlyPrice": p.price});
        for (k, v) in facts.as_object().into_iter().flatten() {
            if &i[k] != v {
                return Err(format!("{q:?}: item {i} has {k} {}, want {v}", i[k]));
            }
        }
    }
    Ok(())
}

/// Runs every query until all agree with the brute force over the current truth.
async fn assert_search_agrees(rt: &Local, places: &[Spec], queries: &[Query], phase: &str) {
    let truth = truth(rt, places).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut wrong = None;
        for q in queries {
            if let Err(e) = check(rt, places, &truth, q).await {
                wrong = Some(e);
                break;
            }
        }
        match wrong {
            None => return,
            Some(e) if Instant::now() > deadline => panic!("{phase}: search disagrees: {e}"),
            Some(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// The first day of a month at least 20 days ahead: the window of stays straddles it, so stays
/// touch one calendar month or two.
fn month_start() -> i64 {
    (today() + 20..)
        .find(|&d| date_of(d).ends_with("-01"))
        .unwrap_or(today() + 20)
}

const PRICES: [i64; 3] = [40_000, 60_000, 90_000];

fn random_rules(rng: &mut Rng, window: (i64, i64)) -> Value {
    let mut rules = Vec::new();
    if rng.chance(50) {
        let from = rng.range(window.0, window.1 - 2);
        rules.push(
            json!({"from": date_of(from), "to": date_of(from + rng.range(1, 6)),
            "nightlyPrice": *rng.pick(&PRICES)}),
        );
    }
    if rng.chance(50) {
        rules.push(json!({"from": date_of(window.0), "to": date_of(window.1),
            "nightlyPrice": *rng.pick(&PRICES) + 5_000, "days": ["FRI", "SAT"]}));
    }
    Value::Array(rules)
}

/// Registers `per_city` places in each city (cities typed in varied case and padding) and two
/// without a city, concurrently.
async fn register(rt: &Arc<Local>, rng: &mut Rng, cities: &[&str], per_city: usize) -> Vec<Spec> {
    let (first, last) = (month_start() - 10, month_start() + 10);
    let homes = cities
        .iter()
        .flat_map(|c| std::iter::repeat_n(*c, per_city))
        .chain(["", ""]);
    let mut tasks = Vec::new();
    for (i, city) in homes.enumerate() {
        let sent = if city.is_empty() {
            String::new()
        } else {
            typed(rng, city)
        };
        let spec = Spec {
            id: String::new(),
            owner: format!("owner{}", i % 5),
            name: format!("place {i}"),
            city: sent.trim().to_string(),
            key: sent.trim().to_lowercase(),
            rooms: rng.range(1, 3),
            price: *rng.pick(&PRICES),
            guests: rng.range(1, 4),
            instant: rng.chance(70),
            rules: random_rules(rng, (first, last)),
        };
        let body = json!({"name": spec.name, "roomCount": spec.rooms, "nightlyPrice": spec.price,
            "instantBook": spec.instant, "city": sent, "guests": spec.guests,
            "priceRules": spec.rules});
        let rt = rt.clone();
        tasks.push(tokio::spawn(async move {
            let id = rt.place_with(&spec.owner, body).await;
            Spec { id, ..spec }
        }));
    }
    let mut specs = Vec::new();
    for t in tasks {
        specs.push(t.await.expect("register task"));
    }
    specs
}

fn random_queries(rng: &mut Rng, cities: &[&str], n: usize) -> Vec<Query> {
    let (first, last) = (month_start() - 12, month_start() + 12);
    (0..n)
        .map(|_| {
            let city = *rng.pick(cities);
            let check_in = rng.range(first, last - 1);
            Query {
                city: typed(rng, city),
                key: city.to_lowercase(),
                check_in,
                nights: rng.range(1, 5.min(last - check_in)),
                rooms: rng.range(1, 3),
                guests: rng.chance(40).then(|| rng.range(1, 8)),
                limit: rng.chance(70).then(|| rng.range(1, 50)),
            }
        })
        .collect()
}

struct Booked {
    user: String,
    id: String,
    place: usize,
    check_in: i64,
    nights: i64,
    rooms: i64,
    status: String,
    reason: String,
}

impl Booked {
    fn rested(&mut self, r: &Value) {
        self.status = r["status"].as_str().unwrap_or_default().to_string();
        self.reason = r["statusReason"].as_str().unwrap_or_default().to_string();
    }
}

/// Many customers reserving overlapping stays at once; each waited for until its saga rests.
async fn burst(rt: &Arc<Local>, rng: &mut Rng, places: &[Spec], n: usize) -> Vec<Booked> {
    let (first, last) = (month_start() - 7, month_start() + 7);
    let mut tasks = Vec::new();
    for i in 0..n {
        let place = rng.range(0, places.len() as i64 - 1) as usize;
        let check_in = rng.range(first, last - 1);
        let mut b = Booked {
            user: format!("burst{i}"),
            id: String::new(),
            place,
            check_in,
            nights: rng.range(1, 4.min(last - check_in)),
            rooms: rng.range(1, 2.min(places[place].rooms)),
            status: String::new(),
            reason: String::new(),
        };
        let (rt, place) = (rt.clone(), places[place].id.clone());
        tasks.push(tokio::spawn(async move {
            let (ci, co) = (date_of(b.check_in), date_of(b.check_in + b.nights));
            let (s, r) = rt.reserve(&b.user, &place, &ci, &co, b.rooms).await;
            assert_eq!(s, 202, "{r}");
            b.id = r["reservationId"].as_str().expect("id").to_string();
            let rested = rt.wait_resting(&b.user, &b.id).await;
            b.rested(&rested);
            b
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.expect("reserve task"));
    }
    out
}

/// Waits until the place context holds exactly the rooms of the stays that keep them (CONFIRMED
/// or AWAITING_OWNER): releases run after a cancel answers. The nights never exceed a place's
/// rooms.
async fn wait_truth(rt: &Local, places: &[Spec], booked: &[Booked]) {
    let mut want: Truth = places
        .iter()
        .map(|p| (p.id.clone(), BTreeMap::new()))
        .collect();
    for b in booked {
        if b.status == "CONFIRMED" || b.status == "AWAITING_OWNER" {
            let nights = want.entry(places[b.place].id.clone()).or_default();
            for d in b.check_in..b.check_in + b.nights {
                *nights.entry(date_of(d)).or_default() += b.rooms;
            }
        }
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = truth(rt, places).await;
        let got: Truth = got
            .into_iter()
            .map(|(id, n)| (id, n.into_iter().filter(|(_, h)| *h != 0).collect()))
            .collect();
        for p in places {
            for (night, held) in &got[&p.id] {
                assert!(
                    *held <= p.rooms,
                    "{} holds {held} > {} on {night}",
                    p.id,
                    p.rooms
                );
            }
        }
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the nights never matched the stays that hold them:\n got  {got:?}\n want {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn search_agrees_with_a_brute_force_count_through_bookings_cancels_and_rejections() {
    let rt = Arc::new(Local::start("search-brute", &[]).await);
    let mut rng = Rng::from_env("SEARCH_SEED");
    let cities = ["Seoul", "Busan", "Jeju-si"];
    let places = register(&rt, &mut rng, &cities, 8).await;

    let queries = random_queries(&mut rng, &cities, 120);
    assert_search_agrees(&rt, &places, &queries, "empty calendar").await;

    let mut booked = burst(&rt, &mut rng, &places, 220).await;
    let count = |booked: &[Booked], st: &str, reason: &str| {
        booked
            .iter()
            .filter(|b| b.status == st && (reason.is_empty() || b.reason == reason))
            .count()
    };
    let (confirmed, sold_out) = (
        count(&booked, "CONFIRMED", ""),
        count(&booked, "CANCELLED", "SOLD_OUT"),
    );
    assert!(
        confirmed > 0 && sold_out > 0,
        "the burst must both sell rooms and sell some nights out: {confirmed} confirmed, {sold_out} sold out"
    );
    assert!(
        count(&booked, "AWAITING_OWNER", "") > 0,
        "some holds wait for their owner"
    );
    wait_truth(&rt, &places, &booked).await;
    let queries = random_queries(&mut rng, &cities, 120);
    assert_search_agrees(&rt, &places, &queries, "after the burst").await;

    // Give rooms back: customers cancel every other confirmed stay, owners reject every other
    // stay awaiting them (and confirm the rest, which keep their rooms).
    for (i, b) in booked.iter_mut().enumerate() {
        let owner = &places[b.place].owner;
        let (path, who, then) = match b.status.as_str() {
            "CONFIRMED" if i % 2 == 0 => (
                format!("/v1/reservations/{}/cancel", b.id),
                &b.user,
                "CANCELLED",
            ),
            "AWAITING_OWNER" if i % 2 == 0 => (
                format!("/v1/owner/reservations/{}/reject", b.id),
                owner,
                "CANCELLED",
            ),
            "AWAITING_OWNER" => (
                format!("/v1/owner/reservations/{}/confirm", b.id),
                owner,
                "CONFIRMED",
            ),
            _ => continue,
        };
        let (s, body) = rt.call("POST", &path, Some(who), None).await;
        assert!(s == 200 || s == 202, "{path}: {s} {body}");
        let r = rt.wait_status(&b.user, &b.id, then, None).await;
        b.rested(&r);
    }
    assert!(
        count(&booked, "CANCELLED", "CUSTOMER_CANCELLED") > 0
            && count(&booked, "CANCELLED", "OWNER_REJECTED") > 0,
        "both customers and owners gave rooms back"
    );
    wait_truth(&rt, &places, &booked).await;
    let queries = random_queries(&mut rng, &cities, 120);
    assert_search_agrees(&rt, &places, &queries, "after cancels and rejections").await;
}

/// Registers a place of `city` and returns its id.
async fn simple(rt: &Local, city: &str, rooms: i64, price: i64, guests: i64) -> String {
    rt.place_with(
        "dora",
        json!({"name": format!("{city} {price} {guests}"), "roomCount": rooms,
            "nightlyPrice": price, "city": city, "guests": guests, "instantBook": true}),
    )
    .await
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|i| i["placeId"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn stay_query(city: &str, extra: &str) -> String {
    let d = month_start();
    format!(
        "/v1/search?city={}&checkIn={}&checkOut={}{extra}",
        enc(city),
        date_of(d),
        date_of(d + 2)
    )
}

async fn assert_problem(rt: &Local, path: &str, user: Option<&str>, want: std::ops::Range<u16>) {
    let (s, ctype, _, body) = rt.get_header(path, user, "x-read-units").await;
    assert!(want.contains(&s), "{path}: {s} {body}");
    assert!(
        ctype.starts_with("application/problem+json"),
        "{path}: {ctype} {body}"
    );
    assert!(
        body["title"].is_string() && body["status"] == s,
        "{path}: {body}"
    );
}

#[tokio::test]
async fn order_city_matching_guests_paging_cursor_and_bad_parameters() {
    let rt = Local::start("search-details", &[]).await;
    // Two of the same price (ordered by placeId), a cheaper one with one room, one without a
    // city that would be the cheapest of all, one in another city.
    let wide = simple(&rt, "Daegu", 2, 50_000, 4).await;
    let narrow = simple(&rt, "Daegu", 2, 50_000, 1).await;
    let cheap = simple(&rt, "  daegu ", 1, 30_000, 2).await;
    let nowhere = simple(&rt, "", 5, 1, 20).await;
    let _elsewhere = simple(&rt, "Daejeon", 5, 1, 20).await;
    let (a, b) = if wide < narrow {
        (wide.clone(), narrow.clone())
    } else {
        (narrow.clone(), wide.clone())
    };
    let all = vec![cheap.clone(), a.clone(), b.clone()];
    rt.wait_for("three places of Daegu found", || async {
        let (s, page) = rt
            .call("GET", &stay_query("Daegu", ""), Some("c"), None)
            .await;
        s == 200 && ids(&page) == all
    })
    .await;

    let (s, ctype, units, page) = rt
        .get_header(&stay_query("Daegu", ""), Some("c"), "x-read-units")
        .await;
    assert_eq!(s, 200, "{page}");
    assert!(ctype.starts_with("application/json"), "{ctype}");
    let units: f64 = units
        .expect("X-Read-Units header")
        .parse()
        .expect("a number");
    assert!(units > 0.0, "a search reads something: {units}");
    let first = &page["items"][0];
    assert_eq!(first["city"], "daegu", "the place's own city, trimmed");
    assert_eq!(first["total"], 60_000, "2 nights x 30,000");
    assert_eq!(first["free"], 1);
    assert_eq!(page["items"][1]["total"], 100_000);
    assert!(page["nextCursor"].is_null(), "{page}");
    assert!(!ids(&page).contains(&nowhere));

    for typed in ["DAEGU", "  daegu  ", "dAeGu", "\tDaegu"] {
        let (s, page) = rt
            .call("GET", &stay_query(typed, ""), Some("c"), None)
            .await;
        assert_eq!((s, ids(&page)), (200, all.clone()), "city {typed:?}");
    }
    let (_, page) = rt
        .call("GET", &stay_query("Dae", ""), Some("c"), None)
        .await;
    assert_eq!(
        ids(&page),
        Vec::<String>::new(),
        "the whole city, not a prefix"
    );

    // guests: a room's guests x rooms must reach it.
    let cases = [
        ("&guests=3", vec![wide.clone()]),
        ("&guests=2", vec![cheap.clone(), wide.clone()]),
        ("&guests=2&rooms=2", vec![a.clone(), b.clone()]),
        ("&guests=5&rooms=2", vec![wide.clone()]),
        ("&guests=20", vec![]),
    ];
    for (extra, want) in cases {
        let (s, page) = rt
            .call("GET", &stay_query("Daegu", extra), Some("c"), None)
            .await;
        assert_eq!((s, ids(&page)), (200, want), "{extra}");
    }

    // Paging one by one: every match exactly once, in order; the last page has no cursor.
    let mut seen = Vec::new();
    let mut cursors = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let extra = match &cursor {
            Some(c) => format!("&limit=1&cursor={}", enc(c)),
            None => "&limit=1".to_string(),
        };
        let (s, page) = rt
            .call("GET", &stay_query("Daegu", &extra), Some("c"), None)
            .await;
        assert_eq!(s, 200, "{page}");
        assert_eq!(page["items"].as_array().map(Vec::len), Some(1), "{page}");
        seen.extend(ids(&page));
        match page["nextCursor"].as_str() {
            Some(c) => {
                cursors.push(c.to_string());
                cursor = Some(c.to_string());
            }
            None => break,
        }
        assert!(seen.len() <= 3, "paging never ends: {seen:?}");
    }
    assert_eq!(seen, all);

    // A cursor is opaque: one that was not handed out is refused.
    let good = cursors[0].clone();
    let mid = good.len() / 2;
    let flipped: String = good
        .char_indices()
        .map(|(i, c)| match (i == mid, c) {
            (true, 'A') => 'B',
            (true, _) => 'A',
            _ => c,
        })
        .collect();
    for bad in [
        "not-a-cursor".to_string(),
        format!("{good}x"),
        good[..mid].to_string(),
        flipped,
        String::new(),
    ] {
        let path = stay_query("Daegu", &format!("&limit=1&cursor={}", enc(&bad)));
        assert_problem(&rt, &path, Some("c"), 400..500).await;
    }

    // Missing or invalid parameters.
    let d = month_start();
    let (ci, co) = (date_of(d), date_of(d + 2));
    let bad = [
        format!("/v1/search?checkIn={ci}&checkOut={co}"),
        format!("/v1/search?city=&checkIn={ci}&checkOut={co}"),
        format!("/v1/search?city=%20%20&checkIn={ci}&checkOut={co}"),
        format!("/v1/search?city=Daegu&checkOut={co}"),
        format!("/v1/search?city=Daegu&checkIn={ci}"),
        format!("/v1/search?city=Daegu&checkIn=2027-02-30&checkOut={co}"),
        format!("/v1/search?city=Daegu&checkIn=tomorrow&checkOut={co}"),
        format!("/v1/search?city=Daegu&checkIn={co}&checkOut={ci}"),
        format!("/v1/search?city=Daegu&checkIn={ci}&checkOut={ci}"),
        format!(
            "/v1/search?city=Daegu&checkIn={ci}&checkOut={}",
            date_of(d + 31)
        ),
        stay_query("Daegu", "&rooms=0"),
        stay_query("Daegu", "&rooms=-1"),
        stay_query("Daegu", "&rooms=two"),
        stay_query("Daegu", "&guests=0"),
        stay_query("Daegu", "&guests=x"),
        stay_query("Daegu", "&limit=0"),
        stay_query("Daegu", "&limit=51"),
        stay_query("Daegu", "&limit=ten"),
    ];
    for path in &bad {
        assert_problem(&rt, path, Some("c"), 400..500).await;
    }
    assert_problem(&rt, &stay_query("Daegu", ""), None, 401..402).await;
}
