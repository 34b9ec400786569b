//! What a read costs on DynamoDB, from the items it returns: the item-size rules (attribute
//! names and values) and read capacity units per `Query` call. The store's items are JSON; the
//! DynamoDB adapter stores a string as `S`, a number as `N`, a boolean as `BOOL`, null as `NULL`,
//! an array as `L` and an object as `M`, and those are the sizes counted here.
use std::fmt;

use serde_json::Value;

use crate::store::Item;

/// One read capacity unit reads 4 KB strongly consistent, or twice that eventually consistent.
pub const READ_UNIT_BYTES: u64 = 4 * 1024;
/// A `Query` call returns at most 1 MB; a larger result is read by further calls.
pub const QUERY_PAGE_BYTES: u64 = 1024 * 1024;

/// Bytes of an item: for every attribute, its name's UTF-8 bytes plus its value's size.
pub fn item_size(item: &Item) -> u64 {
    item.iter()
        .map(|(name, value)| name.len() as u64 + value_size(value))
        .sum()
}

/// A string: its UTF-8 bytes. A number: 1 byte per two significant digits (leading and trailing
/// zeros trimmed) plus 1, plus 1 more when negative. A boolean or null: 1. A list or map: 3 bytes
/// plus 1 per element, plus the elements (a map's with their names).
pub fn value_size(value: &Value) -> u64 {
    match value {
        Value::String(s) => s.len() as u64,
        Value::Number(n) => match n.as_i64() {
            Some(i) => integer_size(i),
            None => number_size(&n.to_string()),
        },
        Value::Bool(_) | Value::Null => 1,
        Value::Array(items) => 3 + items.iter().map(|v| 1 + value_size(v)).sum::<u64>(),
        Value::Object(map) => {
            3 + map
                .iter()
                .map(|(k, v)| 1 + k.len() as u64 + value_size(v))
                .sum::<u64>()
        }
    }
}

/// `number_size` of an integer's decimal text, without writing the text (a search sizes every
/// number of every item it read).
fn integer_size(i: i64) -> u64 {
    let mut m = i.unsigned_abs();
    while m != 0 && m.is_multiple_of(10) {
        m /= 10;
    }
    let significant = if m == 0 { 1 } else { u64::from(m.ilog10()) + 1 };
    significant.div_ceil(2) + 1 + u64::from(i < 0)
}

fn number_size(text: &str) -> u64 {
    let negative = text.starts_with('-');
    // serde_json writes integers plainly and floats in their shortest form, possibly with an
    // exponent, which carries no significant digits.
    let mantissa = text.split(['e', 'E']).next().unwrap_or(text);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let significant = digits
        .trim_start_matches('0')
        .trim_end_matches('0')
        .len()
        .max(1) as u64;
    significant.div_ceil(2) + 1 + u64::from(negative)
}

/// Read capacity, counted in halves of a unit so it stays an integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct ReadUnits {
    pub halves: u64,
}

impl ReadUnits {
    /// An eventually consistent `Query` that returned `items` (in order): per call, 0.5 unit per
    /// 4 KB of the items it returned, rounded up to the next 4 KB (at least one unit of 4 KB,
    /// even for no item); a result over 1 MB takes one call per MB.
    pub fn eventually_consistent_query(items: &[Item]) -> ReadUnits {
        let mut halves = 0;
        let mut page = 0u64;
        let mut pages = 0u64;
        for size in items.iter().map(item_size) {
            if page > 0 && page + size > QUERY_PAGE_BYTES {
                halves += page.div_ceil(READ_UNIT_BYTES);
                pages += 1;
                page = 0;
            }
            page += size;
        }
        if page > 0 || pages == 0 {
            halves += page.div_ceil(READ_UNIT_BYTES).max(1);
        }
        ReadUnits { halves }
    }
}

impl std::ops::Add for ReadUnits {
    type Output = ReadUnits;
    fn add(self, other: ReadUnits) -> ReadUnits {
        ReadUnits {
            halves: self.halves + other.halves,
        }
    }
}

