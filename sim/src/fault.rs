//! The fault model: which faults exist, how often they fire, and the record
//! of every one that did.
//!
//! Every class defaults to off. A caller pins a [`FaultConfig`] or lets the
//! seed draw one ([`FaultConfig::swarm`]): swarm testing, where each seed
//! turns on a different mix so that rare interactions get their turn.

use std::fmt;

use rand::RngExt;

use crate::seed::SimRng;

/// The unit a disk writes atomically; torn writes tear at this granularity.
pub const SECTOR_SIZE: u64 = 512;

/// The largest file [`crate::SimFs`] holds (1 GiB, the engine's own limit on
/// a segment). A write or truncate whose end lies past it fails with
/// `FileTooLarge` (EFBIG) and changes nothing.
pub const FILE_LEN_MAX: u64 = 1 << 30;

/// A class of fault. Each has its own probability and its own random stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultClass {
    /// `write_at` fails with EIO having written nothing.
    WriteError,
    /// `write_at` writes a strict prefix of the buffer, then fails with EIO.
    ShortWrite,
    /// `write_at` or `set_len` fails with ENOSPC: the quota is reached.
    NoSpace,
    /// `sync_data` fails with EIO and drops the dirty data (Linux's
    /// semantics: a retry then succeeds without persisting it); `sync_dir`
    /// fails with EIO and leaves the entry operations pending.
    FsyncError,
    /// A read returns a flipped bit; the sector stays bad until rewritten.
    ReadBitFlip,
    /// `write_at` returns `Ok` but the bytes land at another offset.
    MisdirectedWrite,
    /// `sync_data`/`sync_dir` returns `Ok` and persists nothing.
    LyingFsync,
    /// At power loss, a write that reached the disk is torn at sectors.
    TornWrite,
}

impl FaultClass {
    /// Every class, in a fixed order.
    pub const ALL: [FaultClass; 8] = [
        FaultClass::WriteError,
        FaultClass::ShortWrite,
        FaultClass::NoSpace,
        FaultClass::FsyncError,
        FaultClass::ReadBitFlip,
        FaultClass::MisdirectedWrite,
        FaultClass::LyingFsync,
        FaultClass::TornWrite,
    ];

    /// A short, stable, kebab-case name (used in traces and reports).
    pub fn name(self) -> &'static str {
        match self {
            FaultClass::WriteError => "write-error",
            FaultClass::ShortWrite => "short-write",
            FaultClass::NoSpace => "no-space",
            FaultClass::FsyncError => "fsync-error",
            FaultClass::ReadBitFlip => "read-bit-flip",
            FaultClass::MisdirectedWrite => "misdirected-write",
            FaultClass::LyingFsync => "lying-fsync",
            FaultClass::TornWrite => "torn-write",
        }
    }

    /// The index of this class in [`FaultClass::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// Whether a fault of this class can damage bytes that were already
    /// durable, so that no engine can promise them back (DESIGN 4).
    pub fn damages_durable_bytes(self) -> bool {
        matches!(self, FaultClass::ReadBitFlip | FaultClass::MisdirectedWrite)
    }

    /// Whether a fault of this class voids the durability promise, so that
    /// only consistency (some prefix) can be checked.
    pub fn voids_durability(self) -> bool {
        matches!(self, FaultClass::LyingFsync)
    }
}

impl fmt::Display for FaultClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a torn sector may hold instead of the bytes that were written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TornFill {
    /// The bytes that were there before the write. Default: on.
    pub old: bool,
    /// Zeros. Default: on.
    pub zeros: bool,
    /// Random bytes. Default: on.
    pub garbage: bool,
}

impl Default for TornFill {
    fn default() -> Self {
        TornFill { old: true, zeros: true, garbage: true }
    }
}

