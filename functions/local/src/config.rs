//! Command line of `reserveplace-local`. Every flag also reads an environment variable.
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

use crate::faults::FaultSettings;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "reserveplace-local",
    version,
    about = "ReservePlace on one machine: the template's HTTP API, event rules and saga over an embedded store."
)]
pub struct Options {
    /// Address to listen on.
    #[arg(long, env = "RESERVEPLACE_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,
    /// Where data, pending events and running sagas are kept (survives restarts).
    #[arg(long, env = "RESERVEPLACE_DATA_DIR", default_value = "./.reserveplace")]
    pub data_dir: PathBuf,
    /// The SAM template to read the wiring from (default: ./template.yaml, else the repository's).
    #[arg(long, env = "RESERVEPLACE_TEMPLATE")]
    pub template: Option<PathBuf>,
    /// Template parameter override, e.g. `--param OwnerDecisionTimeoutSeconds=5` (repeatable).
    #[arg(long = "param", value_parser = parse_kv)]
    pub params: Vec<(String, String)>,
    /// Simulated payment latency in ms, `N` or `MIN-MAX` (the seed: 400-620).
    #[arg(long, env = "RESERVEPLACE_PAYMENT_LATENCY_MS", value_parser = parse_range)]
    pub payment_latency_ms: Option<(u64, u64)>,
    /// Share of payments declined (0..1).
    #[arg(long, env = "RESERVEPLACE_PAYMENT_DECLINE_RATE", default_value_t = 0.0)]
    pub payment_decline_rate: f64,
    /// Share of payment calls failing transiently (0..1), retried by the saga.
    #[arg(
        long,
        env = "RESERVEPLACE_PAYMENT_TRANSIENT_RATE",
        default_value_t = 0.0
    )]
    pub payment_transient_rate: f64,
    /// Start with the payment provider down.
    #[arg(long, env = "RESERVEPLACE_PAYMENT_OUTAGE")]
    pub payment_outage: bool,
    /// Contexts whose functions start down, comma separated (e.g. `place`).
    #[arg(long, env = "RESERVEPLACE_DOWN", value_delimiter = ',')]
    pub down: Vec<String>,
    /// Deliver every event twice to every rule target (consumers must be idempotent).
    #[arg(long, env = "RESERVEPLACE_DUPLICATE_DELIVERIES")]
    pub duplicate_deliveries: bool,
    /// Delay each delivery by a random 0..=N ms, so deliveries arrive out of order.
    #[arg(long, env = "RESERVEPLACE_DELIVERY_JITTER_MS", default_value_t = 0)]
    pub delivery_jitter_ms: u64,
    /// Do not print events on stdout.
    #[arg(long, env = "RESERVEPLACE_QUIET_EVENTS")]
    pub quiet_events: bool,
}

fn parse_kv(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .ok_or_else(|| format!("expected KEY=VALUE, got '{s}'"))
}

fn parse_range(s: &str) -> Result<(u64, u64), String> {
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let a = a.trim().parse::<u64>().map_err(|e| e.to_string())?;
    let b = b.trim().parse::<u64>().map_err(|e| e.to_string())?;
    if a > b {
        Err("MIN must not exceed MAX".into())
    } else {
        Ok((a, b))
    }
}

impl Options {
    pub fn template_path(&self) -> PathBuf {
        if let Some(t) = &self.template {
            return t.clone();
        }
        let here = PathBuf::from("template.yaml");
        if here.exists() {
            return here;
        }
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml"))
    }

    pub fn parameter_overrides(&self) -> BTreeMap<String, String> {
        self.params.iter().cloned().collect()
    }

    pub fn faults(&self) -> FaultSettings {
        let mut f = FaultSettings::default();
        if let Some((min, max)) = self.payment_latency_ms {
            f.payment.latency_min_ms = min;
            f.payment.latency_max_ms = max;
        }
        f.payment.decline_rate = self.payment_decline_rate;
        f.payment.transient_rate = self.payment_transient_rate;
        f.payment.outage = self.payment_outage;
        f.duplicate_deliveries = self.duplicate_deliveries;
        f.jitter_ms = self.delivery_jitter_ms;
        f.down = self
            .down
            .iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        f
    }
}
