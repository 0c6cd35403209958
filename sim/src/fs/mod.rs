//! [`SimFs`]: the simulated filesystem the engine runs on under test.
//!
//! See the crate documentation for the durability model. The public surface
//! is the [`Fs`] implementation the engine sees, plus the controls the
//! harness uses: arm the plan's crashes, crash the machine, switch faults
//! off for a recovery phase, read back every call and what fired, and look
//! at the disk image.
//!
//! Layout: [`decide`] answers what happens to each call (drawn or pinned),
//! `disk` numbers and applies calls, `namespace` holds directories, `data`
//! file bytes, `power` crashes, `image` what the harness may inspect.

mod data;
mod decide;
mod disk;
mod image;
mod namespace;
mod power;

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;

use faultline_engine::fs::{DirEntry, File, Fs};
use parking_lot::Mutex;

use crate::fault::{Fault, FaultConfig, FaultCounts};
use crate::schedule::{Decision, Schedule};
use crate::seed::Seed;
use crate::site::{Focus, Site};

pub use data::{Changes, DamageCause};
pub use image::{DiskImage, FileImage, View};
pub use namespace::NodeId;

use decide::Decider;
use disk::{Disk, HandleId};

/// The marker of the panic a call past the call budget raises
/// ([`SimFs::set_call_budget`]): the harness reports it as a hang.
pub const CALL_BUDGET_MARKER: &str = "faultline-sim: fs call budget exhausted";

/// How the simulated machine goes down.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CrashMode {
    /// Power loss: the page cache is lost; of each file's and directory's
    /// pending operations a seeded choice reaches the disk, writes may tear.
    PowerLoss,
    /// The process is killed (kill -9): the page cache survives, pending
    /// operations stay pending (a later power loss can still lose them).
    ProcessCrash,
}

impl CrashMode {
    /// A short, stable name.
    pub fn name(self) -> &'static str {
        match self {
            CrashMode::PowerLoss => "power-loss",
            CrashMode::ProcessCrash => "process-crash",
        }
    }
}

/// A filesystem operation, as counted and traced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
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
    /// Every operation, in a fixed order.
    pub const ALL: [Op; 13] = [
        Op::Create,
        Op::Open,
        Op::CreateDir,
        Op::Rename,
        Op::Remove,
        Op::ListDir,
        Op::SyncDir,
        Op::Read,
        Op::Write,
        Op::Len,
        Op::SetLen,
        Op::SyncData,
        Op::Crash,
    ];

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
    /// A misdirected write reached the device: the event's `offset..offset
    /// + len` of `file` no longer holds what the engine wrote there.
    Damage {
        /// The file (its identity survives renames).
        file: NodeId,
        /// Meant for here, or landed here.
        cause: DamageCause,
    },
    /// A sync reported an fsync error recorded on its file earlier (at
    /// another handle's failed sync, or at one that returned `Ok` on
    /// ext4-journal): not a new fault, the consequence of one.
    ErrorReported {
        /// The call whose failure it reports.
        failed_at: u64,
    },
}

/// One fault, crash or damage, with the call, path and offset it struck.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FsEvent {
    /// The index (1-based) of the call it struck, counting all calls; for
    /// a crash on a timer, the last call before it.
    pub op_index: u64,
    /// The crash generation it happened in (after the crash, for crashes).
    pub generation: u64,
    /// The operation.
    pub op: Op,
    /// Where the engine made the call it struck (for a torn write: the
    /// write that tore; for a crash on a timer: the phases then, `-`).
    pub site: Site,
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
            "op={} gen={} {} site={} path={} offset={} len={} ",
            self.op_index,
            self.generation,
            self.op.name(),
            self.site,
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
            Happening::Damage { file, cause } => {
                let cause = match cause {
                    DamageCause::MisdirectedFrom => "misdirected-from",
                    DamageCause::MisdirectedTo => "misdirected-to",
                };
                write!(f, "damage={cause} file={}", file.get())
            }
            Happening::ErrorReported { failed_at } => {
                write!(f, "error-reported failed-at={failed_at}")
            }
        }
    }
}

/// How a call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CallOutcome {
    /// It returned `Ok`.
    Ok,
    /// It returned an error of this kind.
    Failed(io::ErrorKind),
    /// The machine went down instead of serving it.
    Crashed,
}

