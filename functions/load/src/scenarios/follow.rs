//! `follow`: each client reserves and then reads its MyPage row until the saga is final, as a
//! customer watching the page would; `breaker`: the same under the seed's slow payment.
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{ACCEPT, FOLLOW, SAGA_SERVER, is_final, measure, outcome, places, server_saga, user};
use crate::Args;
use crate::api::{Api, Stay};
use crate::driver::Op;
use crate::stats::{Report, Stats};

struct FollowOp {
    api: Api,
    places: Vec<String>,
    run: u32,
    poll: Duration,
    timeout: Duration,
}

impl FollowOp {
    /// Reads the row until it is final; `None` if it is not within the timeout.
    async fn until_final(&self, who: &str, id: &str, stats: &mut Stats) -> Option<Value> {
        let deadline = Instant::now() + self.timeout;
        loop {
            match self.api.mypage(who, id).await {
                Ok(Some(row)) if is_final(row["reservationStatus"].as_str().unwrap_or("")) => {
                    return Some(row);
                }
                Ok(_) => {}
                Err(e) => stats.error("GET /v1/mypages/{id} (follow)", &e),
            }
            if Instant::now() > deadline {
                return None;
            }
            if !self.poll.is_zero() {
                tokio::time::sleep(self.poll).await;
            }
        }
    }
}

impl Op for FollowOp {
    async fn run(&self, i: usize, stats: &mut Stats) {
        let who = user(self.run, i);
        let stay = Stay::of(i, self.places.len());
        let t = Instant::now();
        let id = match self
            .api
            .reserve(&who, &self.places[stay.place], &stay)
            .await
        {
            Ok(id) => id,
            Err(e) => return stats.error(ACCEPT, &e),
        };
        stats.record(ACCEPT, t.elapsed());
        if self.until_final(&who, &id, stats).await.is_none() {
            return stats.error(FOLLOW, "not final within the timeout");
        }
        stats.record(FOLLOW, t.elapsed());
        // The server's own view of the same saga (not timed: the saga is over).
        match self.api.reservation(&who, &id).await {
            Ok(v) => {
                if let Some((a, b)) = server_saga(&v) {
                    stats.record(SAGA_SERVER, (b - a).unsigned_abs());
                }
                stats.outcome(outcome(&v, "status"));
            }
            Err(e) => stats.error("GET /v1/reservations/{id}", &e),
        }
    }
}

pub async fn run(args: &Args, api: &Api, name: &str) -> Result<Report, String> {
    let places = places(args, api, false).await?;
    let op = Arc::new(FollowOp {
        api: api.clone(),
        places,
        run: std::process::id(),
        poll: Duration::from_millis(args.poll_ms()),
        timeout: Duration::from_secs(args.load.timeout_secs),
    });
    let m = measure(args, name, op).await;
    let stats = &m.stats;
    let mut r = m.report(args, name);
    let attempted = stats.count(ACCEPT) + errors_of(&r, ACCEPT);
    if attempted > 0 {
        r.derived.insert(
            "answered % (accepted and followed to a final status)".into(),
            100.0 * stats.count(FOLLOW) as f64 / attempted as f64,
        );
    }
    r.notes.push(format!(
        "the client reads its MyPage row every {} ms until it is final; `{FOLLOW}` includes that polling",
        args.poll_ms()
    ));
    Ok(r)
}

fn errors_of(r: &Report, metric: &str) -> u64 {
    r.metrics
        .iter()
        .find(|m| m.name == metric)
        .map_or(0, |m| m.errors)
}

fn latency(spec: &str) -> Result<(u64, u64), String> {
    let bad = || format!("--payment-latency-ms: expected MIN-MAX or N, got {spec}");
    let (a, b) = spec.split_once('-').unwrap_or((spec, spec));
    let a = a.trim().parse().map_err(|_| bad())?;
    let b = b.trim().parse().map_err(|_| bad())?;
    if a > b {
        return Err(bad());
    }
    Ok((a, b))
}

/// The seed's circuit-breaker demonstration: payment slowed, 100 clients for a bounded time.
/// The faults in force before are put back afterwards, whatever happened.
pub async fn breaker(args: &Args, api: &Api) -> Result<Report, String> {
    let (min, max) = latency(&args.payment_latency_ms)?;
    let before = api.faults().await?;
    let mut slowed = before.clone();
    slowed["payment"]["latencyMinMs"] = min.into();
    slowed["payment"]["latencyMaxMs"] = max.into();
    api.set_faults(&slowed).await?;
    let result = run(args, api, "breaker").await;
    let restored = api.set_faults(&before).await;
    let mut r = result?;
    restored?;
    r.notes.push(format!(
        "payment latency {min}-{max} ms through PUT /_local/faults (restored afterwards); the seed's run: \
         siege -c100 -t60S, Availability 63.55 %, 17.15 trans/s, response time 5.60 s, longest 9.20 s"
    ));
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::latency;

    #[test]
    fn payment_latency_spec() {
        assert_eq!(latency("400-620"), Ok((400, 620)));
        assert_eq!(latency("5"), Ok((5, 5)));
        assert!(latency("620-400").is_err());
        assert!(latency("x").is_err());
    }
}
