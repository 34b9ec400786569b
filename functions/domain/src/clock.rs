//! Time as a port, so rules that depend on "today" are testable.
use time::OffsetDateTime;

pub trait Clock: Send + Sync {
    fn now(&self) -> OffsetDateTime;

    /// RFC 3339 UTC timestamp with exactly three fractional digits, so timestamps sort as strings.
    fn now_rfc3339(&self) -> String {
        let t = self.now().to_offset(time::UtcOffset::UTC);
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.millisecond()
        )
    }

    fn now_millis(&self) -> i64 {
        (self.now().unix_timestamp_nanos() / 1_000_000) as i64
    }
}

/// Waiting, as a port: the domain performs no I/O and owns no timer.
#[async_trait::async_trait]
pub trait Sleeper: Send + Sync {
    async fn sleep(&self, duration: std::time::Duration);
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct At(OffsetDateTime);
    impl Clock for At {
        fn now(&self) -> OffsetDateTime {
            self.0
        }
    }

    #[test]
    fn timestamps_are_fixed_width() {
        let t = OffsetDateTime::from_unix_timestamp(1_708_589_735).expect("time");
        assert_eq!(At(t).now_rfc3339(), "2024-02-22T08:15:35.000Z");
        let t = t + time::Duration::milliseconds(50);
        assert_eq!(At(t).now_rfc3339(), "2024-02-22T08:15:35.050Z");
    }
}
