//! The scenarios and what they share: starting a runtime, registering places, reserving,
//! cancelling, the owner bot, and the "API answered every request" check.
mod crash;
mod down;
mod duplicates;
mod idempotency;
mod load;
mod payment;
mod seed;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::api::{Api, Counts, ONCE, Resp};
use crate::plan::{PlaceRef, PlaceSpec, STANDARD, SUITE, Scenario, Stay, fnv};
use crate::proc::Runtime;
use crate::verify::{Decisions, Extra};
use crate::{Check, Ctx};

/// What a scenario found.
#[derive(Default)]
pub struct Part {
    pub checks: Vec<Check>,
    pub notes: Vec<String>,
}

impl Part {
    pub fn check(&mut self, name: impl AsRef<str>, passed: bool, detail: impl Into<String>) {
        self.checks
            .push(Check::new(name.as_ref().to_string(), passed, detail));
    }
    pub fn fail(prefix: &str, e: impl std::fmt::Display) -> Part {
        let mut p = Part::default();
        p.check(format!("{prefix}: scenario ran"), false, e.to_string());
        p
    }
}

pub async fn run(ctx: &Ctx, s: Scenario) -> Part {
    let prefix = s.title();
    let result = match s {
        Scenario::Load => load::run(ctx, &prefix).await,
        Scenario::Crash => crash::run(ctx, &prefix).await,
        Scenario::Duplicates => duplicates::run(ctx, &prefix).await,
        Scenario::Payment => payment::run(ctx, &prefix).await,
        Scenario::Down => down::run(ctx, &prefix).await,
        Scenario::Idempotency => idempotency::run(ctx, &prefix).await,
        Scenario::Seed => seed::run(ctx, &prefix).await,
    };
    result.unwrap_or_else(|e| Part::fail(&prefix, e))
}

/// How much faster than the wall clock the runtimes' queue clock runs.
pub const TIME_SCALE: u32 = 20;

/// A fresh runtime for one scenario (data dir `<work>/<name>/data`, logs beside it).
pub async fn start(ctx: &Ctx, name: &str, args: &[String]) -> Result<Arc<Runtime>, String> {
    let dir = ctx.work_dir.join(name);
    let mut args = args.to_vec();
    // The consumers' queues retry a failed event after 10 s, doubling (the template's backoff):
    // twenty times faster, a context back from an outage of seconds is caught up within seconds.
    args.extend(["--time-scale".to_owned(), TIME_SCALE.to_string()]);
    args.extend(ctx.cfg.runtime_args.iter().cloned());
    let rt = Runtime::start(
        &ctx.cfg.runtime,
        &ctx.cfg.template,
        dir,
        args,
        ctx.cfg.request_timeout,
    )
    .await?;
    Ok(Arc::new(rt))
}

const PATIENCE: Duration = Duration::from_secs(120);

