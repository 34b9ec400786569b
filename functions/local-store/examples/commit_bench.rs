//! Group-commit throughput and latency of the embedded store.
//!
//! `cargo run --release --example commit_bench -p reserveplace-local-store -- --tasks 64 --txns 20000 [--dir PATH]`
//!
//! Each transaction is a reservation hold: a conditional increment of a room-day counter, a
//! conditional put of the reservation item (indexed by guest) and one outbox event. Durability is
//! the production setting (WAL, synchronous = FULL), so the figures include real fsyncs.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reserveplace_domain::events::DomainEvent;
use reserveplace_domain::store::{Cond, Item, Key, Write};
use reserveplace_local_store::Database;
use serde_json::json;

struct Args {
    tasks: usize,
    txns: usize,
    dir: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        tasks: 64,
        txns: 20_000,
        dir: std::env::temp_dir(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--tasks" => args.tasks = value.parse().map_err(|e| format!("--tasks: {e}"))?,
            "--txns" => args.txns = value.parse().map_err(|e| format!("--txns: {e}"))?,
            "--dir" => args.dir = PathBuf::from(value),
            other => {
                return Err(format!(
                    "unknown flag {other} (expected --tasks N --txns N [--dir PATH])"
                ));
            }
        }
    }
    if args.tasks == 0 {
        return Err("--tasks must be at least 1".into());
    }
    Ok(args)
}

fn hold(task: usize, n: usize) -> (Vec<Write>, Vec<DomainEvent>) {
    let reservation = format!("res-{task}-{n}");
    let counter = Key::new(format!("ROOM#{}", task % 16), format!("INV#DAY#{}", n % 30));
    let mut item = Item::new();
    for (k, v) in [
        ("pk", json!(format!("RES#{reservation}"))),
        ("sk", json!("META")),
        ("gsi1pk", json!(format!("GUEST#{task}"))),
        (
            "gsi1sk",
            json!(format!("2025-06-{:02}#{reservation}", n % 28 + 1)),
        ),
        ("status", json!("HELD")),
        ("amount", json!(12_900)),
    ] {
        item.insert(k.into(), v);
    }
    let writes = vec![
        Write::Update {
            key: counter,
            set: Item::new(),
            add: vec![("held".into(), 1)],
            cond: Some(Cond::Or(vec![
                Cond::AttrNotExists("held".into()),
                Cond::Le("held".into(), i64::MAX / 2),
            ])),
        },
        Write::Put {
            item,
            cond: Some(Cond::NotExists),
        },
    ];
    let event = reserveplace_domain::events::example(
        reserveplace_domain::events::EventName::ReservationConfirmed,
        &reservation,
    );
    (writes, vec![event])
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let dir = args
        .dir
        .join(format!("commit-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = run(&args, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn run(args: &Args, dir: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    let db = Database::open(&dir.join("bench.sqlite"))?;
    let table = db.table("reservations");
    // Consume the outbox like the local runtime does, so the bench includes publication.
    let mut outbox = db.subscribe_outbox();
    let consumer = tokio::spawn(async move {
        let mut seen = 0usize;
        while outbox.recv().await.is_some() {
            seen += 1;
        }
        seen
    });

    let per_task = args.txns / args.tasks;
    let extra = args.txns % args.tasks;
    let started = Instant::now();
    let workers: Vec<_> = (0..args.tasks)
        .map(|task| {
            let table = Arc::clone(&table);
            let count = per_task + usize::from(task < extra);
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(count);
                let mut failures = 0usize;
                for n in 0..count {
                    let (writes, events) = hold(task, n);
                    let t0 = Instant::now();
                    if table.transact(writes, events).await.is_err() {
                        failures += 1;
                    }
                    latencies.push(t0.elapsed());
                }
                (latencies, failures)
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(args.txns);
    let mut failures = 0;
    for w in workers {
        let (l, f) = w.await?;
        latencies.extend(l);
        failures += f;
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();

    let committed = latencies.len() - failures;
    let log = db.event_log(None).await?;
    drop(table);
    drop(db); // closes the queue; the consumer ends once every entry was delivered
    let published = consumer.await?;

    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "commit_bench: {} tasks, {} transactions (2 writes + 1 event each), dir {}",
        args.tasks,
        latencies.len(),
        dir.display()
    );
    println!("  elapsed        {:>10.3} s", elapsed.as_secs_f64());
    println!(
        "  committed      {:>10.0} txn/s  ({committed} ok, {failures} failed)",
        committed as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  latency p50    {:>10.3} ms",
        ms(percentile(&latencies, 50.0))
    );
    println!(
        "  latency p99    {:>10.3} ms",
        ms(percentile(&latencies, 99.0))
    );
    println!(
        "  latency max    {:>10.3} ms",
        ms(latencies.last().copied().unwrap_or_default())
    );
    println!(
        "  outbox         {} committed, {published} delivered to the subscriber",
        log.len()
    );
    Ok(())
}
