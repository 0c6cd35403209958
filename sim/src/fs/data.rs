//! File data: what the device holds (durable), what the page cache holds
//! (volatile, what reads see), and the operations between them.
//!
//! Invariant, checked after every operation in debug builds:
//! `volatile == durable + stranded + pending`, each list applied in order
//! at the offsets the page cache saw, where
//!
//! - `pending` are the writes and truncates not yet on the device, oldest
//!   first (a misdirected one will land elsewhere on the device, but the
//!   page cache holds it where it was asked for);
//! - `stranded` are bytes the page cache holds that the device will never
//!   get: dirty data a failed fsync marked clean (ext4 and XFS keep serving
//!   it), and the right bytes where a misdirected write should have
//!   landed and the old ones where it did. Recomputed as the difference
//!   between the two views whenever the device and the cache part ways.
//!
//! A power loss throws the cache away (`volatile := durable`); a process
//! crash keeps all of it.

use std::ops::Range;
use std::sync::Arc;

use crate::fault::{FILE_LEN_MAX, SECTOR_SIZE};
use crate::site::Site;

use super::Op;

/// A write or truncate in the page cache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Pending {
    /// `data` at `offset` in the cache; at `lands_at` on the device (the
    /// same place unless the write was misdirected).
    Write { offset: u64, lands_at: u64, data: Vec<u8>, site: Site },
    /// A truncate or extension to `len`.
    SetLen { len: u64 },
}

impl Pending {
    fn is_misdirected(&self) -> bool {
        matches!(self, Pending::Write { offset, lands_at, .. } if offset != lands_at)
    }
}

/// Why bytes on the device are not what the engine wrote there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DamageCause {
    /// A misdirected write should have landed here: the device kept the
    /// old bytes.
    MisdirectedFrom,
    /// A misdirected write landed here, over what was there.
    MisdirectedTo,
}

/// One stretch of durable bytes a misdirected write damaged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Damaged {
    pub(super) range: Range<u64>,
    pub(super) cause: DamageCause,
}

/// One file.
#[derive(Debug, Default)]
pub(super) struct FileNode {
    /// What the device holds.
    pub(super) durable: Arc<Vec<u8>>,
    /// What the page cache holds: what reads see.
    pub(super) volatile: Arc<Vec<u8>>,
    pub(super) pending: Vec<Pending>,
    pub(super) stranded: Vec<Pending>,
    /// Latent sector errors: byte offset -> XOR mask applied on every read,
    /// until a write touches the byte's sector.
    pub(super) latent: std::collections::BTreeMap<u64, u8>,
    /// Durable stretches a misdirected write damaged, until rewritten.
    pub(super) damage: Vec<Damaged>,
    /// The path it was last created or renamed at, for events.
    pub(super) path_hint: String,
    /// Bumped whenever the durable bytes change: a checker may cache what
    /// it read of them by (file, version).
    pub(super) durable_changes: Changes,
    /// Bumped whenever the page cache's bytes change.
    pub(super) volatile_changes: Changes,
    /// The fsync errors recorded on the file (its `errseq_t`).
    pub(super) errors: ErrorRecord,
}

/// The fsync errors recorded on a file, as Linux's `errseq_t` keeps them:
/// a count, and whether any handle has reported the latest. The kernel
/// holds it: a process crash keeps it, a power loss clears it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct ErrorRecord {
    /// Errors recorded so far.
    pub(super) recorded: u64,
    /// The call the latest one was recorded at.
    pub(super) failed_at: u64,
    /// Whether some handle has reported the latest.
    pub(super) seen: bool,
}

/// How many spans of changes [`Changes`] keeps apart.
const CHANGE_SPANS: usize = 16;

/// One view of a file's bytes: its version, bumped on every change, and
/// the lowest byte offset its changes may have touched, so that a checker
/// which read an earlier version knows which prefix it need not read again
/// (a log only appends).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    version: u64,
    /// `(last version, lowest offset changed)` of spans of consecutive
    /// changes, oldest first: the first span covers versions 1 to its
    /// last, each later one the versions after its predecessor's. When all
    /// are in use the two oldest merge (their lowest offset the smaller):
    /// an answer about an old version only gets more cautious.
    spans: [(u64, u64); CHANGE_SPANS],
    len: usize,
}

