//! Reading cargo's `--message-format=json` stream: which executables were built, and the first
//! compiler error of each target, trimmed to what a student needs to fix it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

/// Lines of the rendered compiler error kept for the student.
const MAX_RENDERED_LINES: usize = 16;

/// The first compiler error of a binary, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CompileError {
    /// Path relative to the submission (`src/bin/counter.rs`), when the compiler gave one.
    pub file: Option<String>,
    pub line: Option<u32>,
    pub column: Option<u32>,
    /// The one-line message (`cannot find value `x` in this scope`).
    pub message: String,
    /// The compiler's rendering (code excerpt, hints), trimmed.
    pub rendered: String,
    /// How many errors the compiler reported for this target.
    pub count: usize,
}

impl CompileError {
    /// `src/bin/counter.rs:12:5`, or `""` when the error has no location.
    pub fn location(&self) -> String {
        match (&self.file, self.line, self.column) {
            (Some(f), Some(l), Some(c)) => format!("{f}:{l}:{c}"),
            (Some(f), _, _) => f.clone(),
            _ => String::new(),
        }
    }
}

#[derive(Deserialize)]
struct Line {
    reason: String,
    target: Option<Target>,
    executable: Option<PathBuf>,
    message: Option<Message>,
}

#[derive(Deserialize)]
struct Target {
    name: String,
    kind: Vec<String>,
}

#[derive(Deserialize)]
struct Message {
    level: String,
    message: String,
    rendered: Option<String>,
    #[serde(default)]
    spans: Vec<Span>,
}

#[derive(Deserialize)]
struct Span {
    file_name: String,
    line_start: u32,
    column_start: u32,
    is_primary: bool,
}

/// What one cargo invocation reported.
#[derive(Debug, Default)]
pub(super) struct Messages {
    pub executables: BTreeMap<String, PathBuf>,
    /// (target name, is a library, error) in the order reported.
    errors: Vec<(String, bool, CompileError)>,
}

/// Parses cargo's JSON lines; lines that are not JSON messages are skipped.
pub(super) fn parse(stdout: &[u8]) -> Messages {
    let mut out = Messages::default();
    for raw in stdout.split(|&b| b == b'\n') {
        let Ok(line) = serde_json::from_slice::<Line>(raw) else {
            continue;
        };
        let Some(target) = line.target else { continue };
        match line.reason.as_str() {
            "compiler-artifact" => {
                if let Some(exe) = line.executable {
                    out.executables.insert(target.name, exe);
                }
            }
            "compiler-message" => {
                let Some(msg) = line.message.filter(|m| m.level == "error") else {
                    continue;
                };
                // "aborting due to N previous errors" only counts; it is not an error itself.
                if msg.message.starts_with("aborting due to") {
                    continue;
                }
                let is_lib = target.kind.iter().any(|k| k.contains("lib"));
                let idx = out.errors.iter().position(|(t, _, _)| *t == target.name);
                match idx {
                    Some(i) => out.errors[i].2.count += 1,
                    None => out.errors.push((target.name, is_lib, to_error(msg))),
                }
            }
            _ => {}
        }
    }
    out
}

fn to_error(msg: Message) -> CompileError {
    let primary = msg
        .spans
        .iter()
        .find(|s| s.is_primary)
        .or(msg.spans.first());
    CompileError {
        file: primary.map(|s| s.file_name.clone()),
        line: primary.map(|s| s.line_start),
        column: primary.map(|s| s.column_start),
        message: msg.message,
        rendered: trim(msg.rendered.as_deref().unwrap_or("")),
        count: 1,
    }
}

fn trim(text: &str) -> String {
    let lines: Vec<&str> = text.trim_end().lines().collect();
    let mut kept = lines[..lines.len().min(MAX_RENDERED_LINES)].join("\n");
    if lines.len() > MAX_RENDERED_LINES {
        kept.push_str("\n…");
    }
    kept
}

impl Messages {
    /// The error that kept `binary` from building: its own first error, else its library's
    /// (the bin depends on it), else cargo's own complaint from stderr.
    pub fn first_error_for(&self, binary: &str, cargo_stderr: &str) -> CompileError {
        let own = self.errors.iter().find(|(t, _, _)| t == binary);
        let lib = self.errors.iter().find(|(_, is_lib, _)| *is_lib);
        if let Some((_, _, e)) = own.or(lib) {
            return e.clone();
        }
        let lines: Vec<&str> = cargo_stderr
            .lines()
            .filter(|l| l.trim_start().starts_with("error") || l.contains("-->"))
            .collect();
        let message = lines
            .first()
            .map(|l| l.trim().trim_start_matches("error:").trim().to_string())
            .or_else(|| {
                cargo_stderr
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .map(|l| l.trim().to_string())
            })
            .unwrap_or_else(|| "cargo failed without a compiler message".to_string());
        CompileError {
            file: None,
            line: None,
            column: None,
            message,
            rendered: trim(cargo_stderr),
            count: 1,
        }
    }
}