/// Registers the places (idempotently) and waits until the reservation context's catalogue
/// knows each of them.
pub async fn register(api: &Api, tag: &str, specs: &[PlaceSpec]) -> Result<Vec<PlaceRef>, String> {
    let mut out: Vec<PlaceRef> = Vec::new();
    for (i, s) in specs.iter().enumerate() {
        if let Some(of) = s.suite_of {
            let main = out
                .get(of)
                .cloned()
                .ok_or_else(|| format!("spec {i}: a suite of a later place"))?;
            out.push(PlaceRef {
                room_type: SUITE.into(),
                rooms: s.rooms,
                price: s.price,
                ..main
            });
            continue;
        }
        let key = format!("{tag}-place-{i}");
        let name = format!("{tag} place {i}");
        let suite = specs.iter().find(|x| x.suite_of == Some(i));
        let mut body = match suite {
            None => {
                json!({"name": name, "roomCount": s.rooms, "nightlyPrice": s.price, "instantBook": s.instant})
            }
            Some(suite) => json!({"name": name, "instantBook": s.instant, "roomTypes": [
                {"roomTypeId": STANDARD, "name": "Double", "roomCount": s.rooms, "nightlyPrice": s.price},
                {"roomTypeId": SUITE, "name": "Suite", "roomCount": suite.rooms, "nightlyPrice": suite.price}
            ]}),
        };
        if i % 2 == 1 {
            // Every other place keeps 30 % of a cancelled confirmed stay: its cancels refund in
            // part, which the books must show to the minor unit.
            body["ratePlans"] = json!([{"ratePlanId": "keep-30", "name": "Part refundable",
                "cancellationPolicy": {"tiers": [{"penaltyPercent": 30}]}}]);
        }
        let r = api
            .call(
                "POST",
                "/v1/places",
                Some(&s.owner),
                Some(&body),
                &[("idempotency-key", &key)],
                PATIENCE,
            )
            .await;
        let id = match &r {
            Resp::Answer {
                status: 200 | 201,
                body,
            } => body["placeId"].as_str().unwrap_or_default().to_string(),
            other => return Err(format!("registering a place: {other:?}")),
        };
        out.push(PlaceRef {
            id,
            owner: s.owner.clone(),
            room_type: STANDARD.into(),
            shared: suite.is_some(),
            rooms: s.rooms,
            price: s.price,
            instant: s.instant,
        });
    }
    for p in &out {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            // A stay in the past: 422 proves the catalogue knows the place (404: not yet).
            let probe = json!({"placeId": p.id, "checkIn": "2000-01-01", "checkOut": "2000-01-02"});
            let r = api
                .call(
                    "POST",
                    "/v1/reservations",
                    Some("catalogue-probe"),
                    Some(&probe),
                    &[],
                    PATIENCE,
                )
                .await;
            if r.status() == Some(422) {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!("the catalogue never learnt place {}: {r:?}", p.id));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    Ok(out)
}

pub fn reservation_body(base: time::Date, places: &[PlaceRef], s: &Stay) -> Value {
    let p = &places[s.place];
    json!({"placeId": p.id, "roomTypeId": p.room_type, "checkIn": s.check_in(base), "checkOut": s.check_out(base), "rooms": s.rooms})
}

/// `POST /v1/reservations` (retried through restarts with the same Idempotency-Key).
pub async fn reserve(
    api: &Api,
    base: time::Date,
    places: &[PlaceRef],
    s: &Stay,
    key: Option<&str>,
) -> Resp {
    let body = reservation_body(base, places, s);
    let headers: Vec<(&str, &str)> = key.map(|k| ("idempotency-key", k)).into_iter().collect();
    api.call(
        "POST",
        "/v1/reservations",
        Some(&s.user),
        Some(&body),
        &headers,
        if key.is_some() {
            PATIENCE
        } else {
            Duration::ZERO
        },
    )
    .await
}

/// One `POST /v1/reservations` with an Idempotency-Key, not retried: the caller counts what a
/// kill cuts.
pub async fn reserve_once(
    api: &Api,
    base: time::Date,
    places: &[PlaceRef],
    s: &Stay,
    key: &str,
) -> Resp {
    api.call(
        "POST",
        "/v1/reservations",
        Some(&s.user),
        Some(&reservation_body(base, places, s)),
        &[("idempotency-key", key)],
        ONCE,
    )
    .await
}

/// The book as it stands, with the (user, id) of every acknowledged reservation in it.
pub fn taken(
    book: &Mutex<Vec<crate::verify::Tracked>>,
) -> (Vec<crate::verify::Tracked>, Vec<(String, String)>) {
    let tracked = book.lock().map(|b| b.clone()).unwrap_or_default();
    let ids = acked(&tracked);
    (tracked, ids)
}

/// Waits until the load's reservations are final; undecided request-to-book stays end by the
/// owner timeout, so the bound includes it.
pub async fn settle_load(
    ctx: &Ctx,
    prefix: &str,
    api: &Api,
    places: &[PlaceRef],
    ids: &[(String, String)],
) -> crate::verify::Settled {
    ctx.progress(format!("{prefix}: waiting for quiescence"));
    crate::verify::settle(
        api,
        places,
        ids,
        false,
        ctx.cfg.quiet,
        ctx.cfg.settle_timeout + Duration::from_secs(ctx.cfg.owner_timeout_seconds),
    )
    .await
}

/// One tracked entry per planned stay, filled in by the load as the answers come.
pub fn book_of(items: &[(Stay, Option<u64>)]) -> Arc<Mutex<Vec<crate::verify::Tracked>>> {
    Arc::new(Mutex::new(
        items
            .iter()
            .map(|(s, _)| crate::verify::Tracked::new(s.clone()))
            .collect(),
    ))
}

/// `"; <lead><items>"`, or nothing when there are none: the tail of a check's detail.
pub fn listing<T: std::fmt::Debug>(lead: &str, items: &[T]) -> String {
    crate::tail_if(!items.is_empty(), || format!("; {lead}{items:?}"))
}

/// `POST /v1/reservations/{id}/cancel` with an Idempotency-Key.
pub async fn cancel(api: &Api, user: &str, id: &str, key: &str) -> Resp {
    api.call(
        "POST",
        &format!("/v1/reservations/{id}/cancel"),
        Some(user),
        None,
        &[("idempotency-key", key)],
        PATIENCE,
    )
    .await
}

pub async fn decide(api: &Api, owner: &str, id: &str, confirm: bool) -> Resp {
    let verb = if confirm { "confirm" } else { "reject" };
    api.call(
        "POST",
        &format!("/v1/owner/reservations/{id}/{verb}"),
        Some(owner),
        None,
        &[],
        PATIENCE,
    )
    .await
}

/// The owner side of the load: every request-to-book stay that shows up AWAITING_OWNER in the
/// owner view is confirmed (45 %), rejected (30 %) or left to time out (25 %), chosen by a hash
/// of its id and the seed.
pub fn spawn_owner_bot(
    api: Api,
    places: Vec<PlaceRef>,
    seed: u64,
    stop: Arc<AtomicBool>,
    decisions: Arc<Mutex<Decisions>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut seen: BTreeMap<String, ()> = BTreeMap::new();
        while !stop.load(Ordering::Relaxed) {
            for p in places.iter().filter(|p| !p.instant) {
                let path = format!("/v1/owner/reservations?placeId={}", p.id);
                let Resp::Answer { status: 200, body } = api
                    .call("GET", &path, Some(&p.owner), None, &[], ONCE)
                    .await
                else {
                    continue;
                };
                for row in body["items"].as_array().cloned().unwrap_or_default() {
                    if row["status"] != "AWAITING_OWNER" {
                        continue;
                    }
                    let id = row["reservationId"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string();
                    if seen.insert(id.clone(), ()).is_some() {
                        continue;
                    }
                    let roll = fnv(&format!("{seed}/{id}")) % 100;
                    if roll >= 75 {
                        continue;
                    }
                    let confirm = roll < 45;
                    let verb = if confirm { "confirm" } else { "reject" };
                    let r = api
                        .call(
                            "POST",
                            &format!("/v1/owner/reservations/{id}/{verb}"),
                            Some(&p.owner),
                            None,
                            &[],
                            ONCE,
                        )
                        .await;
                    match r.status() {
                        Some(s) => {
                            if let Ok(mut d) = decisions.lock() {
                                d.insert(id, (confirm, s));
                            }
                        }
                        // Not answered (a restart): try again on the next round.
                        None => {
                            seen.remove(&id);
                        }
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
}

pub const ANSWERED_ALL: &str = "the API answered every request (no 5xx, no timeouts)";

/// "The API answered every request": no 5xx, no client timeouts, no transport errors — except,
/// when the runtime was being SIGKILLed, the requests the kill cut (transport errors, timeouts).
pub fn api_check(prefix: &str, what: &str, api: &Api, counts: Counts, kills: bool) -> Check {
    let passed =
        counts.server_errors == 0 && (kills || (counts.timeouts == 0 && counts.transport == 0));
    let mut detail = format!(
        "{counts}; availability {:.2} %; slowest answer {} ms",
        counts.availability(),
        api.max_latency().as_millis()
    );
    if kills {
        detail.push_str(" (transport errors and timeouts: requests cut by the SIGKILLs)");
    }
    let samples = api.samples();
    if !samples.is_empty() {
        detail.push_str(&format!("; e.g. {}", samples.join(" | ")));
    }
    Check::new(format!("{prefix}: {what}"), passed, detail)
}

pub fn percentiles(mut v: Vec<f64>) -> String {
    if v.is_empty() {
        return "no samples".into();
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let q = |p: f64| v[((v.len() as f64 - 1.0) * p).round() as usize];
    format!(
        "p50 {:.0} ms, p90 {:.0} ms, p99 {:.0} ms, max {:.0} ms (n={})",
        q(0.5),
        q(0.9),
        q(0.99),
        v[v.len() - 1],
        v.len()
    )
}

/// Milliseconds from a reservation's `createdAt` to its `updatedAt` (the saga's duration once final).
pub fn saga_ms(res: &Value) -> Option<f64> {
    use time::format_description::well_known::Rfc3339;
    let a = time::OffsetDateTime::parse(res["createdAt"].as_str()?, &Rfc3339).ok()?;
    let b = time::OffsetDateTime::parse(res["updatedAt"].as_str()?, &Rfc3339).ok()?;
    Some((b - a).as_seconds_f64() * 1000.0)
}

/// The ids to settle on: (user, id) of every acknowledged reservation.
pub fn acked(book: &[crate::verify::Tracked]) -> Vec<(String, String)> {
    book.iter()
        .filter_map(|t| t.id.clone().map(|id| (t.stay.user.clone(), id)))
        .collect()
}

pub fn settle_check(prefix: &str, s: &crate::verify::Settled) -> Check {
    Check::new(
        format!("{prefix}: quiescence reached"),
        s.reached,
        if s.reached {
            format!(
                "nothing changed for the quiet period after {:.1}s",
                s.waited.as_secs_f64()
            )
        } else {
            format!(
                "not final after {:.1}s (stuck: nothing changed for 30 s, or the bound was reached): {:?}",
                s.waited.as_secs_f64(),
                s.moving.iter().take(5).collect::<Vec<_>>()
            )
        },
    )
}

/// Room-count changes made by the resizer.
#[derive(Default, Clone)]
pub struct Resizes {
    /// Place index → the lowest room count it ever had or was asked to take.
    pub floor: BTreeMap<usize, i64>,
    pub applied: usize,
    pub refused: usize,
    pub unanswered: usize,
    /// Changes cut by a kill and sent again (then counted by their answer).
    pub resent: usize,
    pub other: Vec<String>,
    /// Held during each PATCH: whoever takes it knows no room-count change is in flight.
    pub in_flight: Arc<tokio::sync::Mutex<()>>,
}

impl Resizes {
    pub fn summary(&self) -> String {
        format!(
            "{} room-count changes on {} places: {} applied, {} refused 409 (below what a night holds), {} cut by a kill and sent again, {} never answered",
            self.applied + self.refused + self.unanswered + self.other.len(),
            self.floor.len(),
            self.applied,
            self.refused,
            self.resent,
            self.unanswered
        )
    }
}

/// What watches a load while it runs: the sampler and the owner bot (with the decisions it made).
pub struct Watch {
    stop: Arc<AtomicBool>,
    sampler: tokio::task::JoinHandle<crate::verify::Sampler>,
    bot_stop: Arc<AtomicBool>,
    bot: tokio::task::JoinHandle<()>,
    decisions: Arc<Mutex<Decisions>>,
}

impl Watch {
    pub fn start(api: &Api, places: &[PlaceRef], seed: u64) -> Watch {
        let stop = Arc::new(AtomicBool::new(false));
        let sampler = crate::verify::spawn_sampler(api.clone(), places.to_vec(), stop.clone());
        let bot_stop = Arc::new(AtomicBool::new(false));
        let decisions = Arc::new(Mutex::new(Decisions::new()));
        let bot = spawn_owner_bot(
            api.clone(),
            places.to_vec(),
            seed,
            bot_stop.clone(),
            decisions.clone(),
        );
        Watch {
            stop,
            sampler,
            bot_stop,
            bot,
            decisions,
        }
    }

    /// Stops the owner bot, then the sampler: what they saw.
    pub async fn finish(self) -> (Option<crate::verify::Sampler>, Decisions) {
        self.bot_stop.store(true, Ordering::Relaxed);
        let _ = self.bot.await;
        self.stop.store(true, Ordering::Relaxed);
        let sampler = self.sampler.await.ok();
        let decisions = self.decisions.lock().map(|d| d.clone()).unwrap_or_default();
        (sampler, decisions)
    }
}

/// The resizer while it runs: stop it with [`Resizer::finish`].
pub struct Resizer {
    stop: Arc<AtomicBool>,
    pub log: Arc<Mutex<Resizes>>,
    task: tokio::task::JoinHandle<()>,
}

impl Resizer {
    pub fn start(api: &Api, places: &[PlaceRef], seed: u64) -> Resizer {
        let stop = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(Resizes::default()));
        let task = tokio::spawn(resize(
            api.clone(),
            places.to_vec(),
            seed,
            (stop.clone(), log.clone()),
        ));
        Resizer { stop, log, task }
    }

    /// Stops the changes and checks that each was answered 200 or 409.
    pub async fn finish(self, part: &mut Part, prefix: &str) -> Resizes {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        let resizes = self.log.lock().map(|r| r.clone()).unwrap_or_default();
        part.check(
            format!("{prefix}: room-count changes during the load answered 200 or 409"),
            resizes.other.is_empty(),
            format!("{}{}", resizes.summary(), listing("", &resizes.other)),
        );
        resizes
    }
}

impl Part {
    /// Checks that every reservation in the book was acknowledged (202); `detail` is given how
    /// many were and the book. Returns the book and the acknowledged (user, id).
    pub fn check_acked(
        &mut self,
        book: &Mutex<Vec<crate::verify::Tracked>>,
        name: String,
        detail: impl FnOnce(usize, &[crate::verify::Tracked]) -> String,
    ) -> (Vec<crate::verify::Tracked>, Vec<(String, String)>) {
        let (tracked, ids) = taken(book);
        let passed = ids.len() == tracked.len();
        self.check(name, passed, detail(ids.len(), &tracked));
        (tracked, ids)
    }

    /// The invariants over the gathered world, then the check of the API's answers (`kills`: the
    /// runtime was SIGKILLed, so requests the kills cut are no failure).
    pub fn judge(
        &mut self,
        prefix: &str,
        world: &crate::verify::World,
        extra: &Extra,
        (api, counts): (&Api, Counts),
        kills: bool,
    ) {
        self.checks
            .extend(crate::verify::invariants(prefix, world, extra));
        let what = if kills {
            "no 5xx from a running runtime"
        } else {
            ANSWERED_ALL
        };
        self.checks
            .push(api_check(prefix, what, api, counts, kills));
    }
}

impl Resizes {
    /// What the verifier needs of a run with room-count changes.
    pub fn extra(
        &self,
        (sampler, decisions): (Option<crate::verify::Sampler>, Decisions),
    ) -> Extra {
        Extra {
            sampler,
            decisions,
            allow_awaiting: false,
            capacity_floor: self.floor.clone(),
            resizes: Some(self.summary()),
        }
    }
}

/// The owners of every third place change its room count (1-5) every ~100 ms while the load runs:
/// lowering must never leave a night above the count (it is refused with 409 instead).
async fn resize(
    api: Api,
    places: Vec<PlaceRef>,
    seed: u64,
    (stop, log): (Arc<AtomicBool>, Arc<Mutex<Resizes>>),
) {
    use rand::{Rng, SeedableRng};
    // A place of two room types changes them through roomTypes: only places of one are resized.
    let resizable: Vec<usize> = (0..places.len())
        .filter(|i| i % 3 == 1 && !places[*i].shared)
        .collect();
    if resizable.is_empty() {
        return;
    }
    if let Ok(mut l) = log.lock() {
        for i in &resizable {
            l.floor.insert(*i, places[*i].rooms);
        }
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ 0x5e5e);
    while !stop.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let i = resizable[rng.random_range(0..resizable.len())];
        let v: i64 = rng.random_range(1..=5);
        if let Ok(mut l) = log.lock() {
            let f = l.floor.entry(i).or_insert(v);
            *f = (*f).min(v);
        }
        let p = &places[i];
        let gate = match log.lock() {
            Ok(l) => l.in_flight.clone(),
            Err(_) => return,
        };
        let _in_flight = gate.lock().await;
        // An owner whose request was cut (by a kill) sends it again until it is answered, as
        // any client would: re-sending the count completes or clears a half-done lowering.
        let mut r = Resp::Transport(String::new());
        let mut attempts = 0;
        while attempts < 600 {
            if attempts > 0 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            attempts += 1;
            r = api
                .call(
                    "PATCH",
                    &format!("/v1/places/{}", p.id),
                    Some(&p.owner),
                    Some(&json!({ "roomCount": v })),
                    &[],
                    ONCE,
                )
                .await;
            if matches!(r, Resp::Answer { .. }) {
                break;
            }
        }
        if let Ok(mut l) = log.lock() {
            if attempts > 1 {
                l.resent += 1;
            }
            match r {
                Resp::Answer { status: 200, .. } => l.applied += 1,
                Resp::Answer { status: 409, .. } => l.refused += 1,
                Resp::Answer { status, body } => l
                    .other
                    .push(format!("PATCH roomCount {v} → {status} {body}")),
                _ => l.unanswered += 1,
            }
        }
    }
}