impl Changes {
    /// The version: it changes whenever the bytes may have.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Records a change that touched no byte below `lowest`.
    pub(super) fn record(&mut self, lowest: u64) {
        self.version += 1;
        if self.len == CHANGE_SPANS {
            self.spans[1].1 = self.spans[1].1.min(self.spans[0].1);
            self.spans.rotate_left(1);
            self.len -= 1;
        }
        self.spans[self.len] = (self.version, lowest);
        self.len += 1;
        assert!(
            self.spans[..self.len].windows(2).all(|pair| pair[0].0 < pair[1].0),
            "spans of changes are kept in version order"
        );
    }

    /// An offset below which the bytes are the same now as at version
    /// `earlier`: `u64::MAX` if nothing changed since, 0 if `earlier` is
    /// not one of this view's versions.
    pub fn unchanged_below(&self, earlier: u64) -> u64 {
        if earlier >= self.version {
            return if earlier == self.version { u64::MAX } else { 0 };
        }
        self.spans[..self.len]
            .iter()
            .filter(|(last, _)| *last > earlier)
            .map(|(_, lowest)| *lowest)
            .min()
            .expect("every version after the first has a span")
    }
}

/// Writes `data` at `offset` of `bytes`, growing it with zeros if needed.
/// A zero-length write changes nothing, past the end included (as
/// `pwrite(2)` of 0 bytes). Callers keep the end within [`FILE_LEN_MAX`].
pub(super) fn write_into(bytes: &mut Vec<u8>, offset: u64, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    let start = usize::try_from(offset).expect("a checked offset fits in memory");
    let end = start.checked_add(data.len()).expect("a checked end fits in memory");
    assert!(end as u64 <= FILE_LEN_MAX, "a write past the largest file was refused");
    if bytes.len() < end {
        bytes.resize(end, 0);
    }
    bytes[start..end].copy_from_slice(data);
}

fn set_len(bytes: &mut Vec<u8>, len: u64) {
    assert!(len <= FILE_LEN_MAX, "a truncate past the largest file was refused");
    bytes.resize(usize::try_from(len).expect("a checked length fits in memory"), 0);
}

/// Applies `op` as the page cache sees it.
fn apply_cached(bytes: &mut Vec<u8>, op: &Pending) {
    match op {
        Pending::Write { offset, data, .. } => write_into(bytes, *offset, data),
        Pending::SetLen { len } => set_len(bytes, *len),
    }
}

/// The sectors `offset..offset + len` touch, as a byte range.
pub(super) fn sectors(offset: u64, len: u64) -> Range<u64> {
    let first = offset / SECTOR_SIZE * SECTOR_SIZE;
    let end = offset.saturating_add(len).div_ceil(SECTOR_SIZE).saturating_mul(SECTOR_SIZE);
    first..end
}

/// The operations that turn `from` into `to` (a truncate first if `to` is
/// shorter, then a write for each stretch that differs or lies past the
/// end of `from`).
fn difference(from: &[u8], to: &[u8]) -> Vec<Pending> {
    let mut ops = Vec::new();
    if to.len() < from.len() {
        ops.push(Pending::SetLen { len: to.len() as u64 });
    }
    let differs = |i: usize| i >= from.len() || from[i] != to[i];
    let common = from.len().min(to.len());
    let mut i = 0;
    while i < to.len() {
        // Equal stretches are most of a file: skipped a block at a time (a
        // byte at a time, this was 1% of a sweep's instructions).
        const BLOCK: usize = 64;
        while i + BLOCK <= common && from[i..i + BLOCK] == to[i..i + BLOCK] {
            i += BLOCK;
        }
        if i == to.len() {
            break;
        }
        if !differs(i) {
            i += 1;
            continue;
        }
        let start = i;
        while i < to.len() && differs(i) {
            i += 1;
        }
        let offset = start as u64;
        let data = to[start..i].to_vec();
        ops.push(Pending::Write { offset, lands_at: offset, data, site: Site::bare(Op::Write) });
    }
    ops
}

impl FileNode {
    /// Puts a write in the page cache (landing at `lands_at` on the device
    /// once it gets there); a rewrite heals the bad sectors it covers.
    pub(super) fn write(&mut self, offset: u64, lands_at: u64, data: &[u8], site: Site) {
        write_into(Arc::make_mut(&mut self.volatile), offset, data);
        self.volatile_changes.record(offset);
        if !data.is_empty() {
            let healed = sectors(offset, data.len() as u64);
            self.latent.retain(|byte, _| !healed.contains(byte));
        }
        self.pending.push(Pending::Write { offset, lands_at, data: data.to_vec(), site });
        self.assert_invariant();
    }

