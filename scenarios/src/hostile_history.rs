//! Hostile histories: on-disk histories that are checksummed and
//! well-formed byte for byte but wrong in meaning, written by the harness
//! (not the engine), and what the engine must make of them.
//!
//! A case ([`HostileHistory`], built by `arbitrary` from bytes or drawn
//! from a seed) first has the engine write a genuine history on SimFs
//! (transactions from the built-in generator, over a few incarnations, so
//! that epochs rise and segments rotate), then rewrites it with the
//! harness's own encoder of FORMAT.md's commit layout: a commit with a
//! lower epoch than the one before, a segment named off its first commit,
//! a commit dropped (a gap) or written twice (a repeat), a second commit
//! at an offset already used (a fork), the first segments or a middle
//! segment removed (a log that starts in the middle of history, or has a
//! hole between segments), a snapshot newer than the log, a snapshot of
//! another history. Every checksum is recomputed: nothing here is a torn
//! write or a flipped bit.
//!
//! What FORMAT.md says open must do, worked out by the harness from what
//! it forged: refuse with a corruption error naming the forged segment,
//! the byte offset of the forged commit (or the segment's header) and the
//! reason; refuse a log that starts after 0 with no snapshot that
//! connects; set aside a snapshot newer than the log and open the log;
//! never serve a state the model of the genuine history does not have at
//! the offset it opens to; never panic.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arbitrary::{Arbitrary, Unstructured};
use faultline_engine::commitlog::{self, Corruption};
use faultline_engine::fs::Fs;
use faultline_engine::{Database, OpenError, Options};
use faultline_sim::{FaultConfig, Seed, SimFs, Stream};

use crate::judge::disk_format::{parse_segment_name, read_segment};
use crate::model::{self, Model};
use crate::outcome::{Failure, FailureKind, Outcome, RunReport, RunStats};
use crate::panics;
use crate::workload::{RandomTransactions, TxGenerator, WorkloadShape};

/// The database directory of a hostile history.
const ROOT: &str = "/db";

/// A hostile history: a genuine one and the forgery applied to it.
#[derive(Arbitrary, Clone, Debug)]
pub struct HostileHistory {
    /// Draws the genuine history's transactions.
    pub seed: u64,
    /// Transactions before the forgery (10 to 73).
    pub txs: u8,
    /// Which forgery.
    pub forgery: Forgery,
    /// Where it strikes (a commit or a segment, modulo how many there are).
    pub at: u16,
}

/// A meaning-level forgery of a history.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forgery {
    /// A commit's epoch set below the one before it.
    EpochDown,
    /// A segment renamed `delta` offsets off its first commit.
    Misnamed {
        /// How far off (never 0).
        delta: i8,
    },
    /// A commit removed from the middle of a segment.
    Gap,
    /// A commit written a second time right after itself.
    Repeat,
    /// After a commit, another commit at the same offset with other
    /// transactions.
    Fork,
    /// The first segments removed, no snapshot: the log starts in the
    /// middle of history.
    StartsMidHistory,
    /// A segment between the first and the last removed.
    MiddleSegmentMissing,
    /// A snapshot at the end of history, then the log cut back below it.
    SnapshotNewerThanLog,
    /// A snapshot written by another history, at an offset this log holds.
    /// Not drawn (see [`HostileHistory::drawable`]): FORMAT.md binds no
    /// snapshot to its log, and the engine restores one at the log's end
    /// (`tests/tests/hostile_history.rs` keeps that open finding).
    SnapshotOfAnotherHistory,
}

