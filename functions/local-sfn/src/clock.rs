//! Wall-clock time. Durable timers are stored as Unix milliseconds so they survive restarts;
//! they are turned into tokio sleeps only when armed.
//!
//! "Now" is the later of the wall clock and the wall clock's first reading advanced by tokio's
//! clock since then. In production that is the wall clock (never going back); under a paused
//! tokio clock (`tokio::time::pause`, tests) it is virtual time, so a week of retries and timers
//! runs in milliseconds with timestamps, deadlines and sleeps that agree.

use std::sync::LazyLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The wall clock and tokio's clock at the same moment (the first reading of the process).
static ANCHOR: LazyLock<(i64, Instant)> = LazyLock::new(|| (wall_ms(), Instant::now()));

pub(crate) fn now_ms() -> i64 {
    let (wall, at) = *ANCHOR;
    // `saturating_duration_since`: a clock paused behind the anchor (another test runtime)
    // reads as the anchor, never as a time before it.
    let elapsed = Instant::now().saturating_duration_since(at).as_millis();
    let advanced = wall.saturating_add(i64::try_from(elapsed).unwrap_or(i64::MAX));
    advanced.max(wall_ms())
}

/// `2024-05-01T10:00:00.123Z`, the format of Step Functions' context timestamps.
pub(crate) fn format_ms(ms: i64) -> String {
    const FMT: &[time::format_description::BorrowedFormatItem<'static>] = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(FMT).ok())
        .unwrap_or_else(|| ms.to_string())
}

pub(crate) fn parse_rfc3339_ms(text: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// Sleeps until a wall-clock deadline; a deadline in the past returns at once.
pub(crate) async fn sleep_until_ms(deadline_ms: i64) {
    let remaining = deadline_ms.saturating_sub(now_ms());
    if remaining > 0 {
        tokio::time::sleep(Duration::from_millis(remaining.unsigned_abs())).await;
    }
}

/// Adds seconds to a millisecond timestamp without overflowing.
pub(crate) fn plus_seconds(ms: i64, seconds: u64) -> i64 {
    ms.saturating_add(
        i64::try_from(seconds)
            .unwrap_or(i64::MAX)
            .saturating_mul(1000),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_round_trip() {
        let ms = 1_714_557_600_123;
        let text = format_ms(ms);
        assert_eq!(text, "2024-05-01T10:00:00.123Z");
        assert_eq!(parse_rfc3339_ms(&text), Some(ms));
        assert_eq!(
            parse_rfc3339_ms("2024-05-01T12:00:00+02:00"),
            Some(ms - 123)
        );
        assert_eq!(parse_rfc3339_ms("yesterday"), None);
    }
}
