//! The scenarios: each sets up what it needs, runs its operation through `driver::run` and
//! builds the report.
mod follow;
mod mix;
mod read;
mod reserve;
mod search;
mod seed;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::api::{Api, PlaceSpec, mix64};
use crate::driver::{self, Budget, Op, Pace};
use crate::stats::{Report, Stats};
use crate::{Args, Scenario};

pub async fn run(args: &Args) -> Result<Report, String> {
    let pool = args.concurrency().max(args.load.rate.unwrap_or(0) as usize) * 2;
    let api = Api::new(&args.url, pool, Duration::from_secs(args.load.timeout_secs))?;
    match args.scenario {
        // Many independent operations, measured each...
        Scenario::Reserve => reserve::run(args, &api).await,
        Scenario::Mix => mix::run(args, &api).await,
        Scenario::Search => search::run(args, &api).await,
        Scenario::Read => read::run(args, &api).await,
        Scenario::Get => read::get(args, &api).await,
        // ...or each reservation followed until its saga ends.
        Scenario::Follow => follow::run(args, &api, "follow").await,
        Scenario::Breaker => follow::breaker(args, &api).await,
        Scenario::SeedFollow => seed::run(args, &api).await,
    }
}

/// The parameters a report repeats, so a JSON file says how it was made.
fn params(args: &Args) -> Value {
    json!({
        "url": args.url,
        "requests": args.requests(),
        "durationSecs": args.duration().map(|d| d.as_secs_f64()),
        "concurrency": args.load.rate.is_none().then(|| args.concurrency()),
        "rate": args.load.rate,
        "places": args.places(),
        "cities": args.world.cities,
        "rooms": args.world.rooms,
        "pollMs": args.poll_ms(),
    })
}

fn now() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default()
}

fn report(args: &Args, name: &str, started_at: String, stats: &Stats, window: Duration) -> Report {
    Report {
        scenario: name.to_string(),
        started_at,
        params: params(args),
        elapsed_s: window.as_secs_f64(),
        metrics: stats.metrics(window),
        errors: stats.errors(),
        outcomes: stats.outcomes.clone(),
        derived: BTreeMap::new(),
        notes: Vec::new(),
    }
}

/// The measured phase of a scenario: its operation under the run's pace and budget.
struct Measured {
    stats: Stats,
    took: Duration,
    started_at: String,
    bar: ProgressBar,
}

async fn measure<O: Op>(args: &Args, name: &str, op: Arc<O>) -> Measured {
    let bar = driver::progress(name, args.requests(), args.show_progress());
    let started_at = now();
    let (stats, took) = driver::run(op, args.pace(), args.budget(), &bar).await;
    Measured {
        stats,
        took,
        started_at,
        bar,
    }
}

impl Measured {
    /// Waits for the saga of every reservation `op` accepted, recording each: the reservations
    /// and the first placed and last final instants.
    async fn settle(
        &mut self,
        args: &Args,
        api: &Api,
        op: &reserve::ReserveOp,
    ) -> Result<(Vec<(String, String)>, Span), String> {
        self.bar.set_message("waiting for the sagas");
        let ids = op.taken();
        let timeout = Duration::from_secs(args.load.timeout_secs);
        let span = await_sagas(api, &ids, timeout, &mut self.stats).await;
        self.bar.finish_and_clear();
        Ok((ids, span?))
    }

    fn report(&self, args: &Args, name: &str) -> Report {
        self.bar.finish_and_clear();
        report(args, name, self.started_at.clone(), &self.stats, self.took)
    }

    /// Operations of `metrics` completed per second of the measured phase.
    fn per_sec(&self, metrics: &[&str]) -> f64 {
        let n: u64 = metrics.iter().map(|m| self.stats.count(m)).sum();
        n as f64 / self.took.as_secs_f64().max(1e-9)
    }
}

/// The city of place `i` (of `cities`), unique to this run so runs against one target do not
/// find each other's places.
fn city(i: usize, cities: usize) -> String {
    format!("load-{}-city-{}", std::process::id(), i % cities.max(1))
}

const REGISTER: &str = "POST /v1/places (setup)";

/// Registers place `i`: `varied` draws its rooms (1 to `rooms`), price, guests and up to three
/// price rules; otherwise every place has `rooms` rooms at 10,000 a night.
struct PlaceOp {
    api: Api,
    owner: String,
    rooms: i64,
    cities: usize,
    varied: bool,
    ids: Mutex<Vec<(usize, String)>>,
}

impl PlaceOp {
    fn spec(&self, i: usize) -> PlaceSpec {
        let h = mix64(i as u64 ^ 0x5eed);
        let mut spec = PlaceSpec {
            name: format!("load place {i}"),
            rooms: self.rooms,
            price: 10_000,
            city: city(i, self.cities),
            guests: 2,
            rules: json!([]),
        };
        if self.varied {
            spec.rooms = 1 + (h % self.rooms.max(1) as u64) as i64;
            spec.price = 10_000 * (5 + ((h >> 8) % 20) as i64);
            spec.guests = 1 + ((h >> 16) % 4) as i64;
            spec.rules = price_rules(h >> 20, spec.price);
        }
        spec
    }
}

