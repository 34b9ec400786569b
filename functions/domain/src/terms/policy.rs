//! Cancellation policies: the four presets by name, or the owner's own tiers. A policy is a rule
//! about time before check-in; at booking it is resolved into a snapshot of windows that start at
//! UTC instants and say what a cancel from then on keeps, so nothing an owner changes later (nor
//! a daylight-saving rule) alters a booking already made.
//!
//! Rounding: a percentage penalty is rounded down to the minor unit, in the guest's favour, and the
//! refund is the total minus the penalty, so the two always add up to what was paid.
use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error};
use time::{Date, Duration, OffsetDateTime};

use super::zone::{LocalTime, PlaceZone};
use super::{Currency, format_amount};
use crate::error::{DomainError, DomainResult};

pub const MAX_TIERS: usize = 10;
pub const MAX_GRACE_HOURS: u32 = 168;
/// A tier starts at most a year before check-in.
pub const MAX_LEAD_HOURS: u32 = 8_784;
pub const MAX_PENALTY_NIGHTS: u8 = 30;

/// One step of a policy as an owner writes it: from this long before check-in on (from the
/// booking itself when neither is given), a cancel keeps this much.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Tier {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours_before_check_in: Option<u32>,
    /// Calendar days in the place's time zone: the wall time stays the check-in time across a
    /// daylight-saving change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days_before_check_in: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub penalty_percent: Option<u8>,
    /// The first nights of the stay (all rooms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub penalty_nights: Option<u8>,
}

impl Tier {
    const fn at(
        hours: Option<u32>,
        days: Option<u32>,
        percent: Option<u8>,
        nights: Option<u8>,
    ) -> Tier {
        Tier {
            hours_before_check_in: hours,
            days_before_check_in: days,
            penalty_percent: percent,
            penalty_nights: nights,
        }
    }

    /// Hours before check-in, for ordering (a day counted as 24 h); `None` from booking.
    fn lead_hours(&self) -> Option<u32> {
        self.hours_before_check_in
            .or(self.days_before_check_in.map(|d| d.saturating_mul(24)))
    }

    /// When the tier starts for a check-in at `at` on `date` (instant `check_in`); `None` from
    /// booking. Hours are elapsed time; days are calendar days at the local check-in time.
    fn start(
        &self,
        zone: &PlaceZone,
        (date, at): (Date, LocalTime),
        check_in: OffsetDateTime,
    ) -> DomainResult<Option<OffsetDateTime>> {
        match (self.hours_before_check_in, self.days_before_check_in) {
            (Some(h), _) => Ok(Some(check_in - Duration::hours(i64::from(h)))),
            (_, Some(d)) => zone
                .instant(date - Duration::days(i64::from(d)), at)
                .map(Some),
            _ => Ok(None),
        }
    }

    /// What a cancel under this tier keeps of `nights` (each night's price for all rooms).
    fn penalty(&self, nights: &[i64]) -> i64 {
        let total: i64 = nights.iter().sum();
        match (self.penalty_percent, self.penalty_nights) {
            // Rounded down: the guest's favour (see the module's note).
            (Some(p), _) => total * i64::from(p.min(100)) / 100,
            (_, Some(n)) => nights.iter().take(usize::from(n)).sum(),
            _ => 0,
        }
    }
}

/// An owner's own policy: tiers in time order (the first from booking), and optionally a grace
/// period after booking with a full refund, when check-in is far enough away.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CustomPolicy {
    pub tiers: Vec<Tier>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_hours: Option<u32>,
    /// The grace period applies only when check-in is at least this many days after booking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_min_lead_days: Option<u32>,
}

impl CustomPolicy {
    pub fn validate(&self, field: &str) -> DomainResult<()> {
        let bad = |at: String, why: &str| Err(DomainError::invalid(&at, why.to_string()));
        if self.tiers.is_empty() || self.tiers.len() > MAX_TIERS {
            return bad(format!("{field}.tiers"), "must list 1 to 10 tiers");
        }
        let mut previous: Option<u32> = None;
        for (i, t) in self.tiers.iter().enumerate() {
            let at = format!("{field}.tiers[{i}]");
            match (t.penalty_percent, t.penalty_nights) {
                (Some(p), None) if p <= 100 => {}
                (None, Some(n)) if (1..=MAX_PENALTY_NIGHTS).contains(&n) => {}
                _ => {
                    return bad(
                        at,
                        "needs exactly one of penaltyPercent (0 to 100) or penaltyNights (1 to 30)",
                    );
                }
            }
            let lead = t.lead_hours();
            match (
                i,
                lead,
                t.hours_before_check_in.is_some() && t.days_before_check_in.is_some(),
            ) {
                (_, _, true) => {
                    return bad(at, "gives both hoursBeforeCheckIn and daysBeforeCheckIn");
                }
                (0, Some(_), _) => {
                    return bad(
                        at,
                        "the first tier starts at booking: give it no hours or days",
                    );
                }
                (1.., None, _) => return bad(at, "needs hoursBeforeCheckIn or daysBeforeCheckIn"),
                (_, Some(h), _) if h > MAX_LEAD_HOURS => {
                    return bad(at, "starts more than a year before check-in");
                }
                _ => {}
            }
            if let (Some(before), Some(now)) = (previous, lead)
                && now >= before
            {
                return bad(at, "must start closer to check-in than the tier before it");
            }
            previous = lead.or(previous);
        }
        if self
            .grace_hours
            .is_some_and(|h| h == 0 || h > MAX_GRACE_HOURS)
        {
            return bad(format!("{field}.graceHours"), "must be from 1 to 168");
        }
        if self.grace_min_lead_days.is_some_and(|d| d > 366) {
            return bad(format!("{field}.graceMinLeadDays"), "must be from 0 to 366");
        }
        if self.grace_min_lead_days.is_some() && self.grace_hours.is_none() {
            return bad(format!("{field}.graceMinLeadDays"), "needs graceHours");
        }
        Ok(())
    }
}

