//! Sampling the rooms held per night while the workload runs (the final state alone would miss
//! an overbooking that was later released).

use std::sync::Arc;
use std::time::Duration;

use crate::api::Api;
use crate::plan::PlaceRef;

/// Samples the rooms held per night of every place while the workload runs.
#[derive(Default)]
pub struct Sampler {
    pub samples: u64,
    /// Reads where held > roomCount did not survive a second read (a room count raised between
    /// the two reads of one GET).
    pub torn: u64,
    pub nights_seen: u64,
    pub over: Vec<String>,
    pub max_ratio: (i64, i64),
}

pub fn spawn_sampler(
    api: Api,
    places: Vec<PlaceRef>,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> tokio::task::JoinHandle<Sampler> {
    tokio::spawn(async move {
        let mut s = Sampler::default();
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            for p in &places {
                let path = format!("/v1/places/{}", p.id);
                if let crate::api::Resp::Answer { status: 200, body } = api
                    .call("GET", &path, Some(&p.owner), None, &[], crate::api::ONCE)
                    .await
                {
                    s.samples += 1;
                    let (rooms, nights) = super::gather::room_type_nights(&body, p);
                    for (night, held) in nights {
                        s.nights_seen += 1;
                        if held <= rooms
                            && (held * s.max_ratio.1.max(1) > s.max_ratio.0 * rooms.max(1)
                                || s.max_ratio.1 == 0)
                        {
                            s.max_ratio = (held, rooms);
                        }
                        if held > rooms && s.over.len() < 5 {
                            s.over.push(format!(
                                "{} {} {night} held {held} > {rooms}",
                                p.id, p.room_type
                            ));
                        }
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        s
    })
}
