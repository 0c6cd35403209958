//! [`SimFs`]: the simulated filesystem the engine runs on under test.
//!
//! See the crate documentation for the durability model. The public surface
//! is the [`Fs`] implementation the engine sees, plus the controls the
//! harness uses: crash the machine, place a crash at an operation, switch
//! faults off for a recovery phase, and read back what fired.

mod disk;

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;

use faultline_engine::fs::{DirEntry, File, Fs};
use parking_lot::Mutex;

use crate::fault::{Fault, FaultConfig, FaultCounts};
use crate::seed::Seed;

use disk::{Disk, NodeId};

/// How the simulated machine goes down.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CrashMode {
    /// Power loss: the page cache is lost; of each file's and directory's
    /// pending operations a seeded choice reaches the disk, writes may tear.
    PowerLoss,
    /// The process is killed (kill -9): the page cache survives, pending
    /// operations stay pending (a later power loss can still lose them).
    ProcessCrash,
}

/// A filesystem operation, as counted and traced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// [`Fs::create`].
    Create,
    /// [`Fs::open`].
    Open,
    /// [`Fs::create_dir`].
    CreateDir,
    /// [`Fs::rename`].
    Rename,
    /// [`Fs::remove`].
    Remove,
    /// [`Fs::list_dir`].
    ListDir,
    /// [`Fs::sync_dir`].
    SyncDir,
    /// [`File::read_at`].
    Read,
    /// [`File::write_at`].
    Write,
    /// [`File::len`].
    Len,
    /// [`File::set_len`].
    SetLen,
    /// [`File::sync_data`].
    SyncData,
    /// Not an operation: the machine crashed.
    Crash,
}

impl Op {
    /// A short, stable name.
    pub fn name(self) -> &'static str {
        match self {
            Op::Create => "create",
            Op::Open => "open",
            Op::CreateDir => "create-dir",
            Op::Rename => "rename",
            Op::Remove => "remove",
            Op::ListDir => "list-dir",
            Op::SyncDir => "sync-dir",
            Op::Read => "read",
            Op::Write => "write",
            Op::Len => "len",
            Op::SetLen => "set-len",
            Op::SyncData => "sync-data",
            Op::Crash => "crash",
        }
    }

    /// Whether the operation changes the filesystem. Crash points count
    /// only these: a crash before a read is the same as one before the next
    /// mutation.
    pub fn is_mutation(self) -> bool {
        matches!(
            self,
            Op::Create
                | Op::CreateDir
                | Op::Rename
                | Op::Remove
                | Op::Write
                | Op::SetLen
                | Op::SyncData
                | Op::SyncDir
        )
    }
}

/// What a power loss kept and lost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PowerLossReport {
    /// Pending writes and truncates that reached the disk.
    pub writes_persisted: u64,
    /// Pending writes and truncates that did not.
    pub writes_lost: u64,
    /// Persisted writes that were torn.
    pub writes_torn: u64,
    /// Pending entry operations that reached the disk.
    pub dir_ops_persisted: u64,
    /// Pending entry operations that did not.
    pub dir_ops_lost: u64,
}

/// What happened at an event.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Happening {
    /// A fault fired.
    Fault(Fault),
    /// The power went out.
    PowerLoss(PowerLossReport),
    /// The process was killed.
    ProcessCrash,
}

/// One fault or crash, with the operation, path and offset it struck.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FsEvent {
    /// The index (1-based) of the operation it struck, counting all ops.
    pub op_index: u64,
    /// The crash generation it happened in (after the crash, for crashes).
    pub generation: u64,
    /// The operation.
    pub op: Op,
    /// The path the operation was on.
    pub path: String,
    /// The byte offset (or new length, for `set_len`).
    pub offset: u64,
    /// The number of bytes the operation asked for.
    pub len: u64,
    /// What happened.
    pub happening: Happening,
}

impl fmt::Display for FsEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "op={} gen={} {} path={} offset={} len={} ",
            self.op_index,
            self.generation,
            self.op.name(),
            self.path,
            self.offset,
            self.len
        )?;
        match &self.happening {
            Happening::Fault(fault) => write!(f, "fault={fault}"),
            Happening::ProcessCrash => write!(f, "crash=process"),
            Happening::PowerLoss(r) => write!(
                f,
                "crash=power-loss writes-persisted={} writes-lost={} writes-torn={} \
                 dir-ops-persisted={} dir-ops-lost={}",
                r.writes_persisted,
                r.writes_lost,
                r.writes_torn,
                r.dir_ops_persisted,
                r.dir_ops_lost
            ),
        }
    }
}

/// Counters of what the filesystem did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FsStats {
    /// Every operation, reads included.
    pub ops: u64,
    /// Operations that change the filesystem (the crash-point clock).
    pub mutations: u64,
    /// Bytes handed to `write_at` that reached the page cache.
    pub bytes_written: u64,
    /// Successful, honest `sync_data` and `sync_dir` calls.
    pub syncs: u64,
    /// Power losses.
    pub power_losses: u64,
    /// Process crashes.
    pub process_crashes: u64,
}