/// As DynamoDB reports `ConsumedCapacity`: `2`, `0.5`, `1.5`.
impl fmt::Display for ReadUnits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.halves / 2;
        if self.halves.is_multiple_of(2) {
            write!(f, "{whole}")
        } else {
            write!(f, "{whole}.5")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item(v: Value) -> Item {
        serde_json::from_value(v).expect("an object")
    }

    #[test]
    fn strings_count_utf8_bytes_of_names_and_values() {
        // "pk" 2 + "SEARCH#CITY#seoul" 17; "sk" 2 + "PLACE#p1" 8; "name" 4 + "서울" 6 bytes.
        let it = item(json!({"pk": "SEARCH#CITY#seoul", "sk": "PLACE#p1", "name": "서울"}));
        assert_eq!(item_size(&it), 2 + 17 + 2 + 8 + 4 + 6);
    }

    #[test]
    fn numbers_count_one_byte_per_two_significant_digits_plus_one() {
        assert_eq!(value_size(&json!(7)), 2); // 1 digit
        assert_eq!(value_size(&json!(12)), 2); // 2 digits
        assert_eq!(value_size(&json!(123)), 3); // 3 digits: 2 + 1
        assert_eq!(value_size(&json!(100_000)), 2); // trailing zeros trimmed: "1"
        assert_eq!(value_size(&json!(180_500)), 3); // "1805"
        assert_eq!(value_size(&json!(-12)), 3); // negative: one more
        assert_eq!(value_size(&json!(0)), 2);
        assert_eq!(value_size(&json!(0.25)), 2); // "25"
        assert_eq!(value_size(&json!(1234567)), 5); // 7 digits: 4 + 1
        assert_eq!(
            value_size(&json!(u64::MAX)),
            number_size(&u64::MAX.to_string())
        );
    }

    #[test]
    fn integers_are_sized_as_their_decimal_text_is() {
        let mut samples = vec![i64::MIN, i64::MAX, -1, 0, 1, 10, 101, 1_000_000_007];
        samples.extend((0..19).map(|e| 10i64.pow(e)));
        samples.extend((0..19).map(|e| -(10i64.pow(e)) * 7 - 3));
        for i in samples {
            assert_eq!(integer_size(i), number_size(&i.to_string()), "{i}");
        }
    }

    #[test]
    fn lists_and_maps_cost_three_bytes_plus_one_per_element() {
        assert_eq!(value_size(&json!([])), 3);
        assert_eq!(value_size(&json!({})), 3);
        // ["FRI","SAT"]: 3 + (1 + 3) + (1 + 3).
        assert_eq!(value_size(&json!(["FRI", "SAT"])), 11);
        // {"from":"2027-07-01","nightlyPrice":150000}: 3 + (1 + 4 + 10) + (1 + 12 + 2).
        assert_eq!(
            value_size(&json!({"from": "2027-07-01", "nightlyPrice": 150000})),
            33
        );
        assert_eq!(value_size(&json!(true)), 1);
        assert_eq!(value_size(&Value::Null), 1);
    }

    #[test]
    fn a_query_costs_half_a_unit_per_4_kb_rounded_up_per_call() {
        let sized = |bytes: usize| item(json!({"x": "a".repeat(bytes - 1)})); // "x" is 1 byte
        assert_eq!(item_size(&sized(100)), 100);
        let q = ReadUnits::eventually_consistent_query;
        assert_eq!(
            q(&[]).to_string(),
            "0.5",
            "an empty result still costs one unit of 4 KB"
        );
        assert_eq!(q(&[sized(100)]).to_string(), "0.5");
        assert_eq!(q(&[sized(4096)]).to_string(), "0.5");
        assert_eq!(q(&[sized(4096), sized(1)]).to_string(), "1");
        // 3 items of 3,000 bytes: 9,000 bytes summed, then rounded up: 12 KB → 1.5, not 3 × 0.5.
        assert_eq!(q(&vec![sized(3000); 3]).to_string(), "1.5");
        // Over 1 MB: two calls, each rounded up on its own.
        let big = vec![sized(400 * 1024); 3];
        assert_eq!(q(&big).halves, 200 + 100);
        assert_eq!((q(&[]) + q(&[sized(5000)])).to_string(), "1.5");
    }
}
