//! `read`: the customer's two reads (`GET /v1/mypages/{id}`, `GET /v1/mypages`) over reservations
//! made and finished beforehand; `get`: one fixed path, the reference run against a bare server.
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::reserve::ReserveOp;
use super::{await_sagas, measure, places};
use crate::Args;
use crate::api::Api;
use crate::driver::{self, Budget, Op, Pace};
use crate::stats::{Report, Stats};

pub const BY_ID: &str = "GET /v1/mypages/{id}";
pub const BY_USER: &str = "GET /v1/mypages (by user)";
const REFERENCE: &str = "GET --path (reference)";

pub struct ReadOp {
    pub api: Api,
    /// (user, reservation) pairs whose sagas have ended.
    pub targets: Vec<(String, String)>,
}

impl Op for ReadOp {
    async fn run(&self, i: usize, stats: &mut Stats) {
        let Some((user, id)) = self.targets.get(i % self.targets.len().max(1)) else {
            return stats.error(BY_ID, "no reservation to read");
        };
        // Alternate the two reads: by id, then the list of the same user.
        let (metric, path) = if i.is_multiple_of(2) {
            (BY_ID, format!("/v1/mypages/{id}"))
        } else {
            (BY_USER, "/v1/mypages".to_string())
        };
        let t = Instant::now();
        match self.api.get(&path, user).await {
            Ok(_) => stats.record(metric, t.elapsed()),
            Err(e) => stats.error(metric, &e),
        }
    }
}

/// Makes `args.world.setup_reservations` reservations in new places and waits for their sagas,
/// unmeasured.
pub async fn prepare(
    args: &Args,
    api: &Api,
) -> Result<(Arc<ReserveOp>, Vec<(String, String)>), String> {
    let op = Arc::new(ReserveOp::new(api, places(args, api, false).await?));
    let targets = book(args, api, &op).await?;
    Ok((op, targets))
}

/// Runs `op` for `args.world.setup_reservations` reservations and waits for their sagas; the
/// accepted ones.
pub async fn book(
    args: &Args,
    api: &Api,
    op: &Arc<ReserveOp>,
) -> Result<Vec<(String, String)>, String> {
    let n = args.world.setup_reservations.max(1);
    let bar = driver::progress("setup", Some(n), args.show_progress());
    let budget = Budget {
        total: Some(n),
        duration: None,
    };
    let (mut stats, _) =
        driver::run(op.clone(), Pace::Closed { concurrency: 16 }, budget, &bar).await;
    bar.finish_and_clear();
    let targets = op.taken();
    await_sagas(
        api,
        &targets,
        Duration::from_secs(args.load.timeout_secs),
        &mut stats,
    )
    .await?;
    if targets.is_empty() {
        return Err(format!(
            "setup: no reservation accepted ({:?})",
            stats.outcomes
        ));
    }
    Ok(targets)
}

pub async fn run(args: &Args, api: &Api) -> Result<Report, String> {
    let (_, targets) = prepare(args, api).await?;
    let op = Arc::new(ReadOp {
        api: api.clone(),
        targets,
    });
    let m = measure(args, "read", op).await;
    let mut r = m.report(args, "read");
    r.derived.insert(
        "reads per second (both kinds)".into(),
        m.per_sec(&[BY_ID, BY_USER]),
    );
    Ok(r)
}

struct GetOp {
    api: Api,
    path: String,
}

impl Op for GetOp {
    async fn run(&self, i: usize, stats: &mut Stats) {
        let t = Instant::now();
        // The same bearer header as the real reads, so both sides parse the same request.
        match self.api.get(&self.path, &format!("load-user-{i}")).await {
            Ok(_) => stats.record(REFERENCE, t.elapsed()),
            Err(e) => stats.error(REFERENCE, &e),
        }
    }
}

pub async fn get(args: &Args, api: &Api) -> Result<Report, String> {
    let op = Arc::new(GetOp {
        api: api.clone(),
        path: args.path.clone(),
    });
    let m = measure(args, "get", op).await;
    let mut r = m.report(args, "get");
    r.derived.insert(
        "reads per second (both kinds)".into(),
        m.per_sec(&[REFERENCE]),
    );
    r.notes.push(format!("GET {}{}", api.base(), args.path));
    Ok(r)
}
