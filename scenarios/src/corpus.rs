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
//!
//! A sweep writes to a corpus only where asked (`faultline run --corpus
//! PATH`), never into the source tree by default, and adds one case per
//! (scenario, failure kind) not already open there: the failure kind of a
//! broken invariant is that first invariant, so three hundred seeds of one
//! bug add one line. [`validate`] names every bad line: an unknown
//! scenario or failure kind, a line repeated, two lines that contradict
//! each other about one seed.

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::Path;

use faultline_sim::Seed;

use crate::outcome::{FailureKind, RunReport};
use crate::scenario::Registry;

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
    /// The line of the file it was read from (1-based; 0 if not read).
    pub line: usize,
}

impl Status {
    /// `open` or `fixed`, as in the file.
    pub fn name(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Fixed => "fixed",
        }
    }
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.status.name();
        write!(f, "{}\t{}\t{status}\t{}\t{}", self.scenario, self.seed, self.failure, self.note)
    }
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
            line: number + 1,
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

/// Every problem of `entries` (as [`parse`] read them), each naming its
/// line: a scenario `registry` does not have, a failure kind no scenario
/// declares, a line that repeats an earlier one, a line that says other
/// than an earlier one about the same (scenario, seed) (status or kind).
pub fn validate(entries: &[Entry], registry: &Registry) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let at = format!("line {}: {}\t{}", entry.line, entry.scenario, entry.seed);
        if registry.get(&entry.scenario).is_none() {
            problems.push(format!("{at}: unknown scenario {:?}", entry.scenario));
        }
        if FailureKind::from_name(&entry.failure, registry).is_none() {
            problems.push(format!("{at}: unknown failure kind {:?}", entry.failure));
        }
        let same_case =
            entries[..index].iter().find(|e| e.scenario == entry.scenario && e.seed == entry.seed);
        match same_case {
            Some(earlier) if earlier.status == entry.status && earlier.failure == entry.failure => {
                problems.push(format!("{at}: duplicate of line {}", earlier.line));
            }
            Some(earlier) => problems.push(format!(
                "{at}: contradicts line {} ({} {} there, {} {} here)",
                earlier.line,
                earlier.status.name(),
                earlier.failure,
                entry.status.name(),
                entry.failure
            )),
            None => {}
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(problems) }
}

/// What [`append`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Appended {
    /// Cases written, one per (scenario, failure kind) not open before.
    pub added: Vec<Entry>,
    /// Failing runs not written: their (scenario, failure kind) is open in
    /// the corpus already, or was added from an earlier run of this batch.
    pub duplicates: usize,
}

