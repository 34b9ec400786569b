//! `reserveplace-torture`: starts `reserveplace-local` as a child process on a fresh data dir,
//! drives it only over HTTP — under load, crashes (SIGKILL), duplicated and reordered deliveries,
//! payment faults and a context that is down — and checks every invariant of the system after
//! quiescence. [`run`] returns a [`Report`] with one [`Check`] per invariant and its figures.
//!
//! Scenarios: 1 load, 2 crash, 3 duplicates & disorder, 4 payment faults, 5 owner side
//! down, 6 Idempotency-Key, 7 the seed facade under concurrency. Each can be selected on its own;
//! all run by default.
mod api;
mod plan;
mod proc;
mod scenarios;
mod verify;

use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub use plan::Scenario;

/// What to run and how big. [`Config::default`] is the full run; [`Config::bounded`] a quick one
/// for the test suite.
#[derive(Debug, Clone)]
pub struct Config {
    /// The `reserveplace-local` binary (default: next to the running executable).
    pub runtime: PathBuf,
    /// The SAM template the runtime reads (default: the repository's `template.yaml`).
    pub template: PathBuf,
    /// Scenarios to run, in order (default: all).
    pub scenarios: Vec<Scenario>,
    /// Seed of every random choice of the workloads (places, stays, cancels, decisions, kills).
    pub seed: u64,
    /// Scenario 1 (and 2): reservations placed.
    pub reservations: usize,
    /// Requests in flight at once while loading (scenario 7: clients at once, at least 32).
    pub concurrency: usize,
    /// Scenario 2: SIGKILLs of the runtime during the load.
    pub crashes: usize,
    /// Scenario 2: the load is spread over this long (the kills happen within it).
    pub crash_load: Duration,
    /// Scenario 2: extra SIGKILLs aimed at room-count changes in progress (a lowering of the
    /// room count is two writes; the kill lands between them at random).
    pub resize_kills: usize,
    /// Scenarios 1 and 2: `OwnerDecisionTimeoutSeconds` (undecided request-to-book stays time out).
    pub owner_timeout_seconds: u64,
    /// Scenarios 1 and 2: share of reservations the customer cancels at a random moment.
    pub cancel_share: f64,
    /// Scenarios 1 and 2: simulated decline and transient-failure rates of the payment provider.
    pub load_decline_rate: f64,
    pub load_transient_rate: f64,
    /// Scenario 3: places of the deterministic workload (half instant, half request-to-book).
    pub dup_places: usize,
    /// Scenario 4: reservations per phase (slow provider, declines, outage, recovery).
    pub payment_batch: usize,
    /// Scenario 4: how long the provider is down.
    pub outage: Duration,
    /// Scenario 4: `PaymentFailureThreshold` and `PaymentOpenSeconds` of the runtime.
    pub breaker_threshold: u32,
    pub breaker_open_seconds: u64,
    /// Scenario 5: how long the owner side (`place` context) is down.
    pub down: Duration,
    /// Scenario 5: reservations per second placed while it is down.
    pub down_rate: f64,
    /// A request not answered within this is counted as a client timeout.
    pub request_timeout: Duration,
    /// Upper bound on waiting for quiescence.
    pub settle_timeout: Duration,
    /// Quiescence: nothing changed for this long.
    pub quiet: Duration,
    /// Scenario 3: `--delivery-jitter-ms` of the shuffled run.
    pub dup_jitter_ms: u64,
    /// Added to the command line of every runtime started (e.g. `--duplicate-deliveries` to
    /// combine faults).
    pub runtime_args: Vec<String>,
    /// Where data dirs and runtime logs go (default: a fresh dir under the system temp dir).
    pub work_dir: Option<PathBuf>,
    /// Keep data dirs and logs even when every check passed.
    pub keep_data: bool,
    /// Progress lines on stderr.
    pub progress: bool,
}

impl Default for Config {
    fn default() -> Self {
        let runtime = std::env::current_exe()
            .ok()
            .map(|p| {
                p.with_file_name(format!(
                    "reserveplace-local{}",
                    std::env::consts::EXE_SUFFIX
                ))
            })
            .unwrap_or_else(|| PathBuf::from("reserveplace-local"));
        Config {
            runtime,
            template: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml")),
            scenarios: Scenario::ALL.to_vec(),
            seed: 4,
            reservations: 500,
            concurrency: 64,
            crashes: 5,
            crash_load: Duration::from_secs(15),
            resize_kills: 20,
            owner_timeout_seconds: 10,
            cancel_share: 0.2,
            load_decline_rate: 0.05,
            load_transient_rate: 0.05,
            dup_places: 8,
            payment_batch: 100,
            outage: Duration::from_secs(10),
            breaker_threshold: 5,
            breaker_open_seconds: 5,
            down: Duration::from_secs(30),
            down_rate: 5.0,
            dup_jitter_ms: 30,
            runtime_args: Vec::new(),
            request_timeout: Duration::from_secs(3),
            settle_timeout: Duration::from_secs(240),
            quiet: Duration::from_millis(1500),
            work_dir: None,
            keep_data: false,
            progress: true,
        }
    }
}

