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

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;

use super::lexer::{self, step, Item, Source, Statement};
use crate::untrusted_file;

/// Statements between a load and a store that still make a pair.
const WINDOW: usize = 12;
/// Source files scanned for one binary, and bytes read from each and from all: a student's
/// counter is one or two files of a few KiB; more is not the counter.
const MAX_FILES: usize = 32;
const MAX_FILE_BYTES: u64 = 256 << 10;
const MAX_TOTAL_BYTES: u64 = 1 << 20;
/// Characters of a load's or store's target looked at; a longer one is no useful hint.
const MAX_EXPR: usize = 256;
/// Lock guards tracked at once.
const MAX_GUARDS: usize = 16;
/// Hints described per file (only [`MAX_SHOWN`] are shown).
const MAX_HINTS_PER_FILE: usize = 8;
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
/// the crate's other non-binary sources (`src/*.rs`), each described with its path.
///
/// The staged copy is the student's text: at most [`MAX_FILES`] files, each read only when it
/// is a regular file of at most [`MAX_FILE_BYTES`] (never through a link), at most
/// [`MAX_TOTAL_BYTES`] in all. A file left out costs hints, never the grading.
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
    files.truncate(MAX_FILES);
    let mut budget = MAX_TOTAL_BYTES;
    let mut hints = Vec::new();
    for file in &files {
        let limit = MAX_FILE_BYTES.min(budget);
        let Ok(text) = untrusted_file::read_text_capped(&workdir.join(file), limit) else {
            continue;
        };
        budget -= text.len() as u64;
        hints.extend(
            scan(&text)
                .into_iter()
                .take(MAX_HINTS_PER_FILE)
                .map(|h| h.describe(file)),
        );
    }
    hints
}

