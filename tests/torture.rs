//! A bounded run of the torture tool (`reserveplace-torture`): all seven scenarios of `RELIABILITY.md` —
//! load, crashes (2 SIGKILLs), duplicated and reordered deliveries, payment faults, the owner side
//! down, Idempotency-Key — and the seed facade under 32 concurrent clients, against the real binary
//! over HTTP, with every invariant checked.
use reserveplace_torture::{Config, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_invariant_holds_under_load_crashes_duplicates_and_faults() {
    let cfg = Config::bounded(env!("CARGO_BIN_EXE_reserveplace-local"));
    let report = run(cfg).await;
    println!("{report}");
    let failures: Vec<String> = report
        .failures()
        .iter()
        .map(|c| format!("{} — {}", c.name, c.detail))
        .collect();
    assert!(
        report.passed(),
        "{} torture check(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
