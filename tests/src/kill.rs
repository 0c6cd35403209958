//! Real crashes on a real disk: a driver process runs the engine on RealFs
//! and reports every acknowledged (durable) offset on stdout; the parent
//! kills it with SIGKILL at seeded moments, reopens the database and checks
//! that every acknowledged transaction is there and the state equals the
//! model of some prefix.
//!
//! The workload is a pure function of (seed, offset), so the parent can
//! compute the model at whatever offset a recovery lands on.
//!
//! A cycle can do more than SIGKILL ([`CycleHooks`]): on LazyFS
//! (`crate::lazyfs`) it cuts the power after the kill, or arms a torn write
//! at the aimed moment and lets the driver run into it.

use std::collections::BTreeSet;
use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;

use faultline_engine::datastore::{ColumnDef, ColumnType, Row, Value};
use faultline_engine::fs::RealFs;
use faultline_engine::{Database, Options};
use faultline_sim::{Seed, SimRng, Stream};
use rand::RngExt;

/// The table the workload writes.
pub const TABLE: &str = "kv";
/// The offset of the transaction that creates [`TABLE`] (0 is bootstrap).
pub const CREATE_OFFSET: u64 = 1;

/// Small segments and frequent snapshots, so that kills land in rotations
/// and snapshot persists.
pub fn options() -> Options {
    let mut options = Options::default();
    options.log.max_segment_size = 16 << 10;
    options.snapshots.every_txs = 25;
    options.snapshots.retain = 2;
    options.snapshots.chain_max = 3;
    options
}

/// The columns of [`TABLE`].
pub fn columns() -> Vec<ColumnDef> {
    vec![ColumnDef::new("id", ColumnType::U64), ColumnDef::new("payload", ColumnType::Bytes)]
}

/// The row the transaction at `offset` inserts.
pub fn row(seed: u64, offset: u64) -> Row {
    let mut rng: SimRng = Seed(seed ^ offset.rotate_left(17)).rng(Stream::Workload);
    let len = rng.random_range(0..400usize);
    let byte: u8 = rng.random();
    vec![Value::U64(offset), Value::Bytes(vec![byte; len])]
}

/// What the transaction at `offset` (>= 2) does: insert its row, and every
/// fifth transaction also delete the row inserted five earlier.
pub fn mutations(seed: u64, offset: u64) -> (Row, Option<Row>) {
    assert!(offset > CREATE_OFFSET);
    let delete =
        (offset.is_multiple_of(5) && offset >= CREATE_OFFSET + 6).then(|| row(seed, offset - 5));
    (row(seed, offset), delete)
}

/// The rows of [`TABLE`] after every transaction up to `offset`.
pub fn model_at(seed: u64, offset: u64) -> BTreeSet<Row> {
    let mut rows = BTreeSet::new();
    for at in CREATE_OFFSET + 1..=offset {
        let (insert, delete) = mutations(seed, at);
        rows.insert(insert);
        if let Some(delete) = delete {
            assert!(rows.remove(&delete), "the workload deletes only rows it inserted");
        }
    }
    rows
}

/// What the kill loop saw.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KillReport {
    /// Cycles run: start, kill or fault, recover, check.
    pub cycles: u64,
    /// SIGKILLs sent to a running driver.
    pub kills: u64,
    /// Drivers that died of a fault the hooks armed (the filesystem under
    /// them crashed) before any SIGKILL.
    pub died_of_fault: u64,
    /// Deaths that landed inside a durability step that rotates a segment.
    pub during_rotation: u64,
    /// Deaths that landed inside a snapshot persist.
    pub during_snapshot: u64,
    /// The highest offset the driver acknowledged.
    pub acked: u64,
    /// The offset the last recovery landed on.
    pub recovered: u64,
    /// Snapshots that recoveries restored from.
    pub restored_from_snapshot: u64,
}

impl KillReport {
    /// Adds a later batch's counts; `acked` and `recovered` become the
    /// batch's (each batch has a database of its own).
    pub fn add(&mut self, batch: &KillReport) {
        self.cycles += batch.cycles;
        self.kills += batch.kills;
        self.died_of_fault += batch.died_of_fault;
        self.during_rotation += batch.during_rotation;
        self.during_snapshot += batch.during_snapshot;
        self.restored_from_snapshot += batch.restored_from_snapshot;
        self.acked = batch.acked;
        self.recovered = batch.recovered;
    }
}

