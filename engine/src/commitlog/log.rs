//! [`Commitlog`]: the writer, its durability bookkeeping, rotation, and the
//! one deliberate panic (a poisoned write).

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::fs::phase::{self, Phase};
use crate::fs::{DirEntry, EntryKind, File, Fs};

use super::commit::{CommitStamp, TRANSACTIONS_PER_COMMIT_MAX, commit_len, encode_commit};
use super::error::{AppendError, OpenError, ReadError};
use super::options::Options;
use super::reader::{Commits, Transactions};
use super::recovery::{self, LogRepair, io_error};
use super::segment::{SEGMENT_HEADER_LEN, SegmentInfo, SegmentSpan, encode_header, segment_path};

/// The prefix of every poisoned-write panic message.
pub const POISON_PREFIX: &str = "commitlog poisoned:";

/// A segmented, checksummed, append-only log of transactions.
///
/// The caller (the datastore) decides which transactions go into one commit
/// and supplies their offsets; the log refuses anything that does not
/// continue what it holds. Commits go into an in-memory buffer;
/// [`Commitlog::flush`] hands them to the OS and [`Commitlog::sync`] makes
/// them durable, and only then does [`Commitlog::durable_offset`] move.
///
/// # Poisoned writes: the one deliberate panic
///
/// Any error from a write, a flush or a sync (a short write included; also
/// creating the next segment during rotation) leaves the log's state on disk
/// unknown: a prefix of a write may have landed, a failed `fdatasync` may
/// have dropped dirty pages that a retry would then report as durable. So
/// the writer does not retry and does not report an error to be handled: it
/// panics with a message that starts with `commitlog poisoned:` and names
/// the segment, the offset and the io error. Every later call that would
/// write panics the same way, and [`Commitlog::durable_offset`] never moves
/// again. The next [`Commitlog::open`] re-verifies the log.
///
/// # One unsynced commit at a time
///
/// Recovery tells a torn tail from corruption by whether a valid commit
/// follows the first bad one (FORMAT.md, "Recovery"). That works when at
/// most one commit is unsynced at a crash: sync after every commit and put
/// several transactions in one commit instead, as the datastore's durability
/// step does. With several flushed but unsynced commits, a power loss can
/// keep a later one and lose an earlier one, and the next open refuses the
/// log as corrupt rather than cut history it cannot prove was never synced.
///
/// # Drop
///
/// Dropping the log writes nothing: unlike `BufWriter`, it does not flush on
/// drop. Buffered commits that were not flushed are lost, as in a crash.
pub struct Commitlog {
    fs: Arc<dyn Fs>,
    dir: PathBuf,
    options: Options,
    /// Every segment before the head, oldest first.
    sealed: Vec<SegmentSpan>,
    /// The segment being written; `None` until the first commit of an empty
    /// log.
    head: Option<Head>,
    /// The offset the next commit must start at.
    offset_next: u64,
    /// The last transaction appended (buffered or not).
    offset_last: Option<u64>,
    /// The last transaction handed to the OS.
    offset_flushed: Option<u64>,
    /// The last transaction synced, published or not.
    offset_synced: Option<u64>,
    /// The last transaction known durable.
    offset_durable: Option<u64>,
    /// The epoch of the last commit (0 before any).
    epoch_last: u64,
    /// The stamps of the last commit appended, flushed, synced and known
    /// durable: each ends at the offset of the same name (`None` while the
    /// log holds no commit).
    stamp_last: Option<CommitStamp>,
    stamp_flushed: Option<CommitStamp>,
    stamp_synced: Option<CommitStamp>,
    stamp_durable: Option<CommitStamp>,
    on_rotate: Option<Box<dyn FnMut(RotationInfo) + Send>>,
    /// Why the log is poisoned, once it is.
    poison: Option<String>,
    /// What the open's recovery did to the tail.
    repairs: Vec<LogRepair>,
}

/// What [`Commitlog::on_rotate`]'s hook hears after a rotation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RotationInfo {
    /// The segment that was sealed (synced, never written again).
    pub sealed_segment: PathBuf,
    /// Its first transaction offset.
    pub sealed_min_tx_offset: u64,
    /// Its last transaction offset.
    pub sealed_max_tx_offset: u64,
    /// The new segment (durable, header only).
    pub new_segment: PathBuf,
    /// The first offset the new segment will hold.
    pub new_min_tx_offset: u64,
}