/// Which filesystem's answer to a failed fsync the simulated one gives
/// (Rebello et al., "Can Applications Recover from fsync Failures?",
/// USENIX ATC '20; FreeBSD's buffer cache for the last). Part of the fault
/// configuration: the same fault strikes differently on each.
///
/// | profile | dirty pages after a failed `sync_data` | a read right after | this sync returns | a failed append's size |
/// |---|---|---|---|---|
/// | `ext4-ordered` | marked clean, never written | the new data | EIO | grows (zeros on the device) |
/// | `xfs` | marked clean, never written | the new data | EIO | grows (zeros on the device) |
/// | `ext4-journal` | marked clean, never written | the new data | `Ok` (the data reached the journal); EIO on the next | grows (zeros on the device) |
/// | `btrfs` | dropped from the cache | the last durable content | EIO | reverted: a later append leaves a zero hole |
/// | `freebsd` | dirty again: a retried sync writes them | the new data | EIO | unchanged until written |
///
/// On the four Linux profiles the error is recorded on the file (Linux's
/// `errseq_t`): every handle open when it was recorded reports it once, at
/// its next `sync_data`; if no handle has reported it yet, a handle opened
/// later reports it too. A process crash keeps the record (it is the
/// kernel's), a power loss clears it. On `freebsd` only the failing call
/// reports.
///
/// A failed `sync_dir` (a metadata write: the journal or log) returns EIO
/// and leaves the entry operations pending, except on `xfs`, which shuts
/// the filesystem down on a log I/O error: every later call fails with EIO
/// until the machine restarts, and at that remount nothing the page cache
/// held reaches the device (pending data and entry operations are lost,
/// whatever the crash).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FsProfile {
    /// ext4 with `data=ordered` (Linux's default): the model before
    /// profiles existed.
    #[default]
    Ext4Ordered,
    /// ext4 with `data=journal`.
    Ext4Journal,
    /// XFS: for file data, ext4-ordered's cells; a failed directory sync
    /// shuts it down.
    Xfs,
    /// Btrfs.
    Btrfs,
    /// FreeBSD (UFS): failed pages are dirtied again.
    FreeBsd,
}

/// What a failed `sync_data` does to the file's dirty pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DirtyAfterFailure {
    /// Marked clean without reaching the device; the cache keeps serving
    /// them; the file's size reaches the device (the journal commits the
    /// inode), the never-written bytes read as zeros there.
    MarkedClean,
    /// Dropped from the cache: reads see the device's content and size.
    Reverted,
    /// Left dirty: a later sync (or a power loss) may still write them.
    Redirtied,
}

/// Which call reports a failed `sync_data`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorReport {
    /// The failing call returns EIO; other handles open on the file report
    /// it at their next sync (errseq).
    ThisCall,
    /// The failing call returns `Ok`; every handle reports EIO at its next
    /// sync (errseq). The durability the `Ok` promised is void: the bytes
    /// never reached their place on the device.
    NextCall,
    /// Only the failing call returns EIO (no per-file error record).
    OnlyThisCall,
}

impl FsProfile {
    /// Every profile, in a fixed order.
    pub const ALL: [FsProfile; 5] = [
        FsProfile::Ext4Ordered,
        FsProfile::Ext4Journal,
        FsProfile::Xfs,
        FsProfile::Btrfs,
        FsProfile::FreeBsd,
    ];

    /// A short, stable name (`faultline run --fs-profile NAME`).
    pub fn name(self) -> &'static str {
        match self {
            FsProfile::Ext4Ordered => "ext4-ordered",
            FsProfile::Ext4Journal => "ext4-journal",
            FsProfile::Xfs => "xfs",
            FsProfile::Btrfs => "btrfs",
            FsProfile::FreeBsd => "freebsd",
        }
    }

    /// The profile named `name`.
    pub fn from_name(name: &str) -> Option<FsProfile> {
        FsProfile::ALL.into_iter().find(|profile| profile.name() == name)
    }

    /// The index of this profile in [`FsProfile::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// One profile, uniformly (swarm testing, and the per-seed draw of a
    /// sweep over every profile).
    pub fn draw(rng: &mut SimRng) -> FsProfile {
        FsProfile::ALL[rng.random_range(0..FsProfile::ALL.len())]
    }

    /// What a failed `sync_data` does to the dirty pages.
    pub fn dirty_after_failure(self) -> DirtyAfterFailure {
        match self {
            FsProfile::Ext4Ordered | FsProfile::Ext4Journal | FsProfile::Xfs => {
                DirtyAfterFailure::MarkedClean
            }
            FsProfile::Btrfs => DirtyAfterFailure::Reverted,
            FsProfile::FreeBsd => DirtyAfterFailure::Redirtied,
        }
    }

    /// Whether a failed `sync_dir` (a log write) shuts the filesystem down
    /// until the machine restarts (XFS's forced shutdown).
    pub fn shuts_down_on_failed_dir_sync(self) -> bool {
        self == FsProfile::Xfs
    }

    /// Which call reports a failed `sync_data`.
    pub fn error_report(self) -> ErrorReport {
        match self {
            FsProfile::Ext4Ordered | FsProfile::Xfs | FsProfile::Btrfs => ErrorReport::ThisCall,
            FsProfile::Ext4Journal => ErrorReport::NextCall,
            FsProfile::FreeBsd => ErrorReport::OnlyThisCall,
        }
    }
}