/// The simulated filesystem. Cheap to clone: clones share one disk.
///
/// A `SimFs` value belongs to one incarnation of the process: after a crash
/// it and every file opened through it fail with a "simulated crash" error.
/// [`SimFs::reopen`] hands out the filesystem to the restarted process.
#[derive(Clone)]
pub struct SimFs {
    disk: Arc<Mutex<Disk>>,
    generation: u64,
}

impl fmt::Debug for SimFs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimFs").field("generation", &self.generation).finish_non_exhaustive()
    }
}

/// A file opened on a [`SimFs`].
struct SimFile {
    disk: Arc<Mutex<Disk>>,
    generation: u64,
    id: NodeId,
}

impl fmt::Debug for SimFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimFile").field("generation", &self.generation).finish_non_exhaustive()
    }
}

impl SimFs {
    /// An empty filesystem (just `/`) whose faults and power-loss choices
    /// draw from `seed`'s streams.
    pub fn new(seed: Seed, config: FaultConfig) -> Self {
        SimFs { disk: Arc::new(Mutex::new(Disk::new(seed, config))), generation: 0 }
    }

    /// The filesystem as the next incarnation of the process sees it.
    pub fn reopen(&self) -> SimFs {
        let generation = self.disk.lock().generation;
        SimFs { disk: Arc::clone(&self.disk), generation }
    }

    /// Whether this handle's process is still alive (no crash since it was
    /// made).
    pub fn is_alive(&self) -> bool {
        self.disk.lock().generation == self.generation
    }

    /// Crashes the machine now.
    pub fn crash(&self, mode: CrashMode) {
        let mut disk = self.disk.lock();
        let op_index = disk.stats.ops;
        disk.crash(mode, op_index, "");
    }

    /// Crashes the machine just before its `mutation`-th mutating operation
    /// (1-based, counted since creation: see [`FsStats::mutations`]). That
    /// operation does not happen and fails with a "simulated crash" error.
    pub fn crash_at_mutation(&self, mutation: u64, mode: CrashMode) {
        self.disk.lock().set_crash_point(mutation, mode);
    }

    /// Removes a crash point that has not struck yet.
    pub fn clear_crash_point(&self) {
        self.disk.lock().clear_crash_point();
    }

    /// Switches every fault class on or off at once (crashes still happen
    /// when asked for). Used to give recovery a fault-free run.
    pub fn set_faults_enabled(&self, enabled: bool) {
        self.disk.lock().set_faults_enabled(enabled);
    }

    /// Replaces the fault configuration.
    pub fn set_fault_config(&self, config: FaultConfig) {
        self.disk.lock().set_config(config);
    }

    /// How many faults of each class fired.
    pub fn fault_counts(&self) -> FaultCounts {
        self.disk.lock().counts.clone()
    }

    /// Every fault and crash so far, in order.
    pub fn events(&self) -> Vec<FsEvent> {
        self.disk.lock().events.clone()
    }

    /// Operation counters.
    pub fn stats(&self) -> FsStats {
        self.disk.lock().stats
    }

    /// A hash of every operation and event so far: same seed, same hash.
    pub fn trace_hash(&self) -> u64 {
        self.disk.lock().trace.finish()
    }

    fn file(&self, id: NodeId) -> Box<dyn File> {
        Box::new(SimFile { disk: Arc::clone(&self.disk), generation: self.generation, id })
    }
}

impl Fs for SimFs {
    fn create(&self, path: &Path) -> io::Result<Box<dyn File>> {
        let id = self.disk.lock().create(self.generation, path)?;
        Ok(self.file(id))
    }

    fn open(&self, path: &Path) -> io::Result<Box<dyn File>> {
        let id = self.disk.lock().open(self.generation, path)?;
        Ok(self.file(id))
    }

    fn create_dir(&self, path: &Path) -> io::Result<()> {
        self.disk.lock().create_dir(self.generation, path)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.disk.lock().rename(self.generation, from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        self.disk.lock().remove(self.generation, path)
    }

    fn list_dir(&self, dir: &Path) -> io::Result<Vec<DirEntry>> {
        self.disk.lock().list_dir(self.generation, dir)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.disk.lock().sync_dir(self.generation, dir)
    }
}

impl File for SimFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.disk.lock().read_at(self.generation, self.id, buf, offset)
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.disk.lock().write_at(self.generation, self.id, buf, offset)
    }

    fn len(&self) -> io::Result<u64> {
        self.disk.lock().len(self.generation, self.id)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.disk.lock().set_len(self.generation, self.id, len)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.disk.lock().sync_data(self.generation, self.id)
    }
}
