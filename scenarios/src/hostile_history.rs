//! Hostile histories: on-disk histories that are checksummed and
//! well-formed byte for byte but wrong in meaning, or broken in one of the
//! ways FORMAT.md's open rules name, written by the harness (not the
//! engine), and what the engine must make of them.
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
//! Beside those, one forgery per byte-level rule of open: a header broken
//! in one field, a commit whose checksum holds but whose framing does not
//! (no transactions, too few or too many records, offsets past u64), a
//! sealed segment with no commit or with bytes after its last, a flipped
//! bit (repaired in the last segment, corruption in a sealed one), a
//! `.rewrite` left by a crash (removed), an entry that is not a segment
//! name (refused).
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

/// A forgery of a history: wrong in meaning, or broken at one rule of
/// FORMAT.md's open.
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
    /// Snapshots written by another history, at offsets this log holds:
    /// each is bound to a commit this log does not have, and set aside.
    SnapshotOfAnotherHistory,
    /// A segment's header broken in one field (the commits after it
    /// intact): refused, whichever segment it is.
    BadHeader {
        /// Which field.
        field: HeaderField,
    },
    /// A commit whose checksum holds but whose framing does not.
    Malformed {
        /// How.
        how: Malformation,
    },
    /// Every commit of a sealed segment removed, its header kept (it is
    /// named where the one before ends).
    SealedEmpty,
    /// Bytes after the last commit of a sealed segment: what a torn tail
    /// looks like, where the format allows none.
    SealedTrailing {
        /// Which bytes.
        bytes: Trailing,
    },
    /// One bit of a commit flipped (checksum not recomputed: a latent
    /// media error): repaired in the last segment, corruption in a sealed
    /// one.
    FlippedBit {
        /// Which bit of the commit (modulo its length in bits).
        bit: u16,
    },
    /// A `<segment>.rewrite` file beside a segment, as a crash in the
    /// middle of open's durable rewrite leaves: removed by open.
    LeftoverRewrite,
    /// An entry ending in `.log` that is not a segment name, or a
    /// directory with a segment's name: the log is refused.
    BadName {
        /// Which kind of entry.
        form: BadNameForm,
    },
}

/// The field of a segment header a [`Forgery::BadHeader`] breaks.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderField {
    /// One bit of the magic flipped.
    Magic,
    /// A format version other than 1.
    Version,
    /// A checksum algorithm other than CRC32C.
    ChecksumAlgorithm,
    /// A reserved byte that is not zero.
    Reserved,
}

/// How a [`Forgery::Malformed`] commit breaks the framing (its checksum
/// recomputed over what it holds).
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Malformation {
    /// `n = 0` and no records: a commit of nothing.
    Empty,
    /// `n` one more than the records it holds.
    TooFewRecords,
    /// A record more than `n` says.
    TooManyRecords,
    /// `min_tx_offset + n` past `u64::MAX`.
    OffsetOverflow,
}

/// The bytes a [`Forgery::SealedTrailing`] appends.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trailing {
    /// Zeros.
    Zeros,
    /// Bytes that are no commit.
    Garbage,
    /// The first half of the next segment's first commit.
    HalfCommit,
}