/// What FORMAT.md says the open must do with a forged history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expected {
    /// Refuse: corruption in `segment`, at one of `offsets` (the forged
    /// commit, or the header), for one of `reasons`.
    Corruption {
        /// The segment's path.
        segment: PathBuf,
        /// The byte offsets the error may name.
        offsets: Vec<u64>,
        /// The reasons it may give (`CorruptionReason::name`).
        reasons: Vec<&'static str>,
    },
    /// Refuse: the log starts at `first` after 0 and no snapshot connects.
    HistoryGap {
        /// The log's first offset.
        first: u64,
    },
    /// Open to `offset`, with the model's state there; `rejected`: a
    /// snapshot must be set aside.
    Open {
        /// The offset.
        offset: u64,
        /// Whether a snapshot must be set aside.
        rejected: bool,
    },
    /// Open to `offset` with the model's state there, or refuse naming a
    /// snapshot or the history: FORMAT.md binds no snapshot to the log it
    /// came from, so only a wrong state is a finding.
    OpenOrRefuse {
        /// The offset.
        offset: u64,
    },
}

/// What a hostile history did to the engine.
#[derive(Debug)]
pub struct Verdict {
    /// What the harness forged, in words.
    pub forged: String,
    /// What the format says must happen.
    pub expected: Expected,
    /// What the engine did, in words.
    pub got: String,
    /// `Err(why)` if the engine did something the format does not allow.
    pub result: Result<(), String>,
    /// The forged history as written: each commit (segment, byte offset,
    /// offsets, epoch) and each snapshot.
    pub history: Vec<String>,
    /// Transactions the genuine history committed.
    pub committed: u64,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "forged: {}; expected: {:?}; got: {}", self.forged, self.expected, self.got)?;
        if let Err(why) = &self.result {
            write!(f, "; WRONG: {why}")?;
        }
        Ok(())
    }
}

impl HostileHistory {
    /// The case `bytes` make, if they make one the generators draw.
    pub fn from_bytes(bytes: &[u8]) -> Option<HostileHistory> {
        HostileHistory::arbitrary_take_rest(Unstructured::new(bytes))
            .ok()
            .filter(HostileHistory::drawable)
    }

    /// The case a seed draws (the sweep's `hostile_history` scenario).
    pub fn from_seed(seed: Seed) -> HostileHistory {
        let mut rng = seed.rng(Stream::Workload);
        loop {
            let mut bytes = [0u8; 64];
            rand::RngExt::fill(&mut rng, &mut bytes[..]);
            let mut case = HostileHistory::arbitrary(&mut Unstructured::new(&bytes))
                .expect("64 bytes make a case");
            case.seed = seed.0;
            if case.drawable() {
                return case;
            }
        }
    }

    /// Whether the sweep and the fuzz target draw this case: every forgery
    /// but a snapshot of another history, an open engine finding (the
    /// format has nothing that binds a snapshot to its log) that would
    /// stop every sweep and every fuzz run at its first draw.
    pub fn drawable(&self) -> bool {
        self.forgery != Forgery::SnapshotOfAnotherHistory
    }

    /// Builds the genuine history, forges it, opens the forgery and judges.
    pub fn check(&self) -> Verdict {
        let txs = 10 + u64::from(self.txs % 64);
        let genuine = Genuine::write(self.seed, txs, self.forgery == Forgery::SnapshotNewerThanLog);
        let (forged, expected, fs, history) = self.forge(&genuine);
        let fs: Arc<dyn Fs> = Arc::new(fs);
        let opened = panics::catch(|| Database::open(fs, Path::new(ROOT), options(false)));
        let (got, result) = match opened {
            Err(caught) => (format!("panic: {}", caught.message), Err("open panicked".to_owned())),
            Ok(Ok((db, report))) => {
                let offset = db.latest().offset().expect("an opened database holds offset 0");
                let got = format!(
                    "opened offset={offset} restored-from={:?} rejected={:?}",
                    report.restored_from, report.snapshots_rejected
                );
                (got, judge_open(&expected, offset, &db, &report, &genuine.model))
            }
            Ok(Err(error)) => (format!("refused: {error}"), judge_refusal(&expected, &error)),
        };
        let committed = genuine.model.submitted();
        Verdict { forged, expected, got, result, history, committed }
    }

