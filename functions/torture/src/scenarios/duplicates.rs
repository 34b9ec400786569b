//! Scenario 3: the same deterministic workload twice — once with every event delivered once, in
//! order, and once with every event delivered twice to every consumer with random delays
//! (`--duplicate-deliveries --delivery-jitter-ms 30`) — must reach the same final state:
//! statuses, payments, rooms held per night, MyPage rows and the events themselves.
//!
//! The workload is built so that its outcome does not depend on timing: phases run one after the
//! other (each concurrently inside), and within a phase no two requests compete for a room.
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use time::Date;

use super::{ANSWERED_ALL, Part, acked, api_check, settle_check};
use crate::Ctx;
use crate::api::Resp;
use crate::plan::{PlaceRef, PlaceSpec, Stay, base_date};
use crate::verify::{self, Decisions, Extra, Observed, Tracked, World};

#[derive(Debug, Clone, Copy)]
enum Action {
    Reserve(usize),
    /// Reserve, then cancel at once (races the saga; ends CUSTOMER_CANCELLED whatever the timing).
    ReserveCancel(usize),
    Cancel(usize),
    Confirm(usize),
    Reject(usize),
}

struct Workload {
    places: Vec<PlaceSpec>,
    items: Vec<Tracked>,
    /// Items whose payment and events legitimately depend on timing (cancelled at once).
    racy: Vec<bool>,
    phases: Vec<Vec<Action>>,
}

fn workload(n_places: usize) -> Workload {
    let places: Vec<PlaceSpec> = (0..n_places.max(2))
        .map(|i| PlaceSpec {
            suite_of: None,
            owner: format!("dup-owner-{i}"),
            rooms: [1, 2, 3][(i / 2) % 3],
            price: 10_000 * (i as i64 + 1),
            instant: i % 2 == 0,
        })
        .collect();
    let mut items: Vec<Tracked> = Vec::new();
    let mut racy = Vec::new();
    let mut phases: Vec<Vec<Action>> = vec![Vec::new(); 4];
    let mut add = |items: &mut Vec<Tracked>,
                   place: usize,
                   start: i64,
                   nights: i64,
                   rooms: i64,
                   expect: &str,
                   is_racy: bool| {
        let i = items.len();
        let mut t = Tracked::new(Stay {
            user: format!("dup-user-{}", i % 7),
            place,
            start,
            nights,
            rooms,
        });
        t.expect = Some(expect.to_string());
        items.push(t);
        racy.push(is_racy);
        i
    };
    // Phase 0: fill nights 0-2 and 3-5 of every place exactly.
    let mut fill: Vec<[Vec<usize>; 2]> = Vec::new();
    for (p, spec) in places.iter().enumerate() {
        let first = if spec.instant {
            "CONFIRMED"
        } else {
            "AWAITING_OWNER"
        };
        let mut blocks: [Vec<usize>; 2] = [Vec::new(), Vec::new()];
        for (b, block) in blocks.iter_mut().enumerate() {
            for _ in 0..spec.rooms {
                let i = add(&mut items, p, 3 * b as i64, 3, 1, first, false);
                phases[0].push(Action::Reserve(i));
                block.push(i);
            }
        }
        fill.push(blocks);
    }
    // Phase 1: cancels, owner decisions, refusals, cancels racing their saga.
    for (p, spec) in places.iter().enumerate() {
        let [b0, b1] = &fill[p];
        if spec.instant {
            phases[1].push(Action::Cancel(b1[0]));
            items[b1[0]].expect = Some("CANCELLED/CUSTOMER_CANCELLED".into());
        } else {
            phases[1].push(Action::Confirm(b0[0]));
            items[b0[0]].expect = Some("CONFIRMED".into());
            phases[1].push(Action::Reject(b1[0]));
            items[b1[0]].expect = Some("CANCELLED/OWNER_REJECTED".into());
            if b0.len() >= 2 {
                phases[1].push(Action::Cancel(b0[1]));
                items[b0[1]].expect = Some("CANCELLED/CUSTOMER_CANCELLED".into());
            }
        }
        // Night 1 stays full in this phase (nothing on it is cancelled) unless a cancel frees it.
        if spec.instant || b0.len() == 1 {
            let i = add(&mut items, p, 1, 1, 1, "CANCELLED/SOLD_OUT", false);
            phases[1].push(Action::Reserve(i));
        }
        let i = add(
            &mut items,
            p,
            10,
            1,
            spec.rooms + 1,
            "CANCELLED/SOLD_OUT",
            false,
        );
        phases[1].push(Action::Reserve(i));
        let i = add(
            &mut items,
            p,
            10,
            2,
            1,
            "CANCELLED/CUSTOMER_CANCELLED",
            true,
        );
        phases[1].push(Action::ReserveCancel(i));
    }
    // Phases 2 and 3 only reserve: (start, nights, rooms, expected) for an instant place and for
    // a request-to-book one.
    type Reserves = &'static [(i64, i64, i64, &'static str)];
    let reserves: [(usize, Reserves, Reserves); 2] = [
        // Phase 2: the rooms freed in phase 1 are sold again.
        (2, &[(3, 3, 1, "CONFIRMED")], &[(4, 1, 1, "AWAITING_OWNER")]),
        // Phase 3: full again.
        (
            3,
            &[(3, 1, 1, "CANCELLED/SOLD_OUT")],
            &[(3, 1, 1, "AWAITING_OWNER"), (4, 1, 1, "CANCELLED/SOLD_OUT")],
        ),
    ];
    for (phase, instant, request) in reserves {
        for (p, spec) in places.iter().enumerate() {
            let stays = if spec.instant { instant } else { request };
            for &(start, nights, rooms, expect) in stays {
                let i = add(&mut items, p, start, nights, rooms, expect, false);
                phases[phase].push(Action::Reserve(i));
            }
        }
    }
    Workload {
        places,
        items,
        racy,
        phases,
    }
}

