//! Quiescence and the invariants, all judged from what the HTTP API shows.
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};

use crate::Check;
use crate::api::Api;
use crate::plan::{PlaceRef, Stay};

/// A reservation the workload asked for, and what the API answered.
#[derive(Debug, Clone)]
pub struct Tracked {
    pub stay: Stay,
    pub key: Option<String>,
    /// The id of the 202 answer (acknowledged).
    pub id: Option<String>,
    /// The answer to a customer cancel that was answered 200.
    pub cancel: Option<Value>,
    /// Scenario 3: the outcome the deterministic workload must reach ("CONFIRMED",
    /// "CANCELLED/SOLD_OUT", ...).
    pub expect: Option<String>,
}

impl Tracked {
    pub fn new(stay: Stay) -> Self {
        Tracked {
            stay,
            key: None,
            id: None,
            cancel: None,
            expect: None,
        }
    }
}

/// Owner decisions that were answered: reservation id → (confirm?, HTTP status).
pub type Decisions = BTreeMap<String, (bool, u16)>;

/// Runs `f` over `items` with at most `limit` in flight; results in input order.
pub async fn par_map<T, R, F, Fut>(items: Vec<T>, limit: usize, f: F) -> Vec<R>
where
    T: Send + 'static,
    R: Send + 'static,
    F: Fn(T) -> Fut,
    Fut: Future<Output = R> + Send + 'static,
{
    let sem = Arc::new(tokio::sync::Semaphore::new(limit.max(1)));
    let mut set = tokio::task::JoinSet::new();
    let n = items.len();
    for (i, item) in items.into_iter().enumerate() {
        let sem = sem.clone();
        let fut = f(item);
        set.spawn(async move {
            let _permit = sem.acquire_owned().await;
            (i, fut.await)
        });
    }
    let mut out: Vec<Option<R>> = (0..n).map(|_| None).collect();
    while let Some(r) = set.join_next().await {
        if let Ok((i, v)) = r {
            out[i] = Some(v);
        }
    }
    out.into_iter()
        .map(|o| o.expect("every task completes"))
        .collect()
}

fn st(v: &Value, f: &str) -> String {
    v.get(f).and_then(Value::as_str).unwrap_or("").to_string()
}

pub fn status_of(res: &Value) -> String {
    let s = st(res, "status");
    match res.get("statusReason").and_then(Value::as_str) {
        Some(r) if s == "CANCELLED" => format!("CANCELLED/{r}"),
        _ => s,
    }
}

fn parse_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

/// Rooms held per night of a place, from `GET /v1/places/{id}` (with its room count).
pub async fn nights(api: &Api, p: &PlaceRef) -> Result<(i64, BTreeMap<String, i64>), String> {
    let body = api
        .get(&format!("/v1/places/{}", p.id), Some(&p.owner))
        .await?
        .ok_or_else(|| format!("place {} not found", p.id))?;
    let rooms = body["place"]["roomCount"].as_i64().unwrap_or(p.rooms);
    let mut map = BTreeMap::new();
    for n in body["nights"].as_array().cloned().unwrap_or_default() {
        map.insert(st(&n, "night"), n["held"].as_i64().unwrap_or(0));
    }
    Ok((rooms, map))
}

/// Samples the rooms held per night of every place while the workload runs.
#[derive(Default)]
pub struct Sampler {
    pub samples: u64,
    /// Reads where held > roomCount did not survive a second read (a room count raised between
    /// the two reads of one GET).
    pub torn: u64,
    pub nights_seen: u64,
    pub over: Vec<String>,
    pub max_ratio: (i64, i64),
}