    fn forge(&self, genuine: &Genuine) -> (String, Expected, SimFs, Vec<String>) {
        let mut log = genuine.log.clone();
        let at = usize::from(self.at);
        let commits: Vec<(usize, usize)> = log
            .iter()
            .enumerate()
            .flat_map(|(s, segment)| (0..segment.commits.len()).map(move |c| (s, c)))
            .collect();
        let segments = log.len();
        let mut snapshots = genuine.snapshots.clone();
        let fallback = |log: &[ForgedSegment]| Expected::Open {
            offset: log.last().and_then(|s| s.commits.last()).map_or(0, ForgedCommit::last_offset),
            rejected: false,
        };
        let (forged, expected) = match self.forgery {
            Forgery::EpochDown => {
                // A commit after one whose epoch is at least 1.
                let candidates: Vec<(usize, usize)> = commits
                    .windows(2)
                    .filter(|w| log[w[0].0].commits[w[0].1].epoch >= 1)
                    .map(|w| w[1])
                    .collect();
                let (s, c) = candidates[at % candidates.len()];
                let before = commits[commits.iter().position(|x| *x == (s, c)).unwrap() - 1];
                let lower = log[before.0].commits[before.1].epoch - 1;
                log[s].commits[c].epoch = lower;
                let forged =
                    format!("commit {c} of {} given epoch {lower}", log[s].path().display());
                let expected = Expected::Corruption {
                    segment: log[s].path(),
                    offsets: vec![log[s].pos(c)],
                    reasons: vec!["epoch regression"],
                };
                (forged, expected)
            }
            Forgery::Misnamed { delta } => {
                let s = at % segments;
                let delta = if delta == 0 { 1 } else { i64::from(delta) };
                let named =
                    log[s].name_offset.checked_add_signed(delta).unwrap_or(log[s].name_offset + 1);
                let was = log[s].path();
                // A name no other segment has (two files cannot share one).
                let mut named = named;
                while log.iter().any(|segment| segment.name_offset == named) {
                    named += 1;
                }
                log[s].name_offset = named;
                let forged = format!("{} renamed {}", was.display(), log[s].path().display());
                // Segments are read in name order: the first one whose name
                // does not continue the one before, or whose first commit
                // is not its name, is where the log breaks.
                log.sort_by_key(|segment| segment.name_offset);
                let mut end = None;
                let broken = log
                    .iter()
                    .position(|segment| {
                        let first = segment.commits.first().map(|c| c.min_tx_offset);
                        let breaks = end.is_some_and(|end| end != segment.name_offset)
                            || first.is_some_and(|first| first != segment.name_offset);
                        end = segment.commits.last().map(|c| c.last_offset() + 1).or(end);
                        breaks
                    })
                    .expect("a renamed segment breaks the log somewhere");
                let expected = Expected::Corruption {
                    segment: log[broken].path(),
                    offsets: vec![0, 16],
                    reasons: vec!["segment name mismatch", "segment gap"],
                };
                (forged, expected)
            }
            Forgery::Gap | Forgery::Repeat | Forgery::Fork => {
                // A commit with another after it in the same segment, so
                // that the next one read is the forged position.
                let candidates: Vec<(usize, usize)> = commits
                    .iter()
                    .copied()
                    .filter(|(s, c)| c + 1 < log[*s].commits.len())
                    .filter(|(_, c)| self.forgery != Forgery::Gap || *c >= 1)
                    .collect();
                if candidates.is_empty() {
                    let history = describe(&log, &snapshots);
                    let fs = genuine.fs(&log, &snapshots);
                    return ("nothing to forge".to_owned(), fallback(&log), fs, history);
                }
                let (s, c) = candidates[at % candidates.len()];
                let forged = match self.forgery {
                    Forgery::Gap => {
                        let gone = log[s].commits.remove(c);
                        format!(
                            "commit at offset {} removed from {}",
                            gone.min_tx_offset,
                            log[s].path().display()
                        )
                    }
                    Forgery::Repeat => {
                        let again = log[s].commits[c].clone();
                        log[s].commits.insert(c + 1, again);
                        format!("commit {c} of {} written twice", log[s].path().display())
                    }
                    _ => {
                        let mut other = log[s].commits[c + 1].clone();
                        other.min_tx_offset = log[s].commits[c].min_tx_offset;
                        other.epoch = log[s].commits[c].epoch;
                        log[s].commits.insert(c + 1, other);
                        format!(
                            "a second commit at offset {} in {}",
                            log[s].commits[c].min_tx_offset,
                            log[s].path().display()
                        )
                    }
                };
                let pos =
                    if self.forgery == Forgery::Gap { log[s].pos(c) } else { log[s].pos(c + 1) };
                let expected = Expected::Corruption {
                    segment: log[s].path(),
                    offsets: vec![pos],
                    reasons: vec!["out-of-order commit"],
                };
                (forged, expected)
            }
            Forgery::StartsMidHistory if segments >= 2 => {
                let cut = 1 + at % (segments - 1);
                log.drain(..cut);
                let first = log[0].name_offset;
                (format!("the first {cut} segments removed"), Expected::HistoryGap { first })
            }
            Forgery::MiddleSegmentMissing if segments >= 3 => {
                let s = 1 + at % (segments - 2);
                let gone = log.remove(s);
                let expected = Expected::Corruption {
                    segment: log[s].path(),
                    offsets: vec![0, 16],
                    reasons: vec!["segment gap"],
                };
                (format!("{} removed", gone.path().display()), expected)
            }
            Forgery::SnapshotNewerThanLog if !snapshots.is_empty() => {
                // Cut the log (at commit boundaries) below the newest
                // snapshot, keeping at least offset 0.
                let newest = snapshots.iter().map(|s| s.offset).max().expect("one");
                let keep = 1 + at as u64 % newest.max(1);
                for segment in &mut log {
                    segment.commits.retain(|c| c.last_offset() < keep);
                }
                while log.len() > 1 && log.last().is_some_and(|s| s.commits.is_empty()) {
                    log.pop();
                }
                let end =
                    log.last().and_then(|s| s.commits.last()).map_or(0, ForgedCommit::last_offset);
                snapshots.retain(|s| s.offset == newest);
                let forged =
                    format!("the log cut back to end at {end}, below the snapshot at {newest}");
                (forged, Expected::Open { offset: end, rejected: true })
            }
            Forgery::SnapshotOfAnotherHistory => {
                let other = Genuine::write(self.seed ^ 0x9e37_79b9_7f4a_7c15, 40, true);
                let end = fallback(&log);
                let Expected::Open { offset: end, .. } = end else { unreachable!() };
                snapshots = other.snapshots.into_iter().filter(|s| s.offset <= end).collect();
                let forged = format!(
                    "snapshots {:?} of another history put beside this log (ending at {end})",
                    snapshots.iter().map(|s| s.offset).collect::<Vec<_>>()
                );
                (forged, Expected::OpenOrRefuse { offset: end })
            }
            _ => ("nothing forged: the history is too small for it".to_owned(), fallback(&log)),
        };
        let fs = genuine.fs(&log, &snapshots);
        (forged, expected, fs, describe(&log, &snapshots))
    }
}