/// Every hint in `source`, in source order.
///
/// Linear in the length of `source` by construction, whatever its shape (one 2 MB statement,
/// blocks nested a million deep, thousands of functions): facts about blocks are computed
/// once per block, loads are looked up by target, and each look at a target's text is bounded
/// by [`MAX_EXPR`]. The lexer's `step` counter lets the tests check this without a clock.
pub(crate) fn scan(source: &str) -> Vec<Hint> {
    let src = lexer::split(source);
    let facts = BlockFacts::of(&src);
    let skip = |s: &Statement| s.block.is_some_and(|b| facts.racy[b]);
    let mut hints = Vec::new();
    let mut state = LockState::default();
    // The latest load of each (target, function).
    let mut loads: HashMap<(String, Option<usize>), Load> = HashMap::new();
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
        // Each pass below is one walk over the statement's text.
        step(16 * s.text.len() + 1);
        let function = s.block.and_then(|b| facts.function[b]);
        if let Some(guard) = std_guard(&s.text) {
            if state.guards.len() < MAX_GUARDS {
                state.guards.push((guard, s.block));
            }
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
            let load = Load {
                line: s.line,
                index,
                held,
            };
            loads.insert((target, function), load);
        }
        for target in stores_in(&s.text) {
            step(1);
            let key = (target, function);
            let Some(load) = loads.get(&key).filter(|l| index - l.index <= WINDOW) else {
                continue;
            };
            let target = key.0;
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
        if !held && s.block.is_some_and(|b| facts.in_unsafe[b]) {
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

/// What the scan asks about a block, computed once per block from its parent's (a block's
/// parent always comes before it in [`Source::blocks`]).
struct BlockFacts {
    /// The enclosing function's block (the block itself when it is one).
    function: Vec<Option<usize>>,
    /// Inside an `unsafe` block or function.
    in_unsafe: Vec<bool>,
    /// Code that runs only in the racy mode.
    racy: Vec<bool>,
}

impl BlockFacts {
    fn of(src: &Source) -> BlockFacts {
        let n = src.blocks.len();
        let mut facts = BlockFacts {
            function: Vec::with_capacity(n),
            in_unsafe: Vec::with_capacity(n),
            racy: Vec::with_capacity(n),
        };
        // Racy by the headers alone, before helper functions are known.
        let mut racy_by_header = Vec::with_capacity(n);
        for (i, b) in src.blocks.iter().enumerate() {
            step(2 * b.header.len() + b.previous_sibling.as_ref().map_or(0, String::len) + 1);
            let parent = b.parent;
            let inherited = |v: &Vec<bool>| parent.is_some_and(|p| v[p]);
            facts.function.push(if function_name(&b.header).is_some() {
                Some(i)
            } else {
                parent.and_then(|p| facts.function[p])
            });
            facts
                .in_unsafe
                .push(unsafe_header(&b.header) || inherited(&facts.in_unsafe));
            racy_by_header.push(
                racy_header(&b.header, b.previous_sibling.as_deref()) || inherited(&racy_by_header),
            );
        }
        let racy_fns = racy_only_functions(src, &racy_by_header);
        for (i, b) in src.blocks.iter().enumerate() {
            let parent_racy = b.parent.is_some_and(|p| facts.racy[p]);
            facts
                .racy
                .push(racy_fns.contains(&i) || racy_by_header[i] || parent_racy);
        }
        facts
    }
}

/// A load seen, waiting for a store of the same target (in the same function).
struct Load {
    line: usize,
    /// Statement index, for the window.
    index: usize,
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

/// The first argument of the call whose `(` ends at `at`, normalised; `None` past
/// [`MAX_EXPR`] characters.
fn first_argument(text: &str, at: usize) -> Option<String> {
    let mut depth = 0;
    let rest = &text[at..];
    for (i, c) in rest.char_indices().take(MAX_EXPR) {
        step(1);
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
        .filter_map(|(at, _)| receiver_before(&text[..at]))
        .collect()
}

/// The expression that ends `before` (`a.b[i]` of `x = a.b[i]`), walking back at most
/// [`MAX_EXPR`] characters (a receiver longer than that is no useful hint).
fn receiver_before(before: &str) -> Option<String> {
    let mut start = before.len();
    let mut depth = 0;
    for (walked, (i, c)) in before.char_indices().rev().enumerate() {
        step(1);
        if walked == MAX_EXPR {
            return None;
        }
        match c {
            ')' | ']' => depth += 1,
            '(' | '[' if depth > 0 => depth -= 1,
            c if depth > 0 || c.is_alphanumeric() || "_.:*".contains(c) => {}
            _ => break,
        }
        start = i;
    }
    normalise(&before[start..])
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

fn unsafe_header(header: &str) -> bool {
    header == "unsafe"
        || header.ends_with(" unsafe")
        || header.ends_with("(unsafe")
        || header.contains("unsafe fn ")
}

/// Functions whose every call is in racy code (one level: enough for `fn racy(…)` helpers
/// called from a `match` arm or the `else` of `if safe`). `racy_by_header` says, per block,
/// whether a header names the racy mode there. One pass over the statements, counting calls
/// per name, then one look-up per function.
fn racy_only_functions(src: &Source, racy_by_header: &[bool]) -> BTreeSet<usize> {
    // Per called name: (statements calling it, those in racy code).
    let mut calls: HashMap<&str, (usize, usize)> = HashMap::new();
    for item in &src.items {
        let Item::Statement(s) = item else { continue };
        step(2 * s.text.len() + 1);
        let defines = function_name(&s.text);
        let racy = s.block.is_some_and(|b| racy_by_header[b]);
        for name in call_names(&s.text) {
            if defines == Some(name) {
                continue;
            }
            let count = calls.entry(name).or_default();
            count.0 += 1;
            count.1 += usize::from(racy);
        }
    }
    src.blocks
        .iter()
        .enumerate()
        .filter(|(_, b)| {
            function_name(&b.header)
                .and_then(|name| calls.get(name))
                .is_some_and(|&(all, racy)| all > 0 && all == racy)
        })
        .map(|(i, _)| i)
        .collect()
}

/// The distinct names `text` calls: identifiers directly followed by `(` (the last segment of a
/// path), as [`has_call`] finds them.
fn call_names(text: &str) -> HashSet<&str> {
    let mut names = HashSet::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        if c.is_alphanumeric() || c == '_' {
            start.get_or_insert(i);
            continue;
        }
        if let Some(from) = start.take() {
            if c == '(' {
                names.insert(&text[from..i]);
            }
        }
    }
    names
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
