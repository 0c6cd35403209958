//! Opening a log: walk every segment in order, verify every commit, and
//! repair only what a crash can leave behind.
//!
//! The rules (FORMAT.md, "Recovery", says the same for a reader of the
//! format):
//! - Sealed segments (all but the last) must verify whole: header, every
//!   commit, offsets contiguous with the previous segment and within, the
//!   name equal to the first commit's offset, epochs never decreasing, no
//!   byte after the last commit, at least one commit. Those wholly below
//!   the offset the caller needs from (a snapshot holds what they hold)
//!   are taken on their names and not read: damage there must not stop an
//!   open that does not need them, and a reader that does need them later
//!   verifies every commit it passes.
//! - The last segment may end in a torn tail: an incomplete commit, one
//!   whose checksum fails, zeros or garbage. If no valid commit at or after
//!   the expected offset follows anywhere after the first bad byte, the tail
//!   is cut at the end of the last good commit. If one does, however far
//!   ahead its offset, the log is corrupt and nothing is cut: a crash cannot
//!   put a whole commit after a torn one, and history is never silently
//!   shortened.
//! - A last segment with no commit left (header only, or a header torn by a
//!   crash while the segment was being created) is removed.
//! - Before any of that, a bad commit in the last segment that a single
//!   flipped bit explains is repaired in memory (see
//!   [`super::correction`]): a torn write loses sectors, not bits, and a
//!   latent bit flip in an acknowledged commit must not be cut away. The
//!   repaired bytes are what open rewrites durably.
//!
//! Repairs are not made durable here: [`super::Commitlog::open`] syncs the
//! last segment and the directory once recovery is done.

use std::path::{Path, PathBuf};

use crate::fs::{DirEntry, EntryKind, Fs};

use super::commit::CommitStamp;
use super::correction::correct_single_bit;
use super::error::{Corruption, CorruptionReason, OpenError};
use super::segment::{
    HeaderError, SEGMENT_HEADER_LEN, SegmentReadError, SegmentSpan, Walk, decode_header,
    find_valid_commit_after, is_segment_like, may_be_torn_write, parse_segment_file_name,
    read_segment_bytes,
};

/// One thing an open's recovery did to the log's tail, as it reports it
/// (the log also says so in a `tracing` warning).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogRepair {
    /// A torn tail was cut: the last segment now ends at `offset`.
    TornTailCut {
        /// The segment.
        segment: PathBuf,
        /// Where the first bad commit began (the segment's new length).
        offset: u64,
        /// The bytes cut.
        bytes_cut: u64,
    },
    /// A single flipped bit in a commit was corrected instead of cut.
    BitRepaired {
        /// The segment.
        segment: PathBuf,
        /// Where the repaired commit begins.
        commit_at: u64,
        /// The byte that held the flipped bit.
        byte: u64,
    },
    /// The last segment was removed: its header was torn while it was
    /// created, or it held no commit.
    SegmentRemoved {
        /// The segment.
        segment: PathBuf,
        /// Why.
        reason: String,
    },
}

impl std::fmt::Display for LogRepair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LogRepair::TornTailCut { segment, offset, bytes_cut } => write!(
                f,
                "torn tail cut: {} at offset {offset} ({bytes_cut} bytes)",
                segment.display()
            ),
            LogRepair::BitRepaired { segment, commit_at, byte } => {
                write!(f, "bit repaired: {} byte {byte} (commit at {commit_at})", segment.display())
            }
            LogRepair::SegmentRemoved { segment, reason } => {
                write!(f, "segment removed: {} ({reason})", segment.display())
            }
        }
    }
}

/// What the log holds after recovery.
pub(crate) struct Recovered {
    /// Every segment but the last, verified.
    pub(crate) sealed: Vec<SegmentSpan>,
    /// The last segment, which the writer goes on with; `None` if the log
    /// holds no commit.
    pub(crate) head: Option<RecoveredHead>,
    /// The offset the next commit must start at.
    pub(crate) tx_offset_next: u64,
    /// The offset of the last transaction in the log.
    pub(crate) tx_offset_last: Option<u64>,
    /// The epoch of the last commit (0 if none).
    pub(crate) epoch_last: u64,
    /// The stamp of the last commit (`None` if none).
    pub(crate) stamp_last: Option<CommitStamp>,
    /// What recovery did to the tail, in order.
    pub(crate) repairs: Vec<LogRepair>,
}

/// The last segment, which the writer goes on with once it is rewritten
/// durably (torn tail cut, repairs applied).
pub(crate) struct RecoveredHead {
    pub(crate) span: SegmentSpan,
    /// Its verified bytes (`span.len` of them), single-bit errors repaired:
    /// all the rewrite keeps.
    pub(crate) bytes: Vec<u8>,
}

