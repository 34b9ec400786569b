//! Scenario 1: N concurrent reservations of overlapping stays over places with few rooms (instant
//! and request-to-book), mixed with customer cancels and owner confirms/rejects/timeouts.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use time::Date;

use super::{Part, acked, api_check, percentiles, saga_ms, settle_check};
use crate::Ctx;
use crate::api::{Api, Resp};
use crate::plan::{PlaceRef, PlaceSpec, Stay, base_date};
use crate::verify::{self, Decisions, Extra, Tracked};

pub struct LoadPlan {
    pub places: Vec<PlaceSpec>,
    pub items: Vec<(Stay, Option<u64>)>,
}

/// Overlapping stays (1-4 nights in a 14-night window) over few-room places, half of them
/// request-to-book; a share of them cancelled by the customer after a random delay.
pub fn plan(ctx: &Ctx, n: usize, seed: u64) -> LoadPlan {
    let mut rng = StdRng::seed_from_u64(seed);
    let n_places = (n / 40).max(6);
    let places: Vec<PlaceSpec> = (0..n_places)
        .map(|i| PlaceSpec {
            owner: format!("owner-{seed}-{i}"),
            rooms: rng.random_range(1..=4),
            price: rng.random_range(1..=50) * 1000,
            instant: i % 2 == 0,
        })
        .collect();
    let users = (n / 4).max(1);
    let items = (0..n)
        .map(|i| {
            let place = rng.random_range(0..n_places);
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
    let book = Arc::new(Mutex::new(
        plan.items
            .iter()
            .map(|(s, _)| Tracked::new(s.clone()))
            .collect::<Vec<_>>(),
    ));
    let counts_before = api.counts();
    let stop = Arc::new(AtomicBool::new(false));
    let decisions = Arc::new(Mutex::new(Decisions::new()));
    let sampler = verify::spawn_sampler(api.clone(), places.clone(), stop.clone());
    let resize_stop = Arc::new(AtomicBool::new(false));
    let resizes = Arc::new(Mutex::new(super::Resizes::default()));
    let resizer = super::spawn_resizer(
        api.clone(),
        places.clone(),
        ctx.cfg.seed,
        resize_stop.clone(),
        resizes.clone(),
    );
    let bot_stop = Arc::new(AtomicBool::new(false));
    let bot = super::spawn_owner_bot(
        api.clone(),
        places.clone(),
        ctx.cfg.seed,
        bot_stop.clone(),
        decisions.clone(),
    );
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
    resize_stop.store(true, Ordering::Relaxed);
    let _ = resizer.await;
    let resizes = resizes.lock().map(|r| r.clone()).unwrap_or_default();
    part.check(
        format!("{prefix}: room-count changes during the load answered 200 or 409"),
        resizes.other.is_empty(),
        format!(
            "{}{}",
            resizes.summary(),
            if resizes.other.is_empty() {
                String::new()
            } else {
                format!("; {:?}", resizes.other)
            }
        ),
    );
    let tracked = book.lock().map(|b| b.clone()).unwrap_or_default();
    let ids = acked(&tracked);
    part.check(
        format!("{prefix}: every reservation request answered 202"),
        ids.len() == tracked.len(),
        format!(
            "{}/{} accepted in {:.1}s ({:.0}/s); POST {}",
            ids.len(),
            tracked.len(),
            load_time.as_secs_f64(),
            ids.len() as f64 / load_time.as_secs_f64().max(0.001),
            percentiles(lat)
        ),
    );
    ctx.progress(format!("{prefix}: waiting for quiescence"));
    // Undecided request-to-book stays end by the owner timeout: wait for that too.
    let settled = verify::settle(
        &api,
        &places,
        &ids,
        false,
        ctx.cfg.quiet,
        ctx.cfg.settle_timeout + Duration::from_secs(ctx.cfg.owner_timeout_seconds),
    )
    .await;
    bot_stop.store(true, Ordering::Relaxed);
    let _ = bot.await;
    stop.store(true, Ordering::Relaxed);
    let sampler = sampler.await.ok();
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
    let extra = Extra {
        sampler,
        decisions: decisions.lock().map(|d| d.clone()).unwrap_or_default(),
        allow_awaiting: false,
        capacity_floor: resizes.floor.clone(),
        resizes: Some(resizes.summary()),
    };
    part.checks
        .extend(verify::invariants(prefix, &world, &extra));
    part.checks.push(api_check(
        prefix,
        "the API answered every request (no 5xx, no timeouts)",
        &api,
        counts,
        false,
    ));
    Ok(part)
}
