//! Reading, after quiescence, everything the invariants need.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use time::Date;

use super::views::mypage_diff;
use super::world::{Observed, Tracked, World, st};
use crate::api::Api;
use crate::plan::PlaceRef;

/// Runs `f` over `items` with at most `limit` in flight; results in input order.
pub async fn par_map<T, R, F, Fut>(items: Vec<T>, limit: usize, f: F) -> Vec<R>
where
    T: Send + 'static,
    R: Send + 'static,
    F: Fn(T) -> Fut,
    Fut: Future<Output = R> + Send + 'static,
{
    let sem = Arc::new(tokio::sync::Semaphore::new(limit.max(1)));
    let mut set = tokio::task::JoinSet::new();
    let n = items.len();
    for (i, item) in items.into_iter().enumerate() {
        let sem = sem.clone();
        let fut = f(item);
        set.spawn(async move {
            let _permit = sem.acquire_owned().await;
            (i, fut.await)
        });
    }
    let mut out: Vec<Option<R>> = (0..n).map(|_| None).collect();
    while let Some(r) = set.join_next().await {
        if let Ok((i, v)) = r {
            out[i] = Some(v);
        }
    }
    out.into_iter()
        .map(|o| o.expect("every task completes"))
        .collect()
}

/// Rooms of `p`'s room type held per night, from `GET /v1/places/{id}` (with its room count).
pub async fn nights(api: &Api, p: &PlaceRef) -> Result<(i64, BTreeMap<String, i64>), String> {
    let body = api
        .get(&format!("/v1/places/{}", p.id), Some(&p.owner))
        .await?
        .ok_or_else(|| format!("place {} not found", p.id))?;
    Ok(room_type_nights(&body, p))
}

/// Of a `GET /v1/places/{id}` answer: the room count of `p`'s room type and its rooms held per
/// night.
pub fn room_type_nights(body: &Value, p: &PlaceRef) -> (i64, BTreeMap<String, i64>) {
    let rooms = body["place"]["roomTypes"]
        .as_array()
        .and_then(|types| {
            types
                .iter()
                .find(|t| t["roomTypeId"] == p.room_type.as_str())
        })
        .and_then(|t| t["roomCount"].as_i64())
        .unwrap_or(p.rooms);
    let mut map = BTreeMap::new();
    for n in body["nights"].as_array().cloned().unwrap_or_default() {
        if n["roomTypeId"] == p.room_type.as_str() {
            map.insert(st(&n, "night"), n["held"].as_i64().unwrap_or(0));
        }
    }
    (rooms, map)
}

/// The lower count of `room_type` a room-count change is applying, if one is.
pub fn pending_count(body: &Value, room_type: &str) -> Option<i64> {
    body["place"]["pendingRoomCounts"][room_type].as_i64()
}

/// Reads everything the invariants need. MyPage rows are re-read for a few seconds while they
/// differ from their reservation (views are eventually consistent); what remains is a finding.
pub async fn gather(api: &Api, base: Date, places: &[PlaceRef], tracked: &[Tracked]) -> World {
    let errors = Arc::new(Mutex::new(Vec::<String>::new()));
    let items: Vec<Tracked> = tracked.iter().filter(|t| t.id.is_some()).cloned().collect();
    let (a, errs) = (api.clone(), errors.clone());
    let obs = par_map(items, 16, move |t| {
        let (api, errs) = (a.clone(), errs.clone());
        async move {
            let id = t.id.clone().unwrap_or_default();
            let user = t.stay.user.clone();
            // A read that fails is noted (a finding) and counts as absent.
            let read = async |path: String, user: Option<&str>| {
                api.get(&path, user).await.unwrap_or_else(|e| {
                    if let Ok(mut v) = errs.lock() {
                        v.push(e);
                    }
                    None
                })
            };
            let res = read(format!("/v1/reservations/{id}"), Some(&user)).await;
            let payment = read(format!("/v1/reservations/{id}/payment"), Some(&user)).await;
            let mut mypage = None;
            for attempt in 0..20 {
                mypage = read(format!("/v1/mypages/{id}"), Some(&user)).await;
                match &res {
                    Some(r) if !mypage_diff(r, payment.as_ref(), mypage.as_ref()).is_empty() => {
                        if attempt < 19 {
                            tokio::time::sleep(Duration::from_millis(250)).await;
                        }
                    }
                    _ => break,
                }
            }
            let events = read(format!("/_local/events?reservationId={id}"), None)
                .await
                .and_then(|v| v.as_array().cloned())
                .unwrap_or_default();
            // The saga's starter names its execution by the reservation id.
            let execution = match events
                .iter()
                .find(|e| e["detail-type"] == "ReservationPlaced")
                .map(|e| st(&e["detail"], "reservationId"))
            {
                Some(name) => read(format!("/_local/executions/{name}"), None).await,
                None => None,
            };
            Observed {
                id,
                t,
                res,
                payment,
                mypage,
                events,
                execution,
            }
        }
    })
    .await;
    let mut nights_out = Vec::new();
    let mut owner_rows = Vec::new();
    let mut pending = Vec::new();
    for p in places {
        pending.push(
            api.get(&format!("/v1/places/{}", p.id), Some(&p.owner))
                .await
                .ok()
                .flatten()
                .and_then(|b| pending_count(&b, &p.room_type)),
        );
        match nights(api, p).await {
            Ok(n) => nights_out.push(n),
            Err(e) => {
                errors.lock().expect("errors").push(e);
                nights_out.push((p.rooms, BTreeMap::new()));
            }
        }
        let rows = api
            .get(
                &format!("/v1/owner/reservations?placeId={}", p.id),
                Some(&p.owner),
            )
            .await
            .ok()
            .flatten()
            .and_then(|v| v["items"].as_array().cloned())
            .unwrap_or_default();
        owner_rows.push(rows);
    }
    let users: BTreeSet<String> = tracked.iter().map(|t| t.stay.user.clone()).collect();
    let a = api.clone();
    let per_user = par_map(users.into_iter().collect(), 16, move |u: String| {
        let a = a.clone();
        async move {
            let list = a
                .get("/v1/mypages", Some(&u))
                .await
                .ok()
                .flatten()
                .and_then(|v| v["items"].as_array().cloned())
                .unwrap_or_default();
            let points = a
                .get("/v1/loyalty", Some(&u))
                .await
                .ok()
                .flatten()
                .and_then(|v| v["points"].as_i64())
                .unwrap_or(0);
            (u, list, points)
        }
    })
    .await;
    let mut lists = BTreeMap::new();
    let mut loyalty = BTreeMap::new();
    for (u, l, p) in per_user {
        lists.insert(u.clone(), l);
        loyalty.insert(u, p);
    }
    let errors = errors.lock().map(|e| e.clone()).unwrap_or_default();
    World {
        base,
        places: places.to_vec(),
        nights: nights_out,
        obs,
        lists,
        owner_rows,
        loyalty,
        pending,
        errors,
    }
}
