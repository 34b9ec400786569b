//! A stay: the nights [checkIn, checkOut). Dates are ISO `YYYY-MM-DD`.
use time::{Date, Duration, macros::format_description};

use crate::error::DomainError;

pub const MAX_NIGHTS: i64 = 30;
/// How far ahead a stay may begin: five years (1825 days), which covers any real booking window,
/// so a typo such as 9999-12-30 is refused instead of becoming a hold nobody will ever use.
pub const MAX_DAYS_AHEAD: i64 = 1825;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stay {
    pub check_in: Date,
    pub check_out: Date,
}

pub fn parse_date(field: &str, s: &str) -> Result<Date, DomainError> {
    let fmt = format_description!("[year]-[month]-[day]");
    // Exactly `\d{4}-\d{2}-\d{2}`, as openapi.yaml says: `time` alone would also take a signed
    // or longer year ("+2027-05-01"), which no client means and no answer may echo.
    let shaped = s.len() == 10
        && s.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    shaped
        .then(|| Date::parse(s, &fmt).ok())
        .flatten()
        .ok_or_else(|| DomainError::invalid(field, format!("'{s}' is not a date YYYY-MM-DD")))
}

pub fn format_date(d: Date) -> String {
    let fmt = format_description!("[year]-[month]-[day]");
    d.format(&fmt).unwrap_or_default()
}

/// Serde for a `time::Date` as `YYYY-MM-DD` (`#[serde(with = "crate::stay::iso_date")]`).
pub mod iso_date {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};
    use time::Date;

    pub fn serialize<S: Serializer>(d: &Date, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_date(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let text = String::deserialize(d)?;
        super::parse_date("date", &text).map_err(D::Error::custom)
    }
}

impl Stay {
    pub fn parse(check_in: &str, check_out: &str) -> Result<Stay, DomainError> {
        let check_in = parse_date("checkIn", check_in)?;
        let check_out = parse_date("checkOut", check_out)?;
        Stay::new(check_in, check_out)
    }

    pub fn new(check_in: Date, check_out: Date) -> Result<Stay, DomainError> {
        let nights = (check_out - check_in).whole_days();
        if nights < 1 {
            return Err(DomainError::invalid(
                "checkOut",
                "checkOut must be after checkIn",
            ));
        }
        if nights > MAX_NIGHTS {
            return Err(DomainError::invalid(
                "checkOut",
                format!("a stay is at most {MAX_NIGHTS} nights"),
            ));
        }
        Ok(Stay {
            check_in,
            check_out,
        })
    }

    /// Whether a customer may book this stay on `today` (UTC): check-in from yesterday (one
    /// day of slack so a customer just east of UTC can still book their "today") up to
    /// `MAX_DAYS_AHEAD` days after today.
    pub fn ensure_bookable(&self, today: Date) -> Result<(), DomainError> {
        if self.check_in < today.previous_day().unwrap_or(today) {
            return Err(DomainError::invalid(
                "checkIn",
                format!("checkIn is in the past (today is {})", format_date(today)),
            ));
        }
        if (self.check_in - today).whole_days() > MAX_DAYS_AHEAD {
            return Err(DomainError::invalid(
                "checkIn",
                format!(
                    "checkIn is at most {MAX_DAYS_AHEAD} days ahead (today is {})",
                    format_date(today)
                ),
            ));
        }
        Ok(())
    }

    pub fn nights(&self) -> i64 {
        (self.check_out - self.check_in).whole_days()
    }

    /// Every night of the stay as `YYYY-MM-DD`.
    pub fn night_dates(&self) -> Vec<String> {
        (0..self.nights())
            .map(|i| format_date(self.check_in + Duration::days(i)))
            .collect()
    }

    pub fn check_in_str(&self) -> String {
        format_date(self.check_in)
    }
    pub fn check_out_str(&self) -> String {
        format_date(self.check_out)
    }
}

/// `YYYY-MM` of a day.
pub fn month_of(day: Date) -> String {
    format!("{:04}-{:02}", day.year(), u8::from(day.month()))
}

/// The nights of a stay, grouped by the calendar month they fall in, in order (one or two groups
/// for a stay of at most 30 nights).
pub fn nights_by_month(stay: &Stay) -> Vec<(String, Vec<Date>)> {
    let mut groups: Vec<(String, Vec<Date>)> = Vec::new();
    for i in 0..stay.nights() {
        let night = stay.check_in + Duration::days(i);
        let month = month_of(night);
        match groups.last_mut() {
            Some((m, nights)) if *m == month => nights.push(night),
            _ => groups.push((month, vec![night])),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_exactly_four_two_two_digits() {
        for bad in [
            "+2027-05-01",
            "-2027-01-01",
            "+02027-05-01",
            "02027-05-01",
            "2027-5-01",
            "20270501",
            "2027-05-01 ",
            "２０２７-05-01",
            "2027-02-30",
        ] {
            assert!(parse_date("d", bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            format_date(parse_date("d", "2027-05-01").expect("ok")),
            "2027-05-01"
        );
    }

    #[test]
    fn nights_are_half_open() {
        let s = Stay::parse("2024-02-28", "2024-03-02").expect("valid");
        assert_eq!(
            s.night_dates(),
            vec!["2024-02-28", "2024-02-29", "2024-03-01"]
        );
    }

    #[test]
    fn rejects_reversed_empty_long_and_malformed() {
        assert!(Stay::parse("2024-02-22", "2024-02-21").is_err());
        assert!(Stay::parse("2024-02-22", "2024-02-22").is_err());
        assert!(Stay::parse("2024-01-01", "2024-02-01").is_err());
        assert!(Stay::parse("2024-01-01", "2024-01-31").is_ok());
        assert!(Stay::parse("20240101", "2024-01-02").is_err());
        assert!(Stay::parse("2024-02-30", "2024-03-02").is_err());
    }

    #[test]
    fn bookable_from_yesterday_to_the_horizon() {
        let today = parse_date("d", "2026-01-10").expect("date");
        let ok = |a: &str, b: &str| Stay::parse(a, b).expect("stay").ensure_bookable(today);
        assert!(ok("2026-01-08", "2026-01-09").is_err(), "two days ago");
        assert!(ok("2026-01-09", "2026-01-10").is_ok(), "yesterday (slack)");
        // 2026-01-10 + 1825 days (2028 is a leap year) = 2031-01-09.
        assert!(ok("2031-01-09", "2031-01-10").is_ok(), "1825 days ahead");
        assert!(ok("2031-01-10", "2031-01-11").is_err(), "1826 days ahead");
        assert!(ok("9999-12-30", "9999-12-31").is_err(), "far future");
    }
}