/// Whether cargo's stderr shows a compiler that aborted on a refused allocation (Rust's
/// "memory allocation of N bytes failed", LLVM's "out of memory").
pub fn allocation_failed(cargo_stderr: &str) -> bool {
    cargo_stderr.contains("memory allocation of")
        || cargo_stderr.contains("LLVM ERROR: out of memory")
}

/// What a student reads when the compiler ran out of memory compiling their code.
pub fn out_of_memory() -> String {
    format!(
        "the compiler ran out of memory compiling it (a build may use {} GiB): look for a huge \
         `static` or `const` array, an `include_bytes!` or `include_str!` of something without \
         end, or a macro that expands without end",
        crate::sandbox::Limits::BUILD_ADDRESS_SPACE_WITHOUT_CGROUP >> 30
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM: &str = concat!(
        r#"{"reason":"compiler-artifact","target":{"name":"pool_sum","kind":["bin"]},"executable":"/t/release/pool_sum"}"#,
        "\n",
        r#"{"reason":"compiler-message","target":{"name":"counter","kind":["bin"]},"message":{"level":"warning","message":"unused variable","rendered":"warning","spans":[]}}"#,
        "\n",
        r#"{"reason":"compiler-message","target":{"name":"counter","kind":["bin"]},"message":{"level":"error","message":"cannot find value `x` in this scope","rendered":"error[E0425]: cannot find value `x`\n --> src/bin/counter.rs:12:5\n","spans":[{"file_name":"src/bin/counter.rs","line_start":12,"column_start":5,"is_primary":true}]}}"#,
        "\n",
        r#"{"reason":"compiler-message","target":{"name":"counter","kind":["bin"]},"message":{"level":"error","message":"mismatched types","rendered":"e2","spans":[]}}"#,
        "\n",
        r#"{"reason":"compiler-message","target":{"name":"counter","kind":["bin"]},"message":{"level":"error","message":"aborting due to 2 previous errors","rendered":"","spans":[]}}"#,
        "\n",
        "not json\n",
        r#"{"reason":"build-finished","success":false}"#,
    );

    #[test]
    fn finds_executables_and_the_first_error_per_binary() {
        let m = parse(STREAM.as_bytes());
        assert_eq!(
            m.executables["pool_sum"],
            PathBuf::from("/t/release/pool_sum")
        );
        assert!(!m.executables.contains_key("counter"));
        let e = m.first_error_for("counter", "");
        assert_eq!(e.location(), "src/bin/counter.rs:12:5");
        assert_eq!(e.message, "cannot find value `x` in this scope");
        assert_eq!(e.count, 2);
        assert!(e.rendered.contains("--> src/bin/counter.rs:12:5"));
    }

    #[test]
    fn a_library_error_is_blamed_for_every_binary() {
        let stream = r#"{"reason":"compiler-message","target":{"name":"lab10","kind":["lib"]},"message":{"level":"error","message":"expected `;`","rendered":"r","spans":[{"file_name":"src/lib.rs","line_start":3,"column_start":9,"is_primary":true}]}}"#;
        let m = parse(stream.as_bytes());
        assert_eq!(
            m.first_error_for("pool_sum", "").location(),
            "src/lib.rs:3:9"
        );
    }

    #[test]
    fn a_compiler_that_ran_out_of_memory_is_told_apart() {
        assert!(allocation_failed(
            "memory allocation of 6442450944 bytes failed\nerror: could not compile `lab10`"
        ));
        assert!(!allocation_failed(
            "error: could not compile `lab10` (bin \"counter\") due to 1 previous error"
        ));
        // The limit the message names is the one builds have, isolated or portable.
        let build = crate::sandbox::Limits::for_build(std::time::Duration::from_secs(1));
        assert_eq!(
            build.memory_bytes,
            Some(crate::sandbox::Limits::BUILD_ADDRESS_SPACE_WITHOUT_CGROUP)
        );
        assert!(out_of_memory().contains("(a build may use 4 GiB)"));
    }

    #[test]
    fn without_compiler_messages_cargo_stderr_is_used() {
        let m = parse(b"");
        let e = m.first_error_for(
            "pool_sum",
            "   Compiling lab10\nerror: failed to parse manifest\n",
        );
        assert_eq!(e.message, "failed to parse manifest");
        assert_eq!(e.location(), "");
    }

    #[test]
    fn rendered_errors_are_trimmed() {
        let long: String = (0..100).map(|i| format!("line {i}\n")).collect();
        let t = trim(&long);
        assert_eq!(t.lines().count(), MAX_RENDERED_LINES + 1);
        assert!(t.ends_with('…'));
    }
}
