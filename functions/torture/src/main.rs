//! `reserveplace-torture`: see the library documentation. Prints the report on stdout (progress on
//! stderr) and exits non-zero when any check failed.
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use reserveplace_torture::{Config, Scenario};

#[derive(Parser, Debug)]
#[command(
    name = "reserveplace-torture",
    about = "Starts reserveplace-local on a fresh data dir and tortures it over HTTP (load, crashes, duplicate deliveries, payment faults, a context down, idempotency), then checks every invariant."
)]
struct Args {
    /// The reserveplace-local binary [default: next to this executable].
    #[arg(long)]
    runtime: Option<PathBuf>,
    /// The SAM template [default: the repository's template.yaml].
    #[arg(long)]
    template: Option<PathBuf>,
    /// Scenarios to run (1 load, 2 crash, 3 duplicates, 4 payment, 5 down, 6 idempotency, 7 seed),
    /// comma separated [default: all].
    #[arg(long, value_delimiter = ',')]
    scenarios: Vec<Scenario>,
    /// Seed of every random choice.
    #[arg(long)]
    seed: Option<u64>,
    /// Scenarios 1 and 2: reservations [default: 500].
    #[arg(long, short = 'n')]
    reservations: Option<usize>,
    /// Requests in flight at once [default: 64].
    #[arg(long)]
    concurrency: Option<usize>,
    /// Scenario 2: SIGKILLs [default: 5].
    #[arg(long, short = 'k')]
    crashes: Option<usize>,
    /// Scenario 2: seconds the load (and the kills) are spread over [default: 15].
    #[arg(long)]
    crash_seconds: Option<f64>,
    /// Scenario 2: extra SIGKILLs aimed at room-count changes in progress [default: 20].
    #[arg(long)]
    resize_kills: Option<usize>,
    /// Scenarios 1 and 2: OwnerDecisionTimeoutSeconds [default: 10].
    #[arg(long)]
    owner_timeout: Option<u64>,
    /// Scenario 3: places of the deterministic workload [default: 8].
    #[arg(long)]
    dup_places: Option<usize>,
    /// Scenario 4: reservations per phase [default: 100].
    #[arg(long)]
    payment_batch: Option<usize>,
    /// Scenario 4: seconds of provider outage [default: 10].
    #[arg(long)]
    outage_seconds: Option<f64>,
    /// Scenario 4: PaymentFailureThreshold [default: 5].
    #[arg(long)]
    breaker_threshold: Option<u32>,
    /// Scenario 4: PaymentOpenSeconds [default: 5].
    #[arg(long)]
    breaker_open_seconds: Option<u64>,
    /// Scenario 5: seconds the owner side is down [default: 30].
    #[arg(long, short = 't')]
    down_seconds: Option<f64>,
    /// Scenario 5: reservations per second while it is down [default: 5].
    #[arg(long)]
    down_rate: Option<f64>,
    /// Scenario 3: --delivery-jitter-ms of the run with duplicated deliveries [default: 30].
    #[arg(long)]
    dup_jitter_ms: Option<u64>,
    /// Extra argument for every runtime started, repeatable (e.g.
    /// `--runtime-arg=--duplicate-deliveries`).
    #[arg(long = "runtime-arg", allow_hyphen_values = true)]
    runtime_args: Vec<String>,
    /// Client timeout per request, in seconds [default: 3].
    #[arg(long)]
    request_timeout: Option<f64>,
    /// Upper bound on waiting for quiescence, in seconds [default: 240].
    #[arg(long)]
    settle_timeout: Option<f64>,
    /// Where data dirs and runtime logs go [default: a fresh temp dir].
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Keep data dirs and logs even when every check passed.
    #[arg(long)]
    keep_data: bool,
    /// The bounded sizes of the test suite instead of the full defaults.
    #[arg(long)]
    quick: bool,
    /// No progress lines on stderr.
    #[arg(long, short = 'q')]
    quiet: bool,
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

#[tokio::main]
async fn main() -> ExitCode {
    let a = Args::parse();
    let defaults = Config::default();
    let mut cfg = if a.quick {
        Config {
            progress: true,
            ..Config::bounded(defaults.runtime.clone())
        }
    } else {
        defaults
    };
    if let Some(v) = a.runtime {
        cfg.runtime = v;
    }
    if let Some(v) = a.template {
        cfg.template = v;
    }
    if !a.scenarios.is_empty() {
        cfg.scenarios = a.scenarios;
    }
    macro_rules! set {
        ($($arg:ident => $field:ident $(($conv:expr))?),* $(,)?) => {
            $( if let Some(v) = a.$arg { cfg.$field = set!(@conv v $(, $conv)?); } )*
        };
        (@conv $v:expr) => { $v };
        (@conv $v:expr, $conv:expr) => { $conv($v) };
    }
    set!(
        seed => seed,
        reservations => reservations,
        concurrency => concurrency,
        crashes => crashes,
        crash_seconds => crash_load(secs),
        resize_kills => resize_kills,
        owner_timeout => owner_timeout_seconds,
        dup_places => dup_places,
        payment_batch => payment_batch,
        outage_seconds => outage(secs),
        breaker_threshold => breaker_threshold,
        breaker_open_seconds => breaker_open_seconds,
        down_seconds => down(secs),
        down_rate => down_rate,
        dup_jitter_ms => dup_jitter_ms,
        request_timeout => request_timeout(secs),
        settle_timeout => settle_timeout(secs),
    );
    cfg.runtime_args.extend(a.runtime_args);
    cfg.work_dir = a.work_dir;
    cfg.keep_data = a.keep_data;
    if a.quiet {
        cfg.progress = false;
    }
    let report = reserveplace_torture::run(cfg).await;
    print!("{report}");
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