/// The entry a [`Forgery::BadName`] puts in the log directory.
#[derive(Arbitrary, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadNameForm {
    /// 19 digits.
    ShortDigits,
    /// A letter among the digits.
    NotDigits,
    /// 20 digits past `u64::MAX`.
    PastU64,
    /// A directory named as a segment would be.
    Directory,
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
    /// Refuse: `path` is not a segment name, or not a file.
    BadSegmentName {
        /// The entry.
        path: PathBuf,
    },
    /// Open to `offset`, with the model's state there; `rejected`: every
    /// snapshot must be set aside, none restored.
    Open {
        /// The offset.
        offset: u64,
        /// Whether a snapshot must be set aside.
        rejected: bool,
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
    /// The case `bytes` make, if they make one.
    pub fn from_bytes(bytes: &[u8]) -> Option<HostileHistory> {
        HostileHistory::arbitrary_take_rest(Unstructured::new(bytes)).ok()
    }

    /// The case a seed draws (the sweep's `hostile_history` scenario).
    pub fn from_seed(seed: Seed) -> HostileHistory {
        let mut rng = seed.rng(Stream::Workload);
        let mut bytes = [0u8; 64];
        rand::RngExt::fill(&mut rng, &mut bytes[..]);
        let mut case = HostileHistory::arbitrary(&mut Unstructured::new(&bytes))
            .expect("64 bytes make a case");
        case.seed = seed.0;
        case
    }

    /// Builds the genuine history, forges it, opens the forgery and judges.
    pub fn check(&self) -> Verdict {
        let txs = 10 + u64::from(self.txs % 64);
        let genuine = Genuine::write(self.seed, txs, self.forgery == Forgery::SnapshotNewerThanLog);
        let (forged, expected, fs, history) = self.forge(&genuine);
        let fs: Arc<dyn Fs> = Arc::new(fs);
        let opened =
            panics::catch(|| Database::open(Arc::clone(&fs), Path::new(ROOT), options(false)));
        let (got, result) = match opened {
            Err(caught) => (format!("panic: {}", caught.message), Err("open panicked".to_owned())),
            Ok(Ok((db, report))) => {
                let offset = db.latest().offset().expect("an opened database holds offset 0");
                let got = format!(
                    "opened offset={offset} restored-from={:?} rejected={:?}",
                    report.restored_from, report.snapshots_rejected
                );
                let judged = judge_open(&expected, offset, &db, &report, &genuine.model)
                    .and_then(|()| no_rewrite_left(fs.as_ref()));
                (got, judged)
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
        let mut extras = Vec::new();
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
                    let fs = genuine.fs(&log, &snapshots, &[]);
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
                let rejected = !snapshots.is_empty();
                (forged, Expected::Open { offset: end, rejected })
            }
            Forgery::BadHeader { field } => {
                let s = at % segments;
                let header = &mut log[s].header;
                let (byte, name) = match field {
                    HeaderField::Magic => (at % 8, "bad segment magic"),
                    HeaderField::Version => (8, "unknown format version"),
                    HeaderField::ChecksumAlgorithm => (10, "unknown checksum algorithm"),
                    HeaderField::Reserved => (11 + at % 5, "nonzero reserved header bytes"),
                };
                // A value other than the one the format defines (version 1,
                // algorithm 1, reserved 0; a magic byte with one bit
                // flipped).
                let was = header[byte];
                header[byte] = match field {
                    HeaderField::Magic => was ^ (1 << (at / 8 % 8)),
                    _ => was.wrapping_add(1 + (at % 200) as u8),
                };
                let forged = format!(
                    "byte {byte} of {}'s header set from {was} to {}",
                    log[s].path().display(),
                    log[s].header[byte]
                );
                let expected = Expected::Corruption {
                    segment: log[s].path(),
                    offsets: vec![0],
                    reasons: vec![name],
                };
                (forged, expected)
            }
            Forgery::Malformed { how } => {
                let (s, c) = commits[at % commits.len()];
                let pos = log[s].pos(c);
                let commit = &mut log[s].commits[c];
                let reason = match how {
                    Malformation::Empty => {
                        commit.n = 0;
                        commit.payload.clear();
                        "empty commit"
                    }
                    Malformation::TooFewRecords => {
                        commit.n = commit.n.checked_add(1).expect("commits hold a few txs");
                        "record overruns payload"
                    }
                    Malformation::TooManyRecords => {
                        let len = u32::from_le_bytes(commit.payload[..4].try_into().expect("4"));
                        let first = commit.payload[..4 + len as usize].to_vec();
                        commit.payload.extend_from_slice(&first);
                        "trailing payload bytes"
                    }
                    Malformation::OffsetOverflow => {
                        commit.min_tx_offset = u64::MAX - u64::from(commit.n) + 1;
                        "offset overflow"
                    }
                };
                let forged = format!(
                    "commit {c} of {} made {how:?} (checksum recomputed)",
                    log[s].path().display()
                );
                let expected = Expected::Corruption {
                    segment: log[s].path(),
                    offsets: vec![pos],
                    reasons: vec![reason],
                };
                (forged, expected)
            }
            Forgery::SealedEmpty if segments >= 2 => {
                let s = at % (segments - 1);
                log[s].commits.clear();
                let forged = format!("every commit of {} removed", log[s].path().display());
                let expected = Expected::Corruption {
                    segment: log[s].path(),
                    offsets: vec![16],
                    reasons: vec!["empty sealed segment"],
                };
                (forged, expected)
            }
            Forgery::SealedTrailing { bytes } if segments >= 2 => {
                let s = at % (segments - 1);
                let end = log[s].pos(log[s].commits.len());
                let count = 1 + at % 300;
                log[s].trailing = match bytes {
                    Trailing::Zeros => vec![0; count],
                    Trailing::Garbage => (0..count).map(|i| (i * 151 + 89) as u8).collect(),
                    Trailing::HalfCommit => {
                        let mut commit = Vec::new();
                        log[s + 1].commits[0].encode(&mut commit);
                        commit.truncate(commit.len() / 2);
                        commit
                    }
                };
                let forged = format!(
                    "{} {bytes:?} bytes after the last commit of {}",
                    log[s].trailing.len(),
                    log[s].path().display()
                );
                let expected = Expected::Corruption {
                    segment: log[s].path(),
                    offsets: vec![end],
                    reasons: vec!["incomplete commit", "checksum mismatch"],
                };
                (forged, expected)
            }
            Forgery::FlippedBit { bit } => {
                let end = fallback(&log);
                let (s, c) = commits[at % commits.len()];
                let flip = u64::from(bit) % (log[s].commits[c].len() * 8);
                log[s].commits[c].flip = Some(flip);
                let forged =
                    format!("bit {flip} of commit {c} of {} flipped", log[s].path().display());
                let expected = if s + 1 == segments {
                    end
                } else {
                    Expected::Corruption {
                        segment: log[s].path(),
                        offsets: vec![log[s].pos(c)],
                        reasons: vec!["checksum mismatch", "incomplete commit"],
                    }
                };
                (forged, expected)
            }
            Forgery::LeftoverRewrite => {
                let s = at % segments;
                let mut bytes = log[s].bytes();
                bytes.truncate(bytes.len() / 2);
                let path = PathBuf::from(format!("{}.rewrite", log[s].path().display()));
                let forged = format!("{} ({} bytes) left beside it", path.display(), bytes.len());
                extras.push(Extra::File(path, bytes));
                (forged, fallback(&log))
            }
            Forgery::BadName { form } => {
                let dir = format!("{ROOT}/log");
                let path = PathBuf::from(match form {
                    BadNameForm::ShortDigits => format!("{dir}/{:019}.log", at),
                    BadNameForm::NotDigits => format!("{dir}/{:019}x.log", at),
                    BadNameForm::PastU64 => format!("{dir}/18446744073709551616.log"),
                    BadNameForm::Directory => format!("{dir}/{:020}.log", u64::MAX - at as u64),
                });
                let forged = format!("{} ({form:?}) put in the log directory", path.display());
                extras.push(if form == BadNameForm::Directory {
                    Extra::Dir(path.clone())
                } else {
                    Extra::File(path.clone(), log[at % segments].bytes())
                });
                (forged, Expected::BadSegmentName { path })
            }
            _ => ("nothing forged: the history is too small for it".to_owned(), fallback(&log)),
        };
        let fs = genuine.fs(&log, &snapshots, &extras);
        (forged, expected, fs, describe(&log, &snapshots))
    }
}