    /// Puts a truncate (or extension) in the page cache.
    pub(super) fn set_len(&mut self, len: u64) {
        let lowest = len.min(self.volatile.len() as u64);
        set_len(Arc::make_mut(&mut self.volatile), len);
        self.volatile_changes.record(lowest);
        self.latent.retain(|&byte, _| byte < len);
        self.pending.push(Pending::SetLen { len });
        self.assert_invariant();
    }

    /// Makes every pending operation durable (an honest sync); returns the
    /// damage misdirected writes did on the device.
    pub(super) fn sync(&mut self) -> Vec<Damaged> {
        let pending = std::mem::take(&mut self.pending);
        let parted = !self.stranded.is_empty() || pending.iter().any(Pending::is_misdirected);
        let mut damage = Vec::new();
        for op in &pending {
            damage.extend(self.persist(op, None));
        }
        if parted {
            self.restrand();
        }
        self.assert_invariant();
        damage
    }

    /// A failed fsync on ext4 or XFS: the pending operations are marked
    /// clean without reaching the device, and the cache keeps serving their
    /// bytes; the file's size does reach it (the journal commits the
    /// inode), so bytes a failed append never wrote read as zeros there.
    /// Returns how many were dropped.
    pub(super) fn fail_marked_clean(&mut self) -> u64 {
        let dropped = std::mem::take(&mut self.pending).len() as u64;
        let len = self.volatile.len() as u64;
        if dropped > 0 && len != self.durable.len() as u64 {
            self.persist(&Pending::SetLen { len }, None);
        }
        self.restrand();
        self.assert_invariant();
        dropped
    }

    /// A failed fsync on Btrfs: the failed (pending) pages are dropped
    /// from the cache, which serves what it held before them: the device's
    /// content and size (plus what it already held apart from the device).
    /// Returns how many were dropped.
    pub(super) fn fail_reverted(&mut self) -> u64 {
        let dropped = std::mem::take(&mut self.pending).len() as u64;
        if dropped > 0 {
            self.volatile = Arc::new(self.expected_volatile());
            self.volatile_changes.record(0);
            let len = self.volatile.len() as u64;
            self.latent.retain(|&byte, _| byte < len);
        }
        self.assert_invariant();
        dropped
    }

    /// Writes one operation to the device, torn per `lost` (which sectors
    /// of the write did not make it, and what they hold instead); returns
    /// the damage it did if it was misdirected.
    pub(super) fn persist(&mut self, op: &Pending, torn: Option<&TornSectors>) -> Vec<Damaged> {
        match op {
            Pending::SetLen { len } => {
                self.durable_changes.record((*len).min(self.durable.len() as u64));
                set_len(Arc::make_mut(&mut self.durable), *len);
                self.heal_damage(*len..u64::MAX);
                Vec::new()
            }
            Pending::Write { offset, lands_at, data, .. } => {
                // Torn or not, it touches only the bytes it covers where
                // it lands (see `TornSectors::apply`).
                self.durable_changes.record(*lands_at);
                let durable = Arc::make_mut(&mut self.durable);
                match torn {
                    Some(torn) => torn.apply(durable, *lands_at, data),
                    None => write_into(durable, *lands_at, data),
                }
                let len = data.len() as u64;
                if offset == lands_at {
                    self.heal_damage(*offset..offset + len);
                    return Vec::new();
                }
                let damaged = vec![
                    Damaged { range: *offset..offset + len, cause: DamageCause::MisdirectedFrom },
                    Damaged { range: *lands_at..lands_at + len, cause: DamageCause::MisdirectedTo },
                ];
                self.heal_damage(*lands_at..lands_at + len);
                self.damage.extend(damaged.iter().filter(|d| !d.range.is_empty()).cloned());
                damaged
            }
        }
    }