/// The history as written, a line per commit and per snapshot.
fn describe(log: &[ForgedSegment], snapshots: &[SnapshotFiles]) -> Vec<String> {
    let mut lines = Vec::new();
    for segment in log {
        for (c, commit) in segment.commits.iter().enumerate() {
            lines.push(format!(
                "{} at={} offsets={}..={} epoch={}",
                segment.path().display(),
                segment.pos(c),
                commit.min_tx_offset,
                commit.last_offset(),
                commit.epoch
            ));
        }
    }
    for snapshot in snapshots {
        lines.push(format!("snapshot {} files={}", snapshot.offset, snapshot.files.len()));
    }
    lines
}

fn judge_open(
    expected: &Expected,
    offset: u64,
    db: &Database,
    report: &faultline_engine::OpenReport,
    model: &Model,
) -> Result<(), String> {
    let (want, rejected) = match expected {
        Expected::Open { offset, rejected } => (*offset, *rejected),
        Expected::OpenOrRefuse { offset } => (*offset, false),
        other => return Err(format!("opened a history the format refuses ({other:?})")),
    };
    if offset != want {
        return Err(format!("opened to offset {offset}, the log ends at {want}"));
    }
    if rejected && report.snapshots_rejected.is_empty() {
        return Err("a snapshot newer than the log was not set aside".to_owned());
    }
    let state = model.state_at(offset).ok_or_else(|| format!("no model state at {offset}"))?;
    if !model::serves(state, db.latest()) {
        return Err(format!("serves a state that is not the history's at offset {offset}"));
    }
    Ok(())
}