/// The segment being written.
struct Head {
    file: Box<dyn File>,
    path: PathBuf,
    min_tx_offset: u64,
    /// Bytes handed to the OS, header included.
    len_flushed: u64,
    /// Bytes known durable.
    len_synced: u64,
    /// Encoded commits not yet handed to the OS; they go at `len_flushed`.
    buffer: Vec<u8>,
}

impl Head {
    /// The segment's length once the buffer is flushed.
    fn len(&self) -> u64 {
        self.len_flushed + self.buffer.len() as u64
    }

    fn span(&self) -> SegmentSpan {
        SegmentSpan {
            min_tx_offset: self.min_tx_offset,
            path: self.path.clone(),
            len: self.len_flushed,
        }
    }
}

impl fmt::Debug for Commitlog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Commitlog")
            .field("dir", &self.dir)
            .field("segments", &(self.sealed.len() + usize::from(self.head.is_some())))
            .field("offset_next", &self.offset_next)
            .field("offset_flushed", &self.offset_flushed)
            .field("offset_durable", &self.offset_durable)
            .field("poison", &self.poison)
            .finish_non_exhaustive()
    }
}

impl Commitlog {
    /// Opens the log in `dir`, creating the directory (and syncing its
    /// parent) if it does not exist.
    ///
    /// Verifies every segment and repairs a torn tail as FORMAT.md,
    /// "Recovery", describes, then rewrites the last segment durably (see
    /// [`rewrite_durably`]) and syncs the directory, so that everything the
    /// log holds afterwards counts as durable. An empty
    /// log creates no segment: the first [`Commitlog::append_commit`] creates
    /// it, durably, before writing to it. An empty log expects offset 0 next
    /// (or, if its only segment was empty and removed, that segment's offset).
    pub fn open(fs: Arc<dyn Fs>, dir: &Path, options: Options) -> Result<Commitlog, OpenError> {
        Commitlog::open_from(fs, dir, options, 0)
    }