/// The history as written, a line per commit and per snapshot.
fn describe(log: &[ForgedSegment], snapshots: &[SnapshotFiles]) -> Vec<String> {
    let mut lines = Vec::new();
    for segment in log {
        for (c, commit) in segment.commits.iter().enumerate() {
            lines.push(format!(
                "{} at={} offsets={}+{} epoch={}",
                segment.path().display(),
                segment.pos(c),
                commit.min_tx_offset,
                commit.n,
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
        other => return Err(format!("opened a history the format refuses ({other:?})")),
    };
    if offset != want {
        return Err(format!("opened to offset {offset}, the log ends at {want}"));
    }
    // Every snapshot of such a forgery is one to set aside (newer than the
    // log, or of another history): none may be restored.
    if rejected && (report.snapshots_rejected.is_empty() || report.restored_from.is_some()) {
        return Err(format!(
            "a snapshot the format sets aside was used (restored-from={:?}, set aside: {:?})",
            report.restored_from, report.snapshots_rejected
        ));
    }
    let state = model.state_at(offset).ok_or_else(|| format!("no model state at {offset}"))?;
    if !model::serves(state, db.latest()) {
        return Err(format!("serves a state that is not the history's at offset {offset}"));
    }
    Ok(())
}

/// FORMAT.md, recovery step 4: open removes every `<segment>.rewrite` a
/// crash left, and its own rewrite is renamed over the segment.
fn no_rewrite_left(fs: &dyn Fs) -> Result<(), String> {
    let dir = PathBuf::from(format!("{ROOT}/log"));
    let entries = fs.list_dir(&dir).map_err(|e| format!("listing {}: {e}", dir.display()))?;
    match entries.iter().find(|entry| entry.name.ends_with(".rewrite")) {
        Some(entry) => Err(format!("opened with {} left in {}", entry.name, dir.display())),
        None => Ok(()),
    }
}

fn judge_refusal(expected: &Expected, error: &OpenError) -> Result<(), String> {
    match (expected, error) {
        (
            Expected::BadSegmentName { path },
            OpenError::Log(commitlog::OpenError::BadSegmentName { path: named }),
        ) => {
            if named != path {
                return Err(format!(
                    "named {}, the bad entry is {}",
                    named.display(),
                    path.display()
                ));
            }
            Ok(())
        }
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
    /// A bit of the encoded commit flipped after its checksum was
    /// computed.
    flip: Option<u64>,
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
        if let Some(bit) = self.flip {
            into[start + (bit / 8) as usize] ^= 1 << (bit % 8);
        }
    }
}

#[derive(Clone, Debug)]
struct ForgedSegment {
    name_offset: u64,
    header: Vec<u8>,
    commits: Vec<ForgedCommit>,
    /// Bytes after the last commit.
    trailing: Vec<u8>,
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
        bytes.extend_from_slice(&self.trailing);
        bytes
    }
}

/// An entry the harness puts beside the forged history.
enum Extra {
    File(PathBuf, Vec<u8>),
    Dir(PathBuf),
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
    fn fs(&self, log: &[ForgedSegment], snapshots: &[SnapshotFiles], extras: &[Extra]) -> SimFs {
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
        for extra in extras {
            match extra {
                Extra::File(path, bytes) => write(path, bytes),
                Extra::Dir(path) => fs.create_dir(path).expect("a directory"),
            }
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
                    flip: None,
                }
            })
            .collect();
        let header = bytes[..16].to_vec();
        segments.push(ForgedSegment { name_offset, header, commits, trailing: Vec::new() });
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
            fs_profile: None,
            coverage: crate::coverage::Coverage::default(),
            mode_args: String::new(),
            script: None,
            timeline: None,
            timeline_page: None,
        })
    }
}