fn judge_refusal(expected: &Expected, error: &OpenError) -> Result<(), String> {
    match (expected, error) {
        (Expected::Corruption { segment, offsets, reasons }, _)
            if corruption_of(error).is_some() =>
        {
            let Corruption { segment: s, offset, reason } = corruption_of(error).expect("checked");
            if s != segment || !offsets.contains(offset) || !reasons.contains(&reason.name()) {
                return Err(format!(
                    "named segment={} offset={offset} reason={:?}, expected {segment:?} at {offsets:?} for {reasons:?}",
                    s.display(),
                    reason.name()
                ));
            }
            Ok(())
        }
        (Expected::HistoryGap { first }, OpenError::HistoryGap { first_offset, .. }) => {
            if first_offset != first {
                return Err(format!(
                    "named first offset {first_offset}, the log starts at {first}"
                ));
            }
            Ok(())
        }
        (Expected::OpenOrRefuse { .. }, _) => Ok(()),
        (expected, _) => Err(format!("refused where the format says {expected:?}")),
    }
}

/// The corruption an open error reports, from the log's open or from
/// reading it back during replay.
fn corruption_of(error: &OpenError) -> Option<&Corruption> {
    match error {
        OpenError::Log(commitlog::OpenError::Corrupt(corruption))
        | OpenError::Read(commitlog::ReadError::Corrupt(corruption)) => Some(corruption),
        _ => None,
    }
}

fn options(snapshots: bool) -> Options {
    let mut options = Options::default();
    options.log.max_segment_size = 4096;
    options.log.write_buffer_size = 0;
    options.durability.commit_txs_max = 4;
    options.snapshots.every_txs = if snapshots { 16 } else { 1 << 40 };
    options.snapshots.on_rotation = false;
    options.snapshots.remove_old_segments = false;
    options.snapshots.retain = 8;
    options
}

/// A commit as the forger holds it: its header fields and its payload
/// (the records, untouched).
#[derive(Clone, Debug)]
struct ForgedCommit {
    min_tx_offset: u64,
    n: u16,
    epoch: u64,
    payload: Vec<u8>,
}

impl ForgedCommit {
    fn last_offset(&self) -> u64 {
        self.min_tx_offset + u64::from(self.n) - 1
    }

    fn len(&self) -> u64 {
        22 + self.payload.len() as u64 + 4
    }

    /// FORMAT.md's commit layout, with a checksum that holds.
    fn encode(&self, into: &mut Vec<u8>) {
        let start = into.len();
        into.extend_from_slice(&self.min_tx_offset.to_le_bytes());
        into.extend_from_slice(&self.epoch.to_le_bytes());
        into.extend_from_slice(&self.n.to_le_bytes());
        into.extend_from_slice(&(self.payload.len() as u32).to_le_bytes());
        into.extend_from_slice(&self.payload);
        let crc = crc32c::crc32c(&into[start..]);
        into.extend_from_slice(&crc.to_le_bytes());
    }
}

#[derive(Clone, Debug)]
struct ForgedSegment {
    name_offset: u64,
    header: Vec<u8>,
    commits: Vec<ForgedCommit>,
}

impl ForgedSegment {
    fn path(&self) -> PathBuf {
        PathBuf::from(format!("{ROOT}/log/{:020}.log", self.name_offset))
    }

    /// The byte offset of commit `c` in the file.
    fn pos(&self, c: usize) -> u64 {
        self.header.len() as u64 + self.commits[..c].iter().map(ForgedCommit::len).sum::<u64>()
    }

    fn bytes(&self) -> Vec<u8> {
        let mut bytes = self.header.clone();
        self.commits.iter().for_each(|commit| commit.encode(&mut bytes));
        bytes
    }
}

