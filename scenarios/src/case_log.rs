//! Every case's result, kept out of memory: a sweep of millions of cases
//! must run in flat memory, yet its json and junit name every case, sorted
//! by scenario then seed so that they do not depend on `jobs`.
//!
//! Records are small and fixed-size: [`CaseLog`] gathers them in a bounded
//! buffer, sorts each full buffer and writes it as one sorted run to an
//! anonymous temporary file (the OS removes it even if the sweep is
//! killed), and reads them back as a merge of the runs. Scenario names,
//! outcome labels and directed-search strikes repeat across cases, so a
//! record holds their index in a small table instead.
//!
//! A spill that fails (no temporary directory, a full disk) is reported
//! once and the log keeps the rest in memory: a result the sweep computed
//! is never dropped to save memory.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::time::Duration;

use faultline_sim::{Focus, FsProfile, Seed};

use crate::sweep::CaseResult;

/// Records a buffer holds before it is sorted and spilled: 64 Ki records
/// of 40 bytes on disk, about 3 MiB in memory.
const RUN_LEN: usize = 1 << 16;

/// Records read from one run at a time while merging.
const READ_LEN: usize = 256;

/// Bytes of one record on disk.
const RECORD_BYTES: usize = 40;

/// One case as the log keeps it: indexes into the log's tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Record {
    /// The order the case arrived in: ties of (scenario, seed) keep it.
    arrival: u64,
    seed: u64,
    trace_hash: u64,
    wall_ns: u64,
    scenario: u16,
    label: u8,
    /// 0 for none, else the profile's index in `FsProfile::ALL` plus one.
    fs_profile: u8,
    /// 0 for none, else the focus table's index plus one.
    focus: u16,
}

impl Record {
    fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&self.arrival.to_le_bytes());
        out.extend_from_slice(&self.seed.to_le_bytes());
        out.extend_from_slice(&self.trace_hash.to_le_bytes());
        out.extend_from_slice(&self.wall_ns.to_le_bytes());
        out.extend_from_slice(&self.scenario.to_le_bytes());
        out.push(self.label);
        out.push(self.fs_profile);
        out.extend_from_slice(&self.focus.to_le_bytes());
        out.extend_from_slice(&[0, 0]);
        assert_eq!(out.len() - start, RECORD_BYTES);
    }

    fn decode(bytes: &[u8]) -> Record {
        assert_eq!(bytes.len(), RECORD_BYTES);
        let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        let u16_at = |at: usize| u16::from_le_bytes(bytes[at..at + 2].try_into().expect("2 bytes"));
        Record {
            arrival: u64_at(0),
            seed: u64_at(8),
            trace_hash: u64_at(16),
            wall_ns: u64_at(24),
            scenario: u16_at(32),
            label: bytes[34],
            fs_profile: bytes[35],
            focus: u16_at(36),
        }
    }
}

/// A sorted run spilled to the file: where it starts and how many records.
#[derive(Clone, Copy, Debug)]
struct Run {
    offset: u64,
    len: u64,
}

/// Every case's result, sorted by scenario then seed when read.
#[derive(Debug, Default)]
pub struct CaseLog {
    scenarios: Vec<String>,
    labels: Vec<&'static str>,
    focuses: Vec<Focus>,
    focus_index: HashMap<Focus, u16>,
    /// Wall time of the cases of each scenario, by the scenario's index.
    wall_by_scenario: Vec<Duration>,
    /// Records not yet spilled (all of them once a spill has failed).
    buffer: Vec<Record>,
    spill: Option<File>,
    spilled_bytes: u64,
    runs: Vec<Run>,
    /// Why a spill failed, once one has: the rest stays in memory.
    spill_error: Option<io::Error>,
    len: u64,
}

impl CaseLog {
    /// Cases logged.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether no case was logged.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Why the log could not spill its records to a temporary file, if it
    /// could not (it kept them in memory instead).
    pub fn spill_error(&self) -> Option<&io::Error> {
        self.spill_error.as_ref()
    }

    /// Wall time of every case of `scenario`, added up.
    pub fn wall_of(&self, scenario: &str) -> Duration {
        self.scenarios
            .iter()
            .position(|s| s == scenario)
            .map_or(Duration::ZERO, |i| self.wall_by_scenario[i])
    }

