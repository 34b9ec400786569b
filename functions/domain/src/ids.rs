//! Ids an owner may give the parts of a place (room types, rate plans), or the server assigns.
use crate::error::{DomainError, DomainResult};

/// 1 to 40 letters, digits, '-' or '_' (so an id never runs into a key's `#` separators).
pub fn valid(id: &str) -> bool {
    (1..=40).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Gives every item whose id is empty the first free `<prefix>-N`.
pub fn assign<T>(items: &mut [T], prefix: &str, id: fn(&mut T) -> &mut String) {
    let mut taken: Vec<String> = items.iter_mut().map(|t| id(t).clone()).collect();
    let mut n = 1;
    for item in items.iter_mut() {
        if !id(item).is_empty() {
            continue;
        }
        while taken.iter().any(|t| *t == format!("{prefix}-{n}")) {
            n += 1;
        }
        let new = format!("{prefix}-{n}");
        taken.push(new.clone());
        *id(item) = new;
    }
}

/// Every id valid and used once; errors name the item, e.g. `roomTypes[1].roomTypeId`.
pub fn check<'a>(list: &str, field: &str, ids: impl Iterator<Item = &'a str>) -> DomainResult<()> {
    let mut seen: Vec<&str> = Vec::new();
    for (i, id) in ids.enumerate() {
        let at = format!("{list}[{i}].{field}");
        if !valid(id) {
            return Err(DomainError::invalid(
                &at,
                "must be 1 to 40 letters, digits, '-' or '_'",
            ));
        }
        if seen.contains(&id) {
            return Err(DomainError::invalid(&at, "is used by another one"));
        }
        seen.push(id);
    }
    Ok(())
}