impl Config {
    /// A quick run of all the scenarios (small sizes, 2 crashes, short outage and down windows),
    /// for the test suite.
    pub fn bounded(runtime: impl Into<PathBuf>) -> Self {
        Config {
            runtime: runtime.into(),
            reservations: 60,
            concurrency: 16,
            crashes: 2,
            crash_load: Duration::from_secs(4),
            resize_kills: 10,
            owner_timeout_seconds: 3,
            dup_places: 4,
            payment_batch: 16,
            outage: Duration::from_secs(3),
            breaker_threshold: 3,
            breaker_open_seconds: 2,
            down: Duration::from_secs(3),
            down_rate: 8.0,
            request_timeout: Duration::from_secs(5),
            settle_timeout: Duration::from_secs(60),
            quiet: Duration::from_millis(800),
            progress: false,
            ..Config::default()
        }
    }
}

/// One invariant (or expectation) and the figures behind its verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub name: String,
    pub passed: bool,
    pub detail: String,
}

impl Check {
    pub fn new(name: impl Into<String>, passed: bool, detail: impl Into<String>) -> Self {
        Check {
            name: name.into(),
            passed,
            detail: detail.into(),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Report {
    pub checks: Vec<Check>,
    /// Free-form figures printed before the verdicts (timings, counts per scenario).
    pub notes: Vec<String>,
    pub elapsed: Duration,
}

impl Report {
    pub fn passed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.passed)
    }

    pub fn failures(&self) -> Vec<&Check> {
        self.checks.iter().filter(|c| !c.passed).collect()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for n in &self.notes {
            writeln!(f, "  {n}")?;
        }
        for c in &self.checks {
            let verdict = if c.passed { "PASS" } else { "FAIL" };
            writeln!(f, "{verdict}  {} — {}", c.name, c.detail)?;
        }
        let failed = self.checks.iter().filter(|c| !c.passed).count();
        writeln!(
            f,
            "{} checks, {} passed, {} failed in {:.1}s: {}",
            self.checks.len(),
            self.checks.len() - failed,
            failed,
            self.elapsed.as_secs_f64(),
            if self.passed() { "PASS" } else { "FAIL" }
        )
    }
}

/// Shared by the scenarios: configuration, where to put data, progress output.
pub(crate) struct Ctx {
    pub cfg: Config,
    pub work_dir: PathBuf,
    pub started: Instant,
}

impl Ctx {
    pub fn progress(&self, msg: impl AsRef<str>) {
        if self.cfg.progress {
            eprintln!(
                "[torture {:>6.1}s] {}",
                self.started.elapsed().as_secs_f64(),
                msg.as_ref()
            );
        }
    }
}

/// Runs the selected scenarios, each against its own fresh runtime, and reports every check.
pub async fn run(cfg: Config) -> Report {
    let started = Instant::now();
    let work_dir = cfg.work_dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("reserveplace-torture-{}", uuid::Uuid::new_v4()))
    });
    let mut report = Report::default();
    if let Err(e) = std::fs::create_dir_all(&work_dir) {
        report.checks.push(Check::new(
            "setup",
            false,
            format!("cannot create {}: {e}", work_dir.display()),
        ));
        return report;
    }
    if !cfg.runtime.is_file() {
        report.checks.push(Check::new(
            "setup",
            false,
            format!(
                "runtime binary {} not found (build it: cargo build [--release] -p reserveplace-local, or pass --runtime)",
                cfg.runtime.display()
            ),
        ));
        return report;
    }
    let ctx = Ctx {
        cfg,
        work_dir: work_dir.clone(),
        started,
    };
    ctx.progress(format!(
        "runtime {}, data under {}",
        ctx.cfg.runtime.display(),
        work_dir.display()
    ));
    for s in ctx.cfg.scenarios.clone() {
        ctx.progress(format!("scenario {}", s.title()));
        let t = Instant::now();
        let part = scenarios::run(&ctx, s).await;
        report.notes.push(format!(
            "scenario {} took {:.1}s{}",
            s.title(),
            t.elapsed().as_secs_f64(),
            if part.notes.is_empty() {
                String::new()
            } else {
                format!(": {}", part.notes.join("; "))
            }
        ));
        for c in &part.checks {
            ctx.progress(format!(
                "{} {}",
                if c.passed { "PASS" } else { "FAIL" },
                c.name
            ));
        }
        report.checks.extend(part.checks);
    }
    report.elapsed = started.elapsed();
    if report.passed() && !ctx.cfg.keep_data {
        let _ = std::fs::remove_dir_all(&work_dir);
    } else {
        report.notes.push(format!(
            "data dirs and runtime logs kept in {}",
            work_dir.display()
        ));
    }
    report
}

/// `text()` when `present`, else nothing: the optional tail of a check's detail.
pub(crate) fn tail_if(present: bool, text: impl FnOnce() -> String) -> String {
    if present { text() } else { String::new() }
}
