//! Static hints from the counter's source: patterns that race even when no run catches them.
//!
//! Some races have a window of a few instructions once per increment; a probe of a few seconds
//! may never see one. The source says more: a load followed by a store of the same shared
//! location, a read-modify-write split by a lock release, `*p += 1` through a raw pointer, a
//! `std::sync::Mutex` in a program that forks. These are *hints*, worded as such in the message
//! and never a verdict: the scan is a heuristic over the text (see [`lexer`](super::lexer)),
//! not a compiler.
//!
//! Only the `safe` path matters: the lecture's racy demo is a load followed by a store on
//! purpose. Code under a block whose header names the racy mode (`if !safe`, `"racy" =>`,
//! `fn racy(…)`, the `else` of `if safe`), or in a function only called from such blocks, is
//! skipped.

use std::collections::BTreeSet;
use std::path::Path;

use super::lexer::{self, Item, Source, Statement};

/// Statements between a load and a store that still make a pair.
const WINDOW: usize = 12;
/// Hints worth showing in one message.
pub(crate) const MAX_SHOWN: usize = 2;

/// A pattern found in the source; lines are 1-based.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Hint {
    /// A load and a later store of the same location, no lock held across both.
    LoadThenStore {
        target: String,
        load_line: usize,
        store_line: usize,
    },
    /// A load under a lock, the lock released, then the store.
    SplitByUnlock {
        target: String,
        load_line: usize,
        unlock_line: usize,
        store_line: usize,
    },
    /// `*p += 1` (or `*p = *p + 1`) through a raw pointer, no lock held.
    CompoundThroughPointer { target: String, line: usize },
    /// A `std::sync::Mutex` created in a program that forks.
    StdMutexAcrossFork { line: usize },
}

impl Hint {
    /// The hint in words, for a student, naming `file`.
    pub(crate) fn describe(&self, file: &str) -> String {
        match self {
            Hint::LoadThenStore {
                target,
                load_line,
                store_line,
            } if load_line == store_line => format!(
                "{file} line {load_line} loads and then stores `{target}`: another process can \
                 write between the two; one atomic fetch_add does both at once"
            ),
            Hint::LoadThenStore {
                target,
                load_line,
                store_line,
            } => format!(
                "{file} line {load_line} loads and line {store_line} stores the same shared value \
                 (`{target}`): another process can write between them; one atomic fetch_add does \
                 both at once"
            ),
            Hint::SplitByUnlock {
                target,
                load_line,
                unlock_line,
                store_line,
            } => format!(
                "{file} line {load_line} reads `{target}` under the lock, line {unlock_line} \
                 releases it and line {store_line} writes the new value: another process can \
                 write in between; keep the whole read-modify-write inside the lock"
            ),
            Hint::CompoundThroughPointer { target, line } => format!(
                "{file} line {line} increments `*{target}` through a raw pointer: that is a load, \
                 an add and a store, and another process can write between them (the optimiser \
                 may make the window small, never closed)"
            ),
            Hint::StdMutexAcrossFork { line } => format!(
                "{file} line {line} creates a std::sync::Mutex in a program that forks: made \
                 before fork, each process locks its own copy; placed in shared memory, a \
                 waiting process is never woken by another's unlock. Use an atomic, or a pthread \
                 mutex with PTHREAD_PROCESS_SHARED in the shared page"
            ),
        }
    }
}

/// The hints for `binary` of the staged submission in `workdir`: its `src/bin/<binary>.rs` and
/// the crate's other non-binary sources, each described with its path.
pub(crate) fn for_submission(workdir: &Path, binary: &str) -> Vec<String> {
    let mut files = vec![format!("src/bin/{binary}.rs")];
    if let Ok(entries) = std::fs::read_dir(workdir.join("src")) {
        let mut more: Vec<String> = entries
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.ends_with(".rs"))
            .map(|n| format!("src/{n}"))
            .collect();
        more.sort();
        files.extend(more);
    }
    files
        .iter()
        .filter_map(|f| Some((f, std::fs::read_to_string(workdir.join(f)).ok()?)))
        .flat_map(|(f, text)| scan(&text).into_iter().map(move |h| h.describe(f)))
        .collect()
}