    /// Logs one case.
    pub fn push(&mut self, case: &CaseResult) {
        let scenario = match self.scenarios.iter().position(|s| *s == case.scenario) {
            Some(i) => i,
            None => {
                self.scenarios.push(case.scenario.clone());
                self.wall_by_scenario.push(Duration::ZERO);
                self.scenarios.len() - 1
            }
        };
        self.wall_by_scenario[scenario] += case.wall;
        let label = match self.labels.iter().position(|l| *l == case.label) {
            Some(i) => i,
            None => {
                self.labels.push(case.label);
                self.labels.len() - 1
            }
        };
        let focus = match case.focus {
            None => 0,
            Some(focus) => {
                let next = self.focuses.len();
                *self.focus_index.entry(focus).or_insert_with(|| {
                    let index = u16::try_from(next + 1).expect("fewer than 65,535 strikes");
                    self.focuses.push(focus);
                    index
                })
            }
        };
        self.buffer.push(Record {
            arrival: self.len,
            seed: case.seed.0,
            trace_hash: case.trace_hash,
            wall_ns: u64::try_from(case.wall.as_nanos()).unwrap_or(u64::MAX),
            scenario: u16::try_from(scenario).expect("fewer than 65,536 scenarios"),
            label: u8::try_from(label).expect("fewer than 256 outcome labels"),
            fs_profile: case.fs_profile.map_or(0, |p| p.index() as u8 + 1),
            focus,
        });
        self.len += 1;
        if self.buffer.len() >= RUN_LEN
            && self.spill_error.is_none()
            && let Err(error) = self.spill_buffer()
        {
            tracing::warn!(
                %error,
                cases = self.len,
                "cannot spill the sweep's case records to a temporary file; keeping them in memory"
            );
            self.spill_error = Some(error);
        }
        debug_assert_eq!(
            self.len,
            self.runs.iter().map(|r| r.len).sum::<u64>() + self.buffer.len() as u64
        );
    }

    fn order(&self, a: &Record, b: &Record) -> Ordering {
        self.scenarios[usize::from(a.scenario)]
            .cmp(&self.scenarios[usize::from(b.scenario)])
            .then(a.seed.cmp(&b.seed))
            .then(a.arrival.cmp(&b.arrival))
    }

    /// Sorts the buffer and appends it to the file as one run; on an error
    /// the buffer is kept whole and the file's runs are unchanged.
    fn spill_buffer(&mut self) -> io::Result<()> {
        let mut buffer = std::mem::take(&mut self.buffer);
        buffer.sort_unstable_by(|a, b| self.order(a, b));
        let result = self.write_run(&buffer);
        if result.is_err() {
            self.buffer = buffer;
        }
        result
    }

    fn write_run(&mut self, sorted: &[Record]) -> io::Result<()> {
        let file = match &self.spill {
            Some(file) => file,
            None => self.spill.insert(tempfile::tempfile()?),
        };
        let mut bytes = Vec::with_capacity(sorted.len() * RECORD_BYTES);
        for record in sorted {
            record.encode(&mut bytes);
        }
        file.write_all_at(&bytes, self.spilled_bytes)?;
        self.runs.push(Run { offset: self.spilled_bytes, len: sorted.len() as u64 });
        self.spilled_bytes += bytes.len() as u64;
        Ok(())
    }

    fn result_of(&self, record: &Record) -> CaseResult {
        CaseResult {
            scenario: self.scenarios[usize::from(record.scenario)].clone(),
            seed: Seed(record.seed),
            label: self.labels[usize::from(record.label)],
            trace_hash: record.trace_hash,
            wall: Duration::from_nanos(record.wall_ns),
            focus: record.focus.checked_sub(1).map(|i| self.focuses[usize::from(i)]),
            fs_profile: record.fs_profile.checked_sub(1).map(|i| FsProfile::ALL[usize::from(i)]),
        }
    }

    /// Every case, sorted by scenario, then seed, then arrival; an error
    /// reading the temporary file back ends the walk with that error.
    pub fn iter(&self) -> impl Iterator<Item = io::Result<CaseResult>> + '_ {
        let mut tail: Vec<Record> = self.buffer.clone();
        tail.sort_by(|a, b| self.order(a, b));
        let mut sources: Vec<Source> = self
            .runs
            .iter()
            .map(|run| Source::Spilled { run: *run, next: 0, read: Vec::new() })
            .collect();
        sources.push(Source::Memory(tail.into_iter().rev().collect()));
        Merge { log: self, sources, heap: BinaryHeap::new(), started: false, failed: false }
    }

    /// Every case, in memory: for tests and small sweeps.
    pub fn to_vec(&self) -> io::Result<Vec<CaseResult>> {
        self.iter().collect()
    }
}

/// One sorted input of the merge.
enum Source {
    /// A run in the file: `next` records of it taken, `read` the ones read
    /// and not taken yet, reversed (so that `pop` takes the next).
    Spilled { run: Run, next: u64, read: Vec<Record> },
    /// The records never spilled, sorted and reversed.
    Memory(Vec<Record>),
}

impl Source {
    fn pop(&mut self, file: Option<&File>) -> io::Result<Option<Record>> {
        match self {
            Source::Memory(records) => Ok(records.pop()),
            Source::Spilled { run, next, read } => {
                if read.is_empty() && *next < run.len {
                    let count = (run.len - *next).min(READ_LEN as u64);
                    let mut bytes = vec![0u8; count as usize * RECORD_BYTES];
                    let file = file.expect("a spilled run has its file");
                    file.read_exact_at(&mut bytes, run.offset + *next * RECORD_BYTES as u64)?;
                    read.extend(bytes.chunks_exact(RECORD_BYTES).map(Record::decode).rev());
                }
                let record = read.pop();
                *next += u64::from(record.is_some());
                Ok(record)
            }
        }
    }
}