pub fn spawn_sampler(
    api: Api,
    places: Vec<PlaceRef>,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> tokio::task::JoinHandle<Sampler> {
    tokio::spawn(async move {
        let mut s = Sampler::default();
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            for p in &places {
                let path = format!("/v1/places/{}", p.id);
                if let crate::api::Resp::Answer { status: 200, body } =
                    api.send("GET", &path, Some(&p.owner), None, &[]).await
                {
                    s.samples += 1;
                    let rooms = body["place"]["roomCount"].as_i64().unwrap_or(p.rooms);
                    for n in body["nights"].as_array().cloned().unwrap_or_default() {
                        let held = n["held"].as_i64().unwrap_or(0);
                        s.nights_seen += 1;
                        if held <= rooms
                            && (held * s.max_ratio.1.max(1) > s.max_ratio.0 * rooms.max(1)
                                || s.max_ratio.1 == 0)
                        {
                            s.max_ratio = (held, rooms);
                        }
                        if held > rooms && s.over.len() < 5 {
                            s.over.push(format!(
                                "{} {} held {held} > {rooms}",
                                p.id,
                                st(&n, "night")
                            ));
                        }
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        s
    })
}

pub struct Settled {
    pub reached: bool,
    pub waited: Duration,
    /// Reservations still moving (id, status) when it gave up.
    pub moving: Vec<(String, String)>,
}

/// Nothing at all changed for this long while some reservation is still on its way: stuck (the
/// saga retries back off to 10 s at most, event deliveries to 5 s).
const STUCK: Duration = Duration::from_secs(30);

/// Waits until no reservation is left PENDING/PAID (nor AWAITING_OWNER unless `allow_awaiting`)
/// and nothing changed — statuses, rooms held per night, the event log — for `quiet`. Gives up
/// after `timeout`, or when nothing changed for 30 s although some are still on their way.
pub async fn settle(
    api: &Api,
    places: &[PlaceRef],
    ids: &[(String, String)],
    allow_awaiting: bool,
    quiet: Duration,
    timeout: Duration,
) -> Settled {
    let started = Instant::now();
    let mut last: BTreeMap<String, String> = BTreeMap::new();
    let mut previous_signature = String::new();
    let mut stable_since = Instant::now();
    loop {
        // CANCELLED is final; CONFIRMED only changes on a customer cancel, and the workload is over.
        let todo: Vec<(String, String)> = ids
            .iter()
            .filter(|(_, id)| {
                last.get(id)
                    .is_none_or(|s| !(s.starts_with("CANCELLED") || s == "CONFIRMED"))
            })
            .cloned()
            .collect();
        let a = api.clone();
        let polled = par_map(todo, 16, move |(user, id)| {
            let a = a.clone();
            async move {
                let s = match a.get(&format!("/v1/reservations/{id}"), Some(&user)).await {
                    Ok(Some(r)) => status_of(&r),
                    Ok(None) => "MISSING".to_string(),
                    Err(e) => format!("ERROR {e}"),
                };
                (id, s)
            }
        })
        .await;
        last.extend(polled);
        let mut sig = String::new();
        for p in places {
            match nights(api, p).await {
                Ok((_, m)) => sig.push_str(&format!("{m:?}")),
                Err(e) => sig.push_str(&e),
            }
        }
        let events = api
            .get("/_local/events", None)
            .await
            .ok()
            .flatten()
            .and_then(|v| v.as_array().map(Vec::len))
            .unwrap_or(0);
        sig.push_str(&format!("{events} {last:?}"));
        let moving: Vec<(String, String)> = last
            .iter()
            .filter(|(_, s)| {
                !(s.starts_with("CANCELLED")
                    || *s == "CONFIRMED"
                    || (allow_awaiting && *s == "AWAITING_OWNER"))
            })
            .map(|(i, s)| (i.clone(), s.clone()))
            .collect();
        if sig != previous_signature {
            previous_signature = sig;
            stable_since = Instant::now();
        } else if moving.is_empty() && stable_since.elapsed() >= quiet {
            return Settled {
                reached: true,
                waited: started.elapsed(),
                moving,
            };
        }
        if started.elapsed() > timeout || stable_since.elapsed() > STUCK {
            return Settled {
                reached: false,
                waited: started.elapsed(),
                moving,
            };
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// One reservation as every context shows it after quiescence.
#[derive(Debug, Clone)]
pub struct Observed {
    pub id: String,
    pub t: Tracked,
    /// `None`: the reservation does not exist (404).
    pub res: Option<Value>,
    pub payment: Option<Value>,
    pub mypage: Option<Value>,
    pub events: Vec<Value>,
    pub execution: Option<Value>,
}

impl Observed {
    pub fn status(&self) -> String {
        self.res.as_ref().map(status_of).unwrap_or_default()
    }
    pub fn payment_status(&self) -> String {
        self.payment
            .as_ref()
            .map(|p| st(p, "status"))
            .unwrap_or_else(|| "none".into())
    }
    pub fn count(&self, name: &str) -> usize {
        self.events
            .iter()
            .filter(|e| e["detail-type"] == name)
            .count()
    }
    pub fn names(&self) -> Vec<String> {
        self.events.iter().map(|e| st(e, "detail-type")).collect()
    }
    fn first_time(&self, pred: impl Fn(&Value) -> bool) -> Option<OffsetDateTime> {
        self.events
            .iter()
            .find(|e| pred(e))
            .and_then(|e| parse_time(&st(e, "time")))
    }
}

pub struct World {
    pub base: Date,
    pub places: Vec<PlaceRef>,
    /// Per place: room count and rooms held per night.
    pub nights: Vec<(i64, BTreeMap<String, i64>)>,
    pub obs: Vec<Observed>,
    /// Per user: `GET /v1/mypages` items.
    pub lists: BTreeMap<String, Vec<Value>>,
    /// Per place: `GET /v1/owner/reservations?placeId=` items.
    pub owner_rows: Vec<Vec<Value>>,
    /// Per user: loyalty points.
    pub loyalty: BTreeMap<String, i64>,
    /// Per place: a `pendingRoomCount` still set (a room-count change in progress).
    pub pending: Vec<Option<i64>>,
    pub errors: Vec<String>,
}

impl World {
    pub fn find(&self, id: &str) -> Option<&Observed> {
        self.obs.iter().find(|o| o.id == id)
    }
}

/// What MyPage should show for a reservation and its payment, field by field; the differences.
pub fn mypage_diff(res: &Value, payment: Option<&Value>, row: Option<&Value>) -> Vec<String> {
    let Some(row) = row else {
        return vec!["no MyPage row".into()];
    };
    let mut d = Vec::new();
    let pairs = [
        ("status", "reservationStatus"),
        ("statusReason", "statusReason"),
        ("amount", "amount"),
        ("checkIn", "checkIn"),
        ("checkOut", "checkOut"),
        ("rooms", "rooms"),
        ("placeId", "placeId"),
        ("placeName", "placeName"),
        ("userId", "userId"),
        ("version", "version"),
    ];
    for (rf, mf) in pairs {
        if res.get(rf) != row.get(mf) {
            d.push(format!(
                "{mf} {} ≠ {}",
                row.get(mf).unwrap_or(&Value::Null),
                res.get(rf).unwrap_or(&Value::Null)
            ));
        }
    }
    let pay = payment.map(|p| st(p, "status")).unwrap_or_default();
    let want = match pay.as_str() {
        "APPROVED" | "DECLINED" | "REFUNDED" => Value::String(pay.clone()),
        _ => Value::Null,
    };
    let got = row.get("paymentStatus").cloned().unwrap_or(Value::Null);
    if got != want {
        d.push(format!(
            "paymentStatus {got} ≠ {want} (payment {})",
            if pay.is_empty() { "none" } else { &pay }
        ));
    }
    d
}

/// Reads everything the invariants need. MyPage rows are re-read for a few seconds while they
/// differ from their reservation (views are eventually consistent); what remains is a finding.
pub async fn gather(api: &Api, base: Date, places: &[PlaceRef], tracked: &[Tracked]) -> World {
    let errors = Arc::new(Mutex::new(Vec::<String>::new()));
    let items: Vec<Tracked> = tracked.iter().filter(|t| t.id.is_some()).cloned().collect();
    let (a, errs) = (api.clone(), errors.clone());
    let obs = par_map(items, 16, move |t| {
        let (api, errs) = (a.clone(), errs.clone());
        async move {
            let id = t.id.clone().unwrap_or_default();
            let user = t.stay.user.clone();
            let note = |e: String| {
                if let Ok(mut v) = errs.lock() {
                    v.push(e);
                }
            };
            let res = api
                .get(&format!("/v1/reservations/{id}"), Some(&user))
                .await
                .unwrap_or_else(|e| {
                    note(e);
                    None
                });
            let payment = api
                .get(&format!("/v1/reservations/{id}/payment"), Some(&user))
                .await
                .unwrap_or_else(|e| {
                    note(e);
                    None
                });
            let mut mypage = None;
            for attempt in 0..20 {
                mypage = api
                    .get(&format!("/v1/mypages/{id}"), Some(&user))
                    .await
                    .unwrap_or_else(|e| {
                        note(e);
                        None
                    });
                match &res {
                    Some(r) if !mypage_diff(r, payment.as_ref(), mypage.as_ref()).is_empty() => {
                        if attempt < 19 {
                            tokio::time::sleep(Duration::from_millis(250)).await;
                        }
                    }
                    _ => break,
                }
            }
            let events = api
                .get(&format!("/_local/events?reservationId={id}"), None)
                .await
                .unwrap_or_else(|e| {
                    note(e);
                    None
                })
                .and_then(|v| v.as_array().cloned())
                .unwrap_or_default();
            // The saga's starter names its execution by the reservation id.
            let execution = match events
                .iter()
                .find(|e| e["detail-type"] == "ReservationPlaced")
                .map(|e| st(&e["detail"], "reservationId"))
            {
                Some(name) => api
                    .get(&format!("/_local/executions/{name}"), None)
                    .await
                    .unwrap_or_else(|e| {
                        note(e);
                        None
                    }),
                None => None,
            };
            Observed {
                id,
                t,
                res,
                payment,
                mypage,
                events,
                execution,
            }
        }
    })
    .await;
    let mut nights_out = Vec::new();
    let mut owner_rows = Vec::new();
    let mut pending = Vec::new();
    for p in places {
        pending.push(
            api.get(&format!("/v1/places/{}", p.id), Some(&p.owner))
                .await
                .ok()
                .flatten()
                .and_then(|b| b["place"]["pendingRoomCount"].as_i64()),
        );
        match nights(api, p).await {
            Ok(n) => nights_out.push(n),
            Err(e) => {
                errors.lock().expect("errors").push(e);
                nights_out.push((p.rooms, BTreeMap::new()));
            }
        }
        let rows = api
            .get(
                &format!("/v1/owner/reservations?placeId={}", p.id),
                Some(&p.owner),
            )
            .await
            .ok()
            .flatten()
            .and_then(|v| v["items"].as_array().cloned())
            .unwrap_or_default();
        owner_rows.push(rows);
    }
    let users: BTreeSet<String> = tracked.iter().map(|t| t.stay.user.clone()).collect();
    let a = api.clone();
    let per_user = par_map(users.into_iter().collect(), 16, move |u: String| {
        let a = a.clone();
        async move {
            let list = a
                .get("/v1/mypages", Some(&u))
                .await
                .ok()
                .flatten()
                .and_then(|v| v["items"].as_array().cloned())
                .unwrap_or_default();
            let points = a
                .get("/v1/loyalty", Some(&u))
                .await
                .ok()
                .flatten()
                .and_then(|v| v["points"].as_i64())
                .unwrap_or(0);
            (u, list, points)
        }
    })
    .await;
    let mut lists = BTreeMap::new();
    let mut loyalty = BTreeMap::new();
    for (u, l, p) in per_user {
        lists.insert(u.clone(), l);
        loyalty.insert(u, p);
    }
    let errors = errors.lock().map(|e| e.clone()).unwrap_or_default();
    World {
        base,
        places: places.to_vec(),
        nights: nights_out,
        obs,
        lists,
        owner_rows,
        loyalty,
        pending,
        errors,
    }
}

/// Extra knowledge a scenario has about its run.
#[derive(Default)]
pub struct Extra {
    pub sampler: Option<Sampler>,
    pub decisions: Decisions,
    /// AWAITING_OWNER may remain (no owner timeout reached).
    pub allow_awaiting: bool,
    /// Places whose room count was changed during the run: place index → the lowest room count
    /// ever set or asked for (a lower bound of the ceiling any hold saw).
    pub capacity_floor: BTreeMap<usize, i64>,
    /// Room-count changes made during the run (for the report).
    pub resizes: Option<String>,
}

fn show<T: std::fmt::Debug>(v: &[T]) -> String {
    let shown: Vec<String> = v.iter().take(4).map(|x| format!("{x:?}")).collect();
    let more = if v.len() > 4 {
        format!(" (+{} more)", v.len() - 4)
    } else {
        String::new()
    };
    format!("{}{more}", shown.join("; "))
}

fn verdict(prefix: &str, name: &str, problems: &[String], figures: String) -> Check {
    if problems.is_empty() {
        Check::new(format!("{prefix}: {name}"), true, figures)
    } else {
        Check::new(
            format!("{prefix}: {name}"),
            false,
            format!(
                "{} violation(s): {} | {figures}",
                problems.len(),
                show(problems)
            ),
        )
    }
}

fn counts_line(map: &BTreeMap<String, usize>) -> String {
    map.iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every invariant of `RELIABILITY.md`, judged on a quiescent world.
pub fn invariants(prefix: &str, w: &World, extra: &Extra) -> Vec<Check> {
    let mut out = Vec::new();
    let place_of = |o: &Observed| &w.places[o.t.stay.place];

    // Nothing acknowledged is lost.
    let lost: Vec<String> = w
        .obs
        .iter()
        .filter(|o| o.res.is_none())
        .map(|o| format!("{} (user {}) answered 202 but is gone", o.id, o.t.stay.user))
        .collect();
    out.push(verdict(
        prefix,
        "every 202-acknowledged reservation exists",
        &lost,
        format!(
            "{} acknowledged, {} found",
            w.obs.len(),
            w.obs.len() - lost.len()
        ),
    ));
    let obs: Vec<&Observed> = w.obs.iter().filter(|o| o.res.is_some()).collect();

    // No night above its room count (final state, and sampled during the run).
    let mut over = Vec::new();
    let mut nights_total = 0;
    let mut max = (0i64, 1i64);
    for (i, (rooms, m)) in w.nights.iter().enumerate() {
        for (n, held) in m {
            nights_total += 1;
            if held * max.1 > max.0 * rooms.max(&1) {
                max = (*held, *rooms);
            }
            if held > rooms || *held < 0 {
                over.push(format!(
                    "place {} night {n}: held {held} of {rooms}",
                    w.places[i].id
                ));
            }
        }
    }
    let mut figures = format!(
        "{nights_total} nights on {} places, fullest {}/{} rooms",
        w.places.len(),
        max.0,
        max.1
    );
    if let Some(s) = &extra.sampler {
        over.extend(s.over.iter().cloned());
        figures.push_str(&format!(
            "; {} place reads ({} night samples) during the run, fullest {}/{}{}",
            s.samples,
            s.nights_seen,
            s.max_ratio.0,
            s.max_ratio.1,
            if s.torn > 0 {
                format!(" ({} torn reads not confirmed by a re-read)", s.torn)
            } else {
                String::new()
            }
        ));
    }
    out.push(verdict(
        prefix,
        "no night above its room count",
        &over,
        figures,
    ));

    // Rooms held per night == rooms of the CONFIRMED and AWAITING_OWNER stays on it.
    let mut expected: Vec<BTreeMap<String, i64>> = vec![BTreeMap::new(); w.places.len()];
    for o in &obs {
        let s = o.status();
        if s == "CONFIRMED" || s == "AWAITING_OWNER" {
            for n in o.t.stay.night_names(w.base) {
                *expected[o.t.stay.place].entry(n).or_default() += o.t.stay.rooms;
            }
        }
    }
    let mut wrong = Vec::new();
    let mut compared = 0;
    for (i, (_, held)) in w.nights.iter().enumerate() {
        let keys: BTreeSet<&String> = held.keys().chain(expected[i].keys()).collect();
        for k in keys {
            compared += 1;
            let h = held.get(k).copied().unwrap_or(0);
            let e = expected[i].get(k).copied().unwrap_or(0);
            if h != e {
                let on: Vec<String> = obs
                    .iter()
                    .filter(|o| o.t.stay.place == i && o.t.stay.night_names(w.base).contains(k))
                    .map(|o| format!("{}={}", o.id, o.status()))
                    .collect();
                wrong.push(format!(
                    "place {} night {k}: held {h}, stays say {e} [{}]",
                    w.places[i].id,
                    on.join(" ")
                ));
            }
        }
    }
    let held_total: i64 = w.nights.iter().flat_map(|(_, m)| m.values()).sum();
    out.push(verdict(
        prefix,
        "rooms held per night = rooms of CONFIRMED + AWAITING_OWNER stays",
        &wrong,
        format!("{compared} nights compared, {held_total} room-nights held"),
    ));

    // Payments agree with reservations.
    let mut combos: BTreeMap<String, usize> = BTreeMap::new();
    let mut bad = Vec::new();
    for o in &obs {
        let s = o.status();
        let p = o.payment_status();
        *combos.entry(format!("{s}→{p}")).or_default() += 1;
        let ok = match (s.as_str(), p.as_str()) {
            (_, "APPROVED") => s == "CONFIRMED" || s == "AWAITING_OWNER",
            ("CONFIRMED" | "AWAITING_OWNER", _) => false,
            (_, "REFUNDED") => s.starts_with("CANCELLED"),
            ("CANCELLED/PAYMENT_DECLINED", p) => p == "DECLINED",
            ("CANCELLED/PAYMENT_UNAVAILABLE", p) => p == "none" || p == "VOIDED",
            // SYSTEM_ERROR: a step after the charge failed for good; the saga refunded.
            (
                "CANCELLED/SOLD_OUT"
                | "CANCELLED/OWNER_REJECTED"
                | "CANCELLED/OWNER_TIMEOUT"
                | "CANCELLED/SYSTEM_ERROR",
                p,
            ) => p == "REFUNDED",
            ("CANCELLED/CUSTOMER_CANCELLED", p) => {
                matches!(p, "none" | "VOIDED" | "REFUNDED" | "DECLINED")
            }
            _ => false,
        };
        if !ok {
            bad.push(format!("{} is {s} with payment {p}", o.id));
        }
        if let (Some(pay), Some(res)) = (&o.payment, &o.res)
            && pay.get("amount") != res.get("amount")
        {
            bad.push(format!(
                "{}: payment amount {} ≠ reservation amount {}",
                o.id, pay["amount"], res["amount"]
            ));
        }
    }
    out.push(verdict(
        prefix,
        "every APPROVED payment is on a CONFIRMED (or AWAITING_OWNER) stay, REFUNDED ones on CANCELLED",
        &bad,
        counts_line(&combos),
    ));

    // Never charged twice, refunded at most once, one ReservationPlaced per reservation.
    let mut twice = Vec::new();
    let (mut charges, mut refunds, mut declines) = (0, 0, 0);
    for o in &obs {
        let (placed, approved, refunded, declined) = (
            o.count("ReservationPlaced"),
            o.count("PaymentApproved"),
            o.count("PaymentCancelApproved"),
            o.count("PaymentDeclined"),
        );
        charges += approved;
        refunds += refunded;
        declines += declined;
        if placed != 1 || approved > 1 || refunded > 1 || declined > 1 {
            twice.push(format!(
                "{}: ReservationPlaced×{placed} PaymentApproved×{approved} PaymentCancelApproved×{refunded} PaymentDeclined×{declined}",
                o.id
            ));
        }
        if refunded > approved || (approved > 0 && declined > 0) {
            twice.push(format!("{}: events {:?}", o.id, o.names()));
        }
        let p = o.payment_status();
        let consistent = match p.as_str() {
            "APPROVED" => approved == 1 && refunded == 0,
            "REFUNDED" => approved == 1 && refunded == 1,
            "DECLINED" => declined == 1 && approved == 0,
            _ => approved == 0 && declined == 0,
        };
        if !consistent {
            twice.push(format!("{}: payment {p} but events {:?}", o.id, o.names()));
        }
    }
    out.push(verdict(
        prefix,
        "never charged twice (at most one PaymentApproved per reservation, refunds at most once)",
        &twice,
        format!(
            "{} reservations: {charges} PaymentApproved, {refunds} PaymentCancelApproved, {declines} PaymentDeclined",
            obs.len()
        ),
    ));

    out.push(sold_out_check(prefix, w, &obs, &extra.capacity_floor));

    // A room-count change never leaves its cap behind.
    let stale: Vec<String> = w
        .pending
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            p.map(|p| {
                format!(
                    "place {} still has pendingRoomCount {p} (roomCount {}): new holds are capped below the room count",
                    w.places[i].id, w.nights[i].0
                )
            })
        })
        .collect();
    out.push(verdict(
        prefix,
        "no room-count change left a cap behind (no pendingRoomCount after quiescence)",
        &stale,
        extra
            .resizes
            .clone()
            .unwrap_or_else(|| "no room-count changes in this run".into()),
    ));

    // Nothing left half-way.
    let mut stuck = Vec::new();
    let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
    for o in &obs {
        let s = o.status();
        *statuses.entry(s.clone()).or_default() += 1;
        let res = o.res.as_ref().expect("filtered");
        let reason_ok = if st(res, "status") == "CANCELLED" {
            !st(res, "statusReason").is_empty()
        } else {
            res["statusReason"].is_null()
        };
        let ok = match s.as_str() {
            "CONFIRMED" => true,
            "AWAITING_OWNER" => !place_of(o).instant && extra.allow_awaiting,
            s => s.starts_with("CANCELLED/"),
        };
        if !ok || !reason_ok {
            stuck.push(format!(
                "{} left {s} (reason {})",
                o.id, res["statusReason"]
            ));
        }
    }
    out.push(verdict(
        prefix,
        if extra.allow_awaiting {
            "no reservation left non-final except AWAITING_OWNER (request-to-book)"
        } else {
            "no reservation left non-final (every owner decision made or timed out)"
        },
        &stuck,
        counts_line(&statuses),
    ));

    // Every saga finished or compensated.
    let mut sagas: BTreeMap<String, usize> = BTreeMap::new();
    let mut unfinished = Vec::new();
    for o in &obs {
        let e = o
            .execution
            .as_ref()
            .map(|x| st(x, "status"))
            .unwrap_or_else(|| "NO EXECUTION".into());
        *sagas.entry(e.clone()).or_default() += 1;
        let ok = e == "SUCCEEDED" || (e == "RUNNING" && o.status() == "AWAITING_OWNER");
        if !ok {
            let x = o.execution.clone().unwrap_or(Value::Null);
            unfinished.push(format!(
                "{} ({}) saga {e} at {} error {} cause {} history {}",
                o.id,
                o.status(),
                x["currentState"],
                x["error"],
                x["cause"],
                x["history"]
            ));
        }
    }
    out.push(verdict(
        prefix,
        "every saga finished or compensated (RUNNING only while awaiting the owner)",
        &unfinished,
        counts_line(&sagas),
    ));

    // MyPage rows equal their reservations, and each user's list shows each once.
    let mut diffs = Vec::new();
    for o in &obs {
        let d = mypage_diff(
            o.res.as_ref().expect("filtered"),
            o.payment.as_ref(),
            o.mypage.as_ref(),
        );
        if !d.is_empty() {
            diffs.push(format!("{} ({}): {}", o.id, o.status(), d.join(", ")));
        }
    }
    let mut list_rows = 0;
    for (user, list) in &w.lists {
        list_rows += list.len();
        let mine: Vec<&&Observed> = obs.iter().filter(|o| &o.t.stay.user == user).collect();
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for row in list {
            *seen.entry(st(row, "reservationId")).or_default() += 1;
            let id = st(row, "reservationId");
            match mine.iter().find(|o| o.id == id) {
                Some(o) if o.mypage.as_ref() != Some(row) => diffs.push(format!(
                    "{id}: the list row of {user} differs from GET /v1/mypages/{id}: {}",
                    mypage_diff(
                        o.res.as_ref().expect("filtered"),
                        o.payment.as_ref(),
                        Some(row)
                    )
                    .join(", ")
                )),
                Some(_) => {}
                None => diffs.push(format!(
                    "{user} has a MyPage row for {id}, which was never acknowledged to them"
                )),
            }
        }
        if list.len() < 200 {
            for o in &mine {
                match seen.get(&o.id) {
                    Some(1) => {}
                    n => diffs.push(format!(
                        "{} appears {} times in the list of {user}",
                        o.id,
                        n.copied().unwrap_or(0)
                    )),
                }
            }
        }
    }
    out.push(verdict(
        prefix,
        "every MyPage row equals its reservation (status, reason, amount, dates, rooms, payment)",
        &diffs,
        format!(
            "{} rows compared, {} list rows of {} users",
            obs.len(),
            list_rows,
            w.lists.len()
        ),
    ));

    // The owner view agrees too.
    let mut owner_diffs = Vec::new();
    let mut owner_compared = 0;
    for (i, rows) in w.owner_rows.iter().enumerate() {
        for o in obs.iter().filter(|o| o.t.stay.place == i) {
            let res = o.res.as_ref().expect("filtered");
            match rows.iter().find(|r| st(r, "reservationId") == o.id) {
                None => owner_diffs.push(format!("{} missing from the owner view", o.id)),
                Some(r) => {
                    owner_compared += 1;
                    for f in [
                        "status",
                        "statusReason",
                        "amount",
                        "checkIn",
                        "checkOut",
                        "rooms",
                    ] {
                        if r.get(f) != res.get(f) {
                            owner_diffs.push(format!(
                                "{}: owner view {f} {} ≠ {}",
                                o.id,
                                r.get(f).unwrap_or(&Value::Null),
                                res.get(f).unwrap_or(&Value::Null)
                            ));
                        }
                    }
                }
            }
        }
    }
    out.push(verdict(
        prefix,
        "every owner-view row equals its reservation",
        &owner_diffs,
        format!("{owner_compared} rows compared"),
    ));

    // Loyalty: 1% of each user's CONFIRMED stays (a cancelled confirmation takes it back).
    let mut loyal = Vec::new();
    for (user, points) in &w.loyalty {
        let want: i64 = obs
            .iter()
            .filter(|o| &o.t.stay.user == user && o.status() == "CONFIRMED")
            .map(|o| {
                o.res
                    .as_ref()
                    .and_then(|r| r["amount"].as_i64())
                    .unwrap_or(0)
                    / 100
            })
            .sum();
        if *points != want {
            loyal.push(format!(
                "{user}: {points} points, confirmed stays give {want}"
            ));
        }
    }
    out.push(verdict(
        prefix,
        "loyalty points = 1% of each user's CONFIRMED stays",
        &loyal,
        format!("{} users", w.loyalty.len()),
    ));

    // Event order (`docs/design.md`, section 2) and amounts.
    let mut order = Vec::new();
    for o in &obs {
        let s = o.status();
        let want: &[&str] = match s.as_str() {
            "CONFIRMED" => &[
                "ReservationPlaced",
                "PaymentApproved",
                "ReservationConfirmed",
                "ReservationStatusChanged",
            ],
            "CANCELLED/SOLD_OUT" | "CANCELLED/OWNER_REJECTED" | "CANCELLED/OWNER_TIMEOUT" => &[
                "ReservationPlaced",
                "PaymentApproved",
                "ReservationCancelConfirmed",
                "PaymentCancelApproved",
                "ReservationCanceled",
            ],
            _ => &[],
        };
        let mut it = o.events.iter();
        let mut good = true;
        for (k, name) in want.iter().enumerate() {
            let last_confirmed = s == "CONFIRMED" && k == 3;
            good &= it.any(|e| {
                e["detail-type"] == *name
                    && (!last_confirmed || e["detail"]["status"] == "CONFIRMED")
            });
        }
        if !good {
            order.push(format!("{} ({s}): {:?}", o.id, o.names()));
        }
        let p = place_of(o);
        let amount = p.price * o.t.stay.nights * o.t.stay.rooms;
        if o.res.as_ref().and_then(|r| r["amount"].as_i64()) != Some(amount) {
            order.push(format!(
                "{}: amount {} ≠ nightlyPrice×nights×rooms {amount}",
                o.id,
                o.res
                    .as_ref()
                    .map(|r| r["amount"].clone())
                    .unwrap_or_default()
            ));
        }
    }
    out.push(verdict(
        prefix,
        "events in the documented order; amount = nightlyPrice × nights × rooms",
        &order,
        format!(
            "{} event traces checked",
            obs.iter().map(|o| o.events.len()).sum::<usize>()
        ),
    ));

    // Commands that were answered were honoured.
    let mut dishonoured = Vec::new();
    let (mut cancels, mut confirms, mut rejects) = (0, 0, 0);
    for o in &obs {
        let s = o.status();
        if let Some(c) = &o.t.cancel {
            cancels += 1;
            let answered = status_of(c);
            if s != answered {
                dishonoured.push(format!(
                    "{}: the cancel was answered {answered} but it ends {s}",
                    o.id
                ));
            }
        }
        if let Some((confirm, 200)) = extra.decisions.get(&o.id) {
            let honoured = if *confirm {
                confirms += 1;
                s == "CONFIRMED" || s == "CANCELLED/CUSTOMER_CANCELLED"
            } else {
                rejects += 1;
                s == "CANCELLED/OWNER_REJECTED" || s == "CANCELLED/CUSTOMER_CANCELLED"
            };
            // A step after the decision may still fail for good: then the saga refunds and
            // releases (checked above), which overrides the owner's answer.
            if !honoured && s != "CANCELLED/SYSTEM_ERROR" {
                dishonoured.push(format!(
                    "{}: the owner's {} was answered 200 but it ends {s}",
                    o.id,
                    if *confirm { "confirm" } else { "reject" }
                ));
            }
        }
    }
    out.push(verdict(
        prefix,
        "answered cancels and owner decisions were honoured",
        &dishonoured,
        format!("{cancels} cancels, {confirms} confirms, {rejects} rejects answered 200"),
    ));

    if !w.errors.is_empty() {
        out.push(Check::new(
            format!("{prefix}: the API could be read"),
            false,
            show(&w.errors),
        ));
    }
    out
}

/// "No stay refused while each of its nights had room", judged only where it is provable: a
/// SOLD_OUT stay was tried after it was PAID. Since then a night's held count can only have
/// dropped through a release, so at the attempt it was at most `final + rooms released later`.
/// Releases that certainly came earlier (an owner's reject or timeout, committed with its event,
/// well before PAID) are left out; customer cancels release later, asynchronously, so they
/// always count as possibly later. If even that upper bound leaves room on every night, the
/// refusal was wrong.
fn sold_out_check(
    prefix: &str,
    w: &World,
    obs: &[&Observed],
    floor: &BTreeMap<usize, i64>,
) -> Check {
    let margin = time::Duration::milliseconds(1000);
    struct Release {
        place: usize,
        nights: Vec<String>,
        rooms: i64,
        /// When it certainly happened (owner reject / timeout); None: unknown.
        at: Option<OffsetDateTime>,
    }
    let mut releases = Vec::new();
    for o in obs {
        let s = o.status();
        let reason = s.strip_prefix("CANCELLED/").unwrap_or("");
        if !matches!(
            reason,
            "CUSTOMER_CANCELLED" | "OWNER_REJECTED" | "OWNER_TIMEOUT" | "SYSTEM_ERROR"
        ) {
            continue;
        }
        // A system error's compensation releases whenever the failing step gave up.
        let at = if matches!(reason, "CUSTOMER_CANCELLED" | "SYSTEM_ERROR") {
            None
        } else {
            o.first_time(|e| e["detail-type"] == "ReservationCancelConfirmed")
        };
        releases.push(Release {
            place: o.t.stay.place,
            nights: o.t.stay.night_names(w.base),
            rooms: o.t.stay.rooms,
            at,
        });
    }
    let mut wrong = Vec::new();
    let (mut refused, mut exact) = (0, 0);
    for o in obs.iter().filter(|o| o.status() == "CANCELLED/SOLD_OUT") {
        refused += 1;
        let paid = o
            .first_time(|e| {
                e["detail-type"] == "ReservationStatusChanged" && e["detail"]["status"] == "PAID"
            })
            .or_else(|| o.first_time(|e| e["detail-type"] == "PaymentApproved"));
        let (final_rooms, held) = &w.nights[o.t.stay.place];
        let rooms = &floor
            .get(&o.t.stay.place)
            .map_or(*final_rooms, |f| (*f).min(*final_rooms));
        let mut room_everywhere = true;
        let mut released_any = false;
        let mut figures = Vec::new();
        for n in o.t.stay.night_names(w.base) {
            let h = held.get(&n).copied().unwrap_or(0);
            let maybe: i64 = releases
                .iter()
                .filter(|r| r.place == o.t.stay.place && r.nights.contains(&n))
                .filter(|r| match (r.at, paid) {
                    (Some(at), Some(paid)) => at + margin >= paid,
                    _ => true,
                })
                .map(|r| r.rooms)
                .sum();
            released_any |= maybe > 0;
            figures.push(format!("{n}: held ≤{}", h + maybe));
            if h + maybe + o.t.stay.rooms > *rooms {
                room_everywhere = false;
            }
        }
        if !released_any {
            exact += 1;
        }
        if room_everywhere {
            wrong.push(format!(
                "{} ({} rooms of {rooms}) refused SOLD_OUT although at its attempt {}",
                o.id,
                o.t.stay.rooms,
                figures.join(", ")
            ));
        }
    }
    verdict(
        prefix,
        "no stay refused SOLD_OUT while each of its nights had room",
        &wrong,
        format!(
            "{refused} SOLD_OUT refusals judged against final holds + rooms possibly released since ({} releases){}; {exact} on nights that never had a release",
            releases.len(),
            if floor.is_empty() {
                String::new()
            } else {
                format!(
                    ", on {} resized places against the lowest room count ever set",
                    floor.len()
                )
            }
        ),
    )
}

#[cfg(test)]
mod system_error_tests {
    use super::*;
    use serde_json::json;

    /// One owner-confirmed stay (decision answered 200) that a later step's system error
    /// cancelled; the saga refunded with `payment`.
    fn world(payment: &str) -> (World, Extra) {
        let base = Date::from_calendar_date(2030, time::Month::May, 1).expect("date");
        let stay = Stay {
            user: "u1".into(),
            place: 0,
            start: 0,
            nights: 1,
            rooms: 1,
        };
        let mut events = vec![
            json!({"detail-type": "ReservationPlaced"}),
            json!({"detail-type": "PaymentApproved"}),
        ];
        if payment == "REFUNDED" {
            events.push(json!({"detail-type": "PaymentCancelApproved"}));
        }
        let obs = Observed {
            id: "r1".into(),
            t: Tracked::new(stay),
            res: Some(
                json!({"status": "CANCELLED", "statusReason": "SYSTEM_ERROR", "amount": 100}),
            ),
            payment: Some(json!({"status": payment, "amount": 100})),
            mypage: None,
            events,
            execution: None,
        };
        let place = PlaceRef {
            id: "p1".into(),
            owner: "o1".into(),
            rooms: 1,
            price: 100,
            instant: false,
        };
        let w = World {
            base,
            places: vec![place],
            nights: vec![(1, BTreeMap::from([(night(base), 0)]))],
            obs: vec![obs],
            lists: BTreeMap::new(),
            owner_rows: vec![Vec::new()],
            loyalty: BTreeMap::new(),
            pending: vec![None],
            errors: Vec::new(),
        };
        let extra = Extra {
            sampler: None,
            decisions: BTreeMap::from([("r1".to_string(), (true, 200))]),
            allow_awaiting: false,
            capacity_floor: BTreeMap::new(),
            resizes: None,
        };
        (w, extra)
    }

    fn night(base: Date) -> String {
        crate::plan::night(base, 0)
    }

    fn passed(checks: &[Check], name: &str) -> bool {
        checks
            .iter()
            .find(|c| c.name.contains(name))
            .unwrap_or_else(|| panic!("no check {name}"))
            .passed
    }

    #[test]
    fn a_refunded_system_error_is_a_valid_cancelled_outcome() {
        let (w, extra) = world("REFUNDED");
        let checks = invariants("t", &w, &extra);
        assert!(
            passed(&checks, "owner decisions were honoured"),
            "{checks:?}"
        );
        assert!(passed(&checks, "REFUNDED ones on CANCELLED"), "{checks:?}");
        assert!(passed(&checks, "never charged twice"), "{checks:?}");
    }

    #[test]
    fn a_system_error_that_kept_the_money_is_still_reported() {
        let (w, extra) = world("APPROVED");
        let checks = invariants("t", &w, &extra);
        assert!(!passed(&checks, "REFUNDED ones on CANCELLED"), "{checks:?}");
    }
}
