//! Scenario 5: the owner side (`place` context) is down for T seconds. Reservations are still
//! accepted (202) — and cancels too — while their saga steps and event deliveries wait; once it is
//! back, all complete.
use std::collections::BTreeMap;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

use super::{Part, load::LoadPlan, settle_check};
use crate::Ctx;
use crate::plan::{PlaceSpec, Stay, base_date};
use crate::verify::{self, Decisions, Extra, status_of};

pub async fn run(ctx: &Ctx, prefix: &str) -> Result<Part, String> {
    let mut part = Part::default();
    let cfg = &ctx.cfg;
    let rt = super::start(ctx, "5-down", &["--quiet-events".into()]).await?;
    let api = rt.api.clone();
    let base = base_date();
    let specs: Vec<PlaceSpec> = (0..4)
        .map(|i| PlaceSpec {
            suite_of: None,
            owner: format!("down-owner-{i}"),
            rooms: 1000,
            price: 15_000,
            instant: i % 2 == 0,
        })
        .collect();
    let places = super::register(&api, "down", &specs).await?;
    let mut rng = StdRng::seed_from_u64(cfg.seed.wrapping_add(5));
    let count = ((cfg.down_rate * cfg.down.as_secs_f64()) as usize).max(10);
    let items: Vec<(Stay, Option<u64>)> = (0..count)
        .map(|i| {
            let start = rng.random_range(0..20);
            (
                Stay {
                    user: format!("down-user-{}", i % 25),
                    place: rng.random_range(0..places.len()),
                    start,
                    nights: rng.random_range(1..=3),
                    rooms: 1,
                },
                (i % 10 == 3).then(|| rng.random_range(0..500)),
            )
        })
        .collect();
    let plan = LoadPlan {
        places: Vec::new(),
        items,
    };
    let book = super::book_of(&plan.items);
    let counts_before = api.counts();

    api.put_faults(&json!({"down": ["place"]})).await?;
    let down_at = Instant::now();
    ctx.progress(format!(
        "{prefix}: place context down for {:.0}s; {count} reservations meanwhile",
        cfg.down.as_secs_f64()
    ));
    // Spread over the window, leaving a little of it to look at the state while still down.
    let spread = cfg.down.mul_f64(0.8);
    super::load::drive(
        &api,
        base,
        &places,
        &plan,
        "down",
        super::load::Pace {
            concurrency: cfg.concurrency,
            spread: Some(spread),
        },
        book.clone(),
    )
    .await;
    let (tracked, ids) = part.check_acked(
        &book,
        format!("{prefix}: reservations accepted (202) while the owner side is down"),
        |acked, sent| {
            format!(
                "{acked}/{} answered 202 within the {:.0}s down window; {} cancels answered 200",
                sent.len(),
                cfg.down.as_secs_f64(),
                sent.iter().filter(|t| t.cancel.is_some()).count()
            )
        },
    );
    let mut while_down: BTreeMap<String, usize> = BTreeMap::new();
    for (user, id) in &ids {
        if let Ok(Some(r)) = api.get(&format!("/v1/reservations/{id}"), Some(user)).await {
            *while_down.entry(status_of(&r)).or_default() += 1;
        }
    }
    let advanced = while_down.get("CONFIRMED").copied().unwrap_or(0)
        + while_down.get("AWAITING_OWNER").copied().unwrap_or(0);
    part.check(
        format!("{prefix}: while down, no stay got past the owner side (it really was down)"),
        advanced == 0,
        format!(
            "statuses at {:.1}s into the window: {while_down:?}",
            down_at.elapsed().as_secs_f64()
        ),
    );
    tokio::time::sleep(cfg.down.saturating_sub(down_at.elapsed())).await;
    api.put_faults(&json!({"down": []})).await?;
    let up_at = Instant::now();
    ctx.progress(format!(
        "{prefix}: place context back; waiting for completion"
    ));
    let settled = verify::settle(&api, &places, &ids, true, cfg.quiet, cfg.settle_timeout).await;
    let completed_in = up_at.elapsed().saturating_sub(cfg.quiet);
    part.checks.push(settle_check(prefix, &settled));
    let mut after: BTreeMap<String, usize> = BTreeMap::new();
    let mut wrong = Vec::new();
    for t in &tracked {
        let Some(id) = &t.id else { continue };
        let s = match api
            .get(&format!("/v1/reservations/{id}"), Some(&t.stay.user))
            .await
        {
            Ok(Some(r)) => status_of(&r),
            other => format!("{other:?}"),
        };
        *after.entry(s.clone()).or_default() += 1;
        let want = if t.cancel.is_some() {
            "CANCELLED/CUSTOMER_CANCELLED"
        } else if places[t.stay.place].instant {
            "CONFIRMED"
        } else {
            "AWAITING_OWNER"
        };
        if s != want {
            wrong.push(format!("{id}: {s}, expected {want}"));
        }
    }
    part.check(
        format!("{prefix}: all complete once it is back"),
        wrong.is_empty() && settled.reached,
        format!(
            "{after:?} about {:.1}s after the place context came back{}",
            completed_in.as_secs_f64(),
            crate::tail_if(!wrong.is_empty(), || format!(
                "; {} not: {:?}",
                wrong.len(),
                wrong.iter().take(5).collect::<Vec<_>>()
            ))
        ),
    );
    // The owners confirm what awaits them; every saga then ends.
    let mut decisions = Decisions::new();
    for t in &tracked {
        let Some(id) = &t.id else { continue };
        if !places[t.stay.place].instant && t.cancel.is_none() {
            let r = super::decide(&api, &places[t.stay.place].owner, id, true).await;
            decisions.insert(id.clone(), (true, r.status().unwrap_or(0)));
        }
    }
    let confirmed = decisions.values().filter(|(_, s)| *s == 200).count();
    part.check(
        format!("{prefix}: owners confirm the request-to-book stays afterwards"),
        confirmed == decisions.len(),
        format!("{confirmed}/{} confirms answered 200", decisions.len()),
    );
    let settled = verify::settle(&api, &places, &ids, false, cfg.quiet, cfg.settle_timeout).await;
    if !settled.reached {
        part.checks.push(settle_check(prefix, &settled));
    }
    let counts = api.counts().since(counts_before);
    let world = verify::gather(&api, base, &places, &tracked).await;
    let extra = Extra {
        sampler: None,
        decisions,
        allow_awaiting: false,
        ..Extra::default()
    };
    part.judge(prefix, &world, &extra, (&api, counts), false);
    Ok(part)
}