/// Where the driver was when it died, from the last line it printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Between steps, or in a step that does not rotate.
    Other,
    /// In a durability step whose commit starts a new segment.
    RotatingStep,
    /// Between `snapshot-begin` and `snapshot-end`.
    Snapshot,
}

/// A durability step, as the driver announces it before the commit
/// (`step rotate=R offset=N len=L head=H`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    /// The commit's offset (in a rotating step, the first offset of the
    /// segment it creates).
    pub offset: u64,
    /// Whether the commit starts a new segment.
    pub rotate: bool,
    /// The commit's encoded length, if the driver says (older drivers
    /// do not).
    pub commit_len: Option<u64>,
    /// The length of the segment being written before the commit: where
    /// a commit that does not rotate is written.
    pub head_len: Option<u64>,
}

/// The aimed moment of a cycle, or a line after it, handed to
/// [`CycleHooks::at_aim`] while the driver runs.
#[derive(Clone, Copy, Debug)]
pub struct Moment<'a> {
    /// The cycle, counted from 0 in this loop.
    pub cycle: u64,
    /// The database directory.
    pub dir: &'a Path,
    /// Where the driver is, from its last line.
    pub phase: Phase,
    /// The last step the driver announced.
    pub step: Option<Step>,
    /// Whether the driver is paced ([`CycleHooks::paced`]) and waits right
    /// before `step`'s commit: nothing of it is written yet.
    pub before_step: bool,
}

/// What to do with the driver at the aimed moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AtAim {
    /// SIGKILL it now.
    Kill,
    /// A fault is armed: let the driver run into it (it dies when the
    /// filesystem under it crashes), and SIGKILL it after `lines_max` more
    /// lines if it has not died by then.
    RunInto {
        /// The most lines the driver may print after the aimed moment.
        lines_max: u64,
    },
    /// Not this line: ask again at the next one.
    NotYet,
}

/// An error of the hooks: the filesystem under test failed, which says
/// nothing about the engine.
pub type HookError = Box<dyn std::error::Error + Send + Sync>;

/// What a cycle does besides the SIGKILL. A real disk keeps all a killed
/// process wrote, so [`SigkillOnly`] does nothing; a filesystem that can
/// cut the power (LazyFS) drops what was not synced after the death, or
/// arms a fault at the aimed moment instead of killing.
pub trait CycleHooks {
    /// Before the cycle starts the driver.
    fn before_cycle(&mut self, cycle: u64) -> Result<(), HookError>;
    /// Whether this cycle's driver stops before each commit until told to
    /// go on (`crash_driver DIR SEED paced`): a fault armed for a step's
    /// write must be armed before the write. Asked once the cycle began.
    fn paced(&self) -> bool;
    /// At the aimed moment, the driver still running (paused before a
    /// commit if paced), and at each line after it while the answer is
    /// [`AtAim::NotYet`].
    fn at_aim(&mut self, moment: &Moment<'_>) -> Result<AtAim, HookError>;
    /// After the driver died and was reaped, before the reopen.
    fn after_death(&mut self, cycle: u64) -> Result<(), HookError>;
    /// What this cycle did besides the kill, for a failure's context.
    fn cycle_fault(&self) -> String;
}

/// The hooks of a plain SIGKILL loop: nothing but the kill.
#[derive(Clone, Copy, Debug, Default)]
pub struct SigkillOnly;

impl CycleHooks for SigkillOnly {
    fn before_cycle(&mut self, _cycle: u64) -> Result<(), HookError> {
        Ok(())
    }

    fn paced(&self) -> bool {
        false
    }

    fn at_aim(&mut self, _moment: &Moment<'_>) -> Result<AtAim, HookError> {
        Ok(AtAim::Kill)
    }

    fn after_death(&mut self, _cycle: u64) -> Result<(), HookError> {
        Ok(())
    }

