//! Scenario 4: payment faults. A slow provider (the seed's 400-620 ms), then declines, then an
//! outage: the shared circuit breaker opens after the threshold, reservations end
//! PAYMENT_UNAVAILABLE fast, it still refuses fast just after the provider is back (it is open),
//! then half-opens and recovers. The API answers every request throughout: no 5xx, no timeouts.
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use time::Date;

use super::{Part, acked, api_check, load::LoadPlan, percentiles, saga_ms};
use crate::Ctx;
use crate::api::Api;
use crate::plan::{PlaceRef, PlaceSpec, Stay, base_date};
use crate::verify::{self, Extra, Tracked};

const LATENCY: (u64, u64) = (400, 620);

struct Phase {
    tracked: Vec<Tracked>,
    /// Final status → saga durations (ms).
    outcomes: BTreeMap<String, Vec<f64>>,
}

impl Phase {
    fn count(&self, s: &str) -> usize {
        self.outcomes.get(s).map_or(0, Vec::len)
    }
    fn total(&self) -> usize {
        self.tracked.len()
    }
    fn line(&self) -> String {
        self.outcomes
            .iter()
            .map(|(k, v)| format!("{k} {}", v.len()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

struct Env<'a> {
    ctx: &'a Ctx,
    api: Api,
    base: Date,
    places: Vec<PlaceRef>,
    rng: Mutex<StdRng>,
    next: Mutex<usize>,
}

impl Env<'_> {
    fn stays(&self, n: usize) -> Vec<(Stay, Option<u64>)> {
        let mut rng = self.rng.lock().expect("rng");
        let mut next = self.next.lock().expect("next");
        (0..n)
            .map(|_| {
                *next += 1;
                let start = rng.random_range(0..20);
                (
                    Stay {
                        user: format!("pay-user-{}", *next % 40),
                        place: rng.random_range(0..self.places.len()),
                        start,
                        nights: rng.random_range(1..=3),
                        rooms: 1,
                    },
                    None,
                )
            })
            .collect()
    }

    /// Places `stays` (all at once, up to the concurrency) and waits until they are final.
    async fn batch(&self, tag: &str, stays: Vec<(Stay, Option<u64>)>) -> Phase {
        // Idempotency keys must be unique per user: number every batch.
        let tag = format!("{tag}-{}", *self.next.lock().expect("next"));
        let book = super::book_of(&stays);
        let plan = LoadPlan {
            places: Vec::new(),
            items: stays,
        };
        super::load::drive(
            &self.api,
            self.base,
            &self.places,
            &plan,
            &tag,
            super::load::Pace {
                concurrency: self.ctx.cfg.concurrency,
                spread: None,
            },
            book.clone(),
        )
        .await;
        let tracked = book.lock().map(|b| b.clone()).unwrap_or_default();
        self.finish(tracked).await
    }

    async fn finish(&self, tracked: Vec<Tracked>) -> Phase {
        let ids = acked(&tracked);
        verify::settle(
            &self.api,
            &self.places,
            &ids,
            false,
            Duration::from_millis(300),
            self.ctx.cfg.settle_timeout,
        )
        .await;
        let mut outcomes: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for (user, id) in &ids {
            if let Ok(Some(r)) = self
                .api
                .get(&format!("/v1/reservations/{id}"), Some(user))
                .await
            {
                outcomes
                    .entry(verify::status_of(&r))
                    .or_default()
                    .push(saga_ms(&r).unwrap_or(f64::NAN));
            }
        }
        if ids.len() < tracked.len() {
            outcomes.insert("NOT ACCEPTED".into(), vec![0.0; tracked.len() - ids.len()]);
        }
        Phase { tracked, outcomes }
    }

    async fn faults(&self, decline: f64, outage: bool) -> Result<(), String> {
        self.api
            .put_faults(&json!({"payment": {"latencyMinMs": LATENCY.0, "latencyMaxMs": LATENCY.1, "declineRate": decline, "outage": outage}}))
            .await
    }
}

fn all_ms(p: &Phase, s: &str) -> Vec<f64> {
    p.outcomes.get(s).cloned().unwrap_or_default()
}

pub async fn run(ctx: &Ctx, prefix: &str) -> Result<Part, String> {
    let mut part = Part::default();
    let cfg = &ctx.cfg;
    let rt = super::start(
        ctx,
        "4-payment",
        &[
            "--quiet-events".into(),
            "--payment-latency-ms".into(),
            format!("{}-{}", LATENCY.0, LATENCY.1),
            "--param".into(),
            format!("PaymentFailureThreshold={}", cfg.breaker_threshold),
            "--param".into(),
            format!("PaymentOpenSeconds={}", cfg.breaker_open_seconds),
        ],
    )
    .await?;
    let api = rt.api.clone();
    let specs: Vec<PlaceSpec> = (0..4)
        .map(|i| PlaceSpec {
            suite_of: None,
            owner: format!("pay-owner-{i}"),
            rooms: 10_000,
            price: 20_000,
            instant: true,
        })
        .collect();
    let places = super::register(&api, "pay", &specs).await?;
    let env = Env {
        ctx,
        api: api.clone(),
        base: base_date(),
        places: places.clone(),
        rng: Mutex::new(StdRng::seed_from_u64(cfg.seed.wrapping_add(4))),
        next: Mutex::new(0),
    };
    let counts_before = api.counts();
    let n = cfg.payment_batch;
    let mut everything: Vec<Tracked> = Vec::new();

    // a. The seed's slow provider: slower sagas, nothing refused.
    ctx.progress(format!(
        "{prefix}: slow provider {}-{} ms",
        LATENCY.0, LATENCY.1
    ));
    let slow = env.batch("pay-slow", env.stays(n)).await;
    let slow_ms = all_ms(&slow, "CONFIRMED");
    let min = slow_ms.iter().copied().fold(f64::INFINITY, f64::min);
    part.check(
        format!(
            "{prefix}: slow provider ({}-{} ms): every reservation confirmed",
            LATENCY.0, LATENCY.1
        ),
        slow.count("CONFIRMED") == slow.total() && min >= LATENCY.0 as f64,
        format!(
            "{} ({} placed); saga {}",
            slow.line(),
            slow.total(),
            percentiles(slow_ms)
        ),
    );
    everything.extend(slow.tracked.clone());

    // b. Declines.
    env.faults(0.3, false).await?;
    ctx.progress(format!("{prefix}: 30 % declines"));
    let dec = env.batch("pay-decline", env.stays(n)).await;
    let declined = dec.count("CANCELLED/PAYMENT_DECLINED");
    part.check(
        format!("{prefix}: declines end CANCELLED/PAYMENT_DECLINED, the rest CONFIRMED"),
        declined + dec.count("CONFIRMED") == dec.total() && (n < 10 || declined > 0),
        format!(
            "{} ({} placed at a 30 % decline rate)",
            dec.line(),
            dec.total()
        ),
    );
    everything.extend(dec.tracked.clone());

    // c. Outage: reservations keep coming; all end PAYMENT_UNAVAILABLE, fast.
    env.faults(0.0, true).await?;
    ctx.progress(format!(
        "{prefix}: provider outage for {:.0}s",
        cfg.outage.as_secs_f64()
    ));
    let outage_started = Instant::now();
    let rate = (n as f64 / cfg.outage.as_secs_f64().max(1.0)).max(5.0);
    let during = {
        let mut stays = Vec::new();
        let count =
            ((rate * cfg.outage.as_secs_f64()) as usize).max(cfg.breaker_threshold as usize * 2);
        stays.extend(env.stays(count));
        let book = super::book_of(&stays);
        let plan = LoadPlan {
            places: Vec::new(),
            items: stays,
        };
        super::load::drive(
            &api,
            env.base,
            &places,
            &plan,
            "pay-outage",
            super::load::Pace {
                concurrency: cfg.concurrency,
                spread: Some(cfg.outage),
            },
            book.clone(),
        )
        .await;
        let rest = cfg.outage.saturating_sub(outage_started.elapsed());
        tokio::time::sleep(rest).await;
        book.lock().map(|b| b.clone()).unwrap_or_default()
    };
    // The provider is back; the circuit is still open.
    env.faults(0.0, false).await?;
    let outage_ended = Instant::now();
    let probes = env
        .batch("pay-probe", env.stays(cfg.breaker_threshold as usize * 2))
        .await;
    let during = env.finish(during).await;
    let unavailable_ms = all_ms(&during, "CANCELLED/PAYMENT_UNAVAILABLE");
    let slowest = unavailable_ms.iter().copied().fold(0.0, f64::max);
    part.check(
        format!("{prefix}: during the outage every reservation ends PAYMENT_UNAVAILABLE, fast"),
        during.count("CANCELLED/PAYMENT_UNAVAILABLE") == during.total() && slowest < 2000.0,
        format!(
            "{} ({} placed over {:.0}s); saga {} (PaymentTimeoutMillis 2000)",
            during.line(),
            during.total(),
            cfg.outage.as_secs_f64(),
            percentiles(unavailable_ms)
        ),
    );
    let refused_fast = all_ms(&probes, "CANCELLED/PAYMENT_UNAVAILABLE")
        .iter()
        .filter(|ms| **ms < LATENCY.0 as f64)
        .count();
    part.check(
        format!("{prefix}: the circuit opened (threshold {}): just after the outage it still refuses without calling the provider", cfg.breaker_threshold),
        refused_fast >= 1,
        format!(
            "{refused_fast} of {} placed right after the provider came back ended PAYMENT_UNAVAILABLE in < {} ms (a provider call takes ≥ {} ms); {}",
            probes.total(),
            LATENCY.0,
            LATENCY.0,
            probes.line()
        ),
    );
    everything.extend(during.tracked.clone());
    everything.extend(probes.tracked.clone());

    // d. Recovery: after PaymentOpenSeconds a trial call closes the circuit again.
    ctx.progress(format!("{prefix}: waiting for the circuit to recover"));
    let bound = Duration::from_secs(cfg.breaker_open_seconds + 15);
    let mut recovered = None;
    let mut tries = 0;
    while outage_ended.elapsed() < bound {
        tries += 1;
        let one = env.batch("pay-recover", env.stays(1)).await;
        everything.extend(one.tracked.clone());
        if one.count("CONFIRMED") == 1 {
            recovered = Some(outage_ended.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let after = env.batch("pay-after", env.stays(n)).await;
    everything.extend(after.tracked.clone());
    part.check(
        format!("{prefix}: the circuit half-opens and recovers; then every reservation is confirmed"),
        recovered.is_some() && after.count("CONFIRMED") == after.total(),
        format!(
            "first confirmation {} after the outage ended (PaymentOpenSeconds {}; {tries} tries); then {} ({} placed), saga {}",
            recovered.map_or("never".to_string(), |d| format!("{:.1}s", d.as_secs_f64())),
            cfg.breaker_open_seconds,
            after.line(),
            after.total(),
            percentiles(all_ms(&after, "CONFIRMED"))
        ),
    );

    let counts = api.counts().since(counts_before);
    part.checks.push(api_check(
        prefix,
        "the API answered every request throughout (no 5xx, no timeouts)",
        &api,
        counts,
        false,
    ));
    part.notes.push(format!(
        "availability {:.2} % over {} requests (the seed: 63.55 %)",
        counts.availability(),
        counts.total
    ));
    let world = verify::gather(&api, env.base, &places, &everything).await;
    part.checks
        .extend(verify::invariants(prefix, &world, &Extra::default()));
    Ok(part)
}
