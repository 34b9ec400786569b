//! Rooms: never more held than a place has, held counts that match the stays, refusals only
//! when there was no room, and room-count changes that finish.

use std::collections::{BTreeMap, BTreeSet};

use time::OffsetDateTime;

use super::Case;
use crate::Check;

/// No night of any (place, room type) above its room count (final state, and sampled during the
/// run).
pub(super) fn no_night_above_its_room_count(c: &Case<'_>) -> Check {
    let w = c.w;
    let mut over = Vec::new();
    let mut nights_total = 0;
    let mut max = (0i64, 1i64);
    for (i, (rooms, m)) in w.nights.iter().enumerate() {
        for (n, held) in m {
            nights_total += 1;
            if held * max.1 > max.0 * rooms.max(&1) {
                max = (*held, *rooms);
            }
            if held > rooms || *held < 0 {
                over.push(format!(
                    "place {} {} night {n}: held {held} of {rooms}",
                    w.places[i].id, w.places[i].room_type
                ));
            }
        }
    }
    let mut figures = format!(
        "{nights_total} nights of {} (place, room type) inventories, fullest {}/{} rooms",
        w.places.len(),
        max.0,
        max.1
    );
    if let Some(s) = &c.extra.sampler {
        over.extend(s.over.iter().cloned());
        figures.push_str(&format!(
            "; {} place reads ({} night samples) during the run, fullest {}/{}{}",
            s.samples,
            s.nights_seen,
            s.max_ratio.0,
            s.max_ratio.1,
            if s.torn > 0 {
                format!(" ({} torn reads not confirmed by a re-read)", s.torn)
            } else {
                String::new()
            }
        ));
    }
    c.verdict("no night above its room count", &over, figures)
}

/// Rooms held per night == rooms of the CONFIRMED and AWAITING_OWNER stays on it.
pub(super) fn held_equals_confirmed_and_awaiting_stays(c: &Case<'_>) -> Check {
    let (w, obs) = (c.w, &c.found);
    let mut expected: Vec<BTreeMap<String, i64>> = vec![BTreeMap::new(); w.places.len()];
    for o in obs {
        let s = o.status();
        if s == "CONFIRMED" || s == "AWAITING_OWNER" {
            for n in o.t.stay.night_names(w.base) {
                *expected[o.t.stay.place].entry(n).or_default() += o.t.stay.rooms;
            }
        }
    }
    let mut wrong = Vec::new();
    let mut compared = 0;
    for (i, (_, held)) in w.nights.iter().enumerate() {
        let keys: BTreeSet<&String> = held.keys().chain(expected[i].keys()).collect();
        for k in keys {
            compared += 1;
            let h = held.get(k).copied().unwrap_or(0);
            let e = expected[i].get(k).copied().unwrap_or(0);
            if h != e {
                let on: Vec<String> = obs
                    .iter()
                    .filter(|o| o.t.stay.place == i && o.t.stay.night_names(w.base).contains(k))
                    .map(|o| format!("{}={}", o.id, o.status()))
                    .collect();
                wrong.push(format!(
                    "place {} {} night {k}: held {h}, stays say {e} [{}]",
                    w.places[i].id,
                    w.places[i].room_type,
                    on.join(" ")
                ));
            }
        }
    }
    let held_total: i64 = w.nights.iter().flat_map(|(_, m)| m.values()).sum();
    c.verdict(
        "rooms held per night = rooms of CONFIRMED + AWAITING_OWNER stays",
        &wrong,
        format!("{compared} nights compared, {held_total} room-nights held"),
    )
}

