//! Just enough of Rust's surface for the race hints: comments and literals blanked out, the
//! source cut into statements, each with its line and its enclosing blocks.
//!
//! Not a parser: it never rejects anything, and a construct it does not understand only costs
//! a hint. Blocks are what braces delimit; a block's *header* is the text before its `{`
//! (`fn work(word: *mut u64)`, `if safe`, `else`, `unsafe`, `"racy" =>`).

/// Counts units of work of the scan (characters looked at, look-ups made) so tests can check
/// that it stays linear in the length of the source without reading a clock; nothing in
/// release builds.
#[inline]
pub(crate) fn step(units: usize) {
    #[cfg(test)]
    STEPS.with(|s| s.set(s.get() + units as u64));
    #[cfg(not(test))]
    let _ = units;
}

#[cfg(test)]
thread_local! {
    /// Work done on this thread since it started (see [`step`]).
    pub(crate) static STEPS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// One statement (or block header) of the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Statement {
    /// 1-based line of its first character.
    pub line: usize,
    /// Its text, comments and literals' delimiters blanked, whitespace kept.
    pub text: String,
    /// The innermost enclosing block (an index into [`Source::blocks`]), if any.
    pub block: Option<usize>,
}

/// A brace-delimited block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Block {
    /// The text before its `{`, trimmed.
    pub header: String,
    pub parent: Option<usize>,
    /// The header of the block that closed just before this one opened, at the same depth
    /// (the `if` of an `else`).
    pub previous_sibling: Option<String>,
}

/// An item of the source in order: a statement, or the end of a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Item {
    Statement(Statement),
    /// A block's `}` (its index into [`Source::blocks`]).
    End(usize),
}

/// The source cut into items.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Source {
    pub items: Vec<Item>,
    pub blocks: Vec<Block>,
}

impl Source {
    /// The blocks enclosing `block`, innermost first (the scan keeps per-block facts instead:
    /// walking this per statement is quadratic in the nesting depth).
    #[cfg(test)]
    pub fn enclosing(&self, block: Option<usize>) -> impl Iterator<Item = (usize, &Block)> {
        std::iter::successors(block, |&b| self.blocks[b].parent).map(|b| (b, &self.blocks[b]))
    }
}

/// Cuts `source` into statements and blocks.
pub(crate) fn split(source: &str) -> Source {
    let clean = blank_comments_and_literals(source);
    let mut out = Source::default();
    let mut stack: Vec<usize> = Vec::new();
    // Per open block (and the top level), the header of its last closed child.
    let mut last_closed: Vec<Option<String>> = vec![None];
    let mut text = String::new();
    // Whether `text` holds anything but whitespace: asking `text.trim()` per character would
    // make a long run of spaces quadratic.
    let mut content = false;
    let mut start_line = 1;
    let mut line = 1;
    let flush = |out: &mut Source, text: &mut String, start: usize, block: Option<usize>| {
        step(text.len() + 1);
        if !text.trim().is_empty() {
            out.items.push(Item::Statement(Statement {
                line: start,
                text: text.trim().to_string(),
                block,
            }));
        }
        text.clear();
    };
    for c in clean.chars() {
        step(1);
        if matches!(c, '{' | '}' | ';') {
            content = false;
        }
        match c {
            '{' => {
                let header = text.trim().to_string();
                flush(&mut out, &mut text, start_line, stack.last().copied());
                let previous_sibling = last_closed.last_mut().and_then(Option::take);
                out.blocks.push(Block {
                    header,
                    parent: stack.last().copied(),
                    previous_sibling,
                });
                stack.push(out.blocks.len() - 1);
                last_closed.push(None);
            }
            '}' => {
                flush(&mut out, &mut text, start_line, stack.last().copied());
                if let Some(b) = stack.pop() {
                    last_closed.pop();
                    out.items.push(Item::End(b));
                    if let Some(slot) = last_closed.last_mut() {
                        *slot = Some(out.blocks[b].header.clone());
                    }
                }
            }
            ';' => flush(&mut out, &mut text, start_line, stack.last().copied()),
            _ => {
                if !content && !c.is_whitespace() {
                    start_line = line;
                    content = true;
                }
                text.push(c);
            }
        }
        if c == '\n' {
            line += 1;
        }
    }
    flush(&mut out, &mut text, start_line, stack.last().copied());
    out
}