struct RunResult {
    world: World,
    tracked: Vec<Tracked>,
    checks: Vec<crate::Check>,
}

impl RunResult {
    /// The i-th item of the workload as this run ended.
    fn observed(&self, i: usize) -> Option<&Observed> {
        self.tracked[i]
            .id
            .as_deref()
            .and_then(|id| self.world.find(id))
    }
}

async fn one_run(
    ctx: &Ctx,
    prefix: &str,
    dir: &str,
    args: Vec<String>,
    w: &Workload,
) -> Result<RunResult, String> {
    let mut checks = Vec::new();
    let rt = super::start(ctx, dir, &args).await?;
    let api = rt.api.clone();
    let base = base_date();
    let places = super::register(&api, "dup", &w.places).await?;
    let book = Arc::new(Mutex::new(w.items.clone()));
    let decisions = Arc::new(Mutex::new(Decisions::new()));
    let counts_before = api.counts();
    let mut settles = Vec::new();
    for (n, phase) in w.phases.iter().enumerate() {
        let mut set = tokio::task::JoinSet::new();
        for a in phase.iter().copied() {
            let (api, places, book, decisions) =
                (api.clone(), places.clone(), book.clone(), decisions.clone());
            set.spawn(async move {
                run_action(&api, base, &places, &book, &decisions, a).await;
            });
        }
        while set.join_next().await.is_some() {}
        let ids = acked(&book.lock().map(|b| b.clone()).unwrap_or_default());
        let s = verify::settle(
            &api,
            &places,
            &ids,
            true,
            ctx.cfg.quiet,
            ctx.cfg.settle_timeout,
        )
        .await;
        if !s.reached {
            checks.push(settle_check(&format!("{prefix} phase {n}"), &s));
        }
        settles.push(format!("{:.1}s", s.waited.as_secs_f64()));
    }
    checks.push(crate::Check::new(
        format!("{prefix}: quiescence reached after each phase"),
        checks.is_empty(),
        format!("phases settled in {}", settles.join(", ")),
    ));
    let tracked = book.lock().map(|b| b.clone()).unwrap_or_default();
    let counts = api.counts().since(counts_before);
    let world = verify::gather(&api, base, &places, &tracked).await;
    let extra = Extra {
        sampler: None,
        decisions: decisions.lock().map(|d| d.clone()).unwrap_or_default(),
        allow_awaiting: true,
        ..Extra::default()
    };
    checks.extend(verify::invariants(prefix, &world, &extra));
    // The modelled outcome of every item.
    let mut off = Vec::new();
    for (i, t) in tracked.iter().enumerate() {
        let got = world
            .find(t.id.as_deref().unwrap_or("-"))
            .map(Observed::status)
            .unwrap_or_else(|| "NOT ACCEPTED".into());
        if Some(&got) != t.expect.as_ref() {
            off.push(format!(
                "item {i} {:?} ({}): expected {}, got {got}",
                t.stay,
                t.id.as_deref().unwrap_or("-"),
                t.expect.as_deref().unwrap_or("?")
            ));
        }
    }
    let mut by: BTreeMap<String, usize> = BTreeMap::new();
    for t in &tracked {
        *by.entry(t.expect.clone().unwrap_or_default()).or_default() += 1;
    }
    checks.push(crate::Check::new(
        format!("{prefix}: every reservation reached its modelled outcome"),
        off.is_empty(),
        if off.is_empty() {
            format!(
                "{} reservations in {} phases: {}",
                tracked.len(),
                w.phases.len(),
                by.iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            format!(
                "{} off: {}",
                off.len(),
                off.iter().take(5).cloned().collect::<Vec<_>>().join("; ")
            )
        },
    ));
    checks.push(api_check(prefix, ANSWERED_ALL, &api, counts, false));
    Ok(RunResult {
        world,
        tracked,
        checks,
    })
}

async fn run_action(
    api: &crate::api::Api,
    base: Date,
    places: &[PlaceRef],
    book: &Mutex<Vec<Tracked>>,
    decisions: &Mutex<Decisions>,
    a: Action,
) {
    let item = |i: usize| book.lock().map(|b| b[i].clone()).expect("book");
    let set_id = |i: usize, r: &Resp| {
        if let Resp::Answer { status: 202, body } = r
            && let Ok(mut b) = book.lock()
        {
            b[i].id = body["reservationId"].as_str().map(str::to_string);
        }
    };
    let set_cancel = |i: usize, r: Resp| {
        if let Resp::Answer { status: 200, body } = r
            && let Ok(mut b) = book.lock()
        {
            b[i].cancel = Some(body);
        }
    };
    match a {
        Action::Reserve(i) => {
            let t = item(i);
            let r = super::reserve(api, base, places, &t.stay, Some(&format!("dup-{i}"))).await;
            set_id(i, &r);
        }
        Action::ReserveCancel(i) => {
            let t = item(i);
            let r = super::reserve(api, base, places, &t.stay, Some(&format!("dup-{i}"))).await;
            set_id(i, &r);
            if let Some(id) = item(i).id {
                let c = super::cancel(api, &t.stay.user, &id, &format!("dup-cancel-{i}")).await;
                set_cancel(i, c);
            }
        }
        Action::Cancel(i) => {
            let t = item(i);
            if let Some(id) = t.id {
                let c = super::cancel(api, &t.stay.user, &id, &format!("dup-cancel-{i}")).await;
                set_cancel(i, c);
            }
        }
        Action::Confirm(i) | Action::Reject(i) => {
            let t = item(i);
            let confirm = matches!(a, Action::Confirm(_));
            if let Some(id) = t.id {
                let r = super::decide(api, &places[t.stay.place].owner, &id, confirm).await;
                if let (Some(s), Ok(mut d)) = (r.status(), decisions.lock()) {
                    d.insert(id, (confirm, s));
                }
            }
        }
    }
}

/// What must be equal across the two runs, per item (ids differ; positions do not).
fn canonical(o: &Observed, racy: bool) -> String {
    let res = o.res.clone().unwrap_or(Value::Null);
    let pay = o.payment_status();
    let pay = if racy && pay != "CAPTURED" {
        "not kept".to_string()
    } else {
        pay
    };
    let m = o.mypage.clone().unwrap_or(Value::Null);
    let mp = m["paymentStatus"].as_str().unwrap_or("null").to_string();
    let mp = if racy && mp != "CAPTURED" {
        "not kept".to_string()
    } else {
        mp
    };
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for n in o.names() {
        *counts.entry(n).or_default() += 1;
    }
    format!(
        "{} amount {} | payment {pay} | mypage {} {} {} {} {}..{} x{} | events {}",
        o.status(),
        res["amount"],
        m["reservationStatus"],
        m["statusReason"],
        mp,
        m["amount"],
        m["checkIn"].as_str().unwrap_or("-"),
        m["checkOut"].as_str().unwrap_or("-"),
        m["rooms"],
        if racy {
            "(timing-dependent)".to_string()
        } else {
            format!("{counts:?}")
        }
    )
}

fn nights_by_offset(w: &World) -> Vec<BTreeMap<i64, i64>> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    w.nights
        .iter()
        .map(|(_, m)| {
            // A night whose rooms were all given back reads 0; one never held is absent.
            m.iter()
                .filter(|(_, h)| **h != 0)
                .filter_map(|(n, h)| {
                    Date::parse(n, &fmt)
                        .ok()
                        .map(|d| ((d - w.base).whole_days(), *h))
                })
                .collect()
        })
        .collect()
}