impl fmt::Display for FsProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How often each fault class fires. Every probability lies in `0.0..=1.0`.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultConfig {
    /// Per `write_at`. Default: 0.0 (off).
    pub write_error: f64,
    /// Per `write_at`. Default: 0.0 (off).
    pub short_write: f64,
    /// Total bytes of all files beyond which a growing write fails with
    /// ENOSPC. Default: `None` (off).
    pub no_space_quota_bytes: Option<u64>,
    /// Per `sync_data`/`sync_dir`. Default: 0.0 (off).
    pub fsync_error: f64,
    /// Per `read_at`. Default: 0.0 (off).
    pub read_bit_flip: f64,
    /// Per `write_at`. Default: 0.0 (off).
    pub misdirected_write: f64,
    /// Per `sync_data`/`sync_dir`. Default: 0.0 (off). Voids durability.
    pub lying_fsync: f64,
    /// Per pending write that persists at a power loss. Default: 0.0 (off).
    pub torn_write: f64,
    /// What torn sectors hold. Default: old bytes, zeros or garbage.
    pub torn_fill: TornFill,
    /// Which filesystem a failed fsync behaves like. Default: ext4-ordered.
    pub profile: FsProfile,
}

impl Default for FaultConfig {
    fn default() -> Self {
        FaultConfig::none()
    }
}

impl FaultConfig {
    /// No faults at all: every class off.
    pub fn none() -> Self {
        FaultConfig {
            write_error: 0.0,
            short_write: 0.0,
            no_space_quota_bytes: None,
            fsync_error: 0.0,
            read_bit_flip: 0.0,
            misdirected_write: 0.0,
            lying_fsync: 0.0,
            torn_write: 0.0,
            torn_fill: TornFill::default(),
            profile: FsProfile::Ext4Ordered,
        }
    }

    /// Draws a fault mix (swarm testing): each class is on with probability
    /// one half, at a rate drawn log-uniformly between 1/2000 and 1/50 per
    /// operation; torn writes, when on, tear between 10% and 100% of the
    /// writes that persist at a power loss. A lying fsync is never drawn: it
    /// voids durability, and only scenarios that ask for it get it. The
    /// profile stays ext4-ordered: who draws a mix draws it
    /// ([`FsProfile::draw`]) after whatever it drew from the same stream
    /// before profiles existed, so those draws stay what they were.
    pub fn swarm(rng: &mut SimRng) -> Self {
        let rate = |rng: &mut SimRng| -> f64 {
            if rng.random_bool(0.5) { 10f64.powf(rng.random_range(-3.3..-1.7)) } else { 0.0 }
        };
        let write_error = rate(rng);
        let short_write = rate(rng);
        let fsync_error = rate(rng);
        let read_bit_flip = rate(rng);
        let misdirected_write = rate(rng);
        let no_space_quota_bytes =
            rng.random_bool(0.25).then(|| rng.random_range(64u64 << 10..=4u64 << 20));
        let torn_write = if rng.random_bool(0.5) { rng.random_range(0.1..=1.0) } else { 0.0 };
        let torn_fill = loop {
            let fill =
                TornFill { old: rng.random_bool(0.7), zeros: rng.random(), garbage: rng.random() };
            if fill.old || fill.zeros || fill.garbage {
                break fill;
            }
        };
        let config = FaultConfig {
            write_error,
            short_write,
            no_space_quota_bytes,
            fsync_error,
            read_bit_flip,
            misdirected_write,
            lying_fsync: 0.0,
            torn_write,
            torn_fill,
            profile: FsProfile::Ext4Ordered,
        };
        config.assert_valid();
        config
    }