    /// A write that reaches the device where it belongs makes those bytes
    /// right again.
    fn heal_damage(&mut self, healed: Range<u64>) {
        let mut kept = Vec::with_capacity(self.damage.len());
        for damaged in self.damage.drain(..) {
            let Range { start, end } = damaged.range;
            if end <= healed.start || start >= healed.end {
                kept.push(damaged);
                continue;
            }
            if start < healed.start {
                kept.push(Damaged { range: start..healed.start, cause: damaged.cause });
            }
            if end > healed.end {
                kept.push(Damaged { range: healed.end..end, cause: damaged.cause });
            }
        }
        self.damage = kept;
    }

    /// The power went out: the cache is gone.
    pub(super) fn lose_cache(&mut self) {
        assert!(self.pending.is_empty(), "the power loss settled every pending operation");
        self.stranded.clear();
        self.volatile = Arc::clone(&self.durable);
        self.volatile_changes.record(0);
        self.errors = ErrorRecord::default();
        self.assert_invariant();
    }

    /// Recomputes what the cache holds that the device never will: the
    /// difference between the two, with nothing pending.
    fn restrand(&mut self) {
        assert!(self.pending.is_empty(), "stranded bytes are computed with nothing pending");
        self.stranded = difference(&self.durable, &self.volatile);
    }

    /// The cache as the invariant says it must be.
    fn expected_volatile(&self) -> Vec<u8> {
        let mut bytes = (*self.durable).clone();
        for op in self.stranded.iter().chain(&self.pending) {
            apply_cached(&mut bytes, op);
        }
        bytes
    }

    /// Asserts the invariant (debug builds; it copies the file).
    pub(super) fn assert_invariant(&self) {
        if cfg!(debug_assertions) {
            assert!(
                *self.volatile == self.expected_volatile(),
                "{}: the page cache is not the device plus stranded plus pending bytes",
                self.path_hint
            );
        }
    }

    /// The damaged stretches the device holds, bad sectors included, as
    /// sorted, merged ranges.
    pub(super) fn durable_damage(&self) -> Vec<Range<u64>> {
        let mut ranges: Vec<Range<u64>> = self.damage.iter().map(|d| d.range.clone()).collect();
        ranges.extend(self.latent.keys().map(|&byte| sectors(byte, 1)));
        merge(ranges)
    }

    /// The damaged stretches a read of the page cache meets: bad sectors,
    /// and durable damage the cache does not cover with other bytes.
    pub(super) fn visible_damage(&self) -> Vec<Range<u64>> {
        let mut ranges: Vec<Range<u64>> =
            self.latent.keys().map(|&byte| sectors(byte, 1)).collect();
        for damaged in &self.damage {
            let Range { start, end } = damaged.range;
            let end = end.min(self.volatile.len() as u64).min(self.durable.len() as u64);
            let same =
                (start..end).filter(|&i| self.volatile[i as usize] == self.durable[i as usize]);
            ranges.extend(same.map(|i| i..i + 1));
        }
        merge(ranges)
    }
}

/// Sorts and merges overlapping or touching ranges.
pub(super) fn merge(mut ranges: Vec<Range<u64>>) -> Vec<Range<u64>> {
    ranges.retain(|r| !r.is_empty());
    ranges.sort_by_key(|r| (r.start, r.end));
    let mut merged: Vec<Range<u64>> = Vec::with_capacity(ranges.len());
    for range in ranges {
        match merged.last_mut() {
            Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
            _ => merged.push(range),
        }
    }
    merged
}

/// How a write tears at a power loss: which of its sectors were lost, and
/// what each lost one holds instead.
#[derive(Clone, Debug)]
pub(super) struct TornSectors {
    /// Per sector of the write, in order: `None` if it made it, else what
    /// it holds.
    pub(super) sectors: Vec<Option<TornFillChoice>>,
}

/// What one lost sector holds.
#[derive(Clone, Debug)]
pub(super) enum TornFillChoice {
    /// The bytes that were there before.
    Old,
    /// Zeros.
    Zeros,
    /// These bytes (one sector's worth).
    Garbage(Vec<u8>),
}

impl TornSectors {
    /// How many sectors were lost.
    pub(super) fn lost(&self) -> u64 {
        self.sectors.iter().filter(|s| s.is_some()).count() as u64
    }

