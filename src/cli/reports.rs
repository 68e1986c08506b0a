//! Where one grading's reports go: `--format`/`--out` (standard output by default) and every
//! `--report FORMAT=PATH`, each file written atomically, plus the GitHub job summary appended
//! to `$GITHUB_STEP_SUMMARY`. Destinations are checked before grading, so a typo in a path
//! fails in a second, not after minutes of grading.

use std::collections::HashSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::ValueEnum;

use super::write_atomically;
use crate::report::{self, Format, ReportOptions};
use crate::verdict::GradeResult;

/// One `--report FORMAT=PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ReportTarget {
    pub format: Format,
    pub path: PathBuf,
}

/// Parses `FORMAT=PATH` (clap's value parser for `--report`).
pub(super) fn parse_report(s: &str) -> Result<ReportTarget, String> {
    let names = || {
        Format::value_variants()
            .iter()
            .filter_map(|f| f.to_possible_value())
            .map(|v| v.get_name().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let Some((format, path)) = s.split_once('=') else {
        return Err(format!(
            "expected FORMAT=PATH (e.g. junit=results.xml), FORMAT one of {}",
            names()
        ));
    };
    let format = Format::from_str(format, true)
        .map_err(|_| format!("unknown format `{format}`: one of {}", names()))?;
    if path.is_empty() {
        return Err(format!("no file after `{s}`"));
    }
    Ok(ReportTarget {
        format,
        path: PathBuf::from(path),
    })
}

/// Where a rendered report goes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Destination {
    Stdout,
    File(PathBuf),
}

/// Every report of one grading.
#[derive(Debug)]
pub(super) struct Outputs {
    outputs: Vec<(Format, Destination)>,
    /// Whether standard output gets colors (a terminal, and the environment allows it).
    stdout_color: bool,
}

impl Outputs {
    /// The report on standard output (or `--out`) and the `--report` files, checked: every
    /// file's directory exists and no file is named twice.
    pub fn new(format: Format, out: Option<&Path>, reports: &[ReportTarget]) -> Result<Outputs> {
        let first = match out {
            Some(path) => Destination::File(path.to_path_buf()),
            None => Destination::Stdout,
        };
        let outputs: Vec<(Format, Destination)> = std::iter::once((format, first))
            .chain(
                reports
                    .iter()
                    .map(|r| (r.format, Destination::File(r.path.clone()))),
            )
            .collect();
        let mut seen = HashSet::new();
        for (_, dest) in &outputs {
            let Destination::File(path) = dest else {
                continue;
            };
            let dir = parent(path);
            if !dir.is_dir() {
                bail!(
                    "cannot write {}: directory {} does not exist",
                    path.display(),
                    dir.display()
                );
            }
            let key = std::fs::canonicalize(dir)
                .unwrap_or_else(|_| dir.to_path_buf())
                .join(path.file_name().unwrap_or_default());
            if !seen.insert(key) {
                bail!("{} is named by more than one report", path.display());
            }
        }
        Ok(Outputs {
            outputs,
            stdout_color: super::conventions::stdout_color(),
        })
    }

    /// Renders and writes every report; appends the job summary to `$GITHUB_STEP_SUMMARY`
    /// when a `github` report was made and the variable names a file.
    pub fn write(&self, result: &GradeResult, opts: &ReportOptions) -> Result<()> {
        for (format, dest) in &self.outputs {
            colored::control::set_override(*dest == Destination::Stdout && self.stdout_color);
            let text = report::render(result, *format, opts);
            match dest {
                Destination::Stdout => {
                    let mut stdout = std::io::stdout().lock();
                    stdout
                        .write_all(text.as_bytes())
                        .and_then(|()| stdout.flush())
                        .context("writing to standard output")?;
                }
                Destination::File(path) => write_atomically(path, text.as_bytes())?,
            }
        }
        super::conventions::restore_color();
        let github = self.outputs.iter().any(|(f, _)| *f == Format::Github);
        if let (true, Some(path)) = (github, std::env::var_os("GITHUB_STEP_SUMMARY")) {
            if !path.is_empty() {
                let path = PathBuf::from(path);
                // The summary is extra: failing to write it must not hide the grading.
                if let Err(e) = append(&path, report::github_summary(result).as_bytes()) {
                    eprintln!(
                        "labgrade: warning: could not append the job summary to {}: {e}",
                        path.display()
                    );
                }
            }
        }
        Ok(())
    }
}

/// The directory a file is written in (`.` for a bare name).
fn parent(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

fn append(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?
        .write_all(bytes)
}

/// The submission's directory relative to the repository root (`$GITHUB_WORKSPACE`, else the
/// current directory), with a trailing `/`; empty when it is the root or lies outside it.
pub(super) fn source_prefix(submission: &Path) -> String {
    let root = std::env::var_os("GITHUB_WORKSPACE")
        .filter(|w| !w.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::current_dir().ok());
    let (Some(root), Ok(dir)) = (root, std::fs::canonicalize(submission)) else {
        return String::new();
    };
    let root = std::fs::canonicalize(&root).unwrap_or(root);
    match dir.strip_prefix(&root) {
        Ok(rel) if !rel.as_os_str().is_empty() => format!("{}/", rel.display()),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_arguments_name_a_format_and_a_file() {
        assert_eq!(
            parse_report("junit=out/results.xml"),
            Ok(ReportTarget {
                format: Format::Junit,
                path: PathBuf::from("out/results.xml")
            })
        );
        assert_eq!(
            parse_report("HTML=a=b.html").unwrap().path,
            Path::new("a=b.html")
        );
        let err = parse_report("xml=r.xml").unwrap_err();
        assert!(err.contains("unknown format `xml`"), "{err}");
        assert!(err.contains("github, csv, html"), "{err}");
        assert!(parse_report("junit").unwrap_err().contains("FORMAT=PATH"));
        assert!(parse_report("junit=").is_err());
    }

    #[test]
    fn destinations_are_checked_before_grading() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.xml");
        let report = |format, path: &Path| ReportTarget {
            format,
            path: path.to_path_buf(),
        };
        assert!(Outputs::new(Format::Human, None, &[report(Format::Junit, &a)]).is_ok());
        let twice = Outputs::new(
            Format::Json,
            Some(&a),
            &[report(Format::Junit, &dir.path().join(".").join("a.xml"))],
        )
        .unwrap_err();
        assert!(
            twice.to_string().contains("more than one report"),
            "{twice}"
        );
        let missing = dir.path().join("nope/a.xml");
        let err = Outputs::new(Format::Human, None, &[report(Format::Csv, &missing)]).unwrap_err();
        assert!(err.to_string().contains("does not exist"), "{err}");
    }
}