    /// The probability of `class` (the quota reads as 1.0 when set).
    pub fn probability(&self, class: FaultClass) -> f64 {
        match class {
            FaultClass::WriteError => self.write_error,
            FaultClass::ShortWrite => self.short_write,
            FaultClass::NoSpace => f64::from(u8::from(self.no_space_quota_bytes.is_some())),
            FaultClass::FsyncError => self.fsync_error,
            FaultClass::ReadBitFlip => self.read_bit_flip,
            FaultClass::MisdirectedWrite => self.misdirected_write,
            FaultClass::LyingFsync => self.lying_fsync,
            FaultClass::TornWrite => self.torn_write,
        }
    }

    /// Whether `class` can fire at all.
    pub fn is_on(&self, class: FaultClass) -> bool {
        self.probability(class) > 0.0
    }

    /// Sets the probability of `class` (not [`FaultClass::NoSpace`], which
    /// is a quota: see [`FaultConfig::with_no_space_quota`]).
    pub fn with(mut self, class: FaultClass, probability: f64) -> Self {
        assert_probability(class.name(), probability);
        let field = match class {
            FaultClass::WriteError => &mut self.write_error,
            FaultClass::ShortWrite => &mut self.short_write,
            FaultClass::NoSpace => panic!("no-space is a quota: use with_no_space_quota"),
            FaultClass::FsyncError => &mut self.fsync_error,
            FaultClass::ReadBitFlip => &mut self.read_bit_flip,
            FaultClass::MisdirectedWrite => &mut self.misdirected_write,
            FaultClass::LyingFsync => &mut self.lying_fsync,
            FaultClass::TornWrite => &mut self.torn_write,
        };
        *field = probability;
        self
    }

    /// Sets the total size beyond which growing writes fail with ENOSPC.
    pub fn with_no_space_quota(mut self, quota_bytes: u64) -> Self {
        self.no_space_quota_bytes = Some(quota_bytes);
        self
    }

    /// Sets the filesystem profile.
    pub fn with_profile(mut self, profile: FsProfile) -> Self {
        self.profile = profile;
        self
    }

    /// Sets what torn sectors may hold; at least one choice must be on.
    pub fn with_torn_fill(mut self, torn_fill: TornFill) -> Self {
        self.torn_fill = torn_fill;
        self.assert_valid();
        self
    }

    /// Panics unless every probability lies in `0.0..=1.0` and torn sectors
    /// have something to hold.
    pub fn assert_valid(&self) {
        for class in FaultClass::ALL {
            assert_probability(class.name(), self.probability(class));
        }
        let fill = self.torn_fill;
        assert!(
            fill.old || fill.zeros || fill.garbage,
            "torn_fill: at least one choice must be on"
        );
    }
}

fn assert_probability(name: &str, probability: f64) {
    assert!((0.0..=1.0).contains(&probability), "{name}: probability {probability} not in 0..=1");
}

/// What a fault did, with the details needed to understand it from a trace.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    /// EIO, nothing written.
    WriteError,
    /// EIO after `written` bytes of the buffer were written.
    ShortWrite {
        /// How many bytes of the buffer reached the page cache.
        written: u64,
    },
    /// ENOSPC: the write would have grown the disk past the quota.
    NoSpace,
    /// A sync failed: `dropped_ops` pending writes or entry operations did
    /// not reach the disk (what became of them is the profile's:
    /// [`FsProfile::dirty_after_failure`]).
    FsyncError {
        /// How many pending operations did not reach the disk.
        dropped_ops: u64,
        /// Whether the failing call returned `Ok` (ext4-journal): the error
        /// is reported by a later sync, and the `Ok` was a broken promise.
        reported_later: bool,
    },
    /// A sync that returned `Ok` and persisted nothing.
    LyingFsync,
    /// A bit of the sector went bad and reads return it flipped.
    ReadBitFlip {
        /// The absolute byte offset of the flipped byte.
        byte: u64,
        /// Which bit (0..8) flipped.
        bit: u8,
    },
    /// The write landed at `landed_at` instead of the requested offset.
    MisdirectedWrite {
        /// Where the bytes really went.
        landed_at: u64,
    },
    /// A write persisted at power loss with `lost_sectors` of its sectors
    /// holding old bytes, zeros or garbage.
    TornWrite {
        /// How many of its sectors did not make it.
        lost_sectors: u64,
    },
}

