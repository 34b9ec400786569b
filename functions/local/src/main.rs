//! The `reserveplace-local` binary: parses the command line, sets up logging and runs
//! [`reserveplace_local::run`] (or prints a token: `reserveplace-local token --sub <user>` prints a
//! JWT of the development issuer the runtime verifies callers against).
use clap::Parser;
use reserveplace_local::config::{Command, Options};
use tracing_subscriber::EnvFilter;

/// Many small, short-lived JSON allocations on every request and saga step: mimalloc keeps them
/// cheap across threads (glibc malloc was a quarter of the CPU profile under load).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let opts = Options::parse();
    tracing_subscriber::fmt()
        .json()
        .with_writer(std::io::stderr)
        .with_env_filter(
            EnvFilter::try_from_env("RUST_LOG")
                .unwrap_or_else(|_| EnvFilter::new("warn,reserveplace=info")),
        )
        .init();
    let result = match &opts.command {
        Some(Command::Token { sub, ttl }) => reserveplace_local::token(&opts, sub, *ttl),
        None => reserveplace_local::run(opts).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            reserveplace_local::notice(
                "ERROR",
                &format!("reserveplace-local: {e}"),
                serde_json::json!({}),
            );
            std::process::ExitCode::FAILURE
        }
    }
}
