//! Price calendars: the rules an owner sets for some nights, and the one function that prices a
//! night, so the quote, the reservation's amount and the payment's charge can never disagree.
use serde::{Deserialize, Serialize};
use time::{Date, Duration, Weekday};

use crate::error::{DomainError, DomainResult};
use crate::stay::Stay;

/// A nightly price is at most 100,000,000 minor units: with at most 30 nights and 100 rooms an
/// amount stays below 3×10^11, so amounts and loyalty points can never overflow a 64-bit integer.
pub const MAX_PRICE: i64 = 100_000_000;
pub const MAX_PRICE_RULES: usize = 50;
/// A rule covers at most a year (a leap year's nights).
pub const MAX_RULE_NIGHTS: i64 = 366;

/// A day of the week as rules name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Day {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl From<Weekday> for Day {
    fn from(w: Weekday) -> Self {
        match w {
            Weekday::Monday => Self::Mon,
            Weekday::Tuesday => Self::Tue,
            Weekday::Wednesday => Self::Wed,
            Weekday::Thursday => Self::Thu,
            Weekday::Friday => Self::Fri,
            Weekday::Saturday => Self::Sat,
            Weekday::Sunday => Self::Sun,
        }
    }
}

/// The nightly price of the nights in `[from, to)`, only on `days` when given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PriceRule {
    #[serde(with = "crate::stay::iso_date")]
    pub from: Date,
    /// Exclusive, as a stay's checkOut.
    #[serde(with = "crate::stay::iso_date")]
    pub to: Date,
    pub nightly_price: i64,
    /// Absent: every day of the range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<Vec<Day>>,
}

impl PriceRule {
    pub fn covers(&self, night: Date) -> bool {
        self.from <= night
            && night < self.to
            && self
                .days
                .as_ref()
                .is_none_or(|days| days.contains(&Day::from(night.weekday())))
    }
}

/// One night of a stay and what it costs a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NightPrice {
    #[serde(with = "crate::stay::iso_date")]
    pub date: Date,
    pub nightly_price: i64,
}

/// What pricing needs of a place: its own nightly price and its rules. Borrowed, so every copy of
/// the catalogue (the place, the reservation context's copy, a read model) prices the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prices<'a> {
    pub nightly_price: i64,
    pub rules: &'a [PriceRule],
}

/// The price of one room on `night`: the last rule covering it wins, else the place's own price.
pub fn night_price(place: Prices<'_>, night: Date) -> i64 {
    place
        .rules
        .iter()
        .rev()
        .find(|r| r.covers(night))
        .map_or(place.nightly_price, |r| r.nightly_price)
}

/// Every night of `stay` with its price, in order.
pub fn stay_nights(place: Prices<'_>, stay: &Stay) -> Vec<NightPrice> {
    (0..stay.nights())
        .map(|i| {
            let date = stay.check_in + Duration::days(i);
            NightPrice {
                date,
                nightly_price: night_price(place, date),
            }
        })
        .collect()
}

/// What `rooms` rooms cost for `stay`: the sum of its nights' prices, times the rooms. Checked,
/// although validated prices, stays and room counts keep it below 3×10^11.
pub fn stay_total(place: Prices<'_>, stay: &Stay, rooms: i64) -> DomainResult<i64> {
    stay_nights(place, stay)
        .iter()
        .try_fold(0i64, |sum, n| sum.checked_add(n.nightly_price))
        .and_then(|per_room| per_room.checked_mul(rooms))
        .ok_or_else(|| DomainError::invalid("rooms", "the amount is too large"))
}

pub fn validate_price(field: &str, price: i64) -> DomainResult<()> {
    if !(0..=MAX_PRICE).contains(&price) {
        return Err(DomainError::invalid(
            field,
            format!("must be an integer amount from 0 to {MAX_PRICE}"),
        ));
    }
    Ok(())
}

