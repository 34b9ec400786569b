//! Runs one operation many times: closed loop (`concurrency` workers, each starting its next
//! operation when the last ends) or open loop (one operation started per tick of `rate`), bounded
//! by a count and/or a duration, with a progress bar on stderr.
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::stats::Stats;

/// One unit of load (a reservation, a read, a saga followed to its end); `i` numbers it.
pub trait Op: Send + Sync + 'static {
    fn run(&self, i: usize, stats: &mut Stats) -> impl Future<Output = ()> + Send;
}

/// How much to do: at most `total` operations, none started after `duration`.
pub struct Budget {
    pub total: Option<usize>,
    pub duration: Option<Duration>,
}

pub enum Pace {
    Closed { concurrency: usize },
    Open { rate: u32 },
}

struct Ticket {
    next: AtomicUsize,
    total: Option<usize>,
    deadline: Option<Instant>,
}

impl Ticket {
    fn take(&self) -> Option<usize> {
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return None;
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        match self.total {
            Some(t) if i >= t => None,
            _ => Some(i),
        }
    }
}

pub fn progress(label: &str, total: Option<usize>, show: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = match total {
        Some(t) => ProgressBar::with_draw_target(Some(t as u64), ProgressDrawTarget::stderr()),
        None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
    };
    let template = if total.is_some() {
        "{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} ({per_sec}, eta {eta}) {msg}"
    } else {
        "{prefix} {spinner} [{elapsed_precise}] {pos} done ({per_sec}) {msg}"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar.set_prefix(label.to_string());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Runs `op` under `pace` within `budget`; the merged measurements and how long it took.
pub async fn run<O: Op>(
    op: Arc<O>,
    pace: Pace,
    budget: Budget,
    bar: &ProgressBar,
) -> (Stats, Duration) {
    let ticket = Arc::new(Ticket {
        next: AtomicUsize::new(0),
        total: budget.total,
        deadline: budget.duration.map(|d| Instant::now() + d),
    });
    let started = Instant::now();
    let mut tasks = Vec::new();
    match pace {
        Pace::Closed { concurrency } => {
            for _ in 0..concurrency.max(1) {
                let (op, ticket, bar) = (op.clone(), ticket.clone(), bar.clone());
                tasks.push(tokio::spawn(async move {
                    let mut stats = Stats::default();
                    while let Some(i) = ticket.take() {
                        op.run(i, &mut stats).await;
                        bar.inc(1);
                    }
                    stats
                }));
            }
        }
        Pace::Open { rate } => {
            let mut tick =
                tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate.max(1))));
            // A late tick is started late, not in a burst: the offered rate stays the rate.
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(i) = ticket.take() else { break };
                let (op, bar) = (op.clone(), bar.clone());
                tasks.push(tokio::spawn(async move {
                    let mut stats = Stats::default();
                    op.run(i, &mut stats).await;
                    bar.inc(1);
                    stats
                }));
            }
        }
    }
    let mut all = Stats::default();
    for t in tasks {
        match t.await {
            Ok(s) => all.merge(s),
            Err(_) => all.error("worker", "panicked"),
        }
    }
    (all, started.elapsed())
}