/// One call the filesystem served, as the harness's judge sees it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CallRecord {
    /// Its index (1-based, every call since the filesystem was made).
    pub call: u64,
    /// The crash generation (process incarnation) that made it.
    pub generation: u64,
    /// The operation.
    pub op: Op,
    /// Where the engine made it.
    pub site: Site,
    /// The path (`from -> to` for a rename).
    pub path: String,
    /// The byte offset (or new length, for `set_len`).
    pub offset: u64,
    /// The bytes asked for.
    pub len: u64,
    /// How it ended.
    pub outcome: CallOutcome,
}

/// One entry of the filesystem's log, in the order things happened: a
/// fault is logged before the call it struck ends.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum FsRecord {
    /// A call ended.
    Call(CallRecord),
    /// A fault, crash or damage.
    Event(FsEvent),
}

/// Counters of what the filesystem did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FsStats {
    /// Every operation, reads included: the call index.
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
    handle: HandleId,
}

impl fmt::Debug for SimFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimFile").field("generation", &self.generation).finish_non_exhaustive()
    }
}

impl SimFs {
    /// An empty filesystem (just `/`) whose faults are drawn from `config`
    /// on `seed`'s streams.
    pub fn new(seed: Seed, config: FaultConfig) -> Self {
        SimFs::with_decider(Decider::drawn(seed, config))
    }

    /// An empty filesystem whose fault and crash decisions are exactly
    /// `schedule`'s (nothing is drawn); `config` says only how a power loss
    /// tears writes (its torn-write rate and fill). A run replayed this way
    /// from the schedule another run recorded repeats that run.
    pub fn replaying(seed: Seed, config: FaultConfig, schedule: &Schedule) -> Self {
        SimFs::with_decider(Decider::pinned(seed, config, schedule))
    }