#[derive(Clone, Debug)]
struct SnapshotFiles {
    offset: u64,
    files: Vec<(String, Vec<u8>)>,
}

/// A genuine history the engine wrote, read back by the harness.
struct Genuine {
    log: Vec<ForgedSegment>,
    snapshots: Vec<SnapshotFiles>,
    model: Model,
}

impl Genuine {
    /// Has the engine write `txs` transactions drawn from `seed` over a
    /// few incarnations (each opens with a higher epoch), taking snapshots
    /// if asked.
    fn write(seed: u64, txs: u64, snapshots: bool) -> Genuine {
        let fs = SimFs::new(Seed(seed), FaultConfig::none());
        fs.create_dir(Path::new(ROOT)).expect("a fresh SimFs takes a directory");
        fs.sync_dir(Path::new("/")).expect("and syncs it");
        let mut model = Model::new();
        let mut rng = Seed(seed).rng(Stream::Workload);
        let shape =
            WorkloadShape { ops_per_tx_max: 4, value_len_max: 24, ..WorkloadShape::default() };
        let mut done = 0;
        while done < txs {
            let (mut db, _) =
                Database::open(Arc::new(fs.clone()), Path::new(ROOT), options(snapshots))
                    .expect("the engine opens its own history");
            for _ in 0..(txs - done).min(12) {
                let base = model.state_at(model.submitted()).expect("submitted").clone();
                let ops = RandomTransactions.generate(&base, &shape, &mut rng);
                let mut tx = db.begin();
                ops.iter()
                    .try_for_each(|op| op.apply_to(&mut tx))
                    .expect("generated transactions are valid");
                let offset = db.commit(tx).expect("a small transaction commits");
                model.commit(offset, &ops).expect("the model follows");
                db.durability_step();
                if snapshots {
                    db.snapshot_step().expect("a fault-free snapshot");
                }
                done += 1;
            }
        }
        Genuine { log: read_log(&fs), snapshots: read_snapshots(&fs), model }
    }

    /// A fresh SimFs holding `log` and `snapshots`, everything durable,
    /// written by the harness.
    fn fs(&self, log: &[ForgedSegment], snapshots: &[SnapshotFiles]) -> SimFs {
        let fs = SimFs::new(Seed(0), FaultConfig::none());
        let write = |path: &Path, bytes: &[u8]| {
            let file = fs.create(path).expect("create");
            file.write_at(bytes, 0).expect("write");
            file.sync_data().expect("sync");
        };
        for dir in [ROOT.to_owned(), format!("{ROOT}/log"), format!("{ROOT}/snapshots")] {
            fs.create_dir(Path::new(&dir)).expect("create a directory");
        }
        for segment in log {
            write(&segment.path(), &segment.bytes());
        }
        for snapshot in snapshots {
            let dir = format!("{ROOT}/snapshots/{:020}", snapshot.offset);
            fs.create_dir(Path::new(&dir)).expect("a snapshot directory");
            for (name, bytes) in &snapshot.files {
                write(&Path::new(&dir).join(name), bytes);
            }
            fs.sync_dir(Path::new(&dir)).expect("sync");
        }
        for dir in
            ["/".to_owned(), ROOT.to_owned(), format!("{ROOT}/log"), format!("{ROOT}/snapshots")]
        {
            fs.sync_dir(Path::new(&dir)).expect("sync a directory");
        }
        fs
    }
}

fn read_file(fs: &SimFs, path: &Path) -> Vec<u8> {
    fs.open(path).and_then(|file| file.read_to_end()).expect("the harness reads what it wrote")
}

