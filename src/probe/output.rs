//! The `output` probe: run once, check the exit status and the printed result.

use crate::sandbox::{self, Ending, Outcome, SpawnError};
use crate::spec::{ExitExpectation, OutputTest};
use crate::verdict::{signal_name, Evidence, Reason, RunEvidence, Verdict};

use super::{command_line, explain, Finding, HangEvidence, Target};

/// Bytes of each stream kept as evidence in the result.
const EVIDENCE_BYTES: usize = 600;

pub(super) fn run(test: &OutputTest, target: Target<'_>) -> Result<Finding, SpawnError> {
    let command = command_line(target.binary, &test.args);
    let job = target.job(&test.args, test.timeout);
    let outcome = target.runner.run(&job)?;
    let evidence = Evidence::Output(evidence(&command, &outcome));
    let (verdict, message) = judge(test, &command, &outcome);
    Ok(Finding {
        verdict,
        message,
        evidence,
    })
}

fn judge(test: &OutputTest, command: &str, out: &Outcome) -> (Verdict, String) {
    let panic = panic_line(&out.stderr.lossy());
    let code = match &out.ending {
        Ending::OutputLimit { stream, cap_bytes } => {
            let msg = format!(
                "`{command}` wrote more than {} KiB to {stream} and was stopped: print only the result",
                cap_bytes / 1024
            );
            return fail(
                Reason::OutputLimit {
                    stream: *stream,
                    cap_bytes: *cap_bytes,
                },
                msg,
            );
        }
        Ending::TimedOut { after } => {
            let hang = HangEvidence::of(out).expect("a run that timed out");
            let msg = format!(
                "`{command}` did not finish within {:.1} s and was stopped: {}",
                after.as_secs_f64(),
                hang.explain()
            );
            return fail(Reason::Timeout { after: *after }, msg);
        }
        Ending::Signaled(sig) => {
            let why = if *sig == libc::SIGXCPU {
                " (it used up its CPU time limit)"
            } else {
                ""
            };
            let mut msg = format!("`{command}` crashed: killed by {}{why}", signal_name(*sig));
            if let Some(p) = &panic {
                msg.push_str(&format!("; {p}"));
            }
            return fail(Reason::Crash { signal: *sig }, msg);
        }
        Ending::Exited(code) => *code,
    };
    match test.exit {
        ExitExpectation::Success if code != 0 => {
            let mut msg = format!("`{command}` exited with status {code}, expected 0");
            if let Some(p) = &panic {
                msg = format!("`{command}` panicked (exit status {code}): {p}");
            }
            return fail(
                Reason::ExitStatus {
                    expected: test.exit,
                    got: code,
                },
                msg,
            );
        }
        ExitExpectation::Failure if code == 0 => {
            let printed = out.stdout.lossy();
            let msg = format!(
                "`{command}` must be refused: bad arguments need a message on stderr and a \
                 non-zero exit status, but it exited 0{}",
                if printed.trim().is_empty() {
                    String::new()
                } else {
                    format!(" and printed {:?}", excerpt(printed.trim(), 60))
                }
            );
            return fail(
                Reason::ExitStatus {
                    expected: test.exit,
                    got: code,
                },
                msg,
            );
        }
        ExitExpectation::Code(want) if code != want => {
            let msg = format!("`{command}` exited with status {code}, expected {want}");
            return fail(
                Reason::ExitStatus {
                    expected: test.exit,
                    got: code,
                },
                msg,
            );
        }
        _ => {}
    }
    let Some(check) = &test.stdout else {
        return (
            Verdict::Pass,
            format!("`{command}` exited with status {code}"),
        );
    };
    let expected = check.expected_text();
    let got = match std::str::from_utf8(&out.stdout.bytes) {
        Ok(s) => s.trim(),
        Err(e) => {
            let msg = format!(
                "`{command}` printed bytes that are not UTF-8 text (at byte {}): expected the \
                 decimal number {expected}",
                e.valid_up_to()
            );
            let got = out.stdout.lossy();
            return fail(Reason::WrongOutput { expected, got }, msg);
        }
    };
    if got == expected {
        return (Verdict::Pass, format!("`{command}` printed {expected}"));
    }
    let msg = explain::wrong_output(command, &test.args, check, got);
    fail(
        Reason::WrongOutput {
            expected,
            got: excerpt(got, EVIDENCE_BYTES),
        },
        msg,
    )
}

fn fail(reason: Reason, message: String) -> (Verdict, String) {
    (Verdict::Fail(reason), message)
}

/// The panic message of a Rust program, from its stderr.
fn panic_line(stderr: &str) -> Option<String> {
    let mut lines = stderr.lines();
    let line = lines.find(|l| l.contains("panicked at"))?;
    // Since Rust 1.73 the message is on the line after "panicked at <location>:".
    let detail = lines.next().unwrap_or("").trim();
    let location = line
        .split("panicked at")
        .nth(1)
        .unwrap_or("")
        .trim()
        .trim_end_matches(':');
    Some(if detail.is_empty() || detail.starts_with("note:") {
        format!("panicked at {location}")
    } else {
        format!("'{detail}' at {location}")
    })
}

fn excerpt(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

fn evidence(command: &str, out: &Outcome) -> RunEvidence {
    let exit = match &out.ending {
        Ending::Exited(c) => format!("exit status {c}"),
        Ending::Signaled(s) => format!("killed by {}", signal_name(*s)),
        Ending::TimedOut { after } => format!("stopped after {:.1} s", after.as_secs_f64()),
        Ending::OutputLimit { stream, .. } => format!("stopped: too much output on {stream}"),
    };
    let text = |s: &sandbox::StreamOutput| {
        let t = s.lossy();
        (!t.is_empty()).then(|| excerpt(&t, EVIDENCE_BYTES))
    };
    RunEvidence {
        command: Some(command.to_string()),
        wall_ms: Some(out.wall.as_millis() as u64),
        cpu_ms: Some(out.cpu.as_millis() as u64),
        exit: Some(exit),
        stdout: text(&out.stdout),
        stderr: text(&out.stderr),
        hang: HangEvidence::of(out),
        time_limit: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_messages_are_extracted_in_both_formats() {
        let new = "\nthread 'main' panicked at src/bin/pool_sum.rs:20:5:\nattempt to add with overflow\nnote: run with `RUST_BACKTRACE=1`";
        assert_eq!(
            panic_line(new).unwrap(),
            "'attempt to add with overflow' at src/bin/pool_sum.rs:20:5"
        );
        let bare = "thread 'main' panicked at src/x.rs:1:1:\nnote: run with";
        assert_eq!(panic_line(bare).unwrap(), "panicked at src/x.rs:1:1");
        assert_eq!(panic_line("error: bad"), None);
    }

    #[test]
    fn excerpts_respect_char_boundaries() {
        assert_eq!(excerpt("abc", 10), "abc");
        assert_eq!(excerpt("ééé", 3), "é…");
    }
}