/// `source` with comments replaced by spaces and the punctuation inside string and character
/// literals replaced by spaces, keeping every newline (so lines still count). Letters and digits
/// of strings are kept: `"racy" =>` stays readable for the headers that match on it.
pub(crate) fn blank_comments_and_literals(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    let blank = |c: char| match c {
        '\n' => '\n',
        c if c.is_alphanumeric() || c == '_' => c,
        _ => ' ',
    };
    while i < chars.len() {
        step(1);
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(if chars[i] == '\n' { '\n' } else { ' ' });
                    i += 1;
                }
            }
        } else if let Some(hashes) = raw_string_start(&chars, i) {
            // r"…", r#"…"#, br"…": up to the closing quote and as many hashes.
            let open = chars[i..].iter().position(|&c| c == '"').unwrap_or(0) + i;
            out.extend(chars[i..=open].iter());
            i = open + 1;
            while i < chars.len() {
                let closes =
                    chars[i] == '"' && (0..hashes).all(|h| chars.get(i + 1 + h) == Some(&'#'));
                if closes {
                    out.push('"');
                    out.extend(std::iter::repeat_n('#', hashes));
                    i += 1 + hashes;
                    break;
                }
                out.push(blank(chars[i]));
                i += 1;
            }
        } else if c == '"' {
            out.push('"');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                    if i < chars.len() {
                        out.push(if chars[i] == '\n' { '\n' } else { ' ' });
                        i += 1;
                    }
                    continue;
                }
                out.push(blank(chars[i]));
                i += 1;
            }
            if i < chars.len() {
                out.push('"');
                i += 1;
            }
        } else if c == '\'' {
            // A character literal ('x', '\n', '\u{7f}'), else a lifetime or label.
            let len = char_literal_len(&chars, i);
            if len > 0 {
                out.push('\'');
                out.extend(std::iter::repeat_n(' ', len - 2));
                out.push('\'');
                i += len;
            } else {
                out.push(c);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// At `i`, the number of `#`s of a raw string that starts there, if one does.
fn raw_string_start(chars: &[char], i: usize) -> Option<usize> {
    let prev_is_ident = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
    if prev_is_ident {
        return None;
    }
    let mut j = i;
    if chars.get(j) == Some(&'b') {
        j += 1;
    }
    if chars.get(j) != Some(&'r') {
        return None;
    }
    j += 1;
    let hashes = chars[j..].iter().take_while(|&&c| c == '#').count();
    (chars.get(j + hashes) == Some(&'"')).then_some(hashes)
}

/// The length of a character literal starting at `i` (a `'`), or 0 for a lifetime.
fn char_literal_len(chars: &[char], i: usize) -> usize {
    match (chars.get(i + 1), chars.get(i + 2)) {
        (Some('\\'), _) => chars[i + 2..]
            .iter()
            .take(10)
            .position(|&c| c == '\'')
            .map_or(0, |p| p + 3),
        (Some(_), Some('\'')) => 3,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statements(src: &Source) -> Vec<(usize, &str)> {
        src.items
            .iter()
            .filter_map(|i| match i {
                Item::Statement(s) => Some((s.line, s.text.as_str())),
                Item::End(_) => None,
            })
            .collect()
    }

    #[test]
    fn comments_and_literals_cannot_open_blocks() {
        let clean = blank_comments_and_literals(
            "let a = \"{;}\"; // { x;\nlet b = '{'; /* ; { */ let c: &'a u8 = r#\"}\"#;\n",
        );
        assert!(!clean.contains(['{', '}']), "{clean}");
        assert_eq!(clean.lines().count(), 2);
        assert!(clean.contains("&'a u8"), "lifetimes are kept: {clean}");
    }

    #[test]
    fn statements_know_their_line_and_blocks() {
        let src = split(
            "fn work(p: *mut u64) {\n    if safe {\n        a();\n    } else {\n        \
             let x = 1;\n        b(x);\n    }\n}\n",
        );
        assert_eq!(
            statements(&src),
            [
                (1, "fn work(p: *mut u64)"),
                (2, "if safe"),
                (3, "a()"),
                (4, "else"),
                (5, "let x = 1"),
                (6, "b(x)")
            ]
        );
        let headers: Vec<&str> = src.blocks.iter().map(|b| b.header.as_str()).collect();
        assert_eq!(headers, ["fn work(p: *mut u64)", "if safe", "else"]);
        assert_eq!(src.blocks[2].previous_sibling.as_deref(), Some("if safe"));
        assert_eq!(src.blocks[2].parent, Some(0));
        let Item::Statement(last) = &src.items[src.items.len() - 3] else {
            panic!("{:?}", src.items);
        };
        let chain: Vec<&str> = src
            .enclosing(last.block)
            .map(|(_, b)| b.header.as_str())
            .collect();
        assert_eq!(chain, ["else", "fn work(p: *mut u64)"]);
    }
}