    /// Writes `data` at `offset` of `durable`, the lost sectors filled as
    /// chosen; bytes the write does not cover are never touched.
    fn apply(&self, durable: &mut Vec<u8>, offset: u64, data: &[u8]) {
        assert!(!data.is_empty(), "a zero-length write has no sector to tear");
        let end = offset.checked_add(data.len() as u64).expect("a checked end");
        let old: Vec<u8> =
            (offset..end).map(|i| durable.get(i as usize).copied().unwrap_or(0)).collect();
        write_into(durable, offset, data);
        let first_sector = offset / SECTOR_SIZE;
        for (index, choice) in self.sectors.iter().enumerate() {
            let Some(choice) = choice else { continue };
            let sector = first_sector + index as u64;
            let start = offset.max(sector * SECTOR_SIZE);
            let stop = end.min((sector + 1) * SECTOR_SIZE);
            for byte in start..stop {
                durable[byte as usize] = match choice {
                    TornFillChoice::Old => old[(byte - offset) as usize],
                    TornFillChoice::Zeros => 0,
                    TornFillChoice::Garbage(garbage) => garbage[(byte % SECTOR_SIZE) as usize],
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against every change remembered: an answer is never above the
    /// lowest offset changed since (the bytes below it really are the
    /// same), and exact for the versions whose spans have not merged.
    #[test]
    fn changes_say_what_prefix_is_unchanged_since_a_version() {
        let mut changes = Changes::default();
        assert_eq!(changes.unchanged_below(0), u64::MAX, "no change yet");
        let mut lowest = Vec::new();
        for n in 0..100u64 {
            // Mostly appends, now and then a rewrite from the start.
            let at = if n % 37 == 36 { 0 } else { n * 10 };
            changes.record(at);
            lowest.push(at);
            let version = changes.version();
            assert_eq!(version, n + 1);
            assert_eq!(changes.unchanged_below(version), u64::MAX);
            assert_eq!(changes.unchanged_below(version + 1), 0, "not a version yet");
            for earlier in 0..version {
                let truth = *lowest[earlier as usize..].iter().min().unwrap();
                let answer = changes.unchanged_below(earlier);
                assert!(answer <= truth, "v{earlier} of v{version}: {answer} > {truth}");
                if version - earlier < CHANGE_SPANS as u64 {
                    assert_eq!(answer, truth, "v{earlier} of v{version}");
                }
            }
        }
        assert_eq!(changes.unchanged_below(90), 900, "the latest appends are exact");
        assert_eq!(changes.unchanged_below(50), 0, "the rewrite at v74 is remembered");
    }

    /// `difference` as written first, a byte at a time: what the block
    /// skipping must agree with.
    fn difference_bytewise(from: &[u8], to: &[u8]) -> (Option<u64>, Vec<(u64, Vec<u8>)>) {
        let truncate = (to.len() < from.len()).then_some(to.len() as u64);
        let differs = |i: usize| i >= from.len() || from[i] != to[i];
        let mut writes = Vec::new();
        let mut i = 0;
        while i < to.len() {
            if !differs(i) {
                i += 1;
                continue;
            }
            let start = i;
            while i < to.len() && differs(i) {
                i += 1;
            }
            writes.push((start as u64, to[start..i].to_vec()));
        }
        (truncate, writes)
    }

    proptest::proptest! {
        /// Files that mostly agree, at every length against each other:
        /// the same truncate and the same writes as the byte-wise walk,
        /// and they turn `from` into `to`.
        #[test]
        fn difference_is_the_bytewise_one(
            from in proptest::collection::vec(proptest::sample::select(vec![0u8, 7]), 0..400),
            len in 0usize..450,
            edits in proptest::collection::vec((0usize..450, 1u8..=255), 0..6),
        ) {
            let mut to = from.clone();
            to.resize(len, 7);
            for (at, byte) in edits {
                if let Some(b) = to.get_mut(at) {
                    *b = byte;
                }
            }
            let ops = difference(&from, &to);
            let mut truncate = None;
            let mut writes = Vec::new();
            let mut rebuilt = from.clone();
            for op in &ops {
                apply_cached(&mut rebuilt, op);
                match op {
                    Pending::SetLen { len } => truncate = Some(*len),
                    Pending::Write { offset, lands_at, data, .. } => {
                        proptest::prop_assert_eq!(offset, lands_at);
                        writes.push((*offset, data.clone()));
                    }
                }
            }
            proptest::prop_assert_eq!((truncate, writes), difference_bytewise(&from, &to));
            proptest::prop_assert_eq!(rebuilt, to);
        }
    }
}
