//! The regression corpus: failing cases found by sweeps, one per line, that
//! `cargo test` replays on every run (`tests/tests/regressions.rs`).
//!
//! The file is text, one case per line, fields separated by tabs (shown
//! as `→` here), `#` starts a comment:
//!
//! ```text
//! # scenario → seed → status → failure → note
//! swarm → 0x00000000000000c5 → open → acked-lost → found by faultline run
//! ```
//!
//! - `status` is `open` (a known engine failure: the case must fail with
//!   the recorded failure kind, or pass once the engine is fixed, in which
//!   case the test says to mark it `fixed`; failing any other way is a
//!   regression) or `fixed` (the case must pass);
//! - `failure` is the failure kind's name (`acked-lost`, `hang`, ...).

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use faultline_sim::Seed;

use crate::outcome::RunReport;

/// Whether a corpus case is a known open failure or fixed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// The engine still fails it (or may, until someone marks it fixed).
    Open,
    /// It must pass.
    Fixed,
}

/// One case of the corpus.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The scenario's name.
    pub scenario: String,
    /// The seed.
    pub seed: Seed,
    /// Open or fixed.
    pub status: Status,
    /// The failure kind's name when it was found.
    pub failure: String,
    /// Free text.
    pub note: String,
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = match self.status {
            Status::Open => "open",
            Status::Fixed => "fixed",
        };
        write!(f, "{}\t{}\t{status}\t{}\t{}", self.scenario, self.seed, self.failure, self.note)
    }
}

/// The corpus file of this checkout: `tests/regressions/seeds.tsv`.
pub fn default_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/regressions/seeds.tsv")
}

/// Parses a corpus file's text.
pub fn parse(text: &str) -> Result<Vec<Entry>, String> {
    let mut entries = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim_end();
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let bad = |why: &str| format!("line {}: {why}: {line:?}", number + 1);
        let fields: Vec<&str> = line.split('\t').collect();
        if fields.len() < 4 {
            return Err(bad("expected scenario, seed, status, failure[, note] separated by tabs"));
        }
        let seed = fields[1].parse::<Seed>().map_err(|_| bad("bad seed"))?;
        let status = match fields[2] {
            "open" => Status::Open,
            "fixed" => Status::Fixed,
            _ => return Err(bad("status must be open or fixed")),
        };
        entries.push(Entry {
            scenario: fields[0].to_owned(),
            seed,
            status,
            failure: fields[3].to_owned(),
            note: fields.get(4..).map(|rest| rest.join(" ")).unwrap_or_default(),
        });
    }
    Ok(entries)
}

/// Reads the corpus at `path` (a missing file is an empty corpus).
pub fn load(path: &Path) -> Result<Vec<Entry>, String> {
    match fs::read_to_string(path) {
        Ok(text) => parse(&text),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(error) => Err(format!("{}: {error}", path.display())),
    }
}

/// Appends the failing runs of `reports` not yet in the corpus at `path`
/// as `open` cases; returns how many were added.
pub fn append(path: &Path, reports: &[RunReport], note: &str) -> Result<usize, String> {
    let existing = load(path)?;
    let mut added = Vec::new();
    for report in reports {
        let Some(failure) = report.outcome.failure() else { continue };
        let known = existing
            .iter()
            .chain(&added)
            .any(|e: &Entry| e.scenario == report.scenario && e.seed == report.seed);
        if !known {
            added.push(Entry {
                scenario: report.scenario.clone(),
                seed: report.seed,
                status: Status::Open,
                failure: failure.kind.name().to_owned(),
                note: note.to_owned(),
            });
        }
    }
    if added.is_empty() {
        return Ok(0);
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let new_file = !path.exists();
    let mut file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut text = String::new();
    if new_file {
        text.push_str("# scenario\tseed\tstatus\tfailure\tnote\n");
    }
    for entry in &added {
        text.push_str(&entry.to_string());
        text.push('\n');
    }
    file.write_all(text.as_bytes()).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(added.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_bad_lines_are_named() {
        let text = "# header\nswarm\t0x00000000000000c5\topen\tacked-lost\tfound by faultline run\n\n\
                    torn_tail\t12\tfixed\thang\t\n";
        let entries = parse(text).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].seed, Seed(0xc5));
        assert_eq!(entries[1].status, Status::Fixed);
        assert_eq!(parse(&entries[0].to_string()).unwrap()[0], entries[0]);
        let error = parse("swarm\t0x1\tmaybe\thang").unwrap_err();
        assert!(error.starts_with("line 1: status"), "{error}");
    }
}
