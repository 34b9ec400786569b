//! `reserveplace-local`: the whole ReservePlace system on 127.0.0.1 — the HTTP API, the event bus
//! and the saga of `template.yaml` over an embedded on-disk store. Events are printed on stdout
//! (one JSON line each, and nothing else); logs, the banner and errors go to stderr as JSON lines.
//!
//! The modules depend on each other in one direction only: [`runtime`] assembles [`http_server`],
//! [`bus`], [`queues`] and [`saga`], which all run functions through [`invoke`], and [`retention`] (the bus and the HTTP side share
//! their handles as [`parts`]); [`bind`] checks the template
//! against the handler registry; [`config`], [`faults`] and [`identity`] depend on nothing here
//! but each other's types.
pub mod bind;
pub mod bus;
pub mod config;
pub mod faults;
pub mod http_server;
pub mod identity;
pub mod invoke;
pub mod parts;
pub mod queues;
pub mod retention;
pub mod runtime;
pub mod saga;
pub mod serve;

use std::sync::Arc;
use std::time::Duration;

/// One JSON line on stderr, as the logs around it are: `timestamp`, `level`, `message` and
/// `target`, plus the fields a reader picks out at the top level (the banner's `url`).
pub fn notice(level: &str, message: &str, fields: serde_json::Value) {
    let mut line = serde_json::json!({
        "timestamp": reserveplace_domain::clock::Clock::now_rfc3339(
            &reserveplace_domain::clock::SystemClock
        ),
        "level": level,
        "message": message,
        "target": "reserveplace_local",
    });
    if let (Some(line), serde_json::Value::Object(fields)) = (line.as_object_mut(), fields) {
        line.extend(fields);
    }
    eprintln!("{line}");
}

/// The development issuer of `opts`' data directory (its key created on first use).
pub fn issuer(opts: &config::Options) -> Result<identity::Issuer, String> {
    identity::Issuer::load_or_create(&opts.data_dir, &opts.jwt_issuer, &opts.jwt_audience)
        .map_err(|e| format!("development issuer: {e}"))
}

/// `reserveplace-local token`: prints a JWT of the development issuer for `sub`.
pub fn token(opts: &config::Options, sub: &str, ttl: u64) -> Result<(), String> {
    let minted = issuer(opts)?.mint(sub, ttl).map_err(|e| e.to_string())?;
    println!("{}", minted.token);
    Ok(())
}

/// Starts the runtime and serves its HTTP API until Ctrl-C.
pub async fn run(opts: config::Options) -> Result<(), String> {
    if opts.dev && !opts.addr.ip().is_loopback() {
        return Err(format!(
            "development mode (--dev / RESERVEPLACE_DEV) accepts unsigned dev: tokens and serves \
             /_local (every user's events, fault injection), so it listens on a loopback address \
             only, not {}; use e.g. --addr 127.0.0.1:3000, or drop --dev to serve signed JWTs only",
            opts.addr
        ));
    }
    let auth = Arc::new(identity::Authenticator::new(issuer(&opts)?, opts.dev));
    let rt = runtime::Runtime::open(&opts)
        .await
        .map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind(opts.addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", opts.addr))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    if opts.dev {
        notice(
            "INFO",
            "development mode: unsigned dev: tokens accepted, /_local enabled, loopback only",
            serde_json::json!({}),
        );
    } else if !addr.ip().is_loopback() {
        notice(
            "WARN",
            &format!(
                "warning: listening on {addr}, which is not a loopback address: other machines \
                 can reach the API over plain HTTP; it accepts only JWTs signed by {}",
                opts.data_dir.join(identity::KEY_FILE).display()
            ),
            serde_json::json!({}),
        );
    }
    // On stderr, so stdout carries nothing but the event trace (one JSON event a line).
    notice(
        "INFO",
        &format!(
            "ReservePlace local runtime listening on http://{addr} (data: {})",
            opts.data_dir.display()
        ),
        serde_json::json!({"url": format!("http://{addr}"), "dataDir": opts.data_dir}),
    );
    // After the banner: a replay of undelivered events prints them, and the banner comes first.
    rt.start_bus();
    let read_timeout = Duration::from_secs(opts.read_timeout_secs);
    let app = http_server::app(rt.http(), auth, read_timeout);
    serve::serve(listener, app, read_timeout, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await;
    Ok(())
}