/// A policy as a rate plan names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancellationPolicy {
    /// Full refund until 24 h before check-in; after that the first night is kept.
    Flexible,
    /// Full refund until 5 days before check-in; after that half the total is kept.
    Moderate,
    /// Full refund within 48 h of booking if check-in is at least 14 days away; half refunded
    /// until 7 days before check-in; nothing after.
    Strict,
    /// Nothing is refunded once paid.
    NonRefundable,
    Custom(CustomPolicy),
}

const PRESETS: [(&str, CancellationPolicy); 4] = [
    ("FLEXIBLE", CancellationPolicy::Flexible),
    ("MODERATE", CancellationPolicy::Moderate),
    ("STRICT", CancellationPolicy::Strict),
    ("NON_REFUNDABLE", CancellationPolicy::NonRefundable),
];

impl CancellationPolicy {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Flexible => "FLEXIBLE",
            Self::Moderate => "MODERATE",
            Self::Strict => "STRICT",
            Self::NonRefundable => "NON_REFUNDABLE",
            Self::Custom(_) => "CUSTOM",
        }
    }

    /// Every policy as tiers: the presets are tiers too, so one resolution serves all.
    pub fn rules(&self) -> CustomPolicy {
        let tiers = |tiers: Vec<Tier>| CustomPolicy {
            tiers,
            grace_hours: None,
            grace_min_lead_days: None,
        };
        match self {
            Self::Flexible => tiers(vec![
                Tier::at(None, None, Some(0), None),
                Tier::at(Some(24), None, None, Some(1)),
            ]),
            Self::Moderate => tiers(vec![
                Tier::at(None, None, Some(0), None),
                Tier::at(None, Some(5), Some(50), None),
            ]),
            Self::Strict => CustomPolicy {
                grace_hours: Some(48),
                grace_min_lead_days: Some(14),
                ..tiers(vec![
                    Tier::at(None, None, Some(50), None),
                    Tier::at(None, Some(7), Some(100), None),
                ])
            },
            Self::NonRefundable => tiers(vec![Tier::at(None, None, Some(100), None)]),
            Self::Custom(c) => c.clone(),
        }
    }

    pub fn validate(&self, field: &str) -> DomainResult<()> {
        match self {
            Self::Custom(c) => c.validate(field),
            _ => Ok(()),
        }
    }

    /// The policy for a booking made at `booked_at` of a stay checking in on a date at the place's
    /// local check-in time, whose nights cost `nights` (each for all rooms).
    pub fn resolve(
        &self,
        zone: &PlaceZone,
        currency: Currency,
        booked_at: OffsetDateTime,
        check_in_day: (Date, LocalTime),
        nights: &[i64],
    ) -> DomainResult<PolicySnapshot> {
        let check_in = zone.instant(check_in_day.0, check_in_day.1)?;
        let rules = self.rules();
        let total: i64 = nights.iter().sum();
        let booked_at = booked_at.replace_nanosecond(0).unwrap_or(booked_at);
        // Each tier's start, never before the booking.
        let mut windows: Vec<(OffsetDateTime, i64)> = vec![];
        for tier in &rules.tiers {
            let start = tier
                .start(zone, check_in_day, check_in)?
                .map_or(booked_at, |s| s.max(booked_at));
            // A later tier that starts at the same instant replaces the earlier one.
            windows.retain(|(from, _)| *from < start);
            windows.push((start, tier.penalty(nights)));
        }
        if let Some(hours) = rules.grace_hours {
            let lead_ok = match rules.grace_min_lead_days {
                None => true,
                Some(days) => {
                    let (date, at) = check_in_day;
                    booked_at <= zone.instant(date - Duration::days(i64::from(days)), at)?
                }
            };
            if lead_ok {
                let end = booked_at + Duration::hours(i64::from(hours));
                let after = in_force(&windows, end, |w| w.0).map_or(0, |w| w.1);
                windows.retain(|(from, _)| *from > end);
                windows.splice(0..0, [(booked_at, 0), (end, after)]);
            }
        }
        windows.dedup_by(|later, earlier| later.1 == earlier.1);
        let windows = windows
            .into_iter()
            .map(|(from, penalty)| PolicyWindow {
                from,
                penalty_amount: penalty,
                refund_amount: total - penalty,
            })
            .collect::<Vec<_>>();
        let description = describe(&windows, zone, currency, total);
        Ok(PolicySnapshot {
            name: self.name().to_string(),
            total,
            currency,
            time_zone: zone.clone(),
            check_in_at: check_in,
            windows,
            description,
        })
    }
}