/// The head of one source, ordered for a min-heap by the log's order.
struct Head<'a> {
    log: &'a CaseLog,
    record: Record,
    source: usize,
}

impl PartialEq for Head<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Head<'_> {}
impl PartialOrd for Head<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Head<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed: `BinaryHeap` is a max-heap.
        self.log.order(&other.record, &self.record)
    }
}

struct Merge<'a> {
    log: &'a CaseLog,
    sources: Vec<Source>,
    heap: BinaryHeap<Head<'a>>,
    started: bool,
    failed: bool,
}

impl Merge<'_> {
    fn refill(&mut self, source: usize) -> io::Result<()> {
        if let Some(record) = self.sources[source].pop(self.log.spill.as_ref())? {
            self.heap.push(Head { log: self.log, record, source });
        }
        Ok(())
    }
}

impl Iterator for Merge<'_> {
    type Item = io::Result<CaseResult>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        if !self.started {
            self.started = true;
            for source in 0..self.sources.len() {
                if let Err(error) = self.refill(source) {
                    self.failed = true;
                    return Some(Err(error));
                }
            }
        }
        let head = self.heap.pop()?;
        if let Err(error) = self.refill(head.source) {
            self.failed = true;
            return Some(Err(error));
        }
        if let Some(next) = self.heap.peek() {
            assert_ne!(self.log.order(&head.record, &next.record), Ordering::Greater);
        }
        Some(Ok(self.log.result_of(&head.record)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(scenario: &str, seed: u64, label: &'static str) -> CaseResult {
        CaseResult {
            scenario: scenario.to_owned(),
            seed: Seed(seed),
            label,
            trace_hash: seed.wrapping_mul(0x9e37_79b9_7f4a_7c15),
            wall: Duration::from_micros(seed % 1000),
            focus: None,
            fs_profile: None,
        }
    }

    fn key(case: &CaseResult) -> (String, u64, &'static str, u64, Duration) {
        (case.scenario.clone(), case.seed.0, case.label, case.trace_hash, case.wall)
    }

    #[test]
    fn spilled_runs_read_back_sorted_and_whole() {
        // Three spilled runs and a tail in memory, seeds in a scrambled
        // order over three scenarios, one (scenario, seed) twice.
        let mut log = CaseLog::default();
        let mut expected = Vec::new();
        let total = 3 * RUN_LEN + 123;
        for i in 0..total as u64 {
            let scenario = ["torn_tail", "swarm", "mvcc_reads"][(i % 3) as usize];
            let seed = (i * 7919) % (total as u64 + 17);
            let label = if seed.is_multiple_of(97) { "acked-lost" } else { "passed" };
            let c = case(scenario, seed, label);
            log.push(&c);
            expected.push(c);
        }
        let duplicate = case("swarm", 5, "refused");
        log.push(&duplicate);
        expected.push(duplicate);
        assert_eq!(log.runs.len(), 3, "three full buffers were spilled");
        assert_eq!(log.len(), expected.len() as u64);
        expected.sort_by(|a, b| (&a.scenario, a.seed).cmp(&(&b.scenario, b.seed)));
        let read = log.to_vec().expect("the spill reads back");
        assert_eq!(
            read.iter().map(key).collect::<Vec<_>>(),
            expected.iter().map(key).collect::<Vec<_>>()
        );
        let swarm_wall: Duration =
            expected.iter().filter(|c| c.scenario == "swarm").map(|c| c.wall).sum();
        assert_eq!(log.wall_of("swarm"), swarm_wall);
        assert_eq!(log.wall_of("no_such"), Duration::ZERO);
    }

    #[test]
    fn a_log_that_cannot_spill_keeps_every_case_in_memory() {
        let mut log = CaseLog {
            spill_error: Some(io::Error::other("no temporary directory")),
            ..CaseLog::default()
        };
        for seed in (0..RUN_LEN as u64 + 10).rev() {
            log.push(&case("torn_tail", seed, "passed"));
        }
        assert!(log.runs.is_empty() && log.spill.is_none());
        assert!(log.spill_error().is_some());
        let read = log.to_vec().unwrap();
        assert_eq!(read.len(), RUN_LEN + 10);
        assert!(read.windows(2).all(|w| w[0].seed < w[1].seed));
    }

    #[test]
    fn records_keep_their_focus() {
        let focus: Focus = "durability.sync:sync-data=fsync-error#2".parse().unwrap();
        let mut log = CaseLog::default();
        log.push(&CaseResult { focus: Some(focus), ..case("swarm", 1, "passed") });
        log.push(&case("swarm", 2, "passed"));
        log.push(&CaseResult { focus: Some(focus), ..case("swarm", 3, "passed") });
        log.spill_buffer().unwrap();
        let read = log.to_vec().unwrap();
        assert_eq!(
            read.iter().map(|c| c.focus).collect::<Vec<_>>(),
            [Some(focus), None, Some(focus)]
        );
        assert_eq!(log.focuses.len(), 1);
    }
}