/// Every hint in `source`, in source order.
pub(crate) fn scan(source: &str) -> Vec<Hint> {
    let src = lexer::split(source);
    let racy_fns = racy_only_functions(&src);
    let skip = |s: &Statement| in_racy_code(&src, s.block, &racy_fns);
    let mut hints = Vec::new();
    let mut state = LockState::default();
    let mut loads: Vec<Load> = Vec::new();
    let statements: Vec<&Statement> = src
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Statement(s) => Some(s),
            Item::End(_) => None,
        })
        .collect();
    let mut index = 0;
    for item in &src.items {
        let s = match item {
            Item::End(block) => {
                state.block_ended(*block);
                continue;
            }
            Item::Statement(s) => s,
        };
        index += 1;
        let function = function_of(&src, s.block);
        if let Some(guard) = std_guard(&s.text) {
            state.guards.push((guard, s.block));
        } else if has_call(&s.text, "pthread_mutex_lock") || has_call(&s.text, "sem_wait") {
            state.explicit += 1;
        }
        if has_call(&s.text, "pthread_mutex_unlock")
            || has_call(&s.text, "sem_post")
            || has_call(&s.text, "drop")
        {
            state.released(&s.text);
            state.last_unlock = Some((index, s.line));
        }
        if skip(s) {
            continue;
        }
        let held = state.held();
        for target in loads_in(&s.text) {
            loads.push(Load {
                target,
                line: s.line,
                index,
                function,
                held,
            });
        }
        for target in stores_in(&s.text) {
            let pair = loads.iter().rev().find(|l| {
                l.target == target && l.function == function && index - l.index <= WINDOW
            });
            let Some(load) = pair else {
                continue;
            };
            let unlock_between = state
                .last_unlock
                .filter(|(at, _)| *at >= load.index && *at <= index);
            let hint = match (load.held, held, unlock_between) {
                (true, false, Some((_, unlock_line))) => Hint::SplitByUnlock {
                    target,
                    load_line: load.line,
                    unlock_line,
                    store_line: s.line,
                },
                (true, true, _) | (true, false, None) => continue,
                (false, _, _) => Hint::LoadThenStore {
                    target,
                    load_line: load.line,
                    store_line: s.line,
                },
            };
            hints.push(hint);
        }
        if !held && in_unsafe(&src, s.block) {
            if let Some(target) = compound_through_pointer(&s.text) {
                hints.push(Hint::CompoundThroughPointer {
                    target,
                    line: s.line,
                });
            }
        }
    }
    let forks = statements.iter().any(|s| has_call(&s.text, "fork"));
    if forks {
        let mutex = statements
            .iter()
            .find(|s| s.text.contains("Mutex::new(") && !skip(s));
        if let Some(s) = mutex {
            hints.push(Hint::StdMutexAcrossFork { line: s.line });
        }
    }
    hints.dedup();
    hints
}

/// A load seen, waiting for a store of the same target.
struct Load {
    target: String,
    line: usize,
    /// Statement index, for the window.
    index: usize,
    /// The enclosing function's block.
    function: Option<usize>,
    /// Whether a lock was held at the load.
    held: bool,
}

/// Which locks are held at a point of the source, as far as the text shows.
#[derive(Default)]
struct LockState {
    /// `pthread_mutex_lock` minus `pthread_mutex_unlock` (and semaphores).
    explicit: u32,
    /// `let guard = m.lock()…`: held until its block ends or `drop(guard)`.
    guards: Vec<(String, Option<usize>)>,
    /// (statement index, line) of the last release.
    last_unlock: Option<(usize, usize)>,
}

impl LockState {
    fn held(&self) -> bool {
        self.explicit > 0 || !self.guards.is_empty()
    }

    fn released(&mut self, text: &str) {
        if has_call(text, "drop") {
            self.guards
                .retain(|(name, _)| !text.contains(&format!("drop({name})")));
        } else {
            self.explicit = self.explicit.saturating_sub(1);
        }
    }

    fn block_ended(&mut self, block: usize) {
        self.guards.retain(|(_, b)| *b != Some(block));
    }
}

