//! `reserveplace-ops`: the event consumers' queues, their dead letters and the bus's archive,
//! seen and fixed from one command. Credentials, region and endpoint come from the standard AWS
//! environment (`AWS_PROFILE`, `AWS_REGION`, `AWS_ENDPOINT_URL`, …). Exit status: 0 done, 1
//! failed, 2 bad arguments, 3 (`queues`) a dead-letter queue holds messages.
use std::process::ExitCode;
use std::time::Duration;

use aws_config::BehaviorVersion;
use clap::{Parser, Subcommand};
use reserveplace_ops::queues::{self, QueueRow};
use reserveplace_ops::redrive::{self, Pace, Progress, RedrivePath};
use reserveplace_ops::replay::{self, ReplayRequest};
use reserveplace_ops::{EXIT_DEAD_LETTERS, OpsError};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[derive(Parser)]
#[command(about = "The event consumers' SQS queues: depths, dead letters, redrive and replay")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Every queue with a RedrivePolicy beside its dead-letter queue; exits 3 when a
    /// dead-letter queue holds messages.
    Queues {
        /// Only queues whose name starts with this (the stack's name).
        #[arg(long)]
        prefix: Option<String>,
        /// A JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Moves a dead-letter queue's messages back to its source queue.
    Redrive {
        /// The dead-letter queue, by name or URL.
        dead_letter_queue: String,
        /// The destination, by name or URL (default: the queue whose RedrivePolicy names the
        /// dead-letter queue).
        #[arg(long)]
        to: Option<String>,
    },
    /// Replays the archive's events of a time range to the bus and waits for the end.
    Replay {
        #[arg(long)]
        archive: String,
        /// The archive's bus, by name or ARN.
        #[arg(long)]
        bus: String,
        /// Start of the range (RFC 3339, e.g. 2026-03-01T08:00:00Z).
        #[arg(long, value_parser = rfc3339)]
        from: OffsetDateTime,
        /// End of the range (RFC 3339).
        #[arg(long, value_parser = rfc3339)]
        to: OffsetDateTime,
        /// Only this rule's targets (its ARN; repeatable); every rule of the bus when absent.
        #[arg(long = "rule")]
        rules: Vec<String>,
        /// The replay's name (default: the archive and the range).
        #[arg(long)]
        name: Option<String>,
    },
}

fn rfc3339(s: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(s, &Rfc3339).map_err(|e| format!("not an RFC 3339 time: {e}"))
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = aws_config::load_defaults(BehaviorVersion::latest()).await;
    match run(cli.command, &config).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("reserveplace-ops: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: &aws_config::SdkConfig) -> Result<ExitCode, OpsError> {
    match command {
        Command::Queues { prefix, json } => {
            let sqs = aws_sdk_sqs::Client::new(config);
            let rows = queues::list(&sqs, prefix.as_deref()).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                print_table(&rows);
            }
            Ok(if queues::has_dead_letters(&rows) {
                ExitCode::from(EXIT_DEAD_LETTERS)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Redrive {
            dead_letter_queue,
            to,
        } => {
            let sqs = aws_sdk_sqs::Client::new(config);
            let done = redrive::redrive(
                &sqs,
                &dead_letter_queue,
                to.as_deref(),
                Pace::default(),
                &mut print_redrive,
            )
            .await?;
            let how = match &done.path {
                RedrivePath::MoveTask => "by a message move task".to_owned(),
                RedrivePath::ByHand { reason } => format!("by receive, send and delete ({reason})"),
            };
            println!(
                "moved {} messages from {} to {} {how}",
                done.moved, done.dead_letter_queue.name, done.destination.name
            );
            if done.duplicated > 0 {
                println!(
                    "{} of them could not be deleted and are still in {} too",
                    done.duplicated, done.dead_letter_queue.name
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Replay {
            archive,
            bus,
            from,
            to,
            rules,
            name,
        } => {
            let events = aws_sdk_eventbridge::Client::new(config);
            let request = ReplayRequest {
                archive,
                bus,
                from,
                to,
                rules,
                name,
            };
            let done = replay::replay(
                &events,
                &request,
                Duration::from_secs(5),
                &mut |p| match p {
                    replay::Progress::Started { name } => eprintln!("replay {name} started"),
                    replay::Progress::State {
                        state,
                        last_replayed,
                    } => match last_replayed
                        .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
                        .and_then(|t| t.format(&Rfc3339).ok())
                    {
                        Some(t) => eprintln!("{state}, replayed up to {t}"),
                        None => eprintln!("{state}"),
                    },
                },
            )
            .await?;
            println!("replay {} {}", done.name, done.state);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn print_redrive(p: Progress) {
    match p {
        Progress::Resolved { from, to } => eprintln!("{} -> {}", from.name, to.name),
        Progress::Task {
            status,
            moved,
            to_move,
        } => match to_move {
            Some(total) => eprintln!("{status}: {moved} of {total} moved"),
            None => eprintln!("{status}: {moved} moved"),
        },
        Progress::FallingBack { reason } => {
            eprintln!("no message move task on this endpoint ({reason}): moving by hand")
        }
        Progress::Moved { total } => eprintln!("{total} moved"),
    }
}

fn print_table(rows: &[QueueRow]) {
    let header = [
        "queue",
        "visible",
        "in-flight",
        "delayed",
        "max-receives",
        "dead-letter-queue",
        "dlq-depth",
        "dlq-oldest-s",
    ];
    let opt = |v: Option<u64>, none: &str| v.map_or(none.to_owned(), |v| v.to_string());
    let cells: Vec<[String; 8]> = rows
        .iter()
        .map(|r| {
            [
                r.queue.clone(),
                r.visible.to_string(),
                r.in_flight.to_string(),
                r.delayed.to_string(),
                r.max_receive_count.to_string(),
                r.dead_letter_queue.clone(),
                opt(r.dead_letter_depth, "missing"),
                opt(r.oldest_dead_letter_age_seconds, "-"),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.len());
        }
    }
    let line = |row: &[&str]| {
        row.iter()
            .zip(widths)
            .enumerate()
            .map(|(i, (c, w))| match i {
                0 | 5 => format!("{c:<w$}"),
                _ => format!("{c:>w$}"),
            })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    println!("{}", line(&header));
    for row in &cells {
        println!("{}", line(&row.each_ref().map(String::as_str)));
    }
}
