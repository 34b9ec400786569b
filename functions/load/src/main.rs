//! `reserveplace-load`: drives a running ReservePlace over HTTP like the seed's siege did, and
//! more. Scenarios (`--scenario`):
//! - `reserve`: closed- or open-loop `POST /v1/reservations`, then the saga of each from the
//!   server's own timestamps (`createdAt` to the `updatedAt` of its final status): throughput.
//! - `follow`: each client reserves, then reads `GET /v1/mypages/{id}` until the saga is final
//!   (what a customer sees); with one client, the latency of one saga.
//! - `seed-follow`: the same on the seed's routes (`POST /accommodations` until `GET /mypages/{id}`
//!   shows 예약완료), the seed's own measurement.
//! - `breaker`: the seed's circuit-breaker run: payment slowed to 400-620 ms through
//!   `PUT /_local/faults`, 100 clients following their reservations for a bounded time.
//! - `read`: `GET /v1/mypages/{id}` and `GET /v1/mypages` over reservations made beforehand.
//! - `get`: `GET --path` only: the reference run against `reserveplace-hello`.
//! - `mix`: reserve, read and search operations interleaved by weight.
//! - `search`: `GET /v1/search` over `--places` places (10,000) in `--cities` cities with random
//!   rooms, prices and price rules, after random bookings over the next 365 nights; latency,
//!   throughput and the `X-Read-Units` each search would cost on DynamoDB.
//!
//! Its users carry unsigned `dev:<user>` tokens, so the target runs in development mode
//! (`make run` or `reserveplace-local --dev`). `--json` prints one JSON object for scripts.
mod api;
mod driver;
mod scenarios;
mod stats;

use std::time::Duration;

use clap::{Parser, ValueEnum};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    Reserve,
    Follow,
    SeedFollow,
    Breaker,
    Read,
    Get,
    Mix,
    Search,
}

/// A scenario's defaults, where the flags leave them open.
struct Defaults {
    requests: Option<usize>,
    concurrency: usize,
    duration_secs: Option<f64>,
    poll_ms: u64,
    places: usize,
}

impl Scenario {
    fn defaults(self) -> Defaults {
        let (requests, concurrency, duration_secs, poll_ms, places) = match self {
            Scenario::Reserve => (Some(2000), 32, None, 1, 20),
            Scenario::Follow | Scenario::SeedFollow => (Some(200), 1, None, 1, 20),
            Scenario::Breaker => (None, 100, Some(60.0), 20, 20),
            Scenario::Read | Scenario::Get => (Some(20_000), 64, None, 1, 20),
            Scenario::Mix => (Some(5000), 64, None, 1, 20),
            Scenario::Search => (Some(20_000), 64, None, 1, 10_000),
        };
        Defaults {
            requests,
            concurrency,
            duration_secs,
            poll_ms,
            places,
        }
    }
}

/// The load offered: how much, how fast, and how long to wait for what it started.
#[derive(clap::Args, Debug)]
pub struct LoadArgs {
    /// Operations to run (default per scenario: reserve 2000, follow/seed-follow 200, read/get/
    /// search 20000, mix 5000; breaker none: bounded by --duration-secs).
    #[arg(long)]
    pub requests: Option<usize>,
    /// Start no operation after this many seconds (default: breaker 60, else unbounded).
    #[arg(long)]
    pub duration_secs: Option<f64>,
    /// Give up on a saga (or the wait for all of them) after this many seconds.
    #[arg(long, default_value_t = 120)]
    pub timeout_secs: u64,
    /// Operations in flight at once (default: reserve 32, follow/seed-follow 1, breaker 100,
    /// read/get/mix/search 64).
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Open loop: start operations at this rate (per second) instead of keeping a number of them
    /// in flight.
    #[arg(long, conflicts_with = "concurrency")]
    pub rate: Option<u32>,
}

/// What is set up before the measured phase.
#[derive(clap::Args, Debug)]
pub struct WorldArgs {
    /// Places to register (default: search 10000, else 20).
    #[arg(long)]
    pub places: Option<usize>,
    /// Cities the places are spread over (`search`, and the search operations of `mix`).
    #[arg(long, default_value_t = 10)]
    pub cities: usize,
    /// Rooms per night of each place (`search`: each place draws 1 to this many).
    #[arg(long, default_value_t = 50)]
    pub rooms: i64,
    /// `read`/`mix`/`search`: reservations made (and waited for) before the measured phase
    /// (`search`: random stays over the next 365 nights).
    #[arg(long, default_value_t = 200)]
    pub setup_reservations: usize,
}

#[derive(Parser, Debug)]
#[command(
    name = "reserveplace-load",
    about = "Load scenarios against a running ReservePlace; HDR latency percentiles, throughput, errors."
)]
pub struct Args {
    #[arg(long, value_enum, default_value = "reserve")]
    pub scenario: Scenario,
    /// Base URL of the API (for `get`: of any HTTP server, e.g. reserveplace-hello).
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    pub url: String,
    #[command(flatten)]
    pub load: LoadArgs,
    #[command(flatten)]
    pub world: WorldArgs,
    /// Pause between two reads of a followed reservation's status, in ms, 0 for none (default:
    /// breaker 20, like a page refreshing its status; else 1, to time one saga closely).
    #[arg(long)]
    pub poll_ms: Option<u64>,
    /// `get`: the path to read.
    #[arg(long, default_value = "/")]
    pub path: String,
    /// `mix`: weights of the operations, e.g. `reserve=1,read=4,search=1`.
    #[arg(long, default_value = "reserve=1,read=4")]
    pub mix: String,
    /// `breaker`: the simulated payment latency, `MIN-MAX` ms (the seed slept 400-620).
    #[arg(long, default_value = "400-620")]
    pub payment_latency_ms: String,
    /// Print one JSON object (the report) on stdout instead of the table; no progress bar.
    #[arg(long)]
    pub json: bool,
    /// No progress bar.
    #[arg(long)]
    pub no_progress: bool,
}

impl Args {
    pub fn concurrency(&self) -> usize {
        self.load
            .concurrency
            .unwrap_or(self.scenario.defaults().concurrency)
    }

    pub fn requests(&self) -> Option<usize> {
        self.load.requests.or(self.scenario.defaults().requests)
    }

    pub fn places(&self) -> usize {
        self.world
            .places
            .unwrap_or(self.scenario.defaults().places)
            .max(1)
    }

    pub fn duration(&self) -> Option<Duration> {
        let secs = self
            .load
            .duration_secs
            .or(self.scenario.defaults().duration_secs)?;
        Some(Duration::from_secs_f64(secs.max(0.0)))
    }

    pub fn pace(&self) -> driver::Pace {
        match self.load.rate {
            Some(rate) => driver::Pace::Open { rate },
            None => driver::Pace::Closed {
                concurrency: self.concurrency(),
            },
        }
    }

    pub fn budget(&self) -> driver::Budget {
        driver::Budget {
            total: self.requests(),
            duration: self.duration(),
        }
    }

    pub fn poll_ms(&self) -> u64 {
        self.poll_ms.unwrap_or(self.scenario.defaults().poll_ms)
    }

    pub fn show_progress(&self) -> bool {
        !self.json && !self.no_progress
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    match scenarios::run(&args).await {
        Ok(report) => {
            if args.json {
                match serde_json::to_string_pretty(&report) {
                    Ok(s) => println!("{s}"),
                    Err(e) => {
                        eprintln!("reserveplace-load: {e}");
                        return std::process::ExitCode::FAILURE;
                    }
                }
            } else {
                report.print_table();
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("reserveplace-load: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
