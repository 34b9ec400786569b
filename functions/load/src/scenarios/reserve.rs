//! `reserve`: many reservations as fast as they are accepted (or at `--rate`), then every saga
//! awaited and measured on the server's clock: the saga throughput.
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{ACCEPT, await_sagas, now, places, report, user};
use crate::Args;
use crate::api::{Api, Stay};
use crate::driver::{self, Op};
use crate::stats::{Report, Stats};

pub struct ReserveOp {
    pub api: Api,
    pub places: Vec<String>,
    pub run: u32,
    /// Every accepted reservation, with its user, to follow up.
    pub accepted: Mutex<Vec<(String, String)>>,
}

impl ReserveOp {
    pub fn new(api: &Api, places: Vec<String>) -> Self {
        Self {
            api: api.clone(),
            places,
            run: std::process::id(),
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
        let stay = Stay::of(i, self.places.len());
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
    let places = places(args, api).await?;
    let op = Arc::new(ReserveOp::new(api, places));
    let bar = driver::progress("reserve", args.requests(), args.show_progress());
    let started_at = now();
    let (mut stats, took) = driver::run(op.clone(), args.pace(), args.budget(), &bar).await;
    bar.set_message("waiting for the sagas");
    let ids = op.taken();
    let span = await_sagas(
        api,
        &ids,
        Duration::from_secs(args.timeout_secs),
        &mut stats,
    )
    .await;
    bar.finish_and_clear();
    let span = span?;
    let mut r = report(args, "reserve", started_at, &stats, took);
    r.derived.insert(
        "accepted per second (client clock)".into(),
        stats.count(ACCEPT) as f64 / took.as_secs_f64().max(1e-9),
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
