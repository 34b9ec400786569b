//! Scenario 6: `Idempotency-Key` on `POST /v1/reservations` and on cancel. The same key gives the
//! same answer and one effect — repeated, concurrent, in flight during a SIGKILL, and after a
//! restart; the same key for another request is a conflict; keys are per caller.
use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

use super::{Part, acked, api_check, settle_check};
use crate::Ctx;
use crate::api::{Api, Resp};
use crate::plan::{PlaceRef, PlaceSpec, Stay, base_date};
use crate::verify::{self, Extra, Tracked};

const SAME_RESERVATION: [&str; 8] = [
    "reservationId",
    "userId",
    "placeId",
    "checkIn",
    "checkOut",
    "rooms",
    "amount",
    "createdAt",
];
const SAME_CANCEL: [&str; 4] = ["status", "statusReason", "version", "updatedAt"];

fn differs(a: &Value, b: &Value, fields: &[&str]) -> Vec<String> {
    fields
        .iter()
        .filter(|f| a.get(**f) != b.get(**f))
        .map(|f| format!("{f}: {} vs {}", a[*f], b[*f]))
        .collect()
}

fn answer(r: &Resp) -> (u16, Value) {
    (r.status().unwrap_or(0), r.body())
}

async fn counts(api: &Api, id: &str) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    let events = api
        .get(&format!("/_local/events?reservationId={id}"), None)
        .await
        .ok()
        .flatten()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default();
    for e in events {
        *m.entry(e["detail-type"].as_str().unwrap_or("").to_string())
            .or_default() += 1;
    }
    m
}

