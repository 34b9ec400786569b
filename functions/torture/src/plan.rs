//! The vocabulary of workloads: scenarios, places, stays and dates.
use std::str::FromStr;

use time::{Date, Duration as Days, OffsetDateTime};

/// The scenarios: the six of `RELIABILITY.md` and the seed facade under concurrency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scenario {
    Load,
    Crash,
    Duplicates,
    Payment,
    Down,
    Idempotency,
    Seed,
}

impl Scenario {
    pub const ALL: [Scenario; 7] = [
        Scenario::Load,
        Scenario::Crash,
        Scenario::Duplicates,
        Scenario::Payment,
        Scenario::Down,
        Scenario::Idempotency,
        Scenario::Seed,
    ];

    pub fn number(self) -> usize {
        match self {
            Scenario::Load => 1,
            Scenario::Crash => 2,
            Scenario::Duplicates => 3,
            Scenario::Payment => 4,
            Scenario::Down => 5,
            Scenario::Idempotency => 6,
            Scenario::Seed => 7,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Load => "load",
            Scenario::Crash => "crash",
            Scenario::Duplicates => "duplicates",
            Scenario::Payment => "payment",
            Scenario::Down => "down",
            Scenario::Idempotency => "idempotency",
            Scenario::Seed => "seed",
        }
    }

    /// "1 load", used as the prefix of every check of the scenario.
    pub fn title(self) -> String {
        format!("{} {}", self.number(), self.name())
    }
}

impl FromStr for Scenario {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim().to_ascii_lowercase();
        Scenario::ALL
            .iter()
            .copied()
            .find(|x| x.name() == s || x.number().to_string() == s)
            .or(match s.as_str() {
                "dup" | "duplicate" | "disorder" => Some(Scenario::Duplicates),
                "idem" | "idempotency-key" => Some(Scenario::Idempotency),
                "payments" | "faults" => Some(Scenario::Payment),
                "owner-down" => Some(Scenario::Down),
                "seed-facade" | "accommodations" => Some(Scenario::Seed),
                _ => None,
            })
            .ok_or_else(|| {
                format!(
                    "unknown scenario '{s}' (1-7 or {})",
                    Scenario::ALL.map(|x| x.name()).join(", ")
                )
            })
    }
}

/// A place the workload registers, or a second room type of one.
#[derive(Debug, Clone)]
pub struct PlaceSpec {
    pub owner: String,
    pub rooms: i64,
    pub price: i64,
    pub instant: bool,
    /// `Some(i)`: not a place of its own but the `suite` room type of spec `i`'s place, which
    /// then sells two room types, each with its own inventory.
    pub suite_of: Option<usize>,
}

/// The `standard` room type of a place, as every place registered with `roomCount` has.
pub const STANDARD: &str = "standard";
pub const SUITE: &str = "suite";

/// A registered room type of a place: what the invariants judge as one inventory (a place of
/// two room types is two of these, with the same id).
#[derive(Debug, Clone)]
pub struct PlaceRef {
    pub id: String,
    pub owner: String,
    pub room_type: String,
    /// The place sells another room type too.
    pub shared: bool,
    pub rooms: i64,
    pub price: i64,
    pub instant: bool,
}

/// First night of every workload: far enough ahead that the date never matters.
pub fn base_date() -> Date {
    OffsetDateTime::now_utc().date() + Days::days(40)
}

pub fn fmt_date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

pub fn night(base: Date, offset: i64) -> String {
    fmt_date(base + Days::days(offset))
}

/// A stay to reserve: place index, first night offset from the base date, nights, rooms.
#[derive(Debug, Clone)]
pub struct Stay {
    pub user: String,
    pub place: usize,
    pub start: i64,
    pub nights: i64,
    pub rooms: i64,
}

impl Stay {
    pub fn check_in(&self, base: Date) -> String {
        night(base, self.start)
    }
    pub fn check_out(&self, base: Date) -> String {
        night(base, self.start + self.nights)
    }
    pub fn night_names(&self, base: Date) -> Vec<String> {
        (self.start..self.start + self.nights)
            .map(|d| night(base, d))
            .collect()
    }
}

/// A stable 64-bit hash (FNV-1a) for choices that must not depend on the process.
pub fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scenario_parses_by_number_and_name() {
        for s in Scenario::ALL {
            assert_eq!(s.number().to_string().parse::<Scenario>(), Ok(s));
            assert_eq!(s.name().parse::<Scenario>(), Ok(s));
        }
        assert_eq!("seed".parse::<Scenario>(), Ok(Scenario::Seed));
        assert!("8".parse::<Scenario>().is_err());
    }
}