/// The most commits of the last segment one open repairs (see
/// [`correct_single_bit`]); more than that is not a latent bit flip.
const CORRECTIONS_MAX: usize = 4;

/// What the segments walked so far hold.
#[derive(Clone, Copy, Debug)]
struct Progress {
    tx_offset_next: u64,
    tx_offset_last: Option<u64>,
    epoch_last: u64,
}

impl Progress {
    fn advance(&mut self, walk: &Walk) {
        assert!(walk.tx_offset_next >= self.tx_offset_next);
        assert!(walk.epoch_last >= self.epoch_last);
        assert!(walk.n_commits > 0, "only a segment holding a commit is kept");
        self.tx_offset_last = Some(walk.tx_offset_next - 1);
        self.tx_offset_next = walk.tx_offset_next;
        self.epoch_last = walk.epoch_last;
    }
}

/// Verifies the log in `dir` (whose listing is `entries`) and repairs its
/// tail. See the module documentation for the rules. Sealed segments that
/// end at or before `verify_from` (the next segment is named at or below
/// it) are taken on their names and not read: the caller needs nothing
/// below that offset (a snapshot holds it), and a reader that does need it
/// later verifies every commit it passes.
pub(crate) fn recover(
    fs: &dyn Fs,
    dir: &Path,
    entries: &[DirEntry],
    verify_from: u64,
) -> Result<Recovered, OpenError> {
    let segments = segment_list(dir, entries)?;
    let tx_offset_first = segments.first().map_or(0, |(offset, _)| *offset);
    let mut progress =
        Progress { tx_offset_next: tx_offset_first, tx_offset_last: None, epoch_last: 0 };
    let mut sealed = Vec::new();
    let mut head = None;
    let mut repairs = Vec::new();
    let n_segments = segments.len();
    let names: Vec<u64> = segments.iter().map(|(offset, _)| *offset).collect();
    let mut last_sealed_trusted = false;
    for (index, (min_tx_offset, path)) in segments.into_iter().enumerate() {
        if min_tx_offset != progress.tx_offset_next {
            let reason =
                CorruptionReason::Gap { expected: progress.tx_offset_next, actual: min_tx_offset };
            return Err(corruption(path, 0, reason).into());
        }
        match names.get(index + 1) {
            Some(&next) if next <= verify_from && next > min_tx_offset => {
                sealed.push(trust_sealed(fs, path, min_tx_offset, next, &mut progress)?);
                last_sealed_trusted = index + 2 == n_segments;
            }
            Some(_) => sealed.push(verify_sealed(fs, path, min_tx_offset, &mut progress)?),
            None => {
                head =
                    recover_last(fs, path, min_tx_offset, index == 0, &mut progress, &mut repairs)?;
            }
        }
    }
    if head.is_none()
        && let Some(span) = sealed.pop()
    {
        // The last segment was removed: the writer goes on with the one
        // before it (and rotates at once if it is full). If that one was
        // taken on its name, it is needed now: its commits say where the
        // log ends and its epoch.
        let span = if last_sealed_trusted { verify_needed(fs, span, &mut progress)? } else { span };
        let bytes = load(fs, &span.path)?;
        head = Some(RecoveredHead { span, bytes });
    }
    // The head's bytes end with its last commit, if it holds one (its
    // commits were walked: read whole, or verified when it was needed).
    let stamp_last = head.as_ref().filter(|h| h.span.len > SEGMENT_HEADER_LEN as u64).map(|h| {
        assert_eq!(h.bytes.len() as u64, h.span.len, "the head's bytes are its span");
        let last = progress.tx_offset_last.expect("a head with a commit ends the log");
        CommitStamp::of_encoded(last, &h.bytes)
    });
    Ok(Recovered {
        sealed,
        head,
        tx_offset_next: progress.tx_offset_next,
        tx_offset_last: progress.tx_offset_last,
        epoch_last: progress.epoch_last,
        stamp_last,
        repairs,
    })
}

/// The segments of `dir`, by first offset. Entries that do not end in
/// `.log` are not the log's and are left alone.
fn segment_list(dir: &Path, entries: &[DirEntry]) -> Result<Vec<(u64, PathBuf)>, OpenError> {
    let mut segments = Vec::new();
    for entry in entries {
        if !is_segment_like(&entry.name) {
            tracing::debug!(dir = %dir.display(), name = %entry.name, "not a segment, left alone");
            continue;
        }
        let path = dir.join(&entry.name);
        let offset = parse_segment_file_name(&entry.name)
            .filter(|_| entry.kind == EntryKind::File)
            .ok_or_else(|| OpenError::BadSegmentName { path: path.clone() })?;
        segments.push((offset, path));
    }
    segments.sort();
    Ok(segments)
}

