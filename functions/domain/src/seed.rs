//! The seed facade's own world. Its users, places and owner get internal ids under [`PREFIX`],
//! which no `/v1` id can carry: `/v1` place ids are UUIDs made by the server, and a `/v1` subject
//! starting with [`PREFIX`] is refused at authentication ([`is_seed_id`]). So the anonymous facade
//! can never name a `/v1` user or place, and `/v1` can never name one of the facade's.
//! Its reservations are numbered orders (digits only), which no `/v1` reservation id (a UUID) is.

/// Reserved for the facade's internal ids.
pub const PREFIX: &str = "seed:";
const USER: &str = "seed:user:";
const PLACE: &str = "seed:place:";
/// The owner of every place registered through the facade (the seed had no identities).
pub const OWNER: &str = "seed:owner";
/// Upper bound of the client-given amount of a facade booking (integer minor units).
pub const MAX_AMOUNT: i64 = 100_000_000;

/// Whether an id belongs to the facade's world.
pub fn is_seed_id(id: &str) -> bool {
    id.starts_with(PREFIX)
}

/// The internal id of the seed client's `usrId`.
pub fn user_id(usr_id: &str) -> String {
    format!("{USER}{usr_id}")
}

/// The internal id of the seed client's `placeId`.
pub fn place_id(place_id: &str) -> String {
    format!("{PLACE}{place_id}")
}

/// The `usrId` the seed client gave, from an internal id.
pub fn external_user(id: &str) -> &str {
    id.strip_prefix(USER).unwrap_or(id)
}

/// The `placeId` the seed client gave, from an internal id.
pub fn external_place(id: &str) -> &str {
    id.strip_prefix(PLACE).unwrap_or(id)
}

/// Whether a reservation id is one of the facade's numbered orders.
pub fn is_order_number(id: &str) -> bool {
    !id.is_empty() && id.len() <= 19 && id.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_ids_round_trip_and_never_look_like_v1_ids() {
        assert_eq!(external_user(&user_id("2")), "2");
        assert_eq!(external_place(&place_id("1")), "1");
        assert!(is_seed_id(&user_id("alice")) && is_seed_id(&place_id("x")) && is_seed_id(OWNER));
        let v1 = uuid::Uuid::now_v7().to_string();
        assert!(!is_seed_id(&v1) && !is_order_number(&v1));
        assert!(is_order_number("42") && !is_order_number("4a") && !is_order_number(""));
    }
}
