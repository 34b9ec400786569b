//! A place's local time: its IANA time zone and the wall-clock times of check-in and check-out.
//! Deadlines such as "24 hours before check-in" are instants of the place's check-in time in its
//! zone; they are resolved once, at booking, to UTC instants.
use std::fmt;

use jiff::tz::TimeZone;
use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error};
use time::{Date, OffsetDateTime};

use crate::error::{DomainError, DomainResult};

/// What places stored before time zones existed are read as (the seed was a Korean service).
pub const DEFAULT_TIME_ZONE: &str = "Asia/Seoul";

/// An IANA time zone (`Asia/Seoul`, `America/New_York`). The database is built into the binary,
/// so a Lambda and a laptop resolve every deadline the same way.
#[derive(Clone)]
pub struct PlaceZone {
    name: String,
    tz: TimeZone,
}

impl PlaceZone {
    pub fn parse(name: &str) -> Option<PlaceZone> {
        // Names only: offsets and POSIX rules carry no daylight-saving history of a place.
        let shaped = name.contains('/') || name == "UTC";
        let tz = TimeZone::get(name).ok().filter(|_| shaped)?;
        Some(PlaceZone {
            name: name.to_string(),
            tz,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The instant (UTC) of `at` o'clock on `date` in this zone. A time a daylight-saving change
    /// skips is moved forward by the change (02:30 becomes 03:30); a repeated one is its first
    /// occurrence.
    pub fn instant(&self, date: Date, at: LocalTime) -> DomainResult<OffsetDateTime> {
        let civil = jiff::civil::Date::new(
            date.year() as i16,
            u8::from(date.month()) as i8,
            date.day() as i8,
        )
        .and_then(|d| {
            self.tz
                .to_ambiguous_timestamp(d.at(at.hour as i8, at.minute as i8, 0, 0))
                .compatible()
        });
        civil
            .ok()
            .and_then(|t| OffsetDateTime::from_unix_timestamp(t.as_second()).ok())
            .ok_or_else(|| {
                DomainError::invalid("checkIn", "no such local time in the place's zone")
            })
    }

    /// The wall-clock time here at `instant`, as `YYYY-MM-DD HH:MM`.
    pub fn local(&self, instant: OffsetDateTime) -> String {
        let offset = jiff::Timestamp::from_second(instant.unix_timestamp())
            .map(|t| self.tz.to_offset(t).seconds())
            .unwrap_or(0);
        let local = time::UtcOffset::from_whole_seconds(offset)
            .map(|o| instant.to_offset(o))
            .unwrap_or(instant);
        format!(
            "{} {:02}:{:02}",
            crate::stay::format_date(local.date()),
            local.hour(),
            local.minute()
        )
    }
}

impl Default for PlaceZone {
    fn default() -> Self {
        PlaceZone {
            name: DEFAULT_TIME_ZONE.into(),
            tz: TimeZone::get(DEFAULT_TIME_ZONE).unwrap_or(TimeZone::UTC),
        }
    }
}

impl PartialEq for PlaceZone {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}
impl Eq for PlaceZone {}

impl fmt::Debug for PlaceZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PlaceZone({})", self.name)
    }
}

impl Serialize for PlaceZone {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name)
    }
}

impl<'de> Deserialize<'de> for PlaceZone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        PlaceZone::parse(&name).ok_or_else(|| {
            D::Error::custom(format!(
                "time zone '{}' is not an IANA zone name such as Asia/Seoul or Europe/London",
                name.escape_debug()
            ))
        })
    }
}

/// A time zone's name as an owner gives it: checked (with a 422 naming the field) when the place
/// is registered, not when the body is read, since no schema can list every zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TimeZoneName(pub String);

impl TimeZoneName {
    pub fn zone(&self) -> DomainResult<PlaceZone> {
        PlaceZone::parse(&self.0).ok_or_else(|| {
            DomainError::invalid(
                "timeZone",
                format!(
                    "'{}' is not an IANA time zone name such as Asia/Seoul or Europe/London",
                    self.0.escape_debug()
                ),
            )
        })
    }
}

impl Default for TimeZoneName {
    fn default() -> Self {
        TimeZoneName(DEFAULT_TIME_ZONE.into())
    }
}

/// A wall-clock time `HH:MM` (24 h).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LocalTime {
    pub hour: u8,
    pub minute: u8,
}

impl LocalTime {
    pub const CHECK_IN: LocalTime = LocalTime {
        hour: 15,
        minute: 0,
    };
    pub const CHECK_OUT: LocalTime = LocalTime {
        hour: 11,
        minute: 0,
    };

    pub fn parse(text: &str) -> Option<LocalTime> {
        let (h, m) = text.split_once(':')?;
        let two_digits = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit());
        if !two_digits(h) || !two_digits(m) {
            return None;
        }
        let (hour, minute) = (h.parse().ok()?, m.parse().ok()?);
        (hour < 24 && minute < 60).then_some(LocalTime { hour, minute })
    }

    pub fn check_in() -> Self {
        Self::CHECK_IN
    }
    pub fn check_out() -> Self {
        Self::CHECK_OUT
    }
    pub fn midnight() -> Self {
        LocalTime { hour: 0, minute: 0 }
    }
}

impl fmt::Display for LocalTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.hour, self.minute)
    }
}

impl Serialize for LocalTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for LocalTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        LocalTime::parse(&text).ok_or_else(|| {
            D::Error::custom(format!(
                "'{}' is not a time HH:MM (00:00 to 23:59)",
                text.escape_debug()
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_are_iana_names() {
        assert!(PlaceZone::parse("Asia/Seoul").is_some());
        assert!(PlaceZone::parse("America/St_Johns").is_some());
        assert!(PlaceZone::parse("UTC").is_some());
        assert!(PlaceZone::parse("Mars/Olympus").is_none());
        assert!(PlaceZone::parse("+09:00").is_none());
        assert!(PlaceZone::parse("").is_none());
    }

    #[test]
    fn times_are_hh_mm() {
        assert_eq!(LocalTime::parse("15:00"), Some(LocalTime::CHECK_IN));
        assert_eq!(
            LocalTime::parse("23:59").map(|t| t.to_string()),
            Some("23:59".into())
        );
        for bad in ["24:00", "9:00", "12:60", "12:5", "12-00", "", "ab:cd"] {
            assert_eq!(LocalTime::parse(bad), None, "{bad}");
        }
    }
}