/// The engine's log, read with the judge's own reader of the format.
fn read_log(fs: &SimFs) -> Vec<ForgedSegment> {
    let dir = PathBuf::from(format!("{ROOT}/log"));
    let mut segments = Vec::new();
    for entry in fs.list_dir(&dir).expect("the log directory") {
        let Some(name_offset) = parse_segment_name(&entry.name) else { continue };
        let bytes = read_file(fs, &dir.join(&entry.name));
        let summary = read_segment(&bytes);
        assert!(summary.header.is_ok(), "the engine's own segment has a header");
        let commits = summary
            .commits
            .iter()
            .map(|c| {
                let start = usize::try_from(c.pos).expect("in memory");
                let end = start + usize::try_from(c.len).expect("in memory");
                ForgedCommit {
                    min_tx_offset: c.min_tx_offset,
                    n: c.n,
                    epoch: c.epoch,
                    payload: bytes[start + 22..end - 4].to_vec(),
                }
            })
            .collect();
        segments.push(ForgedSegment { name_offset, header: bytes[..16].to_vec(), commits });
    }
    segments
}

fn read_snapshots(fs: &SimFs) -> Vec<SnapshotFiles> {
    let dir = PathBuf::from(format!("{ROOT}/snapshots"));
    let Ok(entries) = fs.list_dir(&dir) else { return Vec::new() };
    entries
        .iter()
        .filter_map(|entry| {
            let offset = crate::judge::disk_format::parse_snapshot_dir_name(&entry.name)?;
            let path = dir.join(&entry.name);
            let files = fs
                .list_dir(&path)
                .expect("a snapshot directory")
                .iter()
                .map(|file| (file.name.clone(), read_file(fs, &path.join(&file.name))))
                .collect();
            Some(SnapshotFiles { offset, files })
        })
        .collect()
}

/// Runs the case `bytes` make; panics, naming the forgery, what the
/// format expects and what the engine did, if the engine did something
/// else. Whether the bytes made a case.
pub fn check_bytes(bytes: &[u8]) -> bool {
    let Some(case) = HostileHistory::from_bytes(bytes) else { return false };
    let verdict = case.check();
    if verdict.result.is_err() {
        panic!("hostile history: {verdict}\n{case:?}");
    }
    true
}

/// The `hostile_history` scenario: a forged history per seed, judged by
/// one open.
#[derive(Debug)]
pub(crate) struct HostileHistoryScenario;

impl crate::scenario::Scenario for HostileHistoryScenario {
    fn name(&self) -> &str {
        "hostile_history"
    }

    fn summary(&self) -> &str {
        "a checksummed, well-formed history wrong in meaning: opened as FORMAT.md allows or refused by name"
    }

    fn plan(&self, seed: Seed) -> Result<crate::plan::Plan, crate::plan::PlanError> {
        // Not run (see run_whole): the plan of the genuine history's options.
        crate::plan::Plan::builder(seed).options(options(false)).build()
    }

    fn run_whole(&self, seed: Seed, config: &crate::runner::RunConfig) -> Option<RunReport> {
        let case = HostileHistory::from_seed(seed);
        let verdict = case.check();
        let mut trace = crate::trace::Trace::new(config.keep_trace);
        for line in &verdict.history {
            trace.push(0, line.clone());
        }
        trace.push(0, format!("{verdict}"));
        let outcome = match &verdict.result {
            Err(why) => Outcome::Failed(Failure {
                kind: FailureKind::Invariant(crate::judge::Invariant::HOSTILE_HISTORY_MISREAD),
                detail: format!("{why}: {verdict}"),
                at_ns: 0,
            }),
            Ok(()) if verdict.got.starts_with("refused") => {
                Outcome::Refused { error: verdict.got.clone() }
            }
            Ok(()) => Outcome::Passed,
        };
        let trace_hash = trace.hash(0);
        Some(RunReport {
            scenario: self.name().to_owned(),
            seed,
            plan: format!("{case:?}"),
            outcome,
            trace_hash,
            trace,
            schedule: faultline_sim::Schedule::default(),
            unused: faultline_sim::Schedule::default(),
            fired: vec![verdict.forged.clone()],
            calls: Vec::new(),
            stats: RunStats {
                runs: 1,
                recoveries: 1,
                txs_committed: verdict.committed,
                ..RunStats::default()
            },
            focus: None,
            coverage: crate::coverage::Coverage::default(),
            mode_args: String::new(),
        })
    }
}
