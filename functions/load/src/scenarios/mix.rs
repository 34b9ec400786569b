//! `mix`: reserve, read and search operations interleaved by weight
//! (`--mix reserve=1,read=4,search=1`). Searches look for stays in the cities of the places the
//! reservations go to (`--places` over `--cities`).
use std::sync::Arc;

use super::read::{BY_ID, BY_USER, ReadOp, prepare};
use super::reserve::ReserveOp;
use super::search::{self, SEARCH, SearchOp};
use super::{ACCEPT, measure};
use crate::Args;
use crate::api::Api;
use crate::driver::Op;
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
    search: SearchOp,
}

impl Op for MixOp {
    async fn run(&self, i: usize, stats: &mut Stats) {
        match self.slots[i % self.slots.len()] {
            Kind::Reserve => self.reserve.run(i, stats).await,
            Kind::Read => self.read.run(i / self.slots.len(), stats).await,
            Kind::Search => self.search.run(i, stats).await,
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
        search: SearchOp {
            api: api.clone(),
            cities: args.world.cities,
        },
    });
    let mut m = measure(args, "mix", op).await;
    m.settle(args, api, &reserve).await?;
    let mut r = m.report(args, "mix");
    r.derived.insert(
        "operations per second".into(),
        m.per_sec(&[ACCEPT, BY_ID, BY_USER, SEARCH]),
    );
    search::derive(&mut r, &m.stats);
    r.notes.push(format!("mix {}", args.mix));
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
        assert_eq!(
            weights("reserve=1,read=4,search=1"),
            Ok(vec![(Kind::Reserve, 1), (Kind::Read, 4), (Kind::Search, 1)])
        );
        assert!(weights("read=0").is_err());
        assert!(weights("write=1").is_err());
    }
}
