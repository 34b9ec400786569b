//! Time as a port, so rules that depend on "today" are testable.
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub trait Clock: Send + Sync {
    fn now(&self) -> OffsetDateTime;

    /// RFC 3339 timestamp with millisecond precision (UTC).
    fn now_rfc3339(&self) -> String {
        let now = self.now();
        let ms = now
            .replace_nanosecond(now.millisecond() as u32 * 1_000_000)
            .unwrap_or(now);
        ms.format(&Rfc3339).unwrap_or_default()
    }

    fn now_millis(&self) -> i64 {
        (self.now().unix_timestamp_nanos() / 1_000_000) as i64
    }
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}
