//! Gradescope's "Download Submissions" export: `submission_metadata.yml` (Ruby-symbol keys)
//! beside one `submission_<id>/` folder per submission:
//!
//! ```yaml
//! submission_123:
//!   :submitters:
//!   - :name: Ada Lovelace
//!     :sid: '100'
//!     :email: ada@example.edu
//!   :created_at: 2026-12-01 21:59:00.123456000 -05:00
//! ```
//!
//! Parsed with `yaml-rust2`, which keeps aliases as references (no "billion laughs"
//! expansion); the file is read bounded, like any other.

use std::path::Path;

use yaml_rust2::{Yaml, YamlLoader};

use super::{trusted_time, Identity, Kind, Origin};
use crate::batch::run::Submission;
use crate::batch::BatchError;
use crate::datetime::ZonedTime;
use crate::untrusted_file;

pub const METADATA: &str = "submission_metadata.yml";
/// A course of a thousand students writes well under a MiB.
const MAX_METADATA_BYTES: u64 = 16 << 20;

pub(super) fn collect(
    root: &Path,
    folders: Vec<Submission>,
    notes: &mut Vec<String>,
) -> Result<Vec<Submission>, BatchError> {
    let path = root.join(METADATA);
    let text = untrusted_file::read_text_capped(&path, MAX_METADATA_BYTES)
        .map_err(|e| BatchError::Collection(format!("{}: {e}", path.display())))?;
    let meta = parse(&text).map_err(|e| BatchError::Collection(format!("{METADATA}: {e}")))?;
    let mut out = Vec::new();
    for mut s in folders {
        match meta.iter().find(|(id, _)| *id == s.name) {
            Some((_, (submitters, created))) => {
                s.origin = Some(Origin {
                    kind: Kind::Gradescope,
                    submitters: submitters.clone(),
                    submitted: created.map(trusted_time),
                    late_marker: false,
                });
            }
            None => notes.push(format!(
                "{}: not in {METADATA}: graded without submitters or time",
                s.name
            )),
        }
        out.push(s);
    }
    for (id, _) in &meta {
        if !out.iter().any(|s| &s.name == id) {
            notes.push(format!("{id}: in {METADATA} but no folder: not graded"));
        }
    }
    Ok(out)
}

type Entry = (String, (Vec<Identity>, Option<ZonedTime>));

/// Each submission's id, submitters and `:created_at:`.
pub fn parse(text: &str) -> Result<Vec<Entry>, String> {
    let docs = YamlLoader::load_from_str(text).map_err(|e| e.to_string())?;
    let Some(Yaml::Hash(top)) = docs.into_iter().next() else {
        return Err("not a mapping of submissions".into());
    };
    let mut out = Vec::new();
    for (id, entry) in top {
        let Some(id) = id.as_str() else { continue };
        let field = |y: &Yaml, key: &str| -> Option<String> {
            let v = &y[format!(":{key}").as_str()];
            let v = if v.is_badvalue() { &y[key] } else { v };
            match v {
                Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
                Yaml::Integer(i) => Some(i.to_string()),
                _ => None,
            }
        };
        let submitters = entry[":submitters"]
            .as_vec()
            .or_else(|| entry["submitters"].as_vec())
            .map(|v| {
                v.iter()
                    .map(|p| Identity {
                        name: field(p, "name"),
                        sid: field(p, "sid"),
                        email: field(p, "email"),
                        ..Identity::default()
                    })
                    .collect()
            })
            .unwrap_or_default();
        let created = match field(&entry, "created_at") {
            Some(t) => Some(ruby_time(&t).map_err(|e| format!("{id}: {e}"))?),
            None => None,
        };
        out.push((id.to_string(), (submitters, created)));
    }
    Ok(out)
}

/// Ruby's `2026-12-01 21:59:00.123456000 -05:00` (or RFC 3339) as a time.
fn ruby_time(text: &str) -> Result<ZonedTime, String> {
    let t = text.trim();
    let rfc = match t.split(' ').collect::<Vec<_>>().as_slice() {
        [date, time, offset] => format!("{date}T{time}{offset}"),
        [date, time] if !time.contains(['+', '-', 'Z']) => format!("{date}T{time}Z"),
        _ => t.to_string(),
    };
    ZonedTime::parse(&rfc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_export_metadata_gives_submitters_and_times() {
        let text = "submission_1:\n  :submitters:\n  - :name: Ada Lovelace\n    :sid: '100'\n    \
                    :email: ada@example.edu\n  :created_at: 2026-12-01 21:59:00.123456000 -05:00\n  \
                    :score: 3.0\nsubmission_2:\n  :submitters:\n  - :name: Pair One\n    :sid: 200\n  \
                    - :name: Pair Two\n    :sid: '201'\n  :created_at: 2026-12-02 03:00:00 +00:00\n";
        let got = parse(text).unwrap();
        assert_eq!(got.len(), 2);
        let (id, (who, at)) = &got[0];
        assert_eq!(id, "submission_1");
        assert_eq!(who[0].name.as_deref(), Some("Ada Lovelace"));
        assert_eq!(who[0].sid.as_deref(), Some("100"));
        assert_eq!(who[0].email.as_deref(), Some("ada@example.edu"));
        assert_eq!(at.as_ref().unwrap().rfc3339(), "2026-12-01T21:59:00-05:00");
        assert_eq!(got[1].1 .0.len(), 2, "a group lists every submitter");
        assert_eq!(got[1].1 .0[0].sid.as_deref(), Some("200"));
        assert!(parse("- a\n- b\n").is_err());
    }
}
