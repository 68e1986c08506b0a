//! Escaping for the markup reports (JUnit XML, HTML, the batch overview page): text a student's program printed must stay
//! text. Shared so both formats escape the same way and one test covers it.

/// `text` made safe for XML 1.0 element content.
pub(crate) fn text(s: &str) -> String {
    escape(s, false)
}

/// `text` made safe for an XML 1.0 attribute value.
pub(crate) fn attr(s: &str) -> String {
    escape(s, true)
}

/// `text` made safe for XML 1.0.
///
/// `&<>"'` become entities, so `]]>` and `<script>` stay text. In attribute values line breaks
/// and tabs become character references (parsers turn literal ones into spaces); a carriage
/// return does everywhere (parsers turn a literal CRLF into LF). ANSI escape
/// sequences (a colored panic message) are dropped, and other characters XML 1.0 forbids (NUL,
/// C0 controls, U+FFFE/U+FFFF) become U+FFFD, so the student sees that *something* was printed
/// there, as with invalid UTF-8.
fn escape(text: &str, in_attribute: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' if in_attribute => out.push_str("&#10;"),
            '\t' if in_attribute => out.push_str("&#9;"),
            '\r' => out.push_str("&#13;"),
            '\n' | '\t' => out.push(c),
            '\x1b' => {
                // CSI: ESC [ parameters… final byte in '@'..='~'.
                if chars.peek() == Some(&'[') {
                    chars.next();
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
            }
            c if c < ' ' || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_handles_each_special_character() {
        for escape in [text, attr] {
            assert_eq!(escape("a&b<c>d\"e'f"), "a&amp;b&lt;c&gt;d&quot;e&apos;f");
            assert_eq!(escape("\0\x08\x0b\x0c\x0e\x1f"), "\u{FFFD}".repeat(6));
            assert_eq!(escape("\x1b[1;31mbold\x1b[0m\x1b"), "bold");
            assert_eq!(escape("ünïcødé ✓ \u{10FFFF}"), "ünïcødé ✓ \u{10FFFF}");
        }
        assert_eq!(attr("x\r\ny\tz"), "x&#13;&#10;y&#9;z");
        assert_eq!(text("x\r\ny\tz"), "x&#13;\ny\tz");
    }
}
