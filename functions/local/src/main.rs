//! `reserveplace-local`: the whole ReservePlace system on 127.0.0.1 — the HTTP API, the event bus
//! and the saga of `template.yaml` over an embedded on-disk store. Events are printed on stdout
//! (one JSON line each); logs go to stderr.
mod bus;
mod config;
mod faults;
mod http_server;
mod runtime;
mod saga;

use clap::Parser;

/// Many small, short-lived JSON allocations on every request and saga step: mimalloc keeps them
/// cheap across threads (glibc malloc was a quarter of the CPU profile under load).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let opts = config::Options::parse();
    tracing_subscriber::fmt()
        .json()
        .with_writer(std::io::stderr)
        .with_env_filter(
            EnvFilter::try_from_env("RUST_LOG")
                .unwrap_or_else(|_| EnvFilter::new("warn,reserveplace=info")),
        )
        .init();
    match run(opts).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("reserveplace-local: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(opts: config::Options) -> Result<(), String> {
    let rt = runtime::Runtime::start(&opts)
        .await
        .map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind(opts.addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", opts.addr))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    println!(
        "ReservePlace local runtime listening on http://{addr} (data: {})",
        opts.data_dir.display()
    );
    let app = http_server::app(rt);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| e.to_string())
}
