//! Stay rules an owner sets for some dates (optionally some weekdays, like price rules): a minimum
//! or maximum stay counted from the arrival night, days closed to arrival or departure, and
//! stop-sell. Every rule that covers a date applies, so the strictest wins. Quote, search and
//! booking check a stay through `check`, so the three refuse the same stays.
use serde::{Deserialize, Serialize};
use time::{Date, Duration};

use super::pricing::{Day, MAX_RULE_NIGHTS};
use super::room_type::covers;
use crate::error::{DomainError, DomainResult};
use crate::stay::{MAX_NIGHTS, Stay, format_date};

pub const MAX_RESTRICTIONS: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Restriction {
    #[serde(with = "crate::stay::iso_date")]
    pub from: Date,
    /// Exclusive, as a stay's checkOut.
    #[serde(with = "crate::stay::iso_date")]
    pub to: Date,
    /// Absent: every day of the range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<Vec<Day>>,
    /// The room types it applies to; absent: all of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_type_ids: Option<Vec<String>>,
    /// Stays arriving on a covered date last at least this many nights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_stay: Option<i64>,
    /// Stays arriving on a covered date last at most this many nights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_stay: Option<i64>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub closed_to_arrival: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub closed_to_departure: bool,
    /// Stop-sell: no stay includes a covered night.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub closed: bool,
}

impl Restriction {
    fn covers(&self, date: Date) -> bool {
        self.from <= date
            && date < self.to
            && self
                .days
                .as_ref()
                .is_none_or(|days| days.contains(&Day::from(date.weekday())))
    }
}

/// Why `stay` in a room of `room_type` cannot be sold, as a 422 naming the field to change; `Ok`
/// when every rule of that room type allows it.
pub fn check(rules: &[Restriction], room_type: &str, stay: &Stay) -> DomainResult<()> {
    let rules: Vec<&Restriction> = rules
        .iter()
        .filter(|r| covers(r.room_type_ids.as_deref(), room_type))
        .collect();
    let nights = stay.nights();
    let arrival = stay.check_in;
    let day = format_date;
    for r in rules.iter().filter(|r| r.covers(arrival)) {
        if r.closed_to_arrival {
            return Err(DomainError::invalid(
                "checkIn",
                format!("the place takes no arrivals on {}", day(arrival)),
            ));
        }
        if let Some(min) = r.min_stay.filter(|min| nights < *min) {
            return Err(DomainError::invalid(
                "checkOut",
                format!(
                    "stays arriving on {} last at least {min} nights",
                    day(arrival)
                ),
            ));
        }
        if let Some(max) = r.max_stay.filter(|max| nights > *max) {
            return Err(DomainError::invalid(
                "checkOut",
                format!(
                    "stays arriving on {} last at most {max} nights",
                    day(arrival)
                ),
            ));
        }
    }
    if rules
        .iter()
        .any(|r| r.closed_to_departure && r.covers(stay.check_out))
    {
        return Err(DomainError::invalid(
            "checkOut",
            format!("the place takes no departures on {}", day(stay.check_out)),
        ));
    }
    for i in 0..nights {
        let night = arrival + Duration::days(i);
        if rules.iter().any(|r| r.closed && r.covers(night)) {
            return Err(DomainError::invalid(
                "checkIn",
                format!("the place does not sell the night of {}", day(night)),
            ));
        }
    }
    Ok(())
}