/// The window in force at `at`: the last that starts at or before it (the first before any).
fn in_force<T>(
    windows: &[T],
    at: OffsetDateTime,
    from: impl Fn(&T) -> OffsetDateTime,
) -> Option<&T> {
    windows
        .iter()
        .rev()
        .find(|w| from(w) <= at)
        .or(windows.first())
}

impl Serialize for CancellationPolicy {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Custom(c) => c.serialize(s),
            preset => s.serialize_str(preset.name()),
        }
    }
}

impl<'de> Deserialize<'de> for CancellationPolicy {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        match value {
            serde_json::Value::String(name) => PRESETS
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, p)| p.clone())
                .ok_or_else(|| {
                    D::Error::custom(format!(
                        "cancellation policy '{}' is none of FLEXIBLE, MODERATE, STRICT, NON_REFUNDABLE (or give an object with tiers)",
                        name.escape_debug()
                    ))
                }),
            object @ serde_json::Value::Object(_) => serde_json::from_value(object)
                .map(Self::Custom)
                .map_err(|e| D::Error::custom(format!("cancellation policy: {e}"))),
            _ => Err(D::Error::custom(
                "cancellation policy must be a preset's name or an object with tiers",
            )),
        }
    }
}

/// From `from` on, a cancel keeps `penaltyAmount` and refunds `refundAmount`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyWindow {
    #[serde(with = "time::serde::rfc3339")]
    pub from: OffsetDateTime,
    pub penalty_amount: i64,
    pub refund_amount: i64,
}

/// Plain words, in the languages the page speaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Described {
    pub en: String,
    pub ko: String,
}

/// A policy resolved for one booking: what the reservation keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicySnapshot {
    /// The preset's name, or CUSTOM.
    pub name: String,
    pub total: i64,
    pub currency: Currency,
    pub time_zone: PlaceZone,
    #[serde(with = "time::serde::rfc3339")]
    pub check_in_at: OffsetDateTime,
    /// In time order; the first starts at booking.
    pub windows: Vec<PolicyWindow>,
    pub description: Described,
}

impl PolicySnapshot {
    /// What a cancel at `at` keeps.
    pub fn penalty_at(&self, at: OffsetDateTime) -> i64 {
        in_force(&self.windows, at, |w| w.from).map_or(0, |w| w.penalty_amount)
    }

    pub fn refund_at(&self, at: OffsetDateTime) -> i64 {
        self.total - self.penalty_at(at)
    }
}

/// The windows in words, with local times of the place.
fn describe(
    windows: &[PolicyWindow],
    zone: &PlaceZone,
    currency: Currency,
    total: i64,
) -> Described {
    let amount = |a: i64| format_amount(a, currency);
    let (mut en, mut ko) = (vec![], vec![]);
    for (i, w) in windows.iter().enumerate() {
        let until = windows.get(i + 1).map(|next| zone.local(next.from));
        let (what_en, what_ko) = match w.penalty_amount {
            0 => ("full refund".to_string(), "전액 환불".to_string()),
            p if p == total => ("no refund".to_string(), "환불 불가".to_string()),
            p => (
                format!("{} kept, {} refunded", amount(p), amount(w.refund_amount)),
                format!("{} 공제, {} 환불", amount(p), amount(w.refund_amount)),
            ),
        };
        match (i, until) {
            (0, Some(u)) => {
                en.push(format!("Until {u}: {what_en}."));
                ko.push(format!("{u}까지: {what_ko}."));
            }
            (_, Some(u)) => {
                en.push(format!("From {} until {u}: {what_en}.", zone.local(w.from)));
                ko.push(format!("{}부터 {u}까지: {what_ko}.", zone.local(w.from)));
            }
            (0, None) => {
                en.push(format!("{}.", capitalised(&what_en)));
                ko.push(format!("{what_ko}."));
            }
            (_, None) => {
                en.push(format!("From {}: {what_en}.", zone.local(w.from)));
                ko.push(format!("{}부터: {what_ko}.", zone.local(w.from)));
            }
        }
    }
    let tz = zone.name();
    Described {
        en: format!("{} (Times are {tz}.)", en.join(" ")),
        ko: format!("{} (시각은 {tz} 기준.)", ko.join(" ")),
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}