/// "No stay refused while each of its nights had room", judged only where it is provable: a
/// SOLD_OUT stay was tried after it was PAID. Since then a night's held count can only have
/// dropped through a release, so at the attempt it was at most `final + rooms released later`.
/// Releases that certainly came earlier (an owner's reject or timeout, committed with its event,
/// well before PAID) are left out; customer cancels release later, asynchronously, so they
/// always count as possibly later. If even that upper bound leaves room on every night, the
/// refusal was wrong.
pub(super) fn no_sold_out_while_there_was_room(c: &Case<'_>) -> Check {
    let (w, obs, floor) = (c.w, &c.found, &c.extra.capacity_floor);
    let margin = time::Duration::milliseconds(1000);
    struct Release {
        place: usize,
        nights: Vec<String>,
        rooms: i64,
        /// When it certainly happened (owner reject / timeout); None: unknown.
        at: Option<OffsetDateTime>,
    }
    let mut releases = Vec::new();
    for o in obs {
        let s = o.status();
        let reason = s.strip_prefix("CANCELLED/").unwrap_or("");
        if !matches!(
            reason,
            "CUSTOMER_CANCELLED" | "OWNER_REJECTED" | "OWNER_TIMEOUT" | "SYSTEM_ERROR"
        ) {
            continue;
        }
        // A system error's compensation releases whenever the failing step gave up.
        let at = if matches!(reason, "CUSTOMER_CANCELLED" | "SYSTEM_ERROR") {
            None
        } else {
            o.first_time(|e| e["detail-type"] == "ReservationCancelConfirmed")
        };
        releases.push(Release {
            place: o.t.stay.place,
            nights: o.t.stay.night_names(w.base),
            rooms: o.t.stay.rooms,
            at,
        });
    }
    let mut wrong = Vec::new();
    let (mut refused, mut exact) = (0, 0);
    for o in obs.iter().filter(|o| o.status() == "CANCELLED/SOLD_OUT") {
        refused += 1;
        let paid = o
            .first_time(|e| {
                e["detail-type"] == "ReservationStatusChanged" && e["detail"]["status"] == "PAID"
            })
            .or_else(|| o.first_time(|e| e["detail-type"] == "PaymentAuthorized"));
        let (final_rooms, held) = &w.nights[o.t.stay.place];
        let rooms = &floor
            .get(&o.t.stay.place)
            .map_or(*final_rooms, |f| (*f).min(*final_rooms));
        let mut room_everywhere = true;
        let mut released_any = false;
        let mut figures = Vec::new();
        for n in o.t.stay.night_names(w.base) {
            let h = held.get(&n).copied().unwrap_or(0);
            let maybe: i64 = releases
                .iter()
                .filter(|r| r.place == o.t.stay.place && r.nights.contains(&n))
                .filter(|r| match (r.at, paid) {
                    (Some(at), Some(paid)) => at + margin >= paid,
                    _ => true,
                })
                .map(|r| r.rooms)
                .sum();
            released_any |= maybe > 0;
            figures.push(format!("{n}: held ≤{}", h + maybe));
            if h + maybe + o.t.stay.rooms > *rooms {
                room_everywhere = false;
            }
        }
        if !released_any {
            exact += 1;
        }
        if room_everywhere {
            wrong.push(format!(
                "{} ({} rooms of {rooms}) refused SOLD_OUT although at its attempt {}",
                o.id,
                o.t.stay.rooms,
                figures.join(", ")
            ));
        }
    }
    c.verdict(
        "no stay refused SOLD_OUT while each of its nights had room",
        &wrong,
        format!(
            "{refused} SOLD_OUT refusals judged against final holds + rooms possibly released since ({} releases){}; {exact} on nights that never had a release",
            releases.len(),
            crate::tail_if(!floor.is_empty(), || format!(
                ", on {} resized places against the lowest room count ever set",
                floor.len()
            ))
        ),
    )
}

/// A room-count change never leaves its cap behind.
pub(super) fn no_room_count_cap_left_behind(c: &Case<'_>) -> Check {
    let w = c.w;
    let stale: Vec<String> = w
        .pending
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            p.map(|p| {
                format!(
                    "place {} room type {} still has pendingRoomCounts {p} (roomCount {}): new holds are capped below the room count",
                    w.places[i].id, w.places[i].room_type, w.nights[i].0
                )
            })
        })
        .collect();
    c.verdict(
        "no room-count change left a cap behind (no pendingRoomCounts after quiescence)",
        &stale,
        c.extra
            .resizes
            .clone()
            .unwrap_or_else(|| "no room-count changes in this run".into()),
    )
}