/// Up to three rules over the next year: a season, weekends, a special.
fn price_rules(h: u64, price: i64) -> Value {
    let day = |offset: u64| {
        let d = (OffsetDateTime::now_utc() + time::Duration::days(offset as i64)).date();
        format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
    };
    let start = h % 300;
    let all = [
        json!({"from": day(start), "to": day(start + 60), "nightlyPrice": price * 3 / 2}),
        json!({"from": day(0), "to": day(365), "nightlyPrice": price + 20_000, "days": ["FRI", "SAT"]}),
        json!({"from": day(start + 10), "to": day(start + 13), "nightlyPrice": price / 2}),
    ];
    Value::Array(all.into_iter().take(((h >> 10) % 4) as usize).collect())
}

impl Op for PlaceOp {
    async fn run(&self, i: usize, stats: &mut Stats) {
        let t = Instant::now();
        match self.api.create_place(&self.owner, &self.spec(i)).await {
            Ok(id) => {
                stats.record(REGISTER, t.elapsed());
                if let Ok(mut v) = self.ids.lock() {
                    v.push((i, id));
                }
            }
            Err(e) => stats.error(REGISTER, &e),
        }
    }
}

/// Registers `args.places()` places concurrently (varied ones for `search`), in order of `i`,
/// and waits until the reservation side's catalogue (built from events) knows the last of them.
async fn places(args: &Args, api: &Api, varied: bool) -> Result<Vec<String>, String> {
    let op = Arc::new(PlaceOp {
        api: api.clone(),
        owner: format!("load-owner-{}", std::process::id()),
        rooms: args.world.rooms,
        cities: args.world.cities,
        varied,
        ids: Mutex::new(Vec::new()),
    });
    let n = args.places();
    let bar = driver::progress("places", Some(n), args.show_progress() && n > 100);
    let budget = Budget {
        total: Some(n),
        duration: None,
    };
    let (stats, _) = driver::run(op.clone(), Pace::Closed { concurrency: 32 }, budget, &bar).await;
    bar.finish_and_clear();
    if stats.errors() > 0 {
        return Err(format!("registering places: {:?}", stats.outcomes));
    }
    let mut ids = op.ids.lock().map(|v| v.clone()).unwrap_or_default();
    ids.sort();
    let ids: Vec<String> = ids.into_iter().map(|(_, id)| id).collect();
    if let Some(last) = ids.last() {
        let deadline = Instant::now() + Duration::from_secs(args.load.timeout_secs);
        while !api.catalogued(last).await {
            if Instant::now() > deadline {
                return Err(format!(
                    "place {last} never reached the reservation catalogue"
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(ids)
}

/// A user of its own per operation, so every read and list is the caller's own.
fn user(run: u32, i: usize) -> String {
    format!("load-{run}-user-{i}")
}

fn parse_time(v: &Value) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(v.as_str()?, &Rfc3339).ok()
}

fn is_final(status: &str) -> bool {
    status == "CONFIRMED" || status == "CANCELLED"
}

/// `STATUS` or `STATUS/REASON`, as outcomes are counted.
fn outcome(v: &Value, status_field: &str) -> String {
    let status = v[status_field].as_str().unwrap_or("?");
    match v["statusReason"].as_str() {
        Some(reason) => format!("{status}/{reason}"),
        None => status.to_string(),
    }
}

/// The saga's length on the server's clock: the reservation's `createdAt` to its final `updatedAt`.
fn server_saga(v: &Value) -> Option<(OffsetDateTime, OffsetDateTime)> {
    Some((parse_time(&v["createdAt"])?, parse_time(&v["updatedAt"])?))
}

/// The first placed and last final instants of some sagas, on the server's clock.
type Span = Option<(OffsetDateTime, OffsetDateTime)>;

/// Waits until every `(user, reservation)` is final (reading `GET /v1/reservations/{id}`), and
/// records each saga's server-clock length; the first placed and last final instants.
async fn await_sagas(
    api: &Api,
    ids: &[(String, String)],
    timeout: Duration,
    stats: &mut Stats,
) -> Result<Span, String> {
    let deadline = Instant::now() + timeout;
    let mut span: Span = None;
    for (user, id) in ids {
        loop {
            let r = api.reservation(user, id).await;
            if let Ok(v) = &r
                && is_final(v["status"].as_str().unwrap_or_default())
            {
                if let Some((a, b)) = server_saga(v) {
                    stats.record(SAGA_SERVER, (b - a).unsigned_abs());
                    span = Some(span.map_or((a, b), |(f, l)| (f.min(a), l.max(b))));
                }
                stats.outcome(outcome(v, "status"));
                break;
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "saga of {id} did not finish within {}s",
                    timeout.as_secs()
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    Ok(span)
}

pub const ACCEPT: &str = "POST /v1/reservations (client)";
pub const SAGA_SERVER: &str = "saga placed -> final (server clock)";
pub const FOLLOW: &str = "reserve -> mypage final (client)";
