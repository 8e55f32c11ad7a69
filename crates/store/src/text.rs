//! Text from outside, made storable.
//!
//! PostgreSQL's `text` cannot hold the NUL character: a single NUL in one value fails the
//! whole statement. Whatever Herald stores that it did not write itself (an endpoint's
//! response excerpt or error, an event id) goes through [`storable_text`] on its way in.

use std::borrow::Cow;

/// `text` with every NUL replaced by U+FFFD, the replacement character; borrowed when there
/// is none.
pub fn storable_text(text: &str) -> Cow<'_, str> {
    if text.contains('\0') {
        Cow::Owned(text.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_characters_are_replaced_and_other_text_is_kept_as_it_is() {
        assert!(matches!(
            storable_text("HTTP 500"),
            Cow::Borrowed("HTTP 500")
        ));
        assert_eq!(storable_text("a\0b\0"), "a\u{FFFD}b\u{FFFD}");
        assert_eq!(storable_text("tab\tand\nnewline"), "tab\tand\nnewline");
    }
}