/// `let NAME = ….lock()…`: the guard's name.
fn std_guard(text: &str) -> Option<String> {
    let rest = text.strip_prefix("let ")?;
    let (name, value) = rest.split_once('=')?;
    let name = name.trim().trim_start_matches("mut ").trim();
    let name = name.split(':').next().unwrap_or(name).trim();
    (value.contains(".lock(") && is_identifier(name)).then(|| name.to_string())
}

/// Whether `text` calls `name(` (as a whole identifier, maybe a path's last segment).
fn has_call(text: &str, name: &str) -> bool {
    !find_calls(text, name).is_empty()
}

/// Byte offsets just past `name(` for each call of `name` in `text`.
fn find_calls(text: &str, name: &str) -> Vec<usize> {
    let pattern = format!("{name}(");
    text.match_indices(&pattern)
        .filter_map(|(at, _)| {
            let before = text[..at].chars().next_back();
            let whole = before.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
            whole.then_some(at + pattern.len())
        })
        .collect()
}

/// Targets loaded in `text`: `read_volatile(T)`, `T.read_volatile()`, `T.load(…)`.
fn loads_in(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    out.extend(
        find_calls(text, "read_volatile")
            .into_iter()
            .filter_map(|at| first_argument(text, at)),
    );
    out.extend(method_receivers(text, ".read_volatile("));
    out.extend(method_receivers(text, ".load("));
    out
}

/// Targets stored in `text`: `write_volatile(T, …)`, `T.write_volatile(…)`, `T.store(…)`.
fn stores_in(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    out.extend(
        find_calls(text, "write_volatile")
            .into_iter()
            .filter_map(|at| first_argument(text, at)),
    );
    out.extend(method_receivers(text, ".write_volatile("));
    out.extend(method_receivers(text, ".store("));
    out
}

/// The first argument of the call whose `(` ends at `at`, normalised.
fn first_argument(text: &str, at: usize) -> Option<String> {
    let mut depth = 0;
    let rest = &text[at..];
    for (i, c) in rest.char_indices() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' if depth == 0 => return normalise(&rest[..i]),
            ')' | ']' => depth -= 1,
            ',' if depth == 0 => return normalise(&rest[..i]),
            _ => {}
        }
    }
    None
}

/// The receivers of `method` calls in `text` (`counter` of `counter.load(`), normalised.
fn method_receivers(text: &str, method: &str) -> Vec<String> {
    text.match_indices(method)
        .filter_map(|(at, _)| {
            let before: Vec<char> = text[..at].chars().collect();
            let mut i = before.len();
            let mut depth = 0;
            while i > 0 {
                let c = before[i - 1];
                match c {
                    ')' | ']' => depth += 1,
                    '(' | '[' if depth > 0 => depth -= 1,
                    c if depth > 0 || c.is_alphanumeric() || "_.:*".contains(c) => {}
                    _ => break,
                }
                i -= 1;
            }
            normalise(&before[i..].iter().collect::<String>())
        })
        .collect()
}

/// A location as text, for comparison: no spaces, no `&`/`&mut`, no `addr_of!` wrapper.
fn normalise(expr: &str) -> Option<String> {
    let mut e: String = expr.chars().filter(|c| !c.is_whitespace()).collect();
    for prefix in ["&mut", "&"] {
        if let Some(rest) = e.strip_prefix(prefix) {
            e = rest.to_string();
        }
    }
    for wrapper in [
        "ptr::addr_of_mut!(",
        "ptr::addr_of!(",
        "addr_of_mut!(",
        "addr_of!(",
    ] {
        if let Some(inner) = e.strip_prefix(wrapper).and_then(|r| r.strip_suffix(')')) {
            e = inner.to_string();
        }
    }
    (!e.is_empty()).then_some(e)
}