    /// Opens the log as [`Commitlog::open`] does, except that sealed
    /// segments wholly below `verify_from` (the next segment starts at or
    /// below it) are taken on their names, not read: the caller needs
    /// nothing below that offset (a snapshot holds it). Reading them later
    /// ([`Commitlog::commits_from`]) verifies every commit it passes.
    pub fn open_from(
        fs: Arc<dyn Fs>,
        dir: &Path,
        options: Options,
        verify_from: u64,
    ) -> Result<Commitlog, OpenError> {
        options.validate()?;
        let entries = match fs.list_dir(dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                create_dir(fs.as_ref(), dir)?;
                Vec::new()
            }
            Err(source) => return Err(io_error("list-dir", dir, source)),
        };
        // The entry of an existing log directory may never have become
        // durable (a failed sync of the parent in an earlier open).
        sync_parent(fs.as_ref(), dir)?;
        remove_rewrite_leftovers(fs.as_ref(), dir, &entries)?;
        let recovered = recovery::recover(fs.as_ref(), dir, &entries, verify_from)?;
        let _rewrite = phase::enter(Phase::OpenRewrite);
        let head = match recovered.head {
            Some(head) => Some(Head {
                file: rewrite_durably(fs.as_ref(), dir, &head.span, &head.bytes)?,
                path: head.span.path,
                min_tx_offset: head.span.min_tx_offset,
                len_flushed: head.span.len,
                len_synced: head.span.len,
                buffer: Vec::with_capacity(options.write_buffer_size),
            }),
            None => None,
        };
        fs.sync_dir(dir).map_err(|source| io_error("sync-dir", dir, source))?;
        drop(_rewrite);
        // A log that holds no commit but expects offset N > 0 next (its only
        // segment, created empty after a snapshot let every older segment
        // go, was removed) has logged everything before N: it ends at
        // N - 1, as the process that wrote it said, so that the snapshot
        // at N - 1 connects and the database opens wholly durable.
        let last = recovered.tx_offset_last.or_else(|| recovered.tx_offset_next.checked_sub(1));
        let log = Commitlog {
            fs,
            dir: dir.to_owned(),
            options,
            sealed: recovered.sealed,
            head,
            offset_next: recovered.tx_offset_next,
            offset_last: last,
            offset_flushed: last,
            offset_synced: last,
            offset_durable: last,
            epoch_last: recovered.epoch_last,
            stamp_last: recovered.stamp_last,
            stamp_flushed: recovered.stamp_last,
            stamp_synced: recovered.stamp_last,
            stamp_durable: recovered.stamp_last,
            on_rotate: None,
            poison: None,
            repairs: recovered.repairs,
        };
        log.assert_invariants();
        tracing::debug!(dir = %log.dir.display(), next_offset = log.offset_next, "commitlog open");
        Ok(log)
    }

    /// Appends one commit holding `transactions`, at offsets
    /// `min_tx_offset..min_tx_offset + transactions.len()`, to the buffer.
    ///
    /// Refused, with nothing written and the log still usable: a
    /// `min_tx_offset` that is not [`Commitlog::next_offset`], an `epoch`
    /// lower than the last commit's, no transaction, more than
    /// [`super::TRANSACTIONS_PER_COMMIT_MAX`], or a commit larger than an
    /// empty segment holds. Rotates first if the commit would take the
    /// current segment past `max_segment_size`, and hands the buffer to the
    /// OS if it holds `write_buffer_size` bytes or more.
    ///
    /// # Panics
    ///
    /// With `commitlog poisoned: ...` if a write, sync or segment creation
    /// fails (see the type's documentation), or if the log is poisoned.
    pub fn append_commit(
        &mut self,
        min_tx_offset: u64,
        epoch: u64,
        transactions: &[&[u8]],
    ) -> Result<(), AppendError> {
        self.check_not_poisoned();
        let size = self.check_commit(min_tx_offset, epoch, transactions)?;
        self.make_room(min_tx_offset, size);
        let head = self.head.as_mut().expect("make_room leaves a head segment");
        let len_before = head.buffer.len();
        encode_commit(&mut head.buffer, min_tx_offset, epoch, transactions);
        assert_eq!((head.buffer.len() - len_before) as u64, size);
        assert!(head.len() <= self.options.max_segment_size);
        let buffer_full = head.buffer.len() >= self.options.write_buffer_size;
        self.offset_next = min_tx_offset + transactions.len() as u64;
        self.offset_last = Some(self.offset_next - 1);
        self.epoch_last = epoch;
        self.stamp_last =
            Some(CommitStamp::of_encoded(self.offset_next - 1, &head.buffer[len_before..]));
        self.assert_invariants();
        if buffer_full {
            self.flush();
        }
        Ok(())
    }

    /// Hands the buffered commits to the OS (`write_at`). They survive a
    /// crash of the process, not a power loss.
    ///
    /// # Panics
    ///
    /// With `commitlog poisoned: ...` if the write fails or the log is
    /// poisoned.
    pub fn flush(&mut self) {
        self.check_not_poisoned();
        let Some(head) = self.head.as_mut() else { return };
        if head.buffer.is_empty() {
            return;
        }
        let offset = head.len_flushed;
        let len = head.buffer.len();
        if let Err(error) = head.file.write_at(&head.buffer, offset) {
            let cause = format!(
                "write failed: segment={} offset={offset} len={len} error={error}",
                head.path.display()
            );
            poisoned(&mut self.poison, cause);
        }
        head.len_flushed += len as u64;
        head.buffer.clear();
        head.buffer.shrink_to(self.options.write_buffer_size);
        self.offset_flushed = self.offset_last;
        self.stamp_flushed = self.stamp_last;
        self.assert_invariants();
    }

    /// Flushes, then makes everything flushed durable (`sync_data`); then,
    /// and only then, [`Commitlog::durable_offset`] moves.
    ///
    /// # Panics
    ///
    /// With `commitlog poisoned: ...` if the write or the sync fails or the
    /// log is poisoned.
    pub fn sync(&mut self) {
        self.sync_unpublished();
        self.publish();
    }

    /// Moves [`Commitlog::durable_offset`] to what the last sync made
    /// durable: the last part of [`Commitlog::sync`], for a caller that
    /// lets time pass between a sync and telling anyone of it.
    pub fn publish(&mut self) {
        self.check_not_poisoned();
        self.offset_durable = self.offset_synced;
        self.stamp_durable = self.stamp_synced;
        self.assert_invariants();
    }

    /// Flushes and syncs as [`Commitlog::sync`] does, without moving
    /// [`Commitlog::durable_offset`]: [`Commitlog::publish`] does that.
    ///
    /// # Panics
    ///
    /// As [`Commitlog::sync`].
    pub fn sync_unpublished(&mut self) {
        self.flush();
        if let Some(head) = self.head.as_mut()
            && head.len_synced < head.len_flushed
        {
            if let Err(error) = head.file.sync_data() {
                let cause = format!(
                    "sync failed: segment={} synced-len={} flushed-len={} error={error}",
                    head.path.display(),
                    head.len_synced,
                    head.len_flushed
                );
                poisoned(&mut self.poison, cause);
            }
            head.len_synced = head.len_flushed;
        }
        self.offset_synced = self.offset_flushed;
        self.stamp_synced = self.stamp_flushed;
        self.assert_invariants();
    }

    /// Sets the hook called after every rotation, once the new segment is
    /// durable (replacing any earlier hook). The snapshot policy listens
    /// here. It runs inside the append that rotated.
    pub fn on_rotate(&mut self, hook: impl FnMut(RotationInfo) + Send + 'static) {
        self.on_rotate = Some(Box::new(hook));
    }

    /// What the open's recovery did to the log's tail (torn tail cut, bit
    /// repaired, empty last segment removed), in order.
    pub fn repairs_at_open(&self) -> &[LogRepair] {
        &self.repairs
    }

    /// The last transaction offset known durable: `sync` (or `open`)
    /// returned after it was written. `None` if there is none.
    pub fn durable_offset(&self) -> Option<u64> {
        self.offset_durable
    }

    /// The stamp of the last commit known durable: it ends at
    /// [`Commitlog::durable_offset`]. `None` if the log holds no commit
    /// (also when it is empty and expects an offset above 0 next).
    pub fn durable_commit(&self) -> Option<CommitStamp> {
        self.stamp_durable
    }

    /// The stamp of the commit that ends at `offset`, read back from the
    /// log (and verified, as every read is); `None` if no commit of the log
    /// ends there (one holds `offset` and goes on past it, or none holds
    /// it). The last durable commit's comes from memory.
    pub fn commit_ending_at(&self, offset: u64) -> Result<Option<CommitStamp>, ReadError> {
        if let Some(stamp) = self.stamp_durable.filter(|s| s.last_offset == offset) {
            return Ok(Some(stamp));
        }
        match self.commits_from(offset).next() {
            None | Some(Err(ReadError::OffsetNotInLog { .. })) => Ok(None),
            Some(Err(error)) => Err(error),
            Some(Ok(commit)) => {
                let stamp = commit.stamp();
                Ok((stamp.last_offset == offset).then_some(stamp))
            }
        }
    }

    /// The last transaction offset handed to the OS.
    pub fn flushed_offset(&self) -> Option<u64> {
        self.offset_flushed
    }

    /// The last transaction offset appended, buffered or not.
    pub fn last_offset(&self) -> Option<u64> {
        self.offset_last
    }

    /// The offset the next commit must start at.
    pub fn next_offset(&self) -> u64 {
        self.offset_next
    }

    /// The epoch of the last commit (0 if none).
    pub fn epoch(&self) -> u64 {
        self.epoch_last
    }

    /// The log's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The settings the log was opened with.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Whether a failed write or sync poisoned the log.
    pub fn is_poisoned(&self) -> bool {
        self.poison.is_some()
    }

    /// Removes the sealed segments that hold only offsets below
    /// `keep_from`, oldest first, syncing the directory after each; returns
    /// how many went. The
    /// segment being written is never removed. The caller must hold a
    /// durable snapshot that covers everything removed: history below it is
    /// gone for good.
    pub fn remove_segments_below(&mut self, keep_from: u64) -> Result<usize, io::Error> {
        self.check_not_poisoned();
        let _phase = phase::enter(Phase::Retention);
        let mut spans = self.spans();
        let mut removable = 0;
        // A sealed segment ends where the next one starts.
        while removable + 1 < spans.len() && spans[removable + 1].min_tx_offset <= keep_from {
            removable += 1;
        }
        let removable = removable.min(self.sealed.len());
        // Oldest first, the directory synced after each: removals that are
        // not synced reach the disk in any subset at a power loss, and a
        // newer segment gone with an older one left would open a hole in
        // the log. This way a crash leaves a contiguous suffix.
        for span in spans.drain(..removable) {
            self.fs.remove(&span.path)?;
            self.sealed.remove(0);
            self.fs.sync_dir(&self.dir)?;
            tracing::info!(segment = %span.path.display(), "removed a segment below the oldest snapshot");
        }
        self.assert_invariants();
        Ok(removable)
    }

    /// The length of the segment being written, buffered bytes included
    /// (0 before the first segment exists): with `max_segment_size`, tells
    /// whether the next commit rotates.
    pub fn head_len(&self) -> u64 {
        self.head.as_ref().map_or(0, Head::len)
    }

    /// The log's segments, oldest first; the last one is being written.
    pub fn segments(&self) -> Vec<SegmentInfo> {
        self.spans()
            .into_iter()
            .map(|span| SegmentInfo { min_tx_offset: span.min_tx_offset, path: span.path })
            .collect()
    }

    /// The commits that hold offsets `>= from`, oldest first (the first may
    /// start below `from`), as far as they were flushed when this was
    /// called. Each is read from the filesystem and verified again.
    pub fn commits_from(&self, from: u64) -> Commits {
        Commits::new(Arc::clone(&self.fs), self.spans(), from, self.offset_flushed_next())
    }

    /// The transactions at offsets `>= from`, in order, as far as they were
    /// flushed when this was called. Each is read from the filesystem and
    /// verified again.
    pub fn transactions_from(&self, from: u64) -> Transactions {
        Transactions::new(self.commits_from(from), from)
    }

    /// Every segment with the bytes that belong to the log (flushed).
    fn spans(&self) -> Vec<SegmentSpan> {
        let mut spans = self.sealed.clone();
        spans.extend(self.head.as_ref().map(Head::span));
        spans
    }

    /// The offset just past the last flushed transaction.
    fn offset_flushed_next(&self) -> u64 {
        match (self.offset_flushed, &self.head) {
            (Some(offset), _) => offset + 1,
            (None, Some(head)) => head.min_tx_offset,
            (None, None) => self.offset_next,
        }
    }

    /// Checks a commit against the log; returns its encoded size.
    fn check_commit(
        &self,
        min_tx_offset: u64,
        epoch: u64,
        transactions: &[&[u8]],
    ) -> Result<u64, AppendError> {
        let n = transactions.len();
        if n == 0 {
            return Err(AppendError::Empty { offset: min_tx_offset });
        }
        if n > TRANSACTIONS_PER_COMMIT_MAX {
            let n_max = TRANSACTIONS_PER_COMMIT_MAX;
            return Err(AppendError::TooManyTransactions { offset: min_tx_offset, n, n_max });
        }
        if min_tx_offset != self.offset_next {
            let expected = self.offset_next;
            return Err(AppendError::OutOfOrder { expected, actual: min_tx_offset });
        }
        if epoch < self.epoch_last {
            let last = self.epoch_last;
            return Err(AppendError::EpochRegression {
                offset: min_tx_offset,
                last,
                actual: epoch,
            });
        }
        if min_tx_offset.checked_add(n as u64).is_none() {
            return Err(AppendError::OffsetOverflow { offset: min_tx_offset, n });
        }
        let size = commit_len(transactions);
        let size_max = self.options.commit_size_max();
        if size > size_max {
            return Err(AppendError::TooLarge { offset: min_tx_offset, size, size_max });
        }
        Ok(size)
    }

    /// Makes sure the head segment can take `size` more bytes: creates the
    /// first segment, or rotates.
    fn make_room(&mut self, min_tx_offset: u64, size: u64) {
        let max = self.options.max_segment_size;
        let rotate = match &self.head {
            None => {
                let _phase = phase::enter(Phase::FirstSegment);
                self.head = Some(self.create_segment(min_tx_offset));
                false
            }
            Some(head) => head.len() + size > max,
        };
        if rotate {
            self.rotate();
        }
        let head_len = self.head.as_ref().expect("make_room leaves a head segment").len();
        // check_commit bounds a commit by what an empty segment holds.
        assert!(head_len + size <= max, "the commit fits: head-len={head_len} size={size}");
    }

    /// Seals the head segment (flush, sync), creates the next one durably,
    /// then tells the hook.
    fn rotate(&mut self) {
        let seal = phase::enter(Phase::RotationSeal);
        self.sync();
        drop(seal);
        let sealed = self.head.take().expect("rotate needs a head segment");
        assert!(sealed.buffer.is_empty());
        assert_eq!(sealed.len_synced, sealed.len_flushed);
        let sealed_max_tx_offset = self.offset_durable.expect("a sealed segment holds a commit");
        assert!(sealed_max_tx_offset >= sealed.min_tx_offset);
        let new_min_tx_offset = self.offset_next;
        assert_eq!(new_min_tx_offset, sealed_max_tx_offset + 1);
        // Sealed before the next segment exists: if creating it poisons the
        // log, `segments` still tells the truth.
        self.sealed.push(sealed.span());
        let create = phase::enter(Phase::RotationCreate);
        let head = self.create_segment(new_min_tx_offset);
        drop(create);
        let info = RotationInfo {
            sealed_segment: sealed.path,
            sealed_min_tx_offset: sealed.min_tx_offset,
            sealed_max_tx_offset,
            new_segment: head.path.clone(),
            new_min_tx_offset,
        };
        self.head = Some(head);
        tracing::debug!(
            sealed = %info.sealed_segment.display(),
            new = %info.new_segment.display(),
            "commitlog rotated"
        );
        if let Some(hook) = self.on_rotate.as_mut() {
            hook(info);
        }
    }

    /// Creates a segment durably: the file, its header synced, and its name
    /// synced in the directory. Poisons the log on any error.
    fn create_segment(&mut self, min_tx_offset: u64) -> Head {
        let path = segment_path(&self.dir, min_tx_offset);
        let fail = |step: &str, error: io::Error| {
            format!("{step} failed: segment={} offset=0 error={error}", path.display())
        };
        let file = match self.fs.create(&path) {
            Ok(file) => file,
            Err(error) => poisoned(&mut self.poison, fail("create segment", error)),
        };
        if let Err(error) = file.write_at(&encode_header(), 0) {
            poisoned(&mut self.poison, fail("write segment header", error));
        }
        if let Err(error) = file.sync_data() {
            poisoned(&mut self.poison, fail("sync segment header", error));
        }
        if let Err(error) = self.fs.sync_dir(&self.dir) {
            let cause = format!(
                "sync dir failed: dir={} segment={} error={error}",
                self.dir.display(),
                path.display()
            );
            poisoned(&mut self.poison, cause);
        }
        let len = SEGMENT_HEADER_LEN as u64;
        let buffer = Vec::with_capacity(self.options.write_buffer_size);
        Head { file, path, min_tx_offset, len_flushed: len, len_synced: len, buffer }
    }

    fn check_not_poisoned(&self) {
        if let Some(cause) = &self.poison {
            panic!("{POISON_PREFIX} refusing to write after an earlier failure: {cause}");
        }
    }

    fn assert_invariants(&self) {
        assert!(self.offset_durable <= self.offset_synced, "durable <= synced");
        assert!(self.offset_synced <= self.offset_flushed, "synced <= flushed");
        assert!(self.offset_flushed <= self.offset_last, "flushed <= last");
        assert!(self.offset_last.is_none_or(|last| last < self.offset_next));
        for (stamp, offset) in [
            (self.stamp_last, self.offset_last),
            (self.stamp_flushed, self.offset_flushed),
            (self.stamp_synced, self.offset_synced),
            (self.stamp_durable, self.offset_durable),
        ] {
            assert!(
                stamp.is_none_or(|s| Some(s.last_offset) == offset),
                "a stamp ends at its offset"
            );
        }
        if let Some(head) = &self.head {
            assert!(head.len_synced <= head.len_flushed);
            assert!(head.len_flushed >= SEGMENT_HEADER_LEN as u64);
            assert!(head.min_tx_offset <= self.offset_next);
            assert_eq!(head.buffer.is_empty(), self.offset_flushed == self.offset_last);
        }
        for pair in self.sealed.windows(2) {
            assert!(pair[0].min_tx_offset < pair[1].min_tx_offset, "segments in order");
        }
    }
}

