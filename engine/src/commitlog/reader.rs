//! Reading the log back: [`Commits`] and [`Transactions`], iterators that
//! load one segment at a time and verify every commit they pass, including
//! the ones they skip.

use std::path::PathBuf;
use std::sync::Arc;

use crate::fs::Fs;

use super::commit::Commit;
use super::error::{Corruption, CorruptionReason, ReadError};
use super::segment::{SegmentReadError, SegmentSpan, Walk, decode_header, read_segment_bytes};

/// One transaction read back from the log.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Transaction {
    /// Its offset.
    pub tx_offset: u64,
    /// The epoch of the commit that holds it.
    pub epoch: u64,
    /// Its bytes, as appended.
    pub bytes: Vec<u8>,
}

/// The commits of a log from an offset on; see
/// [`super::Commitlog::commits_from`]. Yields `Err` at most once, then ends.
pub struct Commits {
    fs: Arc<dyn Fs>,
    /// Segments not loaded yet, oldest first.
    spans: std::vec::IntoIter<SegmentSpan>,
    current: Option<Loaded>,
    /// Commits wholly below this are verified and skipped.
    from: u64,
    /// The offset the next segment must start at, once one was read.
    tx_offset_next: Option<u64>,
    /// Where the log ended (flushed) when the iterator was made.
    tx_offset_end: u64,
    epoch_last: u64,
    /// The last segment read and its length.
    last_segment: Option<(PathBuf, u64)>,
    /// An error to yield first (the requested offset is not in the log).
    pending_error: Option<ReadError>,
    done: bool,
}

/// The transactions of a log from an offset on; see
/// [`super::Commitlog::transactions_from`]. Yields `Err` at most once, then
/// ends.
pub struct Transactions {
    commits: Commits,
    from: u64,
    /// The rest of the current commit.
    pending: std::vec::IntoIter<Vec<u8>>,
    tx_offset_next: u64,
    epoch: u64,
}

/// A segment in memory and the walk over it.
struct Loaded {
    path: PathBuf,
    bytes: Vec<u8>,
    walk: Walk,
}

impl Commits {
    pub(crate) fn new(
        fs: Arc<dyn Fs>,
        spans: Vec<SegmentSpan>,
        from: u64,
        tx_offset_end: u64,
    ) -> Commits {
        let first = spans.first().map(|span| span.min_tx_offset);
        let pending_error = first
            .filter(|&first| from < first)
            .map(|first| ReadError::OffsetNotInLog { requested: from, first });
        // Skip the segments wholly below `from`: the one to start with is the
        // last that starts at or below it.
        let start = spans.partition_point(|span| span.min_tx_offset <= from).saturating_sub(1);
        let spans: Vec<SegmentSpan> = spans.into_iter().skip(start).collect();
        Commits {
            fs,
            spans: spans.into_iter(),
            current: None,
            from,
            tx_offset_next: None,
            tx_offset_end,
            epoch_last: 0,
            last_segment: None,
            pending_error,
            done: false,
        }
    }

    fn advance(&mut self) -> Option<Result<Commit, ReadError>> {
        if let Some(error) = self.pending_error.take() {
            return Some(Err(error));
        }
        loop {
            if self.current.is_none() {
                let span = match self.spans.next() {
                    Some(span) => span,
                    None => return self.check_end().map(Err),
                };
                match self.load(span) {
                    Ok(loaded) => self.current = Some(loaded),
                    Err(error) => return Some(Err(error)),
                }
            }
            let loaded = self.current.as_mut()?;
            match loaded.walk.next(&loaded.bytes) {
                None => {
                    self.last_segment = Some((loaded.path.clone(), loaded.bytes.len() as u64));
                    self.tx_offset_next = Some(loaded.walk.tx_offset_next);
                    self.epoch_last = loaded.walk.epoch_last;
                    self.current = None;
                }
                Some(Err(reason)) => {
                    let offset = loaded.walk.pos as u64;
                    let segment = loaded.path.clone();
                    return Some(Err(Corruption { segment, offset, reason }.into()));
                }
                Some(Ok(commit)) if commit.tx_offset_end() <= self.from => {}
                Some(Ok(commit)) => return Some(Ok(commit.to_commit())),
            }
        }
    }

    /// Loads a segment and checks that it continues the previous one.
    fn load(&mut self, span: SegmentSpan) -> Result<Loaded, ReadError> {
        if let Some(expected) = self.tx_offset_next
            && span.min_tx_offset != expected
        {
            let reason = CorruptionReason::Gap { expected, actual: span.min_tx_offset };
            return Err(Corruption { segment: span.path, offset: 0, reason }.into());
        }
        let io = |op, source| ReadError::Io { op, segment: span.path.clone(), source };
        let file = self.fs.open(&span.path).map_err(|source| io("open", source))?;
        let bytes = match read_segment_bytes(file.as_ref(), span.len) {
            Ok(bytes) => bytes,
            Err(SegmentReadError::Io(source)) => return Err(io("read", source)),
            Err(SegmentReadError::TooLong { len }) => {
                let reason = CorruptionReason::TooLong { len };
                return Err(Corruption { segment: span.path, offset: 0, reason }.into());
            }
        };
        if let Err(error) = decode_header(&bytes) {
            let reason = CorruptionReason::Header(error);
            return Err(Corruption { segment: span.path, offset: 0, reason }.into());
        }
        let walk = Walk::new(span.min_tx_offset, self.epoch_last);
        Ok(Loaded { path: span.path, bytes, walk })
    }

    /// At the end of the last segment: the log must end where it ended when
    /// the iterator was made (it can differ only if the files changed under
    /// the log).
    fn check_end(&self) -> Option<ReadError> {
        let (segment, len) = self.last_segment.as_ref()?;
        let actual = self.tx_offset_next?;
        let expected = self.tx_offset_end;
        (actual != expected).then(|| {
            let reason = CorruptionReason::EndMismatch { expected, actual };
            Corruption { segment: segment.clone(), offset: *len, reason }.into()
        })
    }
}

impl Iterator for Commits {
    type Item = Result<Commit, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = self.advance();
        self.done = !matches!(next, Some(Ok(_)));
        next
    }
}

impl Transactions {
    pub(crate) fn new(commits: Commits, from: u64) -> Transactions {
        Transactions { commits, from, pending: Vec::new().into_iter(), tx_offset_next: 0, epoch: 0 }
    }
}

impl Iterator for Transactions {
    type Item = Result<Transaction, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(bytes) = self.pending.next() {
                let tx_offset = self.tx_offset_next;
                self.tx_offset_next += 1;
                if tx_offset >= self.from {
                    return Some(Ok(Transaction { tx_offset, epoch: self.epoch, bytes }));
                }
                continue;
            }
            let commit = match self.commits.next()? {
                Ok(commit) => commit,
                Err(error) => return Some(Err(error)),
            };
            self.tx_offset_next = commit.min_tx_offset;
            self.epoch = commit.epoch;
            self.pending = commit.transactions.into_iter();
        }
    }
}
