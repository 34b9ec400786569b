//! The terms a place sells under (its currency, local time, rate plans and cancellation policies)
//! and the party a booking names. Typed values, checked where they enter.
mod currency;
mod guests;
mod policy;
mod rate_plan;
#[cfg(test)]
mod tests;
mod zone;

pub use currency::Currency;
pub use guests::{Guests, LeadGuest, MAX_SPECIAL_REQUEST_CHARS, validate_special_request};
pub use policy::{CancellationPolicy, CustomPolicy, Described, PolicySnapshot, PolicyWindow, Tier};
pub use rate_plan::{RatePlan, STANDARD_PLAN_ID, assign_ids, standard_plans, validate_plans};
pub use zone::{DEFAULT_TIME_ZONE, LocalTime, PlaceZone, TimeZoneName};

/// An amount of minor units as people read it: `60,000 KRW`, `1,234.50 USD`.
pub fn format_amount(amount: i64, currency: Currency) -> String {
    let scale = 10i64.pow(u32::from(currency.minor_units()));
    let (units, minor) = (amount.abs() / scale, amount.abs() % scale);
    let digits = units.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if amount < 0 { "-" } else { "" };
    match currency.minor_units() {
        0 => format!("{sign}{grouped} {currency}"),
        d => format!("{sign}{grouped}.{minor:0w$} {currency}", w = usize::from(d)),
    }
}