/// Takes a sealed segment the caller does not need on its name: it holds
/// `min_tx_offset..next` (the next segment's name). Not read.
fn trust_sealed(
    fs: &dyn Fs,
    path: PathBuf,
    min_tx_offset: u64,
    next: u64,
    progress: &mut Progress,
) -> Result<SegmentSpan, OpenError> {
    assert!(next > min_tx_offset, "segment names strictly increase");
    let file = fs.open(&path).map_err(|source| io_error("open", &path, source))?;
    let len = file.len().map_err(|source| io_error("len", &path, source))?;
    progress.tx_offset_last = Some(next - 1);
    progress.tx_offset_next = next;
    tracing::debug!(segment = %path.display(), "sealed segment below what the open needs: not read");
    Ok(SegmentSpan { min_tx_offset, path, len })
}

/// Verifies a sealed segment that was taken on its name, now that it is
/// needed: it must end where its name and its successor's said it would.
fn verify_needed(
    fs: &dyn Fs,
    span: SegmentSpan,
    progress: &mut Progress,
) -> Result<SegmentSpan, OpenError> {
    let expected_next = progress.tx_offset_next;
    let mut walked =
        Progress { tx_offset_next: span.min_tx_offset, tx_offset_last: None, epoch_last: 0 };
    let span = verify_sealed(fs, span.path, span.min_tx_offset, &mut walked)?;
    if walked.tx_offset_next != expected_next {
        let reason =
            CorruptionReason::Gap { expected: walked.tx_offset_next, actual: expected_next };
        return Err(corruption(span.path, span.len, reason).into());
    }
    *progress = walked;
    Ok(span)
}

/// Verifies a sealed segment whole.
fn verify_sealed(
    fs: &dyn Fs,
    path: PathBuf,
    min_tx_offset: u64,
    progress: &mut Progress,
) -> Result<SegmentSpan, OpenError> {
    let bytes = load(fs, &path)?;
    if let Err(error) = decode_header(&bytes) {
        return Err(corruption(path, 0, CorruptionReason::Header(error)).into());
    }
    let mut walk = Walk::new(min_tx_offset, progress.epoch_last);
    while let Some(step) = walk.next(&bytes) {
        if let Err(reason) = step {
            return Err(corruption(path, walk.pos as u64, reason).into());
        }
    }
    if walk.n_commits == 0 {
        let reason = CorruptionReason::EmptySealedSegment;
        return Err(corruption(path, SEGMENT_HEADER_LEN as u64, reason).into());
    }
    assert_eq!(walk.pos, bytes.len(), "a walk ends only at the end of the bytes");
    progress.advance(&walk);
    Ok(SegmentSpan { min_tx_offset, path, len: bytes.len() as u64 })
}

