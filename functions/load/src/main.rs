//! `reserveplace-load`: drives a running ReservePlace over HTTP like the seed's siege did, and reports
//! latency percentiles: the API's answer to `POST /v1/reservations`, and the whole saga (from the
//! reservation's `createdAt` to the `updatedAt` of its final status, both stamped by the server).
//! Its users carry unsigned `dev:<user>` tokens, so the target runs in development mode (`make run`
//! or `reserveplace-local --dev`).
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::Mutex;

#[derive(Parser, Debug)]
#[command(
    name = "reserveplace-load",
    about = "Concurrent reservations against a running ReservePlace; prints latency percentiles."
)]
struct Args {
    /// Base URL of the API.
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    url: String,
    /// Reservations to make.
    #[arg(long, default_value_t = 2000)]
    requests: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Places to spread the load over (rooms per night each).
    #[arg(long, default_value_t = 20)]
    places: usize,
    #[arg(long, default_value_t = 50)]
    rooms: i64,
    /// Give up waiting for sagas after this many seconds.
    #[arg(long, default_value_t = 120)]
    timeout_secs: u64,
    /// Open loop: start requests at this rate (per second) instead of keeping `concurrency` busy.
    #[arg(long)]
    rate: Option<u32>,
}

fn parse_time(v: &Value) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(v.as_str()?, &Rfc3339).ok()
}

fn date(days_ahead: i64) -> String {
    let d = OffsetDateTime::now_utc().date() + time::Duration::days(days_ahead);
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

fn report(name: &str, h: &Histogram<u64>) {
    if h.is_empty() {
        println!("{name:<34} no samples");
        return;
    }
    println!(
        "{name:<34} n={:<6} p50={:>7.2}ms p90={:>7.2}ms p99={:>7.2}ms max={:>8.2}ms",
        h.len(),
        h.value_at_quantile(0.5) as f64 / 1000.0,
        h.value_at_quantile(0.9) as f64 / 1000.0,
        h.value_at_quantile(0.99) as f64 / 1000.0,
        h.max() as f64 / 1000.0
    );
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args = Args::parse();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency * 2)
        .build()
        .map_err(|e| e.to_string())?;
    let owner = format!("load-owner-{}", std::process::id());
    let mut places = Vec::new();
    for i in 0..args.places {
        let r = http
            .post(format!("{}/v1/places", args.url))
            .bearer_auth(format!("dev:{owner}"))
            .json(&json!({"name": format!("load place {i}"), "roomCount": args.rooms, "nightlyPrice": 10_000, "instantBook": true}))
            .send()
            .await
            .map_err(|e| format!("cannot reach {}: {e}", args.url))?;
        if r.status() == reqwest::StatusCode::UNAUTHORIZED {
            return Err(format!(
                "{} refuses dev: tokens: start it in development mode (make run, or --dev)",
                args.url
            ));
        }
        let body: Value = r.json().await.map_err(|e| e.to_string())?;
        places.push(body["placeId"].as_str().ok_or("no placeId")?.to_string());
    }
    // Let the catalogue copies catch up before measuring.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let accept = Arc::new(Mutex::new(
        Histogram::<u64>::new(3).map_err(|e| e.to_string())?,
    ));
    let ids = Arc::new(Mutex::new(Vec::new()));
    let errors = Arc::new(Mutex::new(0usize));
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    // Open loop: each tick starts one request on its own (a worker that does exactly one).
    let (spawns, per_worker_ticks) = match args.rate {
        Some(rate) => (
            args.requests,
            Some(Duration::from_secs_f64(1.0 / f64::from(rate.max(1)))),
        ),
        None => (args.concurrency, None),
    };
    let mut ticker = per_worker_ticks.map(tokio::time::interval);
    for _ in 0..spawns {
        if let Some(t) = ticker.as_mut() {
            t.tick().await;
        }
        let (http, url, places, accept, ids, errors, next) = (
            http.clone(),
            args.url.clone(),
            places.clone(),
            accept.clone(),
            ids.clone(),
            errors.clone(),
            next.clone(),
        );
        let total = args.requests;
        let one_shot = args.rate.is_some();
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= total {
                    return;
                }
                let user = format!("load-user-{i}");
                let start = 5 + (i % 40) as i64;
                let body = json!({"placeId": places[i % places.len()], "checkIn": date(start), "checkOut": date(start + 1 + (i % 3) as i64), "rooms": 1});
                let t = Instant::now();
                let resp = http.post(format!("{url}/v1/reservations")).bearer_auth(format!("dev:{user}")).json(&body).send().await;
                let elapsed = t.elapsed().as_micros() as u64;
                match resp {
                    Ok(r) if r.status().as_u16() == 202 => {
                        let _ = accept.lock().await.record(elapsed);
                        if let Ok(v) = r.json::<Value>().await
                            && let Some(id) = v["reservationId"].as_str()
                        {
                            ids.lock().await.push((user, id.to_string()));
                        }
                    }
                    _ => *errors.lock().await += 1,
                }
                if one_shot {
                    return;
                }
            }
        }));
    }
    for w in workers {
        let _ = w.await;
    }
    let accepted_in = started.elapsed();

    // Wait for every saga to end, then read the server's own timestamps.
    let mut saga = Histogram::<u64>::new(3).map_err(|e| e.to_string())?;
    let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
    let mut last_end: Option<OffsetDateTime> = None;
    let mut first_start: Option<OffsetDateTime> = None;
    let deadline = Instant::now() + Duration::from_secs(args.timeout_secs);
    let ids = ids.lock().await.clone();
    for (user, id) in &ids {
        loop {
            let r: Value = http
                .get(format!("{}/v1/reservations/{id}", args.url))
                .bearer_auth(format!("dev:{user}"))
                .send()
                .await
                .map_err(|e| e.to_string())?
                .json()
                .await
                .map_err(|e| e.to_string())?;
            let status = r["status"].as_str().unwrap_or_default().to_string();
            if status == "CONFIRMED" || status == "CANCELLED" {
                if let (Some(a), Some(b)) =
                    (parse_time(&r["createdAt"]), parse_time(&r["updatedAt"]))
                {
                    let _ = saga.record((b - a).whole_microseconds().max(0) as u64);
                    last_end = Some(last_end.map_or(b, |l| l.max(b)));
                    first_start = Some(first_start.map_or(a, |f| f.min(a)));
                }
                let key = match r["statusReason"].as_str() {
                    Some(reason) => format!("{status}/{reason}"),
                    None => status,
                };
                *outcomes.entry(key).or_default() += 1;
                break;
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "saga of {id} did not finish within {}s",
                    args.timeout_secs
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let span = match (first_start, last_end) {
        (Some(a), Some(b)) => (b - a).as_seconds_f64(),
        _ => 0.0,
    };
    println!(
        "requests={} concurrency={} places={} rooms/night={}",
        args.requests, args.concurrency, args.places, args.rooms
    );
    let accept = accept.lock().await;
    let errors = *errors.lock().await;
    println!(
        "accepted {} in {:.2}s ({:.0} req/s), errors {errors}",
        accept.len(),
        accepted_in.as_secs_f64(),
        accept.len() as f64 / accepted_in.as_secs_f64()
    );
    report("POST /v1/reservations (client)", &accept);
    report("saga: placed -> final (server)", &saga);
    if span > 0.0 {
        println!(
            "sagas completed: {} in {:.2}s = {:.0} sagas/s (first placed to last final, server clock)",
            saga.len(),
            span,
            saga.len() as f64 / span
        );
    }
    println!("outcomes: {outcomes:?}");
    Ok(())
}
