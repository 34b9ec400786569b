//! Quiescence: waiting until no reservation moves any more before the invariants are judged.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::gather::{nights, par_map};
use super::world::status_of;
use crate::api::Api;
use crate::plan::PlaceRef;

pub struct Settled {
    pub reached: bool,
    pub waited: Duration,
    /// Reservations still moving (id, status) when it gave up.
    pub moving: Vec<(String, String)>,
}

/// Nothing at all changed for this long while some reservation is still on its way: stuck (the
/// saga retries back off to 10 s at most; a consumer's queue retries a failed event after a
/// backoff that doubles, 0.5 s first at the torture's time scale).
const STUCK: Duration = Duration::from_secs(30);

/// Messages waiting in the consumers' queues (dead-letter queues included: nothing should land
/// there), as `GET /_local/queues` counts them; unknown counts as one, so it is never quiet.
async fn queued(api: &Api) -> u64 {
    let Ok(Some(body)) = api.get("/_local/queues", None).await else {
        return 1;
    };
    body["queues"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|q| q["visible"].as_u64().unwrap_or(1) + q["hidden"].as_u64().unwrap_or(1))
        .sum()
}

/// Sagas still running although their reservation is not waiting for its owner: e.g. a step
/// retrying after its context was down, which will find the stay cancelled and compensate. The
/// starter names each execution by its reservation id.
async fn running_sagas(api: &Api, last: &BTreeMap<String, String>) -> Vec<String> {
    let ids: Vec<String> = last
        .iter()
        .filter(|(_, s)| *s != "AWAITING_OWNER")
        .map(|(id, _)| id.clone())
        .collect();
    let a = api.clone();
    par_map(ids, 16, move |id| {
        let a = a.clone();
        async move {
            let x = a.get(&format!("/_local/executions/{id}"), None).await;
            let running = matches!(x, Ok(Some(ref x)) if x["status"] == "RUNNING");
            running.then_some(id)
        }
    })
    .await
    .into_iter()
    .flatten()
    .collect()
}

/// Waits until no reservation is left PENDING/PAID (nor AWAITING_OWNER unless `allow_awaiting`)
/// and no consumer's queue holds an event, no saga runs but those awaiting an owner, and nothing
/// changed — statuses, rooms held per night,
/// the event log, the queues — for `quiet`. Gives up
/// after `timeout`, or when nothing changed for 30 s although some are still on their way.
pub async fn settle(
    api: &Api,
    places: &[PlaceRef],
    ids: &[(String, String)],
    allow_awaiting: bool,
    quiet: Duration,
    timeout: Duration,
) -> Settled {
    let started = Instant::now();
    let mut last: BTreeMap<String, String> = BTreeMap::new();
    let mut previous_signature = String::new();
    let mut stable_since = Instant::now();
    loop {
        // CANCELLED is final; CONFIRMED only changes on a customer cancel, and the workload is over.
        let todo: Vec<(String, String)> = ids
            .iter()
            .filter(|(_, id)| {
                last.get(id)
                    .is_none_or(|s| !(s.starts_with("CANCELLED") || s == "CONFIRMED"))
            })
            .cloned()
            .collect();
        let a = api.clone();
        let polled = par_map(todo, 16, move |(user, id)| {
            let a = a.clone();
            async move {
                let s = match a.get(&format!("/v1/reservations/{id}"), Some(&user)).await {
                    Ok(Some(r)) => status_of(&r),
                    Ok(None) => "MISSING".to_string(),
                    Err(e) => format!("ERROR {e}"),
                };
                (id, s)
            }
        })
        .await;
        last.extend(polled);
        let mut sig = String::new();
        for p in places {
            match nights(api, p).await {
                Ok((_, m)) => sig.push_str(&format!("{m:?}")),
                Err(e) => sig.push_str(&e),
            }
        }
        let events = api
            .get("/_local/events", None)
            .await
            .ok()
            .flatten()
            .and_then(|v| v.as_array().map(Vec::len))
            .unwrap_or(0);
        // Events waiting in a consumer's queue (a retry after a failure) are still on their way.
        let queued = queued(api).await;
        sig.push_str(&format!("{events} {queued} {last:?}"));
        let moving: Vec<(String, String)> = last
            .iter()
            .filter(|(_, s)| {
                !(s.starts_with("CANCELLED")
                    || *s == "CONFIRMED"
                    || (allow_awaiting && *s == "AWAITING_OWNER"))
            })
            .map(|(i, s)| (i.clone(), s.clone()))
            .collect();
        if sig != previous_signature {
            previous_signature = sig;
            stable_since = Instant::now();
        } else if moving.is_empty()
            && queued == 0
            && stable_since.elapsed() >= quiet
            && running_sagas(api, &last).await.is_empty()
        {
            return Settled {
                reached: true,
                waited: started.elapsed(),
                moving,
            };
        }
        if started.elapsed() > timeout || stable_since.elapsed() > STUCK {
            let mut moving = moving;
            if queued > 0 {
                moving.push(("queues".into(), format!("{queued} events still queued")));
            }
            for id in running_sagas(api, &last).await {
                moving.push((id, "saga still RUNNING".into()));
            }
            return Settled {
                reached: false,
                waited: started.elapsed(),
                moving,
            };
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
