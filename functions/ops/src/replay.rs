//! The archive's events of a time range sent to the bus again, for consumers that missed or
//! failed them (they are idempotent, so the ones that already handled an event do no harm).
use std::time::Duration;

use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::operation::start_replay::StartReplayError;
use aws_sdk_eventbridge::primitives::DateTime;
use aws_sdk_eventbridge::types::{ReplayDestination, ReplayState};
use time::OffsetDateTime;
use time::macros::format_description;

use crate::OpsError;

/// What to replay.
#[derive(Debug, Clone)]
pub struct ReplayRequest {
    /// The archive's name.
    pub archive: String,
    /// The bus, by name or ARN: the archive's own bus (EventBridge replays to no other).
    pub bus: String,
    pub from: OffsetDateTime,
    pub to: OffsetDateTime,
    /// Only these rules' targets receive the events; every rule's when empty.
    pub rules: Vec<String>,
    /// The replay's name; [`replay_name`] when `None`.
    pub name: Option<String>,
}

/// What a replay reports while it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    Started {
        name: String,
    },
    /// The replay's state, and the time of the last event it replayed (Unix seconds).
    State {
        state: String,
        last_replayed: Option<i64>,
    },
}

/// A finished replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replayed {
    pub name: String,
    pub arn: Option<String>,
    pub state: String,
}

/// The replay's name from the archive and the range (`<archive>-<from>-<to>`, UTC, to the
/// second), within the 64 characters EventBridge allows: the same range of the same archive
/// gets the same name, so replaying it twice needs a deliberate `--name`.
pub fn replay_name(archive: &str, from: OffsetDateTime, to: OffsetDateTime) -> String {
    let format = format_description!("[year][month][day]T[hour][minute][second]Z");
    let stamp = |t: OffsetDateTime| {
        t.to_offset(time::UtcOffset::UTC)
            .format(&format)
            .unwrap_or_else(|_| t.unix_timestamp().to_string())
    };
    let range = format!("{}-{}", stamp(from), stamp(to));
    let room = 64 - range.len() - 1;
    let archive: String = archive.chars().take(room).collect();
    format!("{archive}-{range}")
}

/// Starts the replay and waits for it to end: `Ok` when it completed, an error when it failed
/// or was cancelled.
pub async fn replay(
    events: &Client,
    request: &ReplayRequest,
    poll: Duration,
    progress: &mut dyn FnMut(Progress),
) -> Result<Replayed, OpsError> {
    if request.from >= request.to {
        return Err(OpsError::EmptyRange {
            from: request.from.to_string(),
            to: request.to.to_string(),
        });
    }
    let archive = events
        .describe_archive()
        .archive_name(&request.archive)
        .send()
        .await
        .map_err(|e| OpsError::aws("DescribeArchive", e))?;
    let archive_arn = archive.archive_arn().ok_or(OpsError::Incomplete {
        operation: "DescribeArchive",
        field: "ArchiveArn",
    })?;
    let bus_arn = if request.bus.starts_with("arn:") {
        request.bus.clone()
    } else {
        events
            .describe_event_bus()
            .name(&request.bus)
            .send()
            .await
            .map_err(|e| OpsError::aws("DescribeEventBus", e))?
            .arn()
            .ok_or(OpsError::Incomplete {
                operation: "DescribeEventBus",
                field: "Arn",
            })?
            .to_owned()
    };
    if let Some(source) = archive.event_source_arn()
        && source != bus_arn
    {
        return Err(OpsError::ArchiveNotOnBus {
            archive: request.archive.clone(),
            source_bus: source.to_owned(),
            bus: bus_arn,
        });
    }
    let name = request
        .name
        .clone()
        .unwrap_or_else(|| replay_name(&request.archive, request.from, request.to));
    let destination = ReplayDestination::builder()
        .arn(&bus_arn)
        .set_filter_arns((!request.rules.is_empty()).then(|| request.rules.clone()))
        .build()
        .map_err(|e| OpsError::Build {
            operation: "StartReplay",
            message: e.to_string(),
        })?;
    let started = events
        .start_replay()
        .replay_name(&name)
        .event_source_arn(archive_arn)
        .event_start_time(aws_time(request.from))
        .event_end_time(aws_time(request.to))
        .destination(destination)
        .send()
        .await
        .map_err(|e| match e.as_service_error() {
            Some(StartReplayError::ResourceAlreadyExistsException(_)) => {
                OpsError::ReplayExists(name.clone())
            }
            _ => OpsError::aws("StartReplay", e),
        })?;
    progress(Progress::Started { name: name.clone() });
    let mut last = None;
    loop {
        let described = events
            .describe_replay()
            .replay_name(&name)
            .send()
            .await
            .map_err(|e| OpsError::aws("DescribeReplay", e))?;
        let state = described.state().cloned();
        let shown = (
            state.clone(),
            described.event_last_replayed_time().map(DateTime::secs),
        );
        if last.as_ref() != Some(&shown) {
            progress(Progress::State {
                state: state
                    .as_ref()
                    .map_or("UNKNOWN", ReplayState::as_str)
                    .to_owned(),
                last_replayed: shown.1,
            });
            last = Some(shown);
        }
        match state {
            Some(ReplayState::Completed) => {
                return Ok(Replayed {
                    name,
                    arn: started.replay_arn().map(str::to_owned),
                    state: ReplayState::Completed.as_str().to_owned(),
                });
            }
            Some(s @ (ReplayState::Failed | ReplayState::Cancelled)) => {
                return Err(OpsError::ReplayEnded {
                    name,
                    state: s.as_str().to_owned(),
                    reason: described
                        .state_reason()
                        .unwrap_or("no reason given")
                        .to_owned(),
                });
            }
            _ => tokio::time::sleep(poll).await,
        }
    }
}

fn aws_time(t: OffsetDateTime) -> DateTime {
    DateTime::from_secs_and_nanos(t.unix_timestamp(), t.nanosecond())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_replay_is_named_after_its_archive_and_range_within_64_characters() {
        let from = datetime!(2026-03-01 10:00:00 +02:00);
        let to = datetime!(2026-03-01 12:30:15 UTC);
        assert_eq!(
            replay_name("my-stack-events", from, to),
            "my-stack-events-20260301T080000Z-20260301T123015Z"
        );
        let long = replay_name(&"a".repeat(48), from, to);
        assert_eq!(long.len(), 64);
        assert!(long.ends_with("-20260301T080000Z-20260301T123015Z"));
    }
}