pub async fn run(ctx: &Ctx, prefix: &str) -> Result<Part, String> {
    let mut part = Part::default();
    let w = workload(ctx.cfg.dup_places);
    let once = format!("{prefix} [once, in order]");
    let twice = format!("{prefix} [twice, shuffled]");
    ctx.progress(format!(
        "{once}: {} reservations in {} phases",
        w.items.len(),
        w.phases.len()
    ));
    let mut a = one_run(ctx, &once, "3-once", vec!["--quiet-events".into()], &w).await?;
    let jitter = ctx.cfg.dup_jitter_ms.to_string();
    ctx.progress(format!(
        "{twice}: --duplicate-deliveries --delivery-jitter-ms {jitter}"
    ));
    let mut b = one_run(
        ctx,
        &twice,
        "3-twice",
        vec![
            "--quiet-events".into(),
            "--duplicate-deliveries".into(),
            "--delivery-jitter-ms".into(),
            jitter,
        ],
        &w,
    )
    .await?;
    part.checks.append(&mut a.checks);
    part.checks.append(&mut b.checks);

    let mut diffs = Vec::new();
    for i in 0..w.items.len() {
        let ca = a.observed(i).map(|o| canonical(o, w.racy[i]));
        let cb = b.observed(i).map(|o| canonical(o, w.racy[i]));
        if ca != cb {
            diffs.push(format!(
                "item {i}: once [{}] vs twice [{}]",
                ca.unwrap_or_default(),
                cb.unwrap_or_default()
            ));
        }
    }
    let (na, nb) = (nights_by_offset(&a.world), nights_by_offset(&b.world));
    let mut nights_compared = 0;
    for (p, (ma, mb)) in na.iter().zip(&nb).enumerate() {
        nights_compared += ma.len().max(mb.len());
        if ma != mb {
            diffs.push(format!("place {p}: held once {ma:?} vs twice {mb:?}"));
        }
    }
    let events = |wd: &World| wd.obs.iter().map(|o| o.events.len()).sum::<usize>();
    part.check(
        format!("{prefix}: duplicated and reordered deliveries give the same final state as once in order"),
        diffs.is_empty(),
        format!(
            "{} reservations compared (status, reason, amount, payment, MyPage row, event counts), {} nights of {} places; events once {} / twice {}{}",
            w.items.len(),
            nights_compared,
            w.places.len(),
            events(&a.world),
            events(&b.world),
            crate::tail_if(!diffs.is_empty(), || format!(
                "; {} differences: {}",
                diffs.len(),
                diffs.iter().take(5).cloned().collect::<Vec<_>>().join(" | ")
            ))
        ),
    );
    Ok(part)
}