    fn cycle_fault(&self) -> String {
        "sigkill".to_owned()
    }
}

/// Why a cycle loop stopped.
#[derive(Debug)]
pub enum CycleError {
    /// The engine broke a promise.
    Broken(BrokenPromise),
    /// The driver died though neither killed nor faulted.
    DriverDied {
        /// Seed, cycle, aim and phase.
        context: String,
        /// How it ended.
        status: ExitStatus,
        /// The end of what it printed on stderr.
        stderr_tail: String,
    },
    /// The hooks failed: the filesystem under test, not the engine.
    Hooks {
        /// Seed, cycle, aim and phase.
        context: String,
        /// What failed.
        source: HookError,
    },
}

/// A broken promise, with what it takes to find it again.
#[derive(Debug)]
pub struct BrokenPromise {
    /// Seed, cycle, aim, phase and fault of the cycle.
    pub context: String,
    /// The cycle, counted from 0 in its loop.
    pub cycle: u64,
    /// The highest offset acknowledged before this recovery.
    pub acked: Option<u64>,
    /// What broke.
    pub kind: Broken,
}

/// The promises a recovery checks.
#[derive(Debug, PartialEq, Eq)]
pub enum Broken {
    /// Acknowledged transactions are missing.
    Lost {
        /// The highest offset acknowledged before this recovery.
        acked: u64,
        /// The offset the recovery landed on.
        recovered: u64,
    },
    /// The database did not open.
    Reopen(String),
    /// The recovered state failed its own check.
    Check(String),
    /// The recovered rows are not the model's at the recovered offset.
    Model {
        /// The offset the recovery landed on.
        recovered: u64,
    },
}

impl fmt::Display for Broken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Broken::Lost { acked, recovered } => {
                write!(f, "acknowledged {acked}, recovered only {recovered}")
            }
            Broken::Reopen(error) => write!(f, "reopen failed: {error}"),
            Broken::Check(error) => write!(f, "{error}"),
            Broken::Model { recovered } => {
                write!(f, "state differs from the model at {recovered}")
            }
        }
    }
}

impl fmt::Display for CycleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CycleError::Broken(broken) => {
                let acked = broken.acked.map_or("none".to_owned(), |a| a.to_string());
                write!(f, "{} acked={acked}: {}", broken.context, broken.kind)
            }
            CycleError::DriverDied { context, status, stderr_tail } => {
                write!(f, "{context}: the driver died on its own: {status}; stderr: {stderr_tail}")
            }
            CycleError::Hooks { context, source } => write!(f, "{context}: {source}"),
        }
    }
}

impl std::error::Error for CycleError {}

/// How the parent picks the moment to kill.
#[derive(Clone, Copy, Debug)]
enum Aim {
    /// At the first snapshot persist after `skip` lines.
    Snapshot { skip: u64 },
    /// At the first rotating step after `skip` lines.
    Rotation { skip: u64 },
    /// After `lines` lines.
    Lines { lines: u64 },
}

/// How a driver's run ended.
struct Run {
    acked: Option<u64>,
    phase: Phase,
    killed: bool,
    armed: bool,
    status: ExitStatus,
    stderr: String,
}

/// A driver is killed anyway once it printed more lines than this.
const LINES_MAX: u64 = 5_000;
/// The most bytes of a driver's stderr a report quotes.
const STDERR_TAIL_MAX: usize = 2_000;