    fn with_decider(decider: Decider) -> Self {
        SimFs { disk: Arc::new(Mutex::new(Disk::new(decider))), generation: 0 }
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

    /// The crash generation this handle belongs to.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Crashes the machine now: a consequence, not a decision of a
    /// schedule (the harness's final power loss; tests). Writes may tear
    /// if the configuration tears writes.
    pub fn crash(&self, mode: CrashMode) {
        let mut disk = self.disk.lock();
        let (call, torn) = (disk.stats.ops, disk.decider.tears_by_default());
        disk.crash(mode, torn, call, Site::here(Op::Crash), "");
    }

    /// Takes the process down after a failure (a poisoned write, an open
    /// that failed on a fault): a power loss with `power_loss_probability`,
    /// else a process crash, drawn from the filesystem's own stream (the
    /// same in drawn and pinned runs). Returns how it went down.
    pub fn go_down(&self, power_loss_probability: f64) -> CrashMode {
        let mut disk = self.disk.lock();
        let mode = disk.decider.consequence_mode(power_loss_probability);
        let (call, torn) = (disk.stats.ops, disk.decider.tears_by_default());
        disk.crash(mode, torn, call, Site::here(Op::Crash), "");
        mode
    }

    /// Arms the plan's crash just before mutation number `mutation` (1-based,
    /// counted since creation: see [`FsStats::mutations`]); that operation
    /// does not happen and fails with a "simulated crash" error. In a
    /// pinned run the schedule says where crashes strike, and this does
    /// nothing.
    pub fn crash_at_mutation(&self, mutation: u64, mode: CrashMode) {
        let mut disk = self.disk.lock();
        assert!(mutation > disk.stats.mutations, "crash point {mutation} is in the past");
        disk.decider.arm_crash_point(mutation, mode);
    }

    /// Removes a crash point that has not struck yet.
    pub fn clear_crash_point(&self) {
        self.disk.lock().decider.disarm_crash_point();
    }

    /// Arms the plan's crash timer of `incarnation` at `deadline_ns` of
    /// simulated time. In a pinned run only the schedule says whether a
    /// crash strikes; the plan's timer still wakes the harness at the same
    /// time, so that its tasks are scheduled as in the run that recorded
    /// the schedule.
    pub fn arm_crash_timer(&self, incarnation: u32, deadline_ns: u64, mode: CrashMode) {
        self.disk.lock().decider.arm_timer(incarnation, deadline_ns, mode);
    }

    /// The deadline of `incarnation`'s crash timer at or after `now_ns`, if
    /// one is armed (drawn) or scheduled (pinned): the harness sleeps until
    /// then and calls [`SimFs::fire_crash_timer`].
    pub fn crash_timer_deadline(&self, incarnation: u32, now_ns: u64) -> Option<u64> {
        self.disk.lock().decider.timer_deadline(incarnation, now_ns)
    }

    /// `incarnation`'s crash timer went off at `deadline_ns`: crashes the
    /// machine if a crash was due then, and returns how. The harness calls
    /// it whenever a deadline it slept to comes, and then asks for the next
    /// one.
    pub fn fire_crash_timer(&self, incarnation: u32, deadline_ns: u64) -> Option<CrashMode> {
        let mut disk = self.disk.lock();
        let (mode, torn) = disk.decider.timer_fired(incarnation, deadline_ns)?;
        let call = disk.stats.ops;
        disk.crash(mode, torn, call, Site::here(Op::Crash), "");
        Some(mode)
    }

    /// Aims a strike at a site (directed search; see [`Focus`]). A drawn
    /// run only: in a pinned one the schedule says what strikes.
    pub fn set_focus(&self, focus: Option<Focus>) {
        self.disk.lock().decider.set_focus(focus);
    }

    /// Switches every fault on or off at once, drawn or pinned (crashes
    /// still strike). Used to give recovery a fault-free run.
    pub fn set_faults_enabled(&self, enabled: bool) {
        self.disk.lock().decider.enabled = enabled;
    }

    /// Replaces the configuration faults are drawn from (and power losses
    /// tear by).
    pub fn set_fault_config(&self, config: FaultConfig) {
        self.disk.lock().set_config(config);
    }

    /// More than `calls_max` calls from now on panic with
    /// [`CALL_BUDGET_MARKER`]: a hang.
    pub fn set_call_budget(&self, calls_max: u64) {
        let mut disk = self.disk.lock();
        disk.calls_budget = calls_max;
        disk.calls_max = disk.stats.ops.saturating_add(calls_max);
    }

    /// How many faults of each class fired.
    pub fn fault_counts(&self) -> FaultCounts {
        self.disk.lock().counts.clone()
    }

    /// Every fault, crash and damage so far, in order.
    pub fn events(&self) -> Vec<FsEvent> {
        self.disk.lock().events.clone()
    }

    /// Takes the log of calls and events since the last take.
    pub fn take_log(&self) -> Vec<FsRecord> {
        std::mem::take(&mut self.disk.lock().log)
    }

    /// Every fault and crash decision made so far (drawn or pinned), as a
    /// schedule that replays them.
    pub fn schedule(&self) -> Schedule {
        Schedule { decisions: self.disk.lock().decider.recorded().to_vec() }
    }

    /// The decisions of a pinned schedule that have not struck (yet).
    pub fn unused_decisions(&self) -> Vec<Decision> {
        self.disk.lock().decider.unused()
    }

    /// Whether decisions come from a pinned schedule.
    pub fn is_pinned(&self) -> bool {
        self.disk.lock().decider.is_pinned()
    }

    /// Operation counters.
    pub fn stats(&self) -> FsStats {
        self.disk.lock().stats
    }

    /// A hash of every operation and event so far: same seed, same hash.
    pub fn trace_hash(&self) -> u64 {
        self.disk.lock().trace.finish()
    }

    /// The disk as `view` shows it, for a checker to inspect. Taking it is
    /// not a call: it is not counted, traced or faulted.
    pub fn image(&self, view: View) -> DiskImage {
        self.disk.lock().image(view)
    }

    /// A new, independent filesystem holding what this one's page cache
    /// holds, all of it durable, with no faults: a second machine to open
    /// a copy of the database on.
    pub fn fork(&self) -> SimFs {
        let forked = self.disk.lock().fork();
        SimFs { disk: Arc::new(Mutex::new(forked)), generation: 0 }
    }

    fn file(&self, (id, handle): (NodeId, HandleId)) -> Box<dyn File> {
        let disk = Arc::clone(&self.disk);
        Box::new(SimFile { disk, generation: self.generation, id, handle })
    }
}

impl Fs for SimFs {
    fn create(&self, path: &Path) -> io::Result<Box<dyn File>> {
        let opened = self.disk.lock().create(self.generation, path)?;
        Ok(self.file(opened))
    }

    fn open(&self, path: &Path) -> io::Result<Box<dyn File>> {
        let opened = self.disk.lock().open(self.generation, path)?;
        Ok(self.file(opened))
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
        self.disk.lock().sync_data(self.generation, self.id, self.handle)
    }
}