impl Fault {
    /// The class of this fault.
    pub fn class(&self) -> FaultClass {
        match self {
            Fault::WriteError => FaultClass::WriteError,
            Fault::ShortWrite { .. } => FaultClass::ShortWrite,
            Fault::NoSpace => FaultClass::NoSpace,
            Fault::FsyncError { .. } => FaultClass::FsyncError,
            Fault::LyingFsync => FaultClass::LyingFsync,
            Fault::ReadBitFlip { .. } => FaultClass::ReadBitFlip,
            Fault::MisdirectedWrite { .. } => FaultClass::MisdirectedWrite,
            Fault::TornWrite { .. } => FaultClass::TornWrite,
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.class().name())?;
        match self {
            Fault::ShortWrite { written } => write!(f, " written={written}"),
            // Unchanged for an error reported at once, so traces recorded
            // before profiles existed keep their hashes.
            Fault::FsyncError { dropped_ops, reported_later: false } => {
                write!(f, " dropped-ops={dropped_ops}")
            }
            Fault::FsyncError { dropped_ops, reported_later: true } => {
                write!(f, " dropped-ops={dropped_ops} reported=later")
            }
            Fault::ReadBitFlip { byte, bit } => write!(f, " byte={byte} bit={bit}"),
            Fault::MisdirectedWrite { landed_at } => write!(f, " landed-at={landed_at}"),
            Fault::TornWrite { lost_sectors } => write!(f, " lost-sectors={lost_sectors}"),
            Fault::WriteError | Fault::NoSpace | Fault::LyingFsync => Ok(()),
        }
    }
}

/// How many faults of each class fired.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct FaultCounts {
    counts: [u64; FaultClass::ALL.len()],
}

impl FaultCounts {
    /// How many faults of `class` fired.
    pub fn get(&self, class: FaultClass) -> u64 {
        self.counts[class.index()]
    }

    /// All faults of every class.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Counts one more fault of `class`.
    pub fn record(&mut self, class: FaultClass) {
        self.counts[class.index()] += 1;
    }

    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &FaultCounts) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts) {
            *mine += theirs;
        }
    }

    /// The classes that fired at least once, with their counts.
    pub fn nonzero(&self) -> impl Iterator<Item = (FaultClass, u64)> + '_ {
        FaultClass::ALL.into_iter().map(|c| (c, self.get(c))).filter(|(_, n)| *n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::{Seed, Stream};

    #[test]
    fn swarm_mixes_differ_by_seed_and_repeat_for_the_same_seed() {
        let mix = |s| FaultConfig::swarm(&mut Seed(s).rng(Stream::FaultMix));
        assert_eq!(mix(1), mix(1));
        let distinct: std::collections::BTreeSet<String> =
            (0..32).map(|s| format!("{:?}", mix(s))).collect();
        assert!(distinct.len() > 16, "swarm draws too few mixes: {}", distinct.len());
        for s in 0..256 {
            let config = mix(s);
            assert_eq!(config.lying_fsync, 0.0, "swarm must never draw a lying fsync");
            config.assert_valid();
        }
    }

    #[test]
    #[should_panic(expected = "write-error: probability 1.5 not in 0..=1")]
    fn probabilities_outside_unit_interval_are_refused() {
        let _ = FaultConfig::none().with(FaultClass::WriteError, 1.5);
    }

    #[test]
    fn counts_record_and_sum() {
        let mut counts = FaultCounts::default();
        counts.record(FaultClass::TornWrite);
        counts.record(FaultClass::TornWrite);
        counts.record(FaultClass::NoSpace);
        assert_eq!(counts.get(FaultClass::TornWrite), 2);
        assert_eq!(counts.total(), 3);
        let fired: Vec<_> = counts.nonzero().collect();
        assert_eq!(fired, vec![(FaultClass::NoSpace, 1), (FaultClass::TornWrite, 2)]);
    }
}