/// Runs `kills` rounds of start, kill, recover, check against `dir` (which
/// may hold a database from earlier rounds). Panics with the seed on any
/// broken promise.
pub fn kill_loop(driver: &Path, dir: &Path, seed: u64, kills: u64) -> KillReport {
    cycle_loop(driver, dir, seed, kills, &mut SigkillOnly).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs `cycles` rounds of start, kill (or `hooks`' fault), `hooks`' power
/// cut, recover, check against `dir` (which may hold a database from
/// earlier rounds). Stops at the first broken promise or failed hook.
pub fn cycle_loop(
    driver: &Path,
    dir: &Path,
    seed: u64,
    cycles: u64,
    hooks: &mut dyn CycleHooks,
) -> Result<KillReport, CycleError> {
    std::fs::create_dir_all(dir).expect("create the database directory");
    let mut rng = Seed(seed).rng(Stream::CrashPoints);
    let mut report = KillReport::default();
    let mut acked: Option<u64> = None;
    for cycle in 0..cycles {
        let aim = match rng.random_range(0..10u8) {
            0..=3 => Aim::Snapshot { skip: rng.random_range(0..40) },
            4..=6 => Aim::Rotation { skip: rng.random_range(0..40) },
            _ => Aim::Lines { lines: rng.random_range(1..600) },
        };
        let context = |phase: Option<Phase>, hooks: &dyn CycleHooks| {
            let phase = phase.map_or(String::new(), |p| format!(" phase={p:?}"));
            format!("seed={seed:#x} cycle={cycle} aim={aim:?}{phase} fault={}", hooks.cycle_fault())
        };
        let hook_error = |phase, hooks: &dyn CycleHooks, source| CycleError::Hooks {
            context: context(phase, hooks),
            source,
        };
        hooks.before_cycle(cycle).map_err(|e| hook_error(None, hooks, e))?;
        let run = run_cycle(driver, dir, seed, cycle, aim, hooks)
            .map_err(|e| hook_error(None, hooks, e))?;
        if !run.killed && !run.armed {
            return Err(CycleError::DriverDied {
                context: context(Some(run.phase), hooks),
                status: run.status,
                stderr_tail: run.stderr,
            });
        }
        report.cycles += 1;
        report.kills += u64::from(run.killed);
        report.died_of_fault += u64::from(!run.killed);
        match run.phase {
            Phase::RotatingStep => report.during_rotation += 1,
            Phase::Snapshot => report.during_snapshot += 1,
            Phase::Other => {}
        }
        acked = acked.max(run.acked);
        hooks.after_death(cycle).map_err(|e| hook_error(Some(run.phase), hooks, e))?;
        let (recovered, restored) = reopen_and_check(dir, seed, acked).map_err(|kind| {
            CycleError::Broken(BrokenPromise {
                context: context(Some(run.phase), hooks),
                cycle,
                acked,
                kind,
            })
        })?;
        report.restored_from_snapshot += u64::from(restored);
        report.recovered = recovered;
    }
    report.acked = acked.unwrap_or(0);
    Ok(report)
}

/// Opens the database and checks it: every acknowledged offset recovered,
/// the state consistent and the model's at the recovered offset. Returns
/// the recovered offset and whether a snapshot was restored.
fn reopen_and_check(dir: &Path, seed: u64, acked: Option<u64>) -> Result<(u64, bool), Broken> {
    let (db, open) = Database::open(Arc::new(RealFs::new()), dir, options())
        .map_err(|e| Broken::Reopen(e.to_string()))?;
    let recovered = db.latest().offset().expect("bootstrapped");
    if let Some(acked) = acked
        && recovered < acked
    {
        return Err(Broken::Lost { acked, recovered });
    }
    db.latest().check().map_err(|e| Broken::Check(e.to_string()))?;
    if recovered > CREATE_OFFSET {
        let rows: BTreeSet<Row> = db.latest().rows(TABLE).expect("created").into_iter().collect();
        if rows != model_at(seed, recovered) {
            return Err(Broken::Model { recovered });
        }
    }
    Ok((recovered, open.restored_from.is_some()))
}

/// Starts the driver, and at the aimed moment kills it or lets it run into
/// the fault `hooks` armed; returns how it ended.
fn run_cycle(
    driver: &Path,
    dir: &Path,
    seed: u64,
    cycle: u64,
    aim: Aim,
    hooks: &mut dyn CycleHooks,
) -> Result<Run, HookError> {
    let paced = hooks.paced();
    let mut command = Command::new(driver);
    command.arg(dir).arg(seed.to_string());
    if paced {
        command.arg("paced").stdin(Stdio::piped());
    }
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", driver.display()));
    let mut go = child.stdin.take();
    let stderr = child.stderr.take().expect("piped");
    let stderr = std::thread::spawn(move || tail_of(stderr));
    let stdout = child.stdout.take().expect("piped");
    let mut lines = BufReader::new(stdout).lines();
    let mut acked = None;
    let mut phase = Phase::Other;
    let mut step = None;
    let mut seen = 0u64;
    let mut lines_last = LINES_MAX + 1;
    let mut aimed = false;
    let mut decided = false;
    let mut armed = false;
    let mut killed = false;
    while let Some(Ok(line)) = lines.next() {
        seen += 1;
        let step_line;
        (phase, step_line) = note(&line, &mut acked, &mut step, phase);
        aimed = aimed || at_aim(aim, seen, phase);
        if aimed && !decided {
            let moment = Moment { cycle, dir, phase, step, before_step: paced && step_line };
            match hooks.at_aim(&moment) {
                Ok(AtAim::NotYet) => {}
                Ok(AtAim::Kill) => (decided, lines_last) = (true, seen),
                Ok(AtAim::RunInto { lines_max }) => {
                    (decided, armed) = (true, true);
                    lines_last = lines_last.min(seen + lines_max);
                }
                Err(error) => {
                    kill_and_reap(&mut child);
                    return Err(error);
                }
            }
        }
        if !killed && seen >= lines_last {
            child.kill().expect("SIGKILL the driver");
            killed = true;
        }
        if let Some(stdin) = go.as_mut().filter(|_| step_line && !killed) {
            // A driver that died already cannot read it: no matter.
            let _ = stdin.write_all(b"go\n").and_then(|()| stdin.flush());
        }
    }
    drop(go);
    // Everything printed before the death is read (the pipe keeps it).
    let status = child.wait().expect("reap the driver");
    let stderr = stderr.join().expect("the stderr reader");
    assert!(!status.success(), "the driver never exits by itself: {status}");
    Ok(Run { acked, phase, killed, armed, status, stderr })
}

fn at_aim(aim: Aim, seen: u64, phase: Phase) -> bool {
    match aim {
        Aim::Snapshot { skip } => seen > skip && phase == Phase::Snapshot,
        Aim::Rotation { skip } => seen > skip && phase == Phase::RotatingStep,
        Aim::Lines { lines } => seen >= lines,
    }
}

fn kill_and_reap(child: &mut Child) {
    // The driver may have died already: then kill fails, and wait reaps.
    let _ = child.kill();
    let _ = child.wait();
}

/// The last [`STDERR_TAIL_MAX`] bytes of what `stream` carries until EOF.
fn tail_of(mut stream: impl Read) -> String {
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes);
    let start = bytes.len().saturating_sub(STDERR_TAIL_MAX);
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

/// Reads one line of the driver: the phase it is in after it, and whether
/// it announced a step.
fn note(
    line: &str,
    acked: &mut Option<u64>,
    step: &mut Option<Step>,
    phase: Phase,
) -> (Phase, bool) {
    let mut words = line.split_whitespace();
    match (words.next(), words.next()) {
        (Some("acked"), Some(offset)) => {
            *acked = Some(offset.parse().expect("an offset"));
            (Phase::Other, false)
        }
        (Some("step"), Some(rotate)) => {
            let rotate = rotate == "rotate=true";
            let mut fields = std::collections::BTreeMap::new();
            for word in words {
                if let Some((key, value)) = word.split_once('=') {
                    fields.insert(key, value.parse::<u64>().expect("a number"));
                }
            }
            let offset = *fields.get("offset").expect("a step names its offset");
            let commit_len = fields.get("len").copied();
            let head_len = fields.get("head").copied();
            *step = Some(Step { offset, rotate, commit_len, head_len });
            (if rotate { Phase::RotatingStep } else { Phase::Other }, true)
        }
        (Some("snapshot-begin"), _) => (Phase::Snapshot, false),
        (Some("snapshot-end"), _) => (Phase::Other, false),
        _ => (phase, false),
    }
}

/// The crash driver's path, next to the running test or sweep binary.
pub fn driver_path(hint: Option<&str>) -> PathBuf {
    if let Some(path) = hint {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("the running binary");
    let dir = exe.parent().expect("a directory");
    let dir = if dir.ends_with("deps") { dir.parent().expect("target/<profile>") } else { dir };
    dir.join("crash_driver")
}
