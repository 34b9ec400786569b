//! Command line of `reserveplace-local`. Every flag also reads an environment variable.
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use reserveplace_domain::clock::SystemClock;
use reserveplace_domain::payment::NoticeReader;
use reserveplace_domain::payment::PaymentProvider;
use reserveplace_functions::adapters::{StripeConfig, StripeNotices, StripeProvider};

/// A real provider: its port, and the reader of its webhooks if it has a signing secret.
pub type RealProvider = (Arc<dyn PaymentProvider>, Option<Arc<dyn NoticeReader>>);

use crate::faults::FaultSettings;
use crate::identity;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "reserveplace-local",
    version,
    about = "ReservePlace on one machine: the template's HTTP API, event rules and saga over an embedded store."
)]
pub struct Options {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Address to listen on. With --dev only a loopback address.
    #[arg(long, env = "RESERVEPLACE_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,
    /// Development mode: also accept unsigned `Authorization: Bearer dev:<user>` tokens and serve
    /// `/_local/*` (every user's events, executions, fault injection, token minting for the web
    /// page). Refuses to start on a non-loopback address.
    #[arg(
        long,
        env = "RESERVEPLACE_DEV",
        action = clap::ArgAction::SetTrue,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub dev: bool,
    /// Where data, pending events, running sagas and the development issuer's signing key
    /// (`dev-issuer.key`) are kept (survives restarts).
    #[arg(
        long,
        env = "RESERVEPLACE_DATA_DIR",
        default_value = "./.reserveplace",
        global = true
    )]
    pub data_dir: PathBuf,
    /// `iss` of the development issuer's JWTs, the only issuer accepted.
    #[arg(long, env = "RESERVEPLACE_JWT_ISSUER", default_value = identity::DEFAULT_ISSUER, global = true)]
    pub jwt_issuer: String,
    /// `aud` of the development issuer's JWTs, the only audience accepted.
    #[arg(long, env = "RESERVEPLACE_JWT_AUDIENCE", default_value = identity::DEFAULT_AUDIENCE, global = true)]
    pub jwt_audience: String,
    /// Seconds a client gets to send its request headers, and then its body; a connection idle
    /// that long between requests is closed too.
    #[arg(
        long,
        env = "RESERVEPLACE_READ_TIMEOUT_SECS",
        default_value_t = 10,
        value_parser = clap::value_parser!(u64).range(1..=3600)
    )]
    pub read_timeout_secs: u64,
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
    /// `simulated` (the default: no account, the settings above) or `stripe`: Stripe's API at
    /// `--stripe-api-base` with the secret key of the environment variable `STRIPE_SECRET_KEY`
    /// (never an argument, which other users of the machine can read).
    #[arg(long, env = "RESERVEPLACE_PAYMENT_PROVIDER", default_value = "simulated", value_parser = ["simulated", "stripe"])]
    pub payment_provider: String,
    /// Where Stripe's API is (its address as Stripe documents it, or a stand-in such as
    /// localstripe in tests): required with `--payment-provider stripe`.
    #[arg(long, env = "STRIPE_API_BASE")]
    pub stripe_api_base: Option<String>,
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
    /// The queues' clock runs this many times faster than the wall clock: every retry backoff,
    /// visibility timeout and retention of the template passes that much sooner (tests wait out
    /// a days-long outage in seconds). Keep one value per data dir.
    #[arg(long, env = "RESERVEPLACE_TIME_SCALE", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub time_scale: u32,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Print a JWT of the development issuer for a user (`<data-dir>/dev-issuer.key`, created if
    /// missing): `curl -H "Authorization: Bearer $(reserveplace-local token --sub alice)" …`.
    Token {
        /// The user the token names (its `sub` claim): a customer or an owner.
        #[arg(long)]
        sub: String,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl: u64,
    },
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

    /// The real payment provider the options chose, and the reader of its webhooks when
    /// `STRIPE_WEBHOOK_SECRET` (the endpoint's signing secret) is in the environment; `None` for
    /// the simulation.
    pub fn payment_provider(&self) -> Result<Option<RealProvider>, String> {
        if self.payment_provider != "stripe" {
            return Ok(None);
        }
        let secret_key = std::env::var("STRIPE_SECRET_KEY")
            .ok()
            .filter(|k| k.starts_with("sk_") || k.starts_with("rk_"))
            .ok_or("--payment-provider stripe needs STRIPE_SECRET_KEY (sk_… or rk_…) in the environment")?;
        let api_base = self
            .stripe_api_base
            .clone()
            .ok_or("--payment-provider stripe needs --stripe-api-base (or STRIPE_API_BASE)")?;
        let stripe = Arc::new(StripeProvider::new(StripeConfig {
            api_base,
            secret_key,
            request_timeout: std::time::Duration::from_secs(10),
        })?);
        let notices = std::env::var("STRIPE_WEBHOOK_SECRET")
            .ok()
            .filter(|s| !s.is_empty())
            .map(|secret| -> Arc<dyn NoticeReader> {
                Arc::new(StripeNotices::new(
                    secret,
                    Arc::new(SystemClock),
                    stripe.clone(),
                ))
            });
        Ok(Some((stripe, notices)))
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
