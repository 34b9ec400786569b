//! `seed-follow`: the seed's own walkthrough as a measurement. `POST /accommodations`, then
//! `GET /mypages/{orderId}` until it shows 예약완료 (or 예약취소): the seed's trace took 595 ms
//! from ReservationPlaced to ReservationStatusChanged.
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::measure;
use crate::Args;
use crate::api::{Api, Stay};
use crate::driver::Op;
use crate::stats::{Report, Stats};

const ACCEPT: &str = "POST /accommodations (client)";
const FOLLOW: &str = "accommodations -> mypage final (client)";

struct SeedOp {
    api: Api,
    places: Vec<String>,
    poll: Duration,
    timeout: Duration,
}

impl Op for SeedOp {
    async fn run(&self, i: usize, stats: &mut Stats) {
        let stay = Stay::of(i, self.places.len());
        let t = Instant::now();
        let user = format!("bench{i}");
        let order = match self
            .api
            .seed_reserve(&self.places[stay.place], &user, &stay)
            .await
        {
            Ok(id) => id,
            Err(e) => return stats.error(ACCEPT, &e),
        };
        stats.record(ACCEPT, t.elapsed());
        let deadline = Instant::now() + self.timeout;
        loop {
            match self.api.seed_mypage(&order).await {
                Ok(Some(row)) => {
                    let label = row["status"].as_str().unwrap_or_default();
                    if label == "예약완료" || label == "예약취소" {
                        stats.record(FOLLOW, t.elapsed());
                        return stats.outcome(label);
                    }
                }
                Ok(None) => {}
                Err(e) => stats.error("GET /mypages/{id}", &e),
            }
            if Instant::now() > deadline {
                return stats.error(FOLLOW, "not final within the timeout");
            }
            if !self.poll.is_zero() {
                tokio::time::sleep(self.poll).await;
            }
        }
    }
}

pub async fn run(args: &Args, api: &Api) -> Result<Report, String> {
    let mut places = Vec::new();
    for k in 0..args.places() {
        let id = format!("bench-{}-{k}", std::process::id());
        api.seed_place(&id, args.world.rooms).await?;
        places.push(id);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let op = Arc::new(SeedOp {
        api: api.clone(),
        places,
        poll: Duration::from_millis(args.poll_ms()),
        timeout: Duration::from_secs(args.load.timeout_secs),
    });
    let mut r = measure(args, "seed-follow", op)
        .await
        .report(args, "seed-follow");
    r.notes.push(
        "the seed's published figure: 595 ms from ReservationPlaced to ReservationStatusChanged (its Kafka trace)"
            .into(),
    );
    r.notes.push(format!(
        "the client reads GET /mypages/{{id}} every {} ms until it is final",
        args.poll_ms()
    ));
    Ok(r)
}
