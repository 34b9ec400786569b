//! Scenario 7: the seed facade under concurrency. A few seed places with little stock are
//! registered and, at once (no waiting for the catalogue copy), many anonymous clients book
//! overlapping stays through `POST /accommodations`. Every booking is accepted (201) with its own
//! order number, none gets a 5xx; each order ends confirmed or cancelled; no night holds more
//! rooms than its stock; and an order is cancelled only when one of its nights really is sold out.
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use super::{Part, api_check};
use crate::Ctx;
use crate::api::{Api, ONCE, Resp};
use crate::plan::{base_date, night};

/// The seed's labels of a settled order.
const CONFIRMED: &str = "예약완료";
const CANCELLED: &str = "예약취소";
const REFUNDED: &str = "결제취소";

/// One booking a client makes: place index, first night, nights, rooms.
#[derive(Debug, Clone)]
struct Booking {
    usr: String,
    place: usize,
    start: i64,
    nights: i64,
    qty: i64,
    amount: i64,
}

/// What the facade answered a booking.
#[derive(Debug, Clone)]
struct Placed {
    booking: Booking,
    order: Option<i64>,
    status: u16,
    body: Value,
}

fn yyyymmdd(d: &str) -> String {
    d.replace('-', "")
}

pub async fn run(ctx: &Ctx, prefix: &str) -> Result<Part, String> {
    let mut part = Part::default();
    let cfg = &ctx.cfg;
    let rt = super::start(ctx, "7-seed", &["--quiet-events".into()]).await?;
    let api = rt.api.clone();
    let counts_before = api.counts();
    let base = base_date();
    let stocks: Vec<i64> = vec![2, 3, 4];
    let clients = cfg.concurrency.max(32);
    let per_client = 3;
    let mut rng = StdRng::seed_from_u64(cfg.seed.wrapping_add(7));
    let plans: Vec<Vec<Booking>> = (0..clients)
        .map(|c| {
            (0..per_client)
                .map(|_| Booking {
                    usr: format!("c{c}"),
                    place: rng.random_range(0..stocks.len()),
                    start: rng.random_range(0..6),
                    nights: rng.random_range(1..=3),
                    qty: rng.random_range(1..=2),
                    amount: rng.random_range(1..=100) * 1_000,
                })
                .collect()
        })
        .collect();
    let places: Vec<String> = (0..stocks.len()).map(|i| format!("t{i}")).collect();
    for (id, stock) in places.iter().zip(&stocks) {
        let body = json!({"placeId": id, "stock": stock.to_string()});
        let r = post_once(&api, "/reservationManagements", &body).await;
        if !matches!(r.status(), Some(200 | 201)) {
            return Err(format!("registering seed place {id}: {r:?}"));
        }
    }
    ctx.progress(format!(
        "{prefix}: {clients} clients × {per_client} bookings on {} seed places",
        places.len()
    ));

    // Every client at once, right after the registrations.
    let placed = Arc::new(Mutex::new(Vec::<Placed>::new()));
    let tasks: Vec<_> = plans
        .into_iter()
        .map(|plan| {
            let (api, placed, places) = (api.clone(), placed.clone(), places.clone());
            tokio::spawn(async move {
                for b in plan {
                    let body = json!({
                        "placeNm": "torture", "status": "예약처리", "usrId": b.usr,
                        "strDt": yyyymmdd(&night(base, b.start)),
                        "endDt": yyyymmdd(&night(base, b.start + b.nights)),
                        "qty": b.qty.to_string(), "amount": b.amount.to_string(),
                        "placeId": places[b.place],
                    });
                    // One attempt: a retry would hide exactly the errors this scenario looks for.
                    let r = post_once(&api, "/accommodations", &body).await;
                    let (status, body) = match &r {
                        Resp::Answer { status, body } => (*status, body.clone()),
                        _ => (0, Value::Null),
                    };
                    let order = (status == 201).then(|| body["orderId"].as_i64()).flatten();
                    placed.lock().await.push(Placed {
                        booking: b,
                        order,
                        status,
                        body,
                    });
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.map_err(|e| format!("client task: {e}"))?;
    }
    let placed = placed.lock().await.clone();

    let refused: Vec<&Placed> = placed.iter().filter(|p| p.order.is_none()).collect();
    let orders: BTreeSet<i64> = placed.iter().filter_map(|p| p.order).collect();
    let accepted = placed.len() - refused.len();
    part.check(
        format!("{prefix}: every booking accepted with its own order number"),
        refused.is_empty() && orders.len() == accepted,
        format!(
            "{accepted} of {} accepted, {} distinct order numbers{}",
            placed.len(),
            orders.len(),
            refused
                .first()
                .map(|p| format!("; e.g. {} {}", p.status, p.body))
                .unwrap_or_default()
        ),
    );

    // Wait until every order is settled (confirmed, or cancelled and refunded).
    let started = Instant::now();
    let mut rows: BTreeMap<i64, Value> = BTreeMap::new();
    let mut open: Vec<i64> = orders.iter().copied().collect();
    while !open.is_empty() && started.elapsed() < cfg.settle_timeout {
        let mut still = Vec::new();
        for id in open {
            match api.get(&format!("/mypages/{id}"), None).await? {
                Some(row)
                    if row["status"] == CONFIRMED
                        || (row["status"] == CANCELLED && row["payStatus"] == REFUNDED) =>
                {
                    rows.insert(id, row);
                }
                _ => still.push(id),
            }
        }
        open = still;
        if !open.is_empty() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    part.check(
        format!("{prefix}: every order settled"),
        open.is_empty(),
        format!(
            "{} confirmed, {} cancelled in {:.1}s{}",
            rows.values().filter(|r| r["status"] == CONFIRMED).count(),
            rows.values().filter(|r| r["status"] == CANCELLED).count(),
            started.elapsed().as_secs_f64(),
            open.first()
                .map(|id| format!("; still open: {} (e.g. order {id})", open.len()))
                .unwrap_or_default()
        ),
    );

    // The facade answers what it was told.
    let by_order: BTreeMap<i64, &Booking> = placed
        .iter()
        .filter_map(|p| p.order.map(|o| (o, &p.booking)))
        .collect();
    let wrong: Vec<String> = rows
        .iter()
        .filter_map(|(id, row)| {
            let b = by_order.get(id)?;
            let same = row["usrId"] == b.usr.as_str()
                && row["placeId"] == places[b.place].as_str()
                && row["amount"] == b.amount
                && row["qty"] == b.qty;
            (!same).then(|| format!("order {id}: {row}"))
        })
        .collect();
    part.check(
        format!("{prefix}: each order shows its own user, place, rooms and amount"),
        wrong.is_empty(),
        wrong
            .first()
            .cloned()
            .unwrap_or_else(|| format!("{} orders", rows.len())),
    );

    // Rooms confirmed per (place, night).
    let mut held: BTreeMap<(usize, i64), i64> = BTreeMap::new();
    for (id, row) in &rows {
        if let (Some(b), true) = (by_order.get(id), row["status"] == CONFIRMED) {
            for n in b.start..b.start + b.nights {
                *held.entry((b.place, n)).or_default() += b.qty;
            }
        }
    }
    let over: Vec<String> = held
        .iter()
        .filter(|((p, _), h)| **h > stocks[*p])
        .map(|((p, n), h)| {
            format!(
                "{} night {}: {h} > {}",
                places[*p],
                night(base, *n),
                stocks[*p]
            )
        })
        .collect();
    part.check(
        format!("{prefix}: no night above its stock"),
        over.is_empty(),
        over.first()
            .cloned()
            .unwrap_or_else(|| format!("{} nights booked", held.len())),
    );
    // Nothing releases a night here, so a night that was full when an order was refused is still
    // full: a cancelled order must have a night its rooms no longer fit into.
    let spurious: Vec<String> = rows
        .iter()
        .filter(|(_, row)| row["status"] == CANCELLED)
        .filter_map(|(id, _)| {
            let b = by_order.get(id)?;
            let sold_out = (b.start..b.start + b.nights)
                .any(|n| held.get(&(b.place, n)).copied().unwrap_or(0) + b.qty > stocks[b.place]);
            (!sold_out).then(|| format!("order {id} ({b:?})"))
        })
        .collect();
    part.check(
        format!("{prefix}: an order is cancelled only when its nights are sold out"),
        spurious.is_empty(),
        spurious
            .first()
            .cloned()
            .unwrap_or_else(|| "every cancelled order had a full night".into()),
    );
    part.checks.push(api_check(
        prefix,
        "the API answered every request",
        &api,
        api.counts().since(counts_before),
        false,
    ));
    part.notes.push(format!(
        "{} bookings by {clients} clients, {} orders",
        placed.len(),
        orders.len()
    ));
    drop(rt);
    Ok(part)
}

/// An anonymous `POST`, sent once.
async fn post_once(api: &Api, path: &str, body: &Value) -> Resp {
    api.call("POST", path, None, Some(body), &[], ONCE).await
}
