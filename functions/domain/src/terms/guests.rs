//! Who stays: the party's size and the guest the owner expects at the desk.
use serde::{Deserialize, Serialize};

use crate::error::{DomainError, DomainResult};
use crate::text::{validate_name, validate_text};

pub const MAX_PARTY: i64 = 400;
pub const MAX_SPECIAL_REQUEST_CHARS: usize = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Guests {
    pub adults: i64,
    #[serde(default)]
    pub children: i64,
}

impl Guests {
    /// A booking that names no party: one adult.
    pub fn one_adult() -> Guests {
        Guests {
            adults: 1,
            children: 0,
        }
    }

    pub fn total(&self) -> i64 {
        self.adults + self.children
    }

    /// The party fits `rooms` rooms of `per_room` guests each.
    pub fn validate(&self, rooms: i64, per_room: i64) -> DomainResult<()> {
        if !(1..=MAX_PARTY).contains(&self.adults) {
            return Err(DomainError::invalid(
                "guests.adults",
                format!("must be from 1 to {MAX_PARTY}"),
            ));
        }
        if !(0..=MAX_PARTY).contains(&self.children) {
            return Err(DomainError::invalid(
                "guests.children",
                format!("must be from 0 to {MAX_PARTY}"),
            ));
        }
        let fits = rooms.saturating_mul(per_room);
        if self.total() > fits {
            return Err(DomainError::invalid(
                "guests",
                format!(
                    "{} guests do not fit {rooms} room(s) of at most {per_room} guests: book more rooms",
                    self.total()
                ),
            ));
        }
        Ok(())
    }
}

/// The guest the reservation is under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LeadGuest {
    pub name: String,
    pub email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

impl LeadGuest {
    pub fn validate(&self) -> DomainResult<()> {
        validate_name("leadGuest.name", &self.name)?;
        let e = &self.email;
        let shaped = e.len() <= 254
            && e.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty() && domain.contains('.') && !domain.contains('@')
            })
            && !e.chars().any(|c| c.is_whitespace() || c.is_control());
        if !shaped {
            return Err(DomainError::invalid(
                "leadGuest.email",
                "must be an e-mail address such as guest@example.com",
            ));
        }
        if let Some(phone) = &self.phone {
            let digits = phone.bytes().filter(u8::is_ascii_digit).count();
            let shaped = (5..=20).contains(&digits)
                && phone.len() <= 32
                && phone
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b" +-().".contains(&b));
            if !shaped {
                return Err(DomainError::invalid(
                    "leadGuest.phone",
                    "must be a phone number: 5 to 20 digits, with '+', spaces, '-', '(', ')' or '.'",
                ));
            }
        }
        Ok(())
    }
}

pub fn validate_special_request(text: &str) -> DomainResult<()> {
    validate_text("specialRequest", text, MAX_SPECIAL_REQUEST_CHARS, true)
}