/// `*p += …`, `*p = *p + …`, `(*p).f += …`, `(*p).f = (*p).f + …`: the pointer's name.
fn compound_through_pointer(text: &str) -> Option<String> {
    let t: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let (lhs, op_rest) = if let Some((l, r)) = t.split_once("+=") {
        (l, Some(r))
    } else {
        let (l, r) = t.split_once('=')?;
        if r.starts_with('=') || l.ends_with(['!', '<', '>']) {
            return None;
        }
        (l, r.strip_prefix(l).filter(|rest| rest.starts_with('+')))
    };
    op_rest?;
    let lhs = lhs.strip_prefix("let").unwrap_or(lhs);
    let name = if let Some(rest) = lhs.strip_prefix("(*") {
        rest.split(')').next()?
    } else {
        lhs.strip_prefix('*')?
    };
    is_identifier(name).then(|| name.to_string())
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| c.is_alphanumeric() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit())
}

/// The enclosing function's block.
fn function_of(src: &Source, block: Option<usize>) -> Option<usize> {
    src.enclosing(block)
        .find(|(_, b)| function_name(&b.header).is_some())
        .map(|(i, _)| i)
}

/// `fn NAME(…)` (with any qualifiers): NAME.
fn function_name(header: &str) -> Option<&str> {
    let at = header.find("fn ")?;
    if at > 0 && !header[..at].ends_with(' ') {
        return None;
    }
    let rest = header[at + 3..].trim_start();
    let end = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    (end > 0).then(|| &rest[..end])
}

fn in_unsafe(src: &Source, block: Option<usize>) -> bool {
    src.enclosing(block).any(|(_, b)| {
        b.header == "unsafe"
            || b.header.ends_with(" unsafe")
            || b.header.ends_with("(unsafe")
            || b.header.contains("unsafe fn ")
    })
}

/// Whether code in `block` runs only in the racy mode.
fn in_racy_code(src: &Source, block: Option<usize>, racy_fns: &BTreeSet<usize>) -> bool {
    src.enclosing(block).any(|(i, b)| {
        racy_fns.contains(&i) || racy_header(&b.header, b.previous_sibling.as_deref())
    })
}

/// Functions whose every call is in racy code (one level: enough for `fn racy(…)` helpers
/// called from a `match` arm or the `else` of `if safe`).
fn racy_only_functions(src: &Source) -> BTreeSet<usize> {
    let none = BTreeSet::new();
    let mut racy = BTreeSet::new();
    for (i, b) in src.blocks.iter().enumerate() {
        let Some(name) = function_name(&b.header) else {
            continue;
        };
        let calls: Vec<&Statement> = src
            .items
            .iter()
            .filter_map(|item| match item {
                Item::Statement(s)
                    if has_call(&s.text, name) && function_name(&s.text) != Some(name) =>
                {
                    Some(s)
                }
                _ => None,
            })
            .collect();
        if !calls.is_empty() && calls.iter().all(|s| in_racy_code(src, s.block, &none)) {
            racy.insert(i);
        }
    }
    racy
}

/// Whether a block with `header` (after a block with `previous`) is the racy mode's.
fn racy_header(header: &str, previous: Option<&str>) -> bool {
    let words = words(header);
    if words.first().map(String::as_str) == Some("else") {
        if words.get(1).map(String::as_str) == Some("if") {
            return names_racy(header);
        }
        return previous.is_some_and(|p| p.contains("if ") && names_safe(p));
    }
    names_racy(header)
}

/// A header that names the racy mode: `racy`, `unsync…`, `!safe`, `Racy =>`.
fn names_racy(header: &str) -> bool {
    let compact: String = header.chars().filter(|c| !c.is_whitespace()).collect();
    compact.contains("!safe")
        || compact.contains("!is_safe")
        || words(header)
            .iter()
            .any(|w| w.contains("racy") || w.starts_with("unsync") || w.starts_with("nosync"))
}

/// A condition that is true in the safe mode: names `safe` (not `unsafe`), not negated.
fn names_safe(header: &str) -> bool {
    let compact: String = header.chars().filter(|c| !c.is_whitespace()).collect();
    !compact.contains("!safe")
        && !compact.contains("!is_safe")
        && words(header)
            .iter()
            .any(|w| w.contains("safe") && !w.contains("unsafe"))
}

/// The identifiers of `text`, lower-cased.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

#[cfg(test)]
#[path = "hint_tests.rs"]
mod tests;
