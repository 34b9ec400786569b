//! Scenario 1: N concurrent reservations of overlapping stays over places with few rooms (instant
//! and request-to-book), mixed with customer cancels and owner confirms/rejects/timeouts.
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use time::Date;

use super::{Part, percentiles, saga_ms, settle_check};
use crate::Ctx;
use crate::api::{Api, Resp};
use crate::plan::{PlaceRef, PlaceSpec, Stay, base_date};
use crate::verify::{self, Tracked};

pub struct LoadPlan {
    pub places: Vec<PlaceSpec>,
    pub items: Vec<(Stay, Option<u64>)>,
}

/// Overlapping stays (1-4 nights in a 14-night window) over few-room places, half of them
/// request-to-book; a share of them cancelled by the customer after a random delay.
pub fn plan(ctx: &Ctx, n: usize, seed: u64) -> LoadPlan {
    let mut rng = StdRng::seed_from_u64(seed);
    let n_places = (n / 40).max(6);
    let mut places: Vec<PlaceSpec> = (0..n_places)
        .map(|i| PlaceSpec {
            suite_of: None,
            owner: format!("owner-{seed}-{i}"),
            rooms: rng.random_range(1..=4),
            price: rng.random_range(1..=50) * 1000,
            instant: i % 2 == 0,
        })
        .collect();
    // Every third place sells suites too: its two room types are booked at once, each within
    // its own rooms.
    for i in (0..n_places).step_by(3) {
        let suite = PlaceSpec {
            suite_of: Some(i),
            rooms: rng.random_range(1..=2),
            price: places[i].price * 2,
            ..places[i].clone()
        };
        places.push(suite);
    }
    let users = (n / 4).max(1);
    let items = (0..n)
        .map(|i| {
            let place = rng.random_range(0..places.len());
            let start = rng.random_range(0..13);
            let nights = rng.random_range(1..=4).min(14 - start);
            let rooms = if rng.random_bool(0.2) && places[place].rooms >= 2 {
                2
            } else {
                1
            };
            let cancel = rng
                .random_bool(ctx.cfg.cancel_share)
                .then(|| rng.random_range(0..2000));
            (
                Stay {
                    user: format!("user-{seed}-{}", i % users),
                    place,
                    start,
                    nights,
                    rooms,
                },
                cancel,
            )
        })
        .collect();
    LoadPlan { places, items }
}

/// How requests are started: at most `concurrency` in flight, and with `spread`, one started
/// every `spread / n`.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    pub concurrency: usize,
    pub spread: Option<Duration>,
}

/// Places every reservation (Idempotency-Key `tag-i`, retried through restarts) at `pace`, and
/// cancels the chosen ones after their delay. Answers the POST latencies (ms).
pub async fn drive(
    api: &Api,
    base: Date,
    places: &[PlaceRef],
    plan: &LoadPlan,
    tag: &str,
    pace: Pace,
    book: Arc<Mutex<Vec<Tracked>>>,
) -> Vec<f64> {
    let Pace {
        concurrency,
        spread,
    } = pace;
    let sem = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let mut set = tokio::task::JoinSet::new();
    let started = Instant::now();
    let n = plan.items.len().max(1) as u32;
    for (i, (stay, cancel_after)) in plan.items.iter().cloned().enumerate() {
        if let Some(total) = spread {
            let at = started + total * i as u32 / n;
            tokio::time::sleep_until(at.into()).await;
        }
        let permit = sem.clone().acquire_owned().await;
        let (api, places, book, latencies) = (
            api.clone(),
            places.to_vec(),
            book.clone(),
            latencies.clone(),
        );
        let key = format!("{tag}-{i}");
        set.spawn(async move {
            let t = Instant::now();
            let r = super::reserve(&api, base, &places, &stay, Some(&key)).await;
            drop(permit);
            let id = match &r {
                Resp::Answer { status: 202, body } => {
                    body["reservationId"].as_str().map(str::to_string)
                }
                _ => None,
            };
            if let Ok(mut l) = latencies.lock() {
                l.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            if let Ok(mut b) = book.lock() {
                b[i].id = id.clone();
                b[i].key = Some(key.clone());
            }
            if let (Some(id), Some(ms)) = (id, cancel_after) {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                let r = super::cancel(&api, &stay.user, &id, &format!("cancel-{key}")).await;
                if let Resp::Answer { status: 200, body } = r
                    && let Ok(mut b) = book.lock()
                {
                    b[i].cancel = Some(body);
                }
            }
        });
    }
    while set.join_next().await.is_some() {}
    latencies.lock().map(|l| l.clone()).unwrap_or_default()
}

pub fn runtime_args(ctx: &Ctx) -> Vec<String> {
    vec![
        "--quiet-events".into(),
        "--param".into(),
        format!(
            "OwnerDecisionTimeoutSeconds={}",
            ctx.cfg.owner_timeout_seconds
        ),
        "--payment-decline-rate".into(),
        ctx.cfg.load_decline_rate.to_string(),
        "--payment-transient-rate".into(),
        ctx.cfg.load_transient_rate.to_string(),
    ]
}

pub async fn run(ctx: &Ctx, prefix: &str) -> Result<Part, String> {
    let mut part = Part::default();
    let rt = super::start(ctx, "1-load", &runtime_args(ctx)).await?;
    let api = rt.api.clone();
    let base = base_date();
    let plan = plan(ctx, ctx.cfg.reservations, ctx.cfg.seed);
    let places = super::register(&api, "load", &plan.places).await?;
    let book = super::book_of(&plan.items);
    let counts_before = api.counts();
    let watch = super::Watch::start(&api, &places, ctx.cfg.seed);
    let resizer = super::Resizer::start(&api, &places, ctx.cfg.seed);
    ctx.progress(format!(
        "{prefix}: {} reservations over {} places ({} in flight)",
        plan.items.len(),
        places.len(),
        ctx.cfg.concurrency
    ));
    let t = Instant::now();
    let lat = drive(
        &api,
        base,
        &places,
        &plan,
        "load",
        Pace {
            concurrency: ctx.cfg.concurrency,
            spread: None,
        },
        book.clone(),
    )
    .await;
    let load_time = t.elapsed();
    let resizes = resizer.finish(&mut part, prefix).await;
    let (tracked, ids) = part.check_acked(
        &book,
        format!("{prefix}: every reservation request answered 202"),
        |acked, sent| {
            let secs = load_time.as_secs_f64();
            format!(
                "{acked}/{} accepted in {secs:.1}s ({:.0}/s); POST {}",
                sent.len(),
                acked as f64 / secs.max(0.001),
                percentiles(lat)
            )
        },
    );
    let settled = super::settle_load(ctx, prefix, &api, &places, &ids).await;
    let watched = watch.finish().await;
    part.checks.push(settle_check(prefix, &settled));
    let counts = api.counts().since(counts_before);
    let world = verify::gather(&api, base, &places, &tracked).await;
    let sagas: Vec<f64> = world
        .obs
        .iter()
        .filter_map(|o| o.res.as_ref().and_then(saga_ms))
        .collect();
    part.notes.push(format!(
        "saga (createdAt → final updatedAt) {}",
        percentiles(sagas)
    ));
    let extra = resizes.extra(watched);
    part.judge(prefix, &world, &extra, (&api, counts), false);
    Ok(part)
}