pub async fn run(ctx: &Ctx, prefix: &str) -> Result<Part, String> {
    let mut part = Part::default();
    let rt = super::start(ctx, "6-idempotency", &["--quiet-events".into()]).await?;
    let api = rt.api.clone();
    let base = base_date();
    let spec = PlaceSpec {
        suite_of: None,
        owner: "idem-owner".into(),
        rooms: 50,
        price: 30_000,
        instant: true,
    };
    let places: Vec<PlaceRef> = super::register(&api, "idem", std::slice::from_ref(&spec)).await?;
    // Registering the place again with the same key answers the same place.
    let again = api
        .call(
            "POST",
            "/v1/places",
            Some(&spec.owner),
            Some(&json!({"name": "idem place 0", "roomCount": spec.rooms, "nightlyPrice": spec.price, "instantBook": spec.instant})),
            &[("idempotency-key", "idem-place-0")],
            Duration::from_secs(30),
        )
        .await;
    part.check(
        format!("{prefix}: POST /v1/places repeated with its key answers the same place"),
        again.status() == Some(200) && again.body()["placeId"] == places[0].id.as_str(),
        format!(
            "repeat → {} placeId {}",
            again.status().unwrap_or(0),
            again.body()["placeId"]
        ),
    );
    let counts_before = api.counts();
    let stay = |user: &str, start: i64| Stay {
        user: user.into(),
        place: 0,
        start,
        nights: 2,
        rooms: 1,
    };
    let mut book: Vec<Tracked> = Vec::new();

    // 1. Repeated sequentially.
    let s1 = stay("ida", 1);
    let first = answer(&super::reserve(&api, base, &places, &s1, Some("trip-1")).await);
    let a = first.1["reservationId"].as_str().map(str::to_string);
    let mut diffs = Vec::new();
    for _ in 0..3 {
        let r = answer(&super::reserve(&api, base, &places, &s1, Some("trip-1")).await);
        if r.0 != 202 {
            diffs.push(format!("repeat answered {} {}", r.0, r.1));
        }
        diffs.extend(differs(&first.1, &r.1, &SAME_RESERVATION));
    }
    part.check(
        format!("{prefix}: POST /v1/reservations repeated with the same key: same answer"),
        first.0 == 202 && a.is_some() && diffs.is_empty(),
        format!(
            "first {} {}, 3 repeats: {}",
            first.0,
            a.clone().unwrap_or_default(),
            if diffs.is_empty() {
                "202, same reservation".to_string()
            } else {
                diffs.join("; ")
            }
        ),
    );
    let ia = track(&mut book, s1.clone(), "trip-1", a.clone());

    // 2. Concurrently.
    let s2 = stay("ida", 4);
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let (api, places, s2) = (api.clone(), places.clone(), s2.clone());
        set.spawn(async move {
            answer(&super::reserve(&api, base, &places, &s2, Some("trip-2")).await)
        });
    }
    let mut answers = Vec::new();
    while let Some(r) = set.join_next().await {
        answers.push(r.unwrap_or((0, Value::Null)));
    }
    let distinct: std::collections::BTreeSet<String> = answers
        .iter()
        .map(|(_, b)| b["reservationId"].as_str().unwrap_or("").to_string())
        .collect();
    let all_202 = answers.iter().all(|(s, _)| *s == 202);
    let b = distinct
        .iter()
        .next()
        .cloned()
        .filter(|_| distinct.len() == 1 && all_202);
    part.check(
        format!("{prefix}: 16 concurrent POSTs with one key: one reservation"),
        b.is_some(),
        format!(
            "statuses {:?}, distinct ids {}",
            answers
                .iter()
                .map(|(s, _)| *s)
                .collect::<std::collections::BTreeSet<_>>(),
            distinct.len()
        ),
    );
    let ib = track(&mut book, s2.clone(), "trip-2", b.clone());

    // 3. The same key for another request; 4. the same key by another caller.
    let mut other = s1.clone();
    other.nights = 3;
    let conflict = answer(&super::reserve(&api, base, &places, &other, Some("trip-1")).await);
    part.check(
        format!("{prefix}: the same key with a different request is a 409 conflict"),
        conflict.0 == 409 && conflict.1["type"] == "/problems/conflict",
        format!("{} {}", conflict.0, conflict.1["type"]),
    );
    let s3 = stay("idb", 1);
    let c_ans = answer(&super::reserve(&api, base, &places, &s3, Some("trip-1")).await);
    let c = c_ans.1["reservationId"].as_str().map(str::to_string);
    part.check(
        format!("{prefix}: keys are per caller: another user's same key is another reservation"),
        c_ans.0 == 202 && c.is_some() && c != a,
        format!("{} {}", c_ans.0, c.clone().unwrap_or_default()),
    );
    let ic = track(&mut book, s3, "trip-1", c.clone());

    let places_ref = &places;
    let settle = |book: Vec<Tracked>, api: Api| async move {
        verify::settle(
            &api,
            places_ref,
            &acked(&book),
            false,
            ctx.cfg.quiet,
            ctx.cfg.settle_timeout,
        )
        .await
    };
    let s = settle(book.clone(), api.clone()).await;
    if !s.reached {
        part.checks.push(settle_check(prefix, &s));
    }

    // 5. Cancel repeated with its key, and concurrently.
    let mut cancel_diffs = Vec::new();
    let ca = match &a {
        Some(a) => {
            let one = answer(&super::cancel(&api, "ida", a, "cancel-1").await);
            let two = answer(&super::cancel(&api, "ida", a, "cancel-1").await);
            if one.0 != 200 || two.0 != 200 {
                cancel_diffs.push(format!("answers {} and {}", one.0, two.0));
            }
            cancel_diffs.extend(differs(&one.1, &two.1, &SAME_CANCEL));
            Some(one.1)
        }
        None => None,
    };
    let cb = match &b {
        Some(b) => {
            let mut set = tokio::task::JoinSet::new();
            for _ in 0..8 {
                let (api, b) = (api.clone(), b.clone());
                set.spawn(async move { answer(&super::cancel(&api, "ida", &b, "cancel-2").await) });
            }
            let mut all = Vec::new();
            while let Some(r) = set.join_next().await {
                all.push(r.unwrap_or((0, Value::Null)));
            }
            for (s, body) in &all {
                if *s != 200 {
                    cancel_diffs.push(format!("a concurrent cancel answered {s}"));
                }
                cancel_diffs.extend(differs(&all[0].1, body, &SAME_CANCEL));
            }
            Some(all[0].1.clone())
        }
        None => None,
    };
    part.check(
        format!("{prefix}: cancel repeated (2×) and concurrent (8×) with its key: same answer"),
        cancel_diffs.is_empty() && ca.is_some() && cb.is_some(),
        if cancel_diffs.is_empty() {
            format!(
                "all 200, {} v{}",
                verify::status_of(ca.as_ref().unwrap_or(&Value::Null)),
                ca.as_ref()
                    .map(|v| v["version"].clone())
                    .unwrap_or_default()
            )
        } else {
            cancel_diffs.join("; ")
        },
    );
    book[ia].cancel = ca.clone();
    book[ib].cancel = cb.clone();
    let s = settle(book.clone(), api.clone()).await;
    if !s.reached {
        part.checks.push(settle_check(prefix, &s));
    }
    let mut before = BTreeMap::new();
    for id in [&a, &b, &c].into_iter().flatten() {
        before.insert(id.clone(), counts(&api, id).await);
    }
    let one_effect: Vec<String> = [&a, &b]
        .into_iter()
        .flatten()
        .filter_map(|id| {
            let m = &before[id];
            let n = |name: &str| m.get(name).copied().unwrap_or(0);
            // Released once: a void (before capture) or a refund (after it); a cancel that came
            // before the authorization adds a tombstone's PaymentVoided.
            let once = n("ReservationPlaced") == 1
                && n("ReservationCanceled") == 1
                && n("PaymentAuthorized") <= 1
                && n("PaymentCaptured") <= 1
                && n("PaymentRefunded") <= 1
                && n("PaymentRefunded") + n("PaymentVoided") >= 1;
            (!once).then(|| format!("{id}: {m:?}"))
        })
        .collect();
    part.check(
        format!(
            "{prefix}: one effect: one reservation, one authorization, one cancel, one release"
        ),
        one_effect.is_empty(),
        if one_effect.is_empty() {
            "ReservationPlaced, PaymentAuthorized, ReservationCanceled once each; released once"
                .to_string()
        } else {
            one_effect.join("; ")
        },
    );

    // 6. Requests in flight while the runtime is SIGKILLed, then repeated after the restart.
    // Three streams of back-to-back POSTs; the kill lands in the middle of them.
    let inflight: Vec<(Stay, String)> = (0..24)
        .map(|k| (stay("ida", 10 + k % 12), format!("trip-3-{k}")))
        .collect();
    let mut set = tokio::task::JoinSet::new();
    for stream in inflight.chunks(8).map(<[_]>::to_vec) {
        let (api, places) = (api.clone(), places.clone());
        set.spawn(async move {
            let mut cut = 0;
            for (s, key) in stream {
                let r = super::reserve_once(&api, base, &places, &s, &key).await;
                if r.status() != Some(202) {
                    cut += 1;
                }
            }
            cut
        });
    }
    tokio::time::sleep(Duration::from_millis(8)).await;
    let restarted = rt.restart().await;
    let mut cut = 0;
    while let Some(r) = set.join_next().await {
        cut += r.unwrap_or(0);
    }
    part.check(
        format!("{prefix}: the runtime was SIGKILLed with requests in flight and restarted"),
        restarted.is_ok(),
        format!(
            "{cut} of {} POSTs sent back-to-back around the kill got no answer; {restarted:?}",
            inflight.len()
        ),
    );
    let mut after_diffs = Vec::new();
    let mut inflight_ids = Vec::new();
    for (s, key) in &inflight {
        let r = answer(&super::reserve(&api, base, &places, s, Some(key)).await);
        let id = r.1["reservationId"].as_str().map(str::to_string);
        if r.0 != 202 || id.is_none() {
            after_diffs.push(format!("{key} after restart: {} {}", r.0, r.1));
        }
        inflight_ids.push(track(&mut book, s.clone(), key, id));
    }
    // The earlier keys, after the restart.
    let r = answer(&super::reserve(&api, base, &places, &s1, Some("trip-1")).await);
    if r.0 != 202 {
        after_diffs.push(format!("trip-1 after restart: {}", r.0));
    }
    after_diffs.extend(
        differs(&first.1, &r.1, &SAME_RESERVATION)
            .into_iter()
            .map(|d| format!("trip-1 after restart: {d}")),
    );
    let r = answer(&super::reserve(&api, base, &places, &s2, Some("trip-2")).await);
    if r.1["reservationId"].as_str() != b.as_deref() {
        after_diffs.push(format!(
            "trip-2 after restart: {} {}",
            r.0, r.1["reservationId"]
        ));
    }
    if let (Some(a), Some(ca)) = (&a, &ca) {
        let again = answer(&super::cancel(&api, "ida", a, "cancel-1").await);
        if again.0 != 200 {
            after_diffs.push(format!("cancel-1 after restart: {}", again.0));
        }
        after_diffs.extend(
            differs(ca, &again.1, &SAME_CANCEL)
                .into_iter()
                .map(|d| format!("cancel-1 after restart: {d}")),
        );
    }
    let s = settle(book.clone(), api.clone()).await;
    if !s.reached {
        part.checks.push(settle_check(prefix, &s));
    }
    for (id, m) in &before {
        let now = counts(&api, id).await;
        if &now != m {
            after_diffs.push(format!(
                "{id}: events {m:?} before the restart, {now:?} after"
            ));
        }
    }
    for i in &inflight_ids {
        if let Some(id) = &book[*i].id {
            let m = counts(&api, id).await;
            if m.get("ReservationPlaced").copied().unwrap_or(0) != 1 {
                after_diffs.push(format!("{id} (in flight at the kill): {m:?}"));
            }
        }
    }
    part.check(
        format!("{prefix}: across a restart: same answers, no new effect; in-flight keys give one reservation each"),
        after_diffs.is_empty(),
        if after_diffs.is_empty() {
            format!(
                "trip-1, trip-2, cancel-1 answered as before; event counts unchanged; {} in-flight keys → {} reservations, one ReservationPlaced each",
                inflight.len(),
                inflight_ids.iter().filter(|i| book[**i].id.is_some()).count()
            )
        } else {
            after_diffs.join("; ")
        },
    );
    let _ = ic;
    let counts_now = api.counts().since(counts_before);
    let world = verify::gather(&api, base, &places, &book).await;
    part.checks
        .extend(verify::invariants(prefix, &world, &Extra::default()));
    part.checks.push(api_check(
        prefix,
        "no 5xx, no timeouts",
        &api,
        counts_now,
        true,
    ));
    Ok(part)
}

fn track(book: &mut Vec<Tracked>, s: Stay, key: &str, id: Option<String>) -> usize {
    let mut t = Tracked::new(s);
    t.key = Some(key.into());
    t.id = id;
    book.push(t);
    book.len() - 1
}