/// Marks the log poisoned and panics with the poison message. The one
/// deliberate panic of the engine (DESIGN 2.2, 2.7).
fn poisoned(poison: &mut Option<String>, cause: String) -> ! {
    tracing::error!(%cause, "commitlog poisoned");
    let message = format!("{POISON_PREFIX} {cause}");
    *poison = Some(cause);
    panic!("{message}");
}

/// Creates the log directory and makes its entry durable in the parent.
fn create_dir(fs: &dyn Fs, dir: &Path) -> Result<(), OpenError> {
    fs.create_dir(dir).map_err(|source| io_error("create-dir", dir, source))?;
    sync_parent(fs, dir)
}

fn sync_parent(fs: &dyn Fs, dir: &Path) -> Result<(), OpenError> {
    let parent = parent_dir(dir);
    fs.sync_dir(parent).map_err(|source| io_error("sync-dir", parent, source))
}

/// The directory that holds `dir`'s entry: `.` when `dir` names no parent
/// (a relative name like `log`).
fn parent_dir(dir: &Path) -> &Path {
    match dir.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// The suffix of the copy [`rewrite_durably`] makes before renaming it over
/// the segment. Not `.log`: recovery never mistakes it for a segment.
const REWRITE_SUFFIX: &str = ".rewrite";

/// Removes copies a crash left behind in the middle of [`rewrite_durably`]:
/// the rename had not happened, so the segment itself is intact.
fn remove_rewrite_leftovers(
    fs: &dyn Fs,
    dir: &Path,
    entries: &[DirEntry],
) -> Result<(), OpenError> {
    for entry in
        entries.iter().filter(|e| e.kind == EntryKind::File && e.name.ends_with(REWRITE_SUFFIX))
    {
        let path = dir.join(&entry.name);
        tracing::info!(path = %path.display(), "removing an interrupted segment rewrite");
        fs.remove(&path).map_err(|source| io_error("remove", &path, source))?;
    }
    Ok(())
}

/// Makes the verified bytes of the last segment (as recovery read and
/// repaired them) durable whatever the page cache holds, and returns a
/// handle on the result.
///
/// Why: after a failed fsync, Linux marks the dirty pages clean and keeps
/// serving them (fsyncgate). A process that restarts without a power loss
/// reads those bytes back as if they were on disk, and no later fsync
/// writes them, so a power loss afterwards would open a hole under commits
/// synced later. Syncing is not enough; the bytes must be written again.
/// They are written to a copy which is synced and renamed over the segment
/// (then the directory is synced by the caller), never in place: a torn
/// rewrite in place could destroy bytes that were durable.
fn rewrite_durably(
    fs: &dyn Fs,
    dir: &Path,
    span: &SegmentSpan,
    bytes: &[u8],
) -> Result<Box<dyn File>, OpenError> {
    assert_eq!(bytes.len() as u64, span.len, "recovery hands over exactly the verified bytes");
    let mut copy_name = span.path.file_name().expect("segments have names").to_owned();
    copy_name.push(REWRITE_SUFFIX);
    let copy_path = dir.join(copy_name);
    let copy = fs.create(&copy_path).map_err(|source| io_error("create", &copy_path, source))?;
    copy.write_at(bytes, 0).map_err(|source| io_error("write", &copy_path, source))?;
    copy.sync_data().map_err(|source| io_error("sync-data", &copy_path, source))?;
    fs.rename(&copy_path, &span.path).map_err(|source| io_error("rename", &copy_path, source))?;
    Ok(copy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parent_of_a_bare_name_is_the_current_directory() {
        assert_eq!(parent_dir(Path::new("/db/log")), Path::new("/db"));
        assert_eq!(parent_dir(Path::new("db/log")), Path::new("db"));
        assert_eq!(parent_dir(Path::new("log")), Path::new("."));
    }
}