/// At most `MAX_RESTRICTIONS` rules, each a range of 1 to 366 nights saying something. Errors
/// name the rule, e.g. `restrictions[2].minStay`.
pub fn validate(rules: &[Restriction]) -> DomainResult<()> {
    if rules.len() > MAX_RESTRICTIONS {
        return Err(DomainError::invalid(
            "restrictions",
            format!("at most {MAX_RESTRICTIONS} rules"),
        ));
    }
    for (i, r) in rules.iter().enumerate() {
        let field = |name: &str| format!("restrictions[{i}].{name}");
        let span = (r.to - r.from).whole_days();
        if !(1..=MAX_RULE_NIGHTS).contains(&span) {
            return Err(DomainError::invalid(
                &field("to"),
                format!("must be after from, at most {MAX_RULE_NIGHTS} nights later"),
            ));
        }
        if let Some(days) = &r.days
            && (days.is_empty() || days.iter().enumerate().any(|(j, d)| days[..j].contains(d)))
        {
            return Err(DomainError::invalid(
                &field("days"),
                "name each day at most once, and at least one (or leave days out)",
            ));
        }
        for (name, value) in [("minStay", r.min_stay), ("maxStay", r.max_stay)] {
            if value.is_some_and(|n| !(1..=MAX_NIGHTS).contains(&n)) {
                return Err(DomainError::invalid(
                    &field(name),
                    format!("must be from 1 to {MAX_NIGHTS} nights"),
                ));
            }
        }
        if let (Some(min), Some(max)) = (r.min_stay, r.max_stay)
            && min > max
        {
            return Err(DomainError::invalid(
                &field("maxStay"),
                "must not be below minStay",
            ));
        }
        let says_something = r.min_stay.is_some()
            || r.max_stay.is_some()
            || r.closed_to_arrival
            || r.closed_to_departure
            || r.closed;
        if !says_something {
            return Err(DomainError::invalid(
                &field("from"),
                "the rule sets none of minStay, maxStay, closedToArrival, closedToDeparture, closed",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stay::parse_date;
    use serde_json::json;

    fn rules(v: serde_json::Value) -> Vec<Restriction> {
        let rules: Vec<Restriction> = serde_json::from_value(v).expect("rules");
        validate(&rules).expect("valid");
        rules
    }

    fn refused(rules: &[Restriction], check_in: &str, check_out: &str) -> Option<String> {
        let stay = Stay::new(
            parse_date("checkIn", check_in).expect("date"),
            parse_date("checkOut", check_out).expect("date"),
        )
        .expect("stay");
        match check(rules, "standard", &stay) {
            Ok(()) => None,
            Err(DomainError::Invalid { field, .. }) => Some(field),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn each_kind_at_its_boundary() {
        // 2027-05-07 is a Friday.
        let weekend_min = rules(
            json!([{"from": "2027-05-01", "to": "2027-06-01", "days": ["FRI", "SAT"], "minStay": 2}]),
        );
        assert_eq!(
            refused(&weekend_min, "2027-05-07", "2027-05-08"),
            Some("checkOut".into())
        );
        assert_eq!(refused(&weekend_min, "2027-05-07", "2027-05-09"), None);
        assert_eq!(
            refused(&weekend_min, "2027-05-06", "2027-05-07"),
            None,
            "a Thursday"
        );
        // Counted from the arrival night: a stay arriving Thursday may cover the weekend.
        assert_eq!(refused(&weekend_min, "2027-05-06", "2027-05-08"), None);
        let max = rules(json!([{"from": "2027-05-01", "to": "2027-05-02", "maxStay": 3}]));
        assert_eq!(refused(&max, "2027-05-01", "2027-05-04"), None);
        assert_eq!(
            refused(&max, "2027-05-01", "2027-05-05"),
            Some("checkOut".into())
        );
        assert_eq!(
            refused(&max, "2027-04-30", "2027-05-10"),
            None,
            "arrives before the rule"
        );
        let cta =
            rules(json!([{"from": "2027-05-03", "to": "2027-05-04", "closedToArrival": true}]));
        assert_eq!(
            refused(&cta, "2027-05-03", "2027-05-04"),
            Some("checkIn".into())
        );
        assert_eq!(
            refused(&cta, "2027-05-02", "2027-05-04"),
            None,
            "staying through is fine"
        );
        let ctd =
            rules(json!([{"from": "2027-05-03", "to": "2027-05-04", "closedToDeparture": true}]));
        assert_eq!(
            refused(&ctd, "2027-05-01", "2027-05-03"),
            Some("checkOut".into())
        );
        assert_eq!(refused(&ctd, "2027-05-01", "2027-05-04"), None);
        assert_eq!(
            refused(&ctd, "2027-05-03", "2027-05-05"),
            None,
            "arriving is fine"
        );
        let stop = rules(json!([{"from": "2027-05-10", "to": "2027-05-12", "closed": true}]));
        assert_eq!(
            refused(&stop, "2027-05-08", "2027-05-10"),
            None,
            "leaves on the first closed day"
        );
        assert_eq!(
            refused(&stop, "2027-05-08", "2027-05-11"),
            Some("checkIn".into())
        );
        assert_eq!(
            refused(&stop, "2027-05-11", "2027-05-13"),
            Some("checkIn".into())
        );
        assert_eq!(
            refused(&stop, "2027-05-12", "2027-05-13"),
            None,
            "after the range"
        );
    }

    #[test]
    fn rules_that_say_nothing_or_contradict_are_refused_by_field() {
        let bad = |v: serde_json::Value| -> String {
            let r: Vec<Restriction> = serde_json::from_value(v).expect("shape");
            match validate(&r) {
                Err(DomainError::Invalid { field, .. }) => field,
                other => panic!("accepted: {other:?}"),
            }
        };
        assert_eq!(
            bad(json!([{"from": "2027-05-01", "to": "2027-05-02"}])),
            "restrictions[0].from"
        );
        assert_eq!(
            bad(json!([{"from": "2027-05-02", "to": "2027-05-02", "closed": true}])),
            "restrictions[0].to"
        );
        assert_eq!(
            bad(json!([{"from": "2027-05-01", "to": "2027-05-02", "minStay": 3, "maxStay": 2}])),
            "restrictions[0].maxStay"
        );
        assert_eq!(
            bad(json!([{"from": "2027-05-01", "to": "2027-05-02", "minStay": 31}])),
            "restrictions[0].minStay"
        );
        assert_eq!(
            bad(json!([{"from": "2027-05-01", "to": "2027-05-02", "days": [], "closed": true}])),
            "restrictions[0].days"
        );
    }
}
