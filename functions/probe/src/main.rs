//! `reserveplace-probe cold`: the bootstrap's cold start per function (init, first invocation,
//! peak memory, AWS units), against the AWS emulator. `reserveplace-probe cost`: the AWS cost of
//! a million reservations by outcome, beside the seed's always-on cluster.
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use reserveplace_probe::cold::{self, ColdReport};
use reserveplace_probe::cost::{self, Assumptions};
use reserveplace_probe::prices::{Cluster, Prices};
use reserveplace_probe::{ProbeError, sam, template};
use reserveplace_wiring::Wiring;

/// The probe's own measurements (`cold --json` on every function), the cost model's defaults.
const MEASURED: &str = include_str!("../measured.json");

#[derive(Parser)]
#[command(about = "Cold starts of the Lambda bootstrap and the AWS cost of a million reservations")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start each function's bootstrap as Lambda does, for one invocation of its sample event.
    Cold {
        /// The bootstrap (`make lambda-build` builds it).
        #[arg(long)]
        bootstrap: Option<PathBuf>,
        /// Only these handlers (repeatable); every template function when absent.
        #[arg(long = "handler")]
        handlers: Vec<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// The cost of a million reservations by outcome.
    Cost {
        /// A `cold --json` report to take durations and units from (default: the measurements
        /// shipped with this tool, `functions/probe/measured.json`).
        #[arg(long)]
        probe: Option<PathBuf>,
        /// A handler's duration in ms instead of the measured one, as `handler=ms` (repeatable).
        #[arg(long = "duration", value_parser = parse_duration)]
        durations: Vec<(String, f64)>,
        /// What each AWS call adds to an invocation on AWS, ms (in place of the emulator's time).
        #[arg(long, default_value_t = 6.0)]
        aws_call_ms: f64,
        /// Events the outbox relay forwards per invocation.
        #[arg(long, default_value_t = 1.0)]
        events_per_relay: f64,
        /// Share of invocations that start cold (their init is billed).
        #[arg(long, default_value_t = 0.01)]
        cold_share: f64,
        #[command(flatten)]
        prices: Prices,
        #[command(flatten)]
        cluster: Cluster,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// The template's resources on an AWS emulator started elsewhere, for `sam local`
    /// (tests/sam-local.sh).
    Emulator {
        /// The emulator's endpoint, as this machine reaches it.
        #[arg(long)]
        endpoint: String,
        #[command(subcommand)]
        action: EmulatorAction,
    },
}

#[derive(Subcommand)]
enum EmulatorAction {
    /// Create the tables (the samples' place stored), the bus with a queue per consumer and the
    /// saga's state machine, named as `sam local` resolves them; print the `--env-vars` file.
    Stack {
        /// The emulator's endpoint as the functions reach it.
        #[arg(long)]
        function_endpoint: String,
    },
    /// Print the outbox records committed so far (every table's stream) as the outbox relay's
    /// event.
    Outbox,
    /// Print the messages waiting in a consumer's queue as its function's SQS batch (they are
    /// deleted).
    Queue {
        /// The consumer's logical id.
        #[arg(long)]
        function: String,
    },
}

fn parse_duration(s: &str) -> Result<(String, f64), String> {
    let (h, ms) = s.split_once('=').ok_or("expected handler=ms")?;
    let ms: f64 = ms.parse().map_err(|e| format!("{ms}: {e}"))?;
    Ok((h.to_owned(), ms))
}

fn wiring() -> Result<Wiring, ProbeError> {
    Wiring::load(
        &template::repo_root().join("template.yaml"),
        &BTreeMap::new(),
    )
    .map_err(|e| ProbeError::Template(e.to_string()))
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String, ProbeError> {
    serde_json::to_string_pretty(v).map_err(|e| ProbeError::Json(e.to_string()))
}

async fn run(cli: Cli) -> Result<String, ProbeError> {
    let wiring = wiring()?;
    match cli.command {
        Command::Cold {
            bootstrap,
            handlers,
            json,
        } => {
            let memory = template::memory_sizes(&template::repo_root().join("template.yaml"))?;
            let bootstrap = bootstrap.unwrap_or_else(cold::default_bootstrap);
            let report = cold::probe(&wiring, &memory, &bootstrap, &handlers).await?;
            if json {
                to_json(&report)
            } else {
                Ok(cold::table(&report))
            }
        }
        Command::Cost {
            probe,
            durations,
            aws_call_ms,
            events_per_relay,
            cold_share,
            prices,
            cluster,
            json,
        } => {
            let text = match &probe {
                Some(p) => std::fs::read_to_string(p).map_err(|source| ProbeError::Io {
                    what: p.display().to_string(),
                    source,
                })?,
                None => MEASURED.to_owned(),
            };
            let report: ColdReport =
                serde_json::from_str(&text).map_err(|e| ProbeError::Json(e.to_string()))?;
            let overrides: BTreeMap<String, f64> = durations.into_iter().collect();
            let measured = cost::measured(&report, aws_call_ms, &overrides);
            let init_ms = report.runs.iter().map(|r| r.init_ms).fold(0.0, f64::max);
            let assume = Assumptions {
                events_per_relay,
                cold_share,
                init_ms,
            };
            let lines = cost::model(&wiring, &measured, &prices, &assume)?;
            if json {
                return to_json(&serde_json::json!({
                    "prices": prices, "assumptions": assume, "outcomes": lines,
                    "seedClusterMonthly": cluster.monthly().into_iter().collect::<BTreeMap<_, _>>(),
                    "seedClusterMonthlyTotal": cluster.total(),
                }));
            }
            let mut out = cost::table(&lines, &prices);
            out.push_str(&format!(
                "assumed: outbox relay {events_per_relay} event(s)/invocation, {:.0}% cold starts \
                 billed {init_ms:.0} ms init, {aws_call_ms} ms per AWS call\n\n",
                cold_share * 100.0
            ));
            out.push_str("the seed's always-on cluster, per month (whatever the traffic):\n");
            for (part, usd) in cluster.monthly() {
                out.push_str(&format!("  {part:<20} {usd:>9.2}\n"));
            }
            out.push_str(&format!("  {:<20} {:>9.2}\n", "total", cluster.total()));
            Ok(out)
        }
        Command::Emulator { endpoint, action } => {
            let out = match action {
                EmulatorAction::Stack { function_endpoint } => {
                    sam::stack(&endpoint, &function_endpoint, &wiring).await?
                }
                EmulatorAction::Outbox => sam::outbox(&endpoint, &wiring).await,
                EmulatorAction::Queue { function } => sam::queue(&endpoint, &function).await,
            };
            to_json(&out)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("reserveplace-probe: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("reserveplace-probe: {e}");
            ExitCode::FAILURE
        }
    }
}
