//! Free text clients name things with (a place's name). Lengths count Unicode scalar values,
//! as JSON Schema's `maxLength` does, so `openapi.yaml` and this check agree on every string.
use crate::error::{DomainError, DomainResult};

pub const MAX_NAME_CHARS: usize = 200;

/// Format characters that render as nothing; a name made only of them and spaces looks empty.
pub fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}')
}

/// At most `max` characters and no control character (C0, DEL, C1: they corrupt logs, terminals
/// and CSV exports), except line breaks and tabs in `multiline` text.
pub fn validate_text(field: &str, text: &str, max: usize, multiline: bool) -> DomainResult<()> {
    let allowed = |c: char| multiline && matches!(c, '\n' | '\r' | '\t');
    if text.chars().any(|c| c.is_control() && !allowed(c)) {
        return Err(DomainError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    if text.chars().count() > max {
        return Err(DomainError::invalid(
            field,
            format!("at most {max} characters"),
        ));
    }
    Ok(())
}

/// 1 to `MAX_NAME_CHARS` characters, no control character, and something visible besides
/// whitespace and invisible marks.
pub fn validate_name(field: &str, name: &str) -> DomainResult<()> {
    validate_text(field, name, MAX_NAME_CHARS, false)?;
    if name.chars().all(|c| c.is_whitespace() || is_invisible(c)) {
        return Err(DomainError::invalid(field, "must not be blank"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_control_blank_and_long_names() {
        for bad in [
            "",
            "   ",
            "a\0b",
            "esc\u{1b}[31m",
            "tab\there",
            "c1\u{85}",
            "\u{200B}",
            "\u{FEFF}",
            " \u{200C}\u{200D}\u{2060} ",
        ] {
            assert!(validate_name("name", bad).is_err(), "{bad:?}");
        }
        let long = "é".repeat(MAX_NAME_CHARS + 1);
        assert!(validate_name("name", &long).is_err());
    }

    #[test]
    fn accepts_visible_names_counted_in_characters() {
        // 200 three-byte characters are 600 bytes: the limit is in characters, as in the schema.
        let wide = "한".repeat(MAX_NAME_CHARS);
        assert_eq!(wide.len(), 3 * MAX_NAME_CHARS);
        for good in ["Sea view", " padded ", "a\u{200B}b", wide.as_str(), "🏠"] {
            assert!(validate_name("name", good).is_ok(), "{good:?}");
        }
    }
}