/// Appends the failing runs of `reports` to the corpus at `path` as `open`
/// cases, one per (scenario, failure kind) not already open there (the
/// first seed of each, in the order given). The file is created if
/// missing.
pub fn append(path: &Path, reports: &[RunReport], note: &str) -> Result<Appended, String> {
    let existing = load(path)?;
    let mut appended = Appended::default();
    for report in reports {
        let Some(failure) = report.outcome.failure() else { continue };
        let kind = failure.kind.name();
        let known = existing.iter().chain(&appended.added).any(|e: &Entry| {
            e.scenario == report.scenario
                && (e.seed == report.seed || (e.status == Status::Open && e.failure == kind))
        });
        if known {
            appended.duplicates += 1;
            continue;
        }
        appended.added.push(Entry {
            scenario: report.scenario.clone(),
            seed: report.seed,
            status: Status::Open,
            failure: kind.to_owned(),
            note: note.to_owned(),
            line: 0,
        });
    }
    let added = &appended.added;
    if added.is_empty() {
        return Ok(appended);
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let new_file = !path.exists();
    // A file whose last line has no newline must not swallow the first
    // new entry into that line.
    let needs_newline =
        !new_file && fs::read(path).is_ok_and(|bytes| bytes.last().is_some_and(|b| *b != b'\n'));
    let mut file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut text = String::new();
    if needs_newline {
        text.push('\n');
    }
    if new_file {
        text.push_str("# scenario\tseed\tstatus\tfailure\tnote\n");
    }
    for entry in added {
        text.push_str(&entry.to_string());
        text.push('\n');
    }
    file.write_all(text.as_bytes()).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(appended)
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
        let again = parse(&entries[0].to_string()).unwrap().remove(0);
        assert_eq!(Entry { line: entries[0].line, ..again }, entries[0]);
        let error = parse("swarm\t0x1\tmaybe\thang").unwrap_err();
        assert!(error.starts_with("line 1: status"), "{error}");
    }

    #[test]
    fn validation_names_each_bad_line() {
        let text = "# header\n\
                    swarm\t0x1\topen\tacked-lost\tok\n\
                    nosuch\t0x2\topen\tacked-lost\n\
                    swarm\t0x3\topen\tno-such-kind\n\
                    swarm\t0x1\topen\tacked-lost\tthe same again\n\
                    swarm\t0x1\tfixed\thang\n\
                    torn_tail\t0x1\tfixed\thang\n";
        let registry = Registry::builtin();
        let problems = validate(&parse(text).unwrap(), &registry).unwrap_err();
        assert_eq!(
            problems,
            [
                "line 3: nosuch\t0x0000000000000002: unknown scenario \"nosuch\"",
                "line 4: swarm\t0x0000000000000003: unknown failure kind \"no-such-kind\"",
                "line 5: swarm\t0x0000000000000001: duplicate of line 2",
                "line 6: swarm\t0x0000000000000001: contradicts line 2 (open acked-lost there, fixed hang here)",
            ]
        );
        let good = "swarm\t0x1\topen\tacked-lost\ntorn_tail\t0x1\tfixed\thang\n";
        assert_eq!(validate(&parse(good).unwrap(), &registry), Ok(()));
    }

    fn failed(scenario: &str, seed: u64, invariant: crate::judge::Invariant) -> RunReport {
        use crate::outcome::{Failure, Outcome, RunStats};
        RunReport {
            scenario: scenario.to_owned(),
            seed: Seed(seed),
            plan: String::new(),
            outcome: Outcome::Failed(Failure {
                kind: FailureKind::Invariant(invariant),
                detail: String::new(),
                at_ns: 0,
            }),
            trace_hash: 0,
            trace: crate::trace::Trace::new(false),
            schedule: faultline_sim::Schedule::default(),
            unused: faultline_sim::Schedule::default(),
            fired: Vec::new(),
            calls: Vec::new(),
            stats: RunStats::default(),
            focus: None,
            fs_profile: None,
            coverage: crate::coverage::Coverage::default(),
            mode_args: String::new(),
            script: None,
            timeline: None,
            timeline_page: None,
        }
    }

    #[test]
    fn a_sweep_adds_one_case_per_scenario_and_failure_kind() {
        use crate::judge::Invariant;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("corpus.tsv");
        let mut reports: Vec<RunReport> =
            (0..300).map(|seed| failed("swarm", seed, Invariant::ACKED_LOST)).collect();
        reports.push(failed("swarm", 7, Invariant::ACKED_LOST));
        reports.push(failed("torn_tail", 9, Invariant::ACKED_LOST));
        reports.push(failed("swarm", 400, Invariant::SNAPSHOT_REJECTED));
        let first = append(&path, &reports, "found").unwrap();
        let added: Vec<(String, u64, String)> =
            first.added.iter().map(|e| (e.scenario.clone(), e.seed.0, e.failure.clone())).collect();
        assert_eq!(
            added,
            [
                ("swarm".to_owned(), 0, "acked-lost".to_owned()),
                ("torn_tail".to_owned(), 9, "acked-lost".to_owned()),
                ("swarm".to_owned(), 400, "snapshot-rejected".to_owned()),
            ]
        );
        assert_eq!(first.duplicates, 300);
        // Again: everything is known.
        let second = append(&path, &reports, "found").unwrap();
        assert!(second.added.is_empty());
        let entries = load(&path).unwrap();
        assert_eq!(entries.len(), 3);
        assert_eq!(validate(&entries, &Registry::builtin()), Ok(()));
    }
}
