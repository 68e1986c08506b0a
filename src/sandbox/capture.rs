//! Bounded capture of a child's output streams.
//!
//! A reader thread per stream keeps at most `cap` bytes. Past the cap it tells the supervisor
//! (which kills the group) and stops reading, so a flood costs the grader at most `cap` bytes of
//! memory whatever the program writes.

use std::io::Read;
use std::sync::mpsc::Sender;

use super::supervise::Event;

/// Which output stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Stdout,
    Stderr,
}

impl std::fmt::Display for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        })
    }
}

/// What was captured of one stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamOutput {
    /// The first `cap` bytes at most.
    pub bytes: Vec<u8>,
    /// The program wrote more than the cap.
    pub truncated: bool,
}

impl StreamOutput {
    /// The output as text, invalid UTF-8 replaced (for messages, never for comparisons).
    pub fn lossy(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

/// Reads `source` on a thread of its own, reporting through `tx`.
pub(super) fn spawn_reader<R: Read + Send + 'static>(
    stream: Stream,
    source: Option<R>,
    cap: usize,
    tx: Sender<Event>,
) {
    std::thread::spawn(move || {
        let mut out = StreamOutput::default();
        if let Some(mut source) = source {
            let mut buf = [0u8; 16 * 1024];
            loop {
                match source.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        let room = cap.saturating_sub(out.bytes.len());
                        out.bytes.extend_from_slice(&buf[..n.min(room)]);
                        if n > room {
                            out.truncated = true;
                            let _ = tx.send(Event::OverCap(stream));
                            break;
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
        }
        let _ = tx.send(Event::Closed(stream, out));
    });
}