/// Verifies the last segment, cuts a torn tail, and removes it if no commit
/// is left, unless it is the `only` segment: then its name is where the
/// log goes on (every older segment went after a snapshot covered it), and
/// a valid header keeps it. Returns the segment to append to, if it stays.
fn recover_last(
    fs: &dyn Fs,
    path: PathBuf,
    min_tx_offset: u64,
    only: bool,
    progress: &mut Progress,
    repairs: &mut Vec<LogRepair>,
) -> Result<Option<RecoveredHead>, OpenError> {
    let mut bytes = load(fs, &path)?;
    if let Err(error) = decode_header(&bytes) {
        if !is_torn_creation(&error, bytes.len()) {
            return Err(corruption(path, 0, CorruptionReason::Header(error)).into());
        }
        tracing::warn!(segment = %path.display(), reason = %error, "removing last segment: header torn while it was created");
        remove(fs, &path)?;
        repairs.push(LogRepair::SegmentRemoved {
            segment: path,
            reason: format!("header torn while it was created: {error}"),
        });
        return Ok(None);
    }
    let mut walk = Walk::new(min_tx_offset, progress.epoch_last);
    let mut corrections = 0;
    let bad = loop {
        let step = walk.next(&bytes).map(|result| result.map(|_| ()));
        match step {
            None => break None,
            Some(Ok(())) => {}
            Some(Err(reason)) => {
                let fix = (corrections < CORRECTIONS_MAX && may_be_torn_write(&reason))
                    .then(|| correct_single_bit(&bytes[walk.pos..]))
                    .flatten();
                let Some((fixed, at)) = fix else { break Some(reason) };
                let start = walk.pos;
                tracing::warn!(
                    segment = %path.display(),
                    offset = start,
                    flipped_byte = start + at,
                    reason = %reason,
                    "repaired a single-bit error in a commit instead of cutting it"
                );
                bytes[start..start + fixed.len()].copy_from_slice(&fixed);
                corrections += 1;
                repairs.push(LogRepair::BitRepaired {
                    segment: path.clone(),
                    commit_at: start as u64,
                    byte: (start + at) as u64,
                });
            }
        }
    };
    if let Some(reason) = bad {
        check_torn_tail(&path, &bytes, &walk, reason)?;
        repairs.push(LogRepair::TornTailCut {
            segment: path.clone(),
            offset: walk.pos as u64,
            bytes_cut: (bytes.len() - walk.pos) as u64,
        });
    }
    if walk.n_commits == 0 && !(only && min_tx_offset > 0) {
        tracing::warn!(segment = %path.display(), "removing last segment: it holds no commit");
        remove(fs, &path)?;
        repairs.push(LogRepair::SegmentRemoved {
            segment: path,
            reason: "it holds no commit".to_owned(),
        });
        return Ok(None);
    }
    // A torn tail is cut here, in memory: the durable rewrite at open
    // (`Commitlog::open`) writes only these bytes over the segment. The
    // only segment, kept empty, leaves the progress at its name.
    if walk.n_commits > 0 {
        progress.advance(&walk);
    }
    bytes.truncate(walk.pos);
    let len = walk.pos as u64;
    Ok(Some(RecoveredHead { span: SegmentSpan { min_tx_offset, path, len }, bytes }))
}

/// Decides whether the bad commit where `walk` stopped starts a torn tail
/// (and logs the cut) or is corruption (a hard error).
fn check_torn_tail(
    path: &Path,
    bytes: &[u8],
    walk: &Walk,
    reason: CorruptionReason,
) -> Result<(), OpenError> {
    let bad_pos = walk.pos;
    if !may_be_torn_write(&reason) {
        return Err(corruption(path.to_owned(), bad_pos as u64, reason).into());
    }
    if let Some(valid_commit_at) =
        find_valid_commit_after(bytes, bad_pos, walk.tx_offset_next, walk.epoch_last)
    {
        let reason = CorruptionReason::ValidCommitAfter {
            cause: Box::new(reason),
            valid_commit_at: valid_commit_at as u64,
        };
        return Err(corruption(path.to_owned(), bad_pos as u64, reason).into());
    }
    tracing::warn!(
        segment = %path.display(),
        offset = bad_pos,
        bytes_cut = bytes.len() - bad_pos,
        reason = %reason,
        "cutting torn tail of the commitlog"
    );
    Ok(())
}

/// Whether a bad header on the last segment is what a crash while creating
/// it leaves: too short, or exactly a header's worth of bytes that are not
/// one (zeros, garbage). A header this code does not support is never that,
/// and neither is a bad header with bytes after it: a segment's header is
/// durable before any commit is written to it.
fn is_torn_creation(error: &HeaderError, len: usize) -> bool {
    match error {
        HeaderError::Incomplete { .. } => true,
        HeaderError::BadMagic { .. } | HeaderError::NonzeroReserved { .. } => {
            len == SEGMENT_HEADER_LEN
        }
        HeaderError::UnknownVersion { .. } | HeaderError::UnknownChecksumAlgorithm { .. } => false,
    }
}

fn load(fs: &dyn Fs, path: &Path) -> Result<Vec<u8>, OpenError> {
    let file = fs.open(path).map_err(|source| io_error("open", path, source))?;
    let len = file.len().map_err(|source| io_error("len", path, source))?;
    match read_segment_bytes(file.as_ref(), len) {
        Ok(bytes) => Ok(bytes),
        Err(SegmentReadError::TooLong { len }) => {
            Err(corruption(path.to_owned(), 0, CorruptionReason::TooLong { len }).into())
        }
        Err(SegmentReadError::Io(source)) => Err(io_error("read", path, source)),
    }
}

fn remove(fs: &dyn Fs, path: &Path) -> Result<(), OpenError> {
    fs.remove(path).map_err(|source| io_error("remove", path, source))
}

fn corruption(segment: PathBuf, offset: u64, reason: CorruptionReason) -> Corruption {
    Corruption { segment, offset, reason }
}

pub(crate) fn io_error(op: &'static str, path: &Path, source: std::io::Error) -> OpenError {
    OpenError::Io { op, path: path.to_owned(), source }
}
