//! Escaping for what a person reads on a terminal (the human report, `check`, `batch`'s
//! progress and summary lines): text a student controls (panic messages, program and compiler
//! output, file names, git's messages) must stay text.
//!
//! A raw escape sequence could rewrite the TA's screen, hide a line, retitle the window or set
//! the clipboard (OSC 52), and a C1 control (U+009B is CSI on its own) does the same on
//! terminals that honour them. So every control character is *shown*, escaped the way Rust
//! writes it (`\x1b`, `\r`, `\u{9b}`), as are the bidirectional overrides that reorder what a
//! line appears to say; a line feed is kept only where the layout wants lines ([`text`]), and
//! lengths are capped. The grader's own colors are added around escaped text, never inside it.
//! One tested place, beside [`markup`](super::markup) for XML and HTML.

use std::fmt::Write;

/// Characters of one line shown; the rest are counted.
pub const MAX_LINE_CHARS: usize = 400;
/// Lines of one text shown; the rest are counted.
pub const MAX_LINES: usize = 200;

/// `s` as one line for a terminal: every control character escaped (line feeds too), at most
/// [`MAX_LINE_CHARS`] characters.
pub fn line(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(MAX_LINE_CHARS + 32));
    let mut chars = s.chars();
    for c in chars.by_ref().take(MAX_LINE_CHARS) {
        push_escaped(&mut out, c);
    }
    let rest = chars.count();
    if rest > 0 {
        let _ = write!(out, "… ({rest} more characters)");
    }
    out
}

/// `s` as lines for a terminal: each line as [`line`] makes it, at most [`MAX_LINES`] lines,
/// joined with line feeds (a `\r\n` counts as one line break).
pub fn text(s: &str) -> String {
    let lines: Vec<&str> = s.split('\n').collect();
    let more = lines.len().saturating_sub(MAX_LINES);
    let mut out = lines
        .iter()
        .take(MAX_LINES)
        .map(|l| line(l.strip_suffix('\r').unwrap_or(l)))
        .collect::<Vec<_>>()
        .join("\n");
    if more > 0 {
        let _ = write!(out, "\n… ({more} more lines)");
    }
    out
}

/// `s` with every control character escaped but line feeds and carriage returns, uncapped: for
/// formats that encode line breaks their own way (GitHub's workflow commands).
pub fn controls_escaped(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' | '\r' => out.push(c),
            c => push_escaped(&mut out, c),
        }
    }
    out
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\t' => out.push_str("    "),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        c if (c as u32) < 0x20 || c == '\x7f' => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        // C1 controls, and the bidirectional embeddings, overrides and isolates.
        '\u{80}'..='\u{9f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
        c => out.push(c),
    }
}

/// Whether `s` holds a character a terminal would act on (for tests: what must never reach one
/// from a student). Line feeds are allowed.
pub fn has_raw_control(s: &str) -> bool {
    s.chars().any(|c| {
        (c != '\n' && (c as u32) < 0x20)
            || ('\u{7f}'..='\u{9f}').contains(&c)
            || ('\u{202a}'..='\u{202e}').contains(&c)
            || ('\u{2066}'..='\u{2069}').contains(&c)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// OSC 52 (set the clipboard), CSI (clear the screen, move the cursor), a C1 CSI, a bell,
    /// a carriage return that would overwrite the line, a right-to-left override.
    pub const HOSTILE: &str =
        "panicked: \x1b]52;c;cm0gLXJmIH4K\x07 then \x1b[2J\x1b[1;1H\u{9b}31m \
                               \rok\u{202e}txt.exe\x7f";

    #[test]
    fn control_characters_are_shown_escaped_never_raw() {
        let got = line(HOSTILE);
        assert!(!has_raw_control(&got), "{got:?}");
        assert_eq!(
            got,
            "panicked: \\x1b]52;c;cm0gLXJmIH4K\\x07 then \\x1b[2J\\x1b[1;1H\\u{9b}31m \\rok\
             \\u{202e}txt.exe\\x7f"
        );
        assert_eq!(line("two\nlines"), "two\\nlines");
        assert_eq!(text("two\r\nlines\x1b[0m"), "two\nlines\\x1b[0m");
        assert_eq!(line("tab\there é ✓"), "tab    here é ✓");
    }

    #[test]
    fn long_lines_and_long_texts_are_capped_and_say_how_much_is_left() {
        let long = "x".repeat(MAX_LINE_CHARS + 10);
        assert_eq!(
            line(&long),
            format!("{}… (10 more characters)", "x".repeat(MAX_LINE_CHARS))
        );
        let many = "a\n".repeat(MAX_LINES + 5);
        let got = text(&many);
        assert_eq!(got.lines().count(), MAX_LINES + 1);
        assert!(got.ends_with("… (6 more lines)"), "{got}");
    }
}
