//! Text from outside, made safe to print.
//!
//! An event type, a rejection reason, an endpoint's error: text a publisher or a receiver
//! chose ends up in log lines and in the operators' terminal. Control characters in it could
//! forge a log line (a newline) or drive the terminal (an escape sequence), so they are shown
//! escaped instead: `\n`, `\r`, `\x1b`, … Tabs are kept.

use std::borrow::Cow;
use std::fmt::Write as _;

/// `text` with every control character but tab escaped; borrowed when there is none.
pub fn escape_control(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => escaped.push_str("\\n"),
            '\r' => escaped.push_str("\\r"),
            c if needs_escape(c) => {
                let _ = write!(escaped, "\\u{{{:x}}}", u32::from(c));
            }
            c => escaped.push(c),
        }
    }
    Cow::Owned(escaped)
}

fn needs_escape(c: char) -> bool {
    c.is_control() && c != '\t'
}

/// A log record as the text formatter wrote it: escaped, but for its final newline.
pub(crate) fn escape_log_line(line: &[u8]) -> Cow<'_, [u8]> {
    let (body, newline) = match line.strip_suffix(b"\n") {
        Some(body) => (body, true),
        None => (line, false),
    };
    let text = String::from_utf8_lossy(body);
    match escape_control(&text) {
        Cow::Borrowed(_) if matches!(text, Cow::Borrowed(_)) => Cow::Borrowed(line),
        escaped => {
            let mut owned = escaped.into_owned().into_bytes();
            if newline {
                owned.push(b'\n');
            }
            Cow::Owned(owned)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_plain_text_is_borrowed() {
        assert!(matches!(escape_control("plain\ttext"), Cow::Borrowed(_)));
        assert_eq!(
            escape_control("a\nforged line\r\u{1b}[31m\0"),
            "a\\nforged line\\r\\u{1b}[31m\\u{0}"
        );
    }

    #[test]
    fn a_log_line_keeps_only_its_own_newline() {
        assert_eq!(
            &*escape_log_line(b"event rejected reason=x\nFAKE ERROR\n"),
            b"event rejected reason=x\\nFAKE ERROR\n"
        );
        assert!(matches!(escape_log_line(b"fine\n"), Cow::Borrowed(_)));
    }
}
