//! `reserve`: many reservations as fast as they are accepted (or at `--rate`), then every saga
//! awaited and measured on the server's clock: the saga throughput.
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::{ACCEPT, measure, places, user};
use crate::Args;
use crate::api::{Api, Stay};
use crate::driver::Op;
use crate::stats::{Report, Stats};

pub struct ReserveOp {
    pub api: Api,
    pub places: Vec<String>,
    pub run: u32,
    /// The stay of request `i` over that many places (`Stay::of` or `Stay::spread`).
    pub stays: fn(usize, usize) -> Stay,
    /// Every accepted reservation, with its user, to follow up.
    pub accepted: Mutex<Vec<(String, String)>>,
}

impl ReserveOp {
    pub fn new(api: &Api, places: Vec<String>) -> Self {
        Self {
            api: api.clone(),
            places,
            run: std::process::id(),
            stays: Stay::of,
            accepted: Mutex::new(Vec::new()),
        }
    }

    pub fn taken(&self) -> Vec<(String, String)> {
        self.accepted
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }
}

impl Op for ReserveOp {
    async fn run(&self, i: usize, stats: &mut Stats) {
        let who = user(self.run, i);
        let stay = (self.stays)(i, self.places.len());
        let t = Instant::now();
        match self
            .api
            .reserve(&who, &self.places[stay.place], &stay)
            .await
        {
            Ok(id) => {
                stats.record(ACCEPT, t.elapsed());
                if let Ok(mut v) = self.accepted.lock() {
                    v.push((who, id));
                }
            }
            Err(e) => stats.error(ACCEPT, &e),
        }
    }
}

pub async fn run(args: &Args, api: &Api) -> Result<Report, String> {
    let op = Arc::new(ReserveOp::new(api, places(args, api, false).await?));
    let mut m = measure(args, "reserve", op.clone()).await;
    let (ids, span) = m.settle(args, api, &op).await?;
    let mut r = m.report(args, "reserve");
    r.derived.insert(
        "accepted per second (client clock)".into(),
        m.per_sec(&[ACCEPT]),
    );
    if let Some((first, last)) = span {
        let secs = (last - first).as_seconds_f64();
        if secs > 0.0 {
            r.derived.insert(
                "sagas per second (first placed to last final, server clock)".into(),
                ids.len() as f64 / secs,
            );
        }
    }
    Ok(r)
}
