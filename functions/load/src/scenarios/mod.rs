//! The scenarios: each sets up what it needs, runs its operation through `driver::run` and
//! builds the report.
mod follow;
mod mix;
mod read;
mod reserve;
mod seed;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::api::Api;
use crate::stats::{Report, Stats};
use crate::{Args, Scenario};

pub async fn run(args: &Args) -> Result<Report, String> {
    let pool = args.concurrency().max(args.rate.unwrap_or(0) as usize) * 2;
    let api = Api::new(&args.url, pool, Duration::from_secs(args.timeout_secs))?;
    match args.scenario {
        Scenario::Reserve => reserve::run(args, &api).await,
        Scenario::Follow => follow::run(args, &api, "follow").await,
        Scenario::Breaker => follow::breaker(args, &api).await,
        Scenario::SeedFollow => seed::run(args, &api).await,
        Scenario::Read => read::run(args, &api).await,
        Scenario::Get => read::get(args, &api).await,
        Scenario::Mix => mix::run(args, &api).await,
    }
}

/// The parameters a report repeats, so a JSON file says how it was made.
fn params(args: &Args) -> Value {
    json!({
        "url": args.url,
        "requests": args.requests(),
        "durationSecs": args.duration().map(|d| d.as_secs_f64()),
        "concurrency": args.rate.is_none().then(|| args.concurrency()),
        "rate": args.rate,
        "places": args.places,
        "rooms": args.rooms,
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

/// Registers the places every `/v1` scenario reserves in.
async fn places(args: &Args, api: &Api) -> Result<Vec<String>, String> {
    let owner = format!("load-owner-{}", std::process::id());
    let mut ids = Vec::with_capacity(args.places);
    for i in 0..args.places.max(1) {
        ids.push(api.create_place(&owner, i, args.rooms).await?);
    }
    // The reservation side reads a copy of the catalogue, built from events: let it catch up.
    tokio::time::sleep(Duration::from_millis(300)).await;
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

/// Waits until every `(user, reservation)` is final (reading `GET /v1/reservations/{id}`), and
/// records each saga's server-clock length; the first placed and last final instants.
async fn await_sagas(
    api: &Api,
    ids: &[(String, String)],
    timeout: Duration,
    stats: &mut Stats,
) -> Result<Option<(OffsetDateTime, OffsetDateTime)>, String> {
    let deadline = Instant::now() + timeout;
    let mut span: Option<(OffsetDateTime, OffsetDateTime)> = None;
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
