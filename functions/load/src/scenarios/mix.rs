//! `mix`: reserve and read operations interleaved by weight (`--mix reserve=1,read=4`).
//!
//! Extension point: `search` (places of a city with rooms free on every night, cheapest first)
//! does not exist in the API yet. It is parsed as a kind with its own metric so a script can ask
//! for it; a weight above 0 is refused until `Kind::Search` gets an operation in `MixOp::run`.
use std::sync::Arc;
use std::time::Duration;

use super::read::{BY_ID, BY_USER, ReadOp, prepare};
use super::reserve::ReserveOp;
use super::{ACCEPT, await_sagas, now, report};
use crate::Args;
use crate::api::Api;
use crate::driver::{self, Op};
use crate::stats::{Report, Stats};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Reserve,
    Read,
    Search,
}

/// `reserve=1,read=4` → the kinds in order, each with its weight.
fn weights(spec: &str) -> Result<Vec<(Kind, u32)>, String> {
    let mut out = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, w) = part
            .split_once('=')
            .ok_or_else(|| format!("--mix: expected name=weight, got {part}"))?;
        let kind = match name.trim() {
            "reserve" => Kind::Reserve,
            "read" => Kind::Read,
            "search" => Kind::Search,
            other => {
                return Err(format!(
                    "--mix: unknown operation {other} (reserve, read, search)"
                ));
            }
        };
        let w: u32 = w
            .trim()
            .parse()
            .map_err(|_| format!("--mix: weight of {name} must be a whole number"))?;
        if kind == Kind::Search && w > 0 {
            return Err("--mix: search does not exist in the API yet (weight must be 0)".into());
        }
        if w > 0 {
            out.push((kind, w));
        }
    }
    if out.is_empty() {
        return Err("--mix: no operation has a weight above 0".into());
    }
    Ok(out)
}

struct MixOp {
    slots: Vec<Kind>,
    reserve: Arc<ReserveOp>,
    read: ReadOp,
}

impl Op for MixOp {
    async fn run(&self, i: usize, stats: &mut Stats) {
        match self.slots[i % self.slots.len()] {
            Kind::Reserve => self.reserve.run(i, stats).await,
            Kind::Read => self.read.run(i / self.slots.len(), stats).await,
            // Refused by `weights`; an operation goes here once the API has search.
            Kind::Search => stats.error("search", "not built yet"),
        }
    }
}

pub async fn run(args: &Args, api: &Api) -> Result<Report, String> {
    let weights = weights(&args.mix)?;
    let (reserve, targets) = prepare(args, api).await?;
    let slots = weights
        .iter()
        .flat_map(|&(k, w)| std::iter::repeat_n(k, w as usize))
        .collect();
    let op = Arc::new(MixOp {
        slots,
        reserve: reserve.clone(),
        read: ReadOp {
            api: api.clone(),
            targets,
        },
    });
    let bar = driver::progress("mix", args.requests(), args.show_progress());
    let started_at = now();
    let (mut stats, took) = driver::run(op, args.pace(), args.budget(), &bar).await;
    bar.set_message("waiting for the sagas");
    let ids = reserve.taken();
    let waited = await_sagas(
        api,
        &ids,
        Duration::from_secs(args.timeout_secs),
        &mut stats,
    )
    .await;
    bar.finish_and_clear();
    waited?;
    let mut r = report(args, "mix", started_at, &stats, took);
    let secs = took.as_secs_f64().max(1e-9);
    r.derived.insert(
        "operations per second".into(),
        (stats.count(ACCEPT) + stats.count(BY_ID) + stats.count(BY_USER)) as f64 / secs,
    );
    r.notes
        .push(format!("mix {} (search: not built yet)", args.mix));
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::{Kind, weights};

    #[test]
    fn mix_weights() {
        assert_eq!(
            weights("reserve=1, read=4,search=0"),
            Ok(vec![(Kind::Reserve, 1), (Kind::Read, 4)])
        );
        assert!(weights("search=1").is_err(), "search is not built yet");
        assert!(weights("read=0").is_err());
        assert!(weights("write=1").is_err());
    }
}
