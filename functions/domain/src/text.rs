//! Free text clients name things with (a place's name). Lengths count Unicode scalar values,
//! as JSON Schema's `maxLength` does, so `openapi.yaml` and this check agree on every string.
use crate::error::{DomainError, DomainResult};

pub const MAX_NAME_CHARS: usize = 200;

/// Characters that render as nothing or as a blank: format characters (zero-width space and
/// joiners, word joiner and invisible operators, BOM, soft hyphen, combining grapheme joiner,
/// variation selectors, tags), fillers (Hangul U+115F, U+1160, U+3164, U+FFA0; Khmer U+17B4/5;
/// Mongolian U+180E) and the blank braille pattern U+2800. A name made only of them and
/// whitespace looks empty.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200D}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2800}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{E0000}'..='\u{E007F}'
            | '\u{E0100}'..='\u{E01EF}'
    )
}

/// Bidirectional embedding, override and isolate controls (U+202A–U+202E, U+2066–U+2069): they
/// reorder the text around them, so "abc\u{202E}fdp.exe" shows as another name than it is. The
/// plain direction marks (LRM, RLM, ALM) only nudge neutral characters and stay allowed in text.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
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
    if text.chars().any(is_bidi_control) {
        return Err(DomainError::invalid(
            field,
            "must not contain bidirectional controls (U+202A-U+202E, U+2066-U+2069)",
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

/// Why a user id (a JWT `sub`) is refused, if it is: one user must have one spelling, so a
/// subject is 1 to 128 characters with no control, bidirectional-control or invisible character,
/// no direction mark, and no whitespace at either end (" alice" and "alice\u{202E}" are not
/// other users: they are refused).
pub fn subject_problem(sub: &str) -> Option<&'static str> {
    if sub.is_empty() || sub.chars().count() > 128 {
        Some("the subject must be 1 to 128 characters")
    } else if sub.starts_with(char::is_whitespace) || sub.ends_with(char::is_whitespace) {
        Some("the subject must not start or end with whitespace")
    } else if sub.chars().any(|c| {
        c.is_control()
            || is_bidi_control(c)
            || is_invisible(c)
            || matches!(c, '\u{200E}' | '\u{200F}' | '\u{061C}')
    }) {
        Some("the subject must not contain control, invisible or bidirectional characters")
    } else {
        None
    }
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
            "\u{3164}\u{3164}",
            "\u{2800}",
            "\u{E0041}\u{E0042}",
            "\u{115F}\u{1160} \u{FFA0}",
            "\u{00AD}\u{034F}\u{FE0F}",
            "abc\u{202E}fdp.exe",
            "\u{2066}isolated\u{2069}",
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

    #[test]
    fn one_spelling_per_subject() {
        for bad in [
            "",
            " alice",
            "alice ",
            "alice\u{202E}",
            "al\u{200B}ice",
            "a\u{200F}",
            "a\tb",
            "\u{3164}",
        ] {
            assert!(subject_problem(bad).is_some(), "{bad:?}");
        }
        for good in ["alice", "alice smith", "olivia-2", "한국", "auth0|123"] {
            assert_eq!(subject_problem(good), None, "{good:?}");
        }
    }
}