/// At most `MAX_PRICE_RULES` rules, each a non-empty range of at most `MAX_RULE_NIGHTS` nights
/// with a valid price and distinct days. Errors name the rule, e.g. `priceRules[2].to`.
pub fn validate_rules(rules: &[PriceRule]) -> DomainResult<()> {
    if rules.len() > MAX_PRICE_RULES {
        return Err(DomainError::invalid(
            "priceRules",
            format!("at most {MAX_PRICE_RULES} rules"),
        ));
    }
    for (i, rule) in rules.iter().enumerate() {
        let field = |name: &str| format!("priceRules[{i}].{name}");
        let nights = (rule.to - rule.from).whole_days();
        if nights < 1 {
            return Err(DomainError::invalid(&field("to"), "must be after from"));
        }
        if nights > MAX_RULE_NIGHTS {
            return Err(DomainError::invalid(
                &field("to"),
                format!("a rule covers at most {MAX_RULE_NIGHTS} nights"),
            ));
        }
        validate_price(&field("nightlyPrice"), rule.nightly_price)?;
        if let Some(days) = &rule.days {
            if days.is_empty() {
                return Err(DomainError::invalid(
                    &field("days"),
                    "name at least one day, or leave days out for every day",
                ));
            }
            if days.iter().enumerate().any(|(j, d)| days[..j].contains(d)) {
                return Err(DomainError::invalid(&field("days"), "a day is named twice"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::place::{MAX_ROOMS, RoomType};
    use crate::reservation::{MAX_AMOUNT, MAX_ROOMS_PER_RESERVATION};
    use crate::stay::{MAX_NIGHTS, parse_date};
    use serde_json::json;

    fn date(s: &str) -> Date {
        parse_date("d", s).expect("date")
    }

    fn rule(from: &str, to: &str, price: i64, days: Option<Vec<Day>>) -> PriceRule {
        PriceRule {
            from: date(from),
            to: date(to),
            nightly_price: price,
            days,
        }
    }

    fn place(rules: Vec<PriceRule>) -> RoomType {
        RoomType::standard(3, 2, 100_000, rules)
    }

    /// The contract's example: a summer season, then a weekend rule over the whole year.
    fn season_and_weekends() -> RoomType {
        place(vec![
            rule("2027-07-01", "2027-09-01", 150_000, None),
            rule(
                "2027-01-01",
                "2028-01-01",
                180_000,
                Some(vec![Day::Fri, Day::Sat]),
            ),
        ])
    }

    #[test]
    fn without_rules_every_night_costs_the_place_price() {
        let p = place(vec![]);
        assert_eq!(night_price(p.prices(), date("2027-03-05")), 100_000);
        let stay = Stay::parse("2027-03-05", "2027-03-08").expect("stay");
        assert_eq!(stay_total(p.prices(), &stay, 2), Ok(600_000));
    }

    #[test]
    fn the_last_matching_rule_wins() {
        let p = season_and_weekends();
        // 2027-07-02 is a Friday in the season: the weekend rule comes last.
        assert_eq!(night_price(p.prices(), date("2027-07-02")), 180_000);
        // A Monday in the season.
        assert_eq!(night_price(p.prices(), date("2027-07-05")), 150_000);
        // Reversed, the season wins on its Fridays too.
        let mut reversed = p.clone();
        reversed.price_rules.reverse();
        assert_eq!(night_price(reversed.prices(), date("2027-07-02")), 150_000);
        assert_eq!(night_price(reversed.prices(), date("2027-03-05")), 180_000);
    }

    #[test]
    fn days_filter_by_weekday_and_absent_days_mean_every_day() {
        let p = season_and_weekends();
        // 2027-03-05 is a Friday, 03-06 Saturday, 03-07 Sunday, 03-04 Thursday.
        assert_eq!(night_price(p.prices(), date("2027-03-04")), 100_000);
        assert_eq!(night_price(p.prices(), date("2027-03-05")), 180_000);
        assert_eq!(night_price(p.prices(), date("2027-03-06")), 180_000);
        assert_eq!(night_price(p.prices(), date("2027-03-07")), 100_000);
        let sundays = place(vec![rule(
            "2027-01-01",
            "2027-12-31",
            7,
            Some(vec![Day::Sun]),
        )]);
        assert_eq!(night_price(sundays.prices(), date("2027-03-07")), 7);
        assert_eq!(night_price(sundays.prices(), date("2027-03-08")), 100_000);
    }

    #[test]
    fn a_rule_covers_from_and_stops_before_to() {
        let p = place(vec![rule("2027-07-01", "2027-09-01", 150_000, None)]);
        assert_eq!(night_price(p.prices(), date("2027-06-30")), 100_000);
        assert_eq!(night_price(p.prices(), date("2027-07-01")), 150_000);
        assert_eq!(night_price(p.prices(), date("2027-08-31")), 150_000);
        assert_eq!(night_price(p.prices(), date("2027-09-01")), 100_000);
    }

    #[test]
    fn a_stay_crossing_rule_ranges_prices_each_night() {
        let p = season_and_weekends();
        // Wed 06-30 (base), Thu 07-01 (season), Fri 07-02 (weekend), Sat 07-03 (weekend).
        let stay = Stay::parse("2027-06-30", "2027-07-04").expect("stay");
        let prices: Vec<i64> = stay_nights(p.prices(), &stay)
            .iter()
            .map(|n| n.nightly_price)
            .collect();
        assert_eq!(prices, [100_000, 150_000, 180_000, 180_000]);
        assert_eq!(stay_nights(p.prices(), &stay)[0].date, date("2027-06-30"));
        assert_eq!(stay_total(p.prices(), &stay, 3), Ok(3 * 610_000));
        // Across a year's end: 12-31 is a Friday of 2027, 2028-01-01 a Saturday past the rule.
        let stay = Stay::parse("2027-12-31", "2028-01-02").expect("stay");
        assert_eq!(stay_total(p.prices(), &stay, 1), Ok(180_000 + 100_000));
    }

    #[test]
    fn the_largest_stay_at_the_bounds_does_not_overflow() {
        let mut p = place(vec![rule("2027-01-01", "2027-12-31", MAX_PRICE, None)]);
        p.nightly_price = MAX_PRICE;
        p.room_count = MAX_ROOMS;
        let stay = Stay::parse("2027-01-01", "2027-01-31").expect("stay");
        assert_eq!(stay.nights(), MAX_NIGHTS);
        let total = stay_total(p.prices(), &stay, MAX_ROOMS_PER_RESERVATION).expect("fits");
        assert_eq!(total, MAX_AMOUNT);
        const { assert!(MAX_AMOUNT < i64::MAX / 1_000) };
        // Beyond the bounds, the check answers an error instead of wrapping.
        p.nightly_price = i64::MAX / 2;
        p.price_rules.clear();
        assert!(stay_total(p.prices(), &stay, 1).is_err());
    }

    fn field_of(rules: &[PriceRule]) -> Option<String> {
        match validate_rules(rules) {
            Err(DomainError::Invalid { field, .. }) => Some(field),
            _ => None,
        }
    }

    #[test]
    fn rules_are_validated_with_the_field_named() {
        let ok = rule("2027-01-01", "2028-01-02", 0, Some(vec![Day::Mon]));
        assert_eq!(
            field_of(std::slice::from_ref(&ok)),
            None,
            "366 nights, price 0"
        );
        let cases = [
            (
                rule("2027-01-02", "2027-01-02", 1, None),
                "priceRules[1].to",
            ),
            (
                rule("2027-01-03", "2027-01-02", 1, None),
                "priceRules[1].to",
            ),
            (
                rule("2027-01-01", "2028-01-03", 1, None),
                "priceRules[1].to",
            ),
            (
                rule("2027-01-01", "2027-01-02", MAX_PRICE + 1, None),
                "priceRules[1].nightlyPrice",
            ),
            (
                rule("2027-01-01", "2027-01-02", -1, None),
                "priceRules[1].nightlyPrice",
            ),
            (
                rule("2027-01-01", "2027-01-02", 1, Some(vec![])),
                "priceRules[1].days",
            ),
            (
                rule(
                    "2027-01-01",
                    "2027-01-02",
                    1,
                    Some(vec![Day::Sat, Day::Sun, Day::Sat]),
                ),
                "priceRules[1].days",
            ),
        ];
        for (bad, want) in cases {
            assert_eq!(
                field_of(&[ok.clone(), bad.clone()]).as_deref(),
                Some(want),
                "{bad:?}"
            );
        }
        assert_eq!(field_of(&vec![ok.clone(); MAX_PRICE_RULES]), None);
        assert_eq!(
            field_of(&vec![ok; MAX_PRICE_RULES + 1]).as_deref(),
            Some("priceRules")
        );
    }

    #[test]
    fn rules_travel_with_their_json_names() {
        let r = rule(
            "2027-01-01",
            "2028-01-01",
            180_000,
            Some(vec![Day::Fri, Day::Sat]),
        );
        let v = serde_json::to_value(&r).expect("ser");
        assert_eq!(
            v,
            json!({"from": "2027-01-01", "to": "2028-01-01", "nightlyPrice": 180000, "days": ["FRI", "SAT"]})
        );
        let every_day: PriceRule = serde_json::from_value(
            json!({"from": "2027-07-01", "to": "2027-09-01", "nightlyPrice": 150000}),
        )
        .expect("parse");
        assert_eq!(every_day.days, None);
        assert!(
            serde_json::to_value(&every_day)
                .expect("ser")
                .get("days")
                .is_none()
        );
        for bad in [
            json!({"from": "2027-07-01", "to": "2027-09-01", "nightlyPrice": 1, "days": ["FUN"]}),
            json!({"from": "2027-07-01", "to": "2027-09-01", "nightlyPrice": 1, "extra": 1}),
            json!({"from": "2027-7-01", "to": "2027-09-01", "nightlyPrice": 1}),
            json!({"to": "2027-09-01", "nightlyPrice": 1}),
        ] {
            assert!(
                serde_json::from_value::<PriceRule>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }
}
