//! Real crashes on a real disk: a driver process runs the engine on RealFs
//! and reports every acknowledged (durable) offset on stdout; the parent
//! kills it with SIGKILL at seeded moments, reopens the database and checks
//! that every acknowledged transaction is there and the state equals the
//! model of some prefix.
//!
//! The workload is a pure function of (seed, offset), so the parent can
//! compute the model at whatever offset a recovery lands on.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
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
    /// SIGKILLs sent to a running driver.
    pub kills: u64,
    /// Kills that landed inside a durability step that rotates a segment.
    pub during_rotation: u64,
    /// Kills that landed inside a snapshot persist.
    pub during_snapshot: u64,
    /// The highest offset the driver acknowledged.
    pub acked: u64,
    /// The offset the last recovery landed on.
    pub recovered: u64,
    /// Snapshots that recoveries restored from.
    pub restored_from_snapshot: u64,
}

/// Where the driver was when it died, from the last line it printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Other,
    RotatingStep,
    Snapshot,
}

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

/// Runs `kills` rounds of start, kill, recover, check against `dir` (which
/// may hold a database from earlier rounds). Panics with the seed on any
/// broken promise.
pub fn kill_loop(driver: &Path, dir: &Path, seed: u64, kills: u64) -> KillReport {
    std::fs::create_dir_all(dir).expect("create the database directory");
    let mut rng = Seed(seed).rng(Stream::CrashPoints);
    let mut report = KillReport::default();
    let mut acked: Option<u64> = None;
    for round in 0..kills {
        let aim = match rng.random_range(0..10u8) {
            0..=3 => Aim::Snapshot { skip: rng.random_range(0..40) },
            4..=6 => Aim::Rotation { skip: rng.random_range(0..40) },
            _ => Aim::Lines { lines: rng.random_range(1..600) },
        };
        let (round_acked, phase) = run_and_kill(driver, dir, seed, aim);
        report.kills += 1;
        match phase {
            Phase::RotatingStep => report.during_rotation += 1,
            Phase::Snapshot => report.during_snapshot += 1,
            Phase::Other => {}
        }
        acked = acked.max(round_acked);
        let context = format!("seed={seed:#x} round={round} aim={aim:?} phase={phase:?}");
        let (db, open) = Database::open(Arc::new(RealFs::new()), dir, options())
            .unwrap_or_else(|e| panic!("{context}: reopen failed: {e}"));
        let recovered = db.latest().offset().expect("bootstrapped");
        if let Some(acked) = acked {
            assert!(
                recovered >= acked,
                "{context}: acknowledged {acked}, recovered only {recovered}"
            );
        }
        db.latest().check().unwrap_or_else(|e| panic!("{context}: {e}"));
        if recovered > CREATE_OFFSET {
            let rows: BTreeSet<Row> =
                db.latest().rows(TABLE).expect("created").into_iter().collect();
            assert!(
                rows == model_at(seed, recovered),
                "{context}: state differs from the model at {recovered}"
            );
        }
        report.restored_from_snapshot += u64::from(open.restored_from.is_some());
        report.recovered = recovered;
    }
    report.acked = acked.unwrap_or(0);
    report
}

/// Starts the driver, kills it at the aimed moment, and returns the
/// highest offset it acknowledged and the phase it died in.
fn run_and_kill(driver: &Path, dir: &Path, seed: u64, aim: Aim) -> (Option<u64>, Phase) {
    let mut child = Command::new(driver)
        .arg(dir)
        .arg(seed.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", driver.display()));
    let stdout = child.stdout.take().expect("piped");
    let mut lines = BufReader::new(stdout).lines();
    let mut acked = None;
    let mut phase = Phase::Other;
    let mut seen = 0u64;
    let mut killed = false;
    while let Some(Ok(line)) = lines.next() {
        seen += 1;
        phase = note(&line, &mut acked, phase);
        let fire = match aim {
            Aim::Snapshot { skip } => seen > skip && phase == Phase::Snapshot,
            Aim::Rotation { skip } => seen > skip && phase == Phase::RotatingStep,
            Aim::Lines { lines } => seen >= lines,
        };
        if !killed && (fire || seen > 5_000) {
            child.kill().expect("SIGKILL the driver");
            killed = true;
        }
    }
    // Everything printed before the kill is read (the pipe keeps it).
    let status = child.wait().expect("reap the driver");
    assert!(killed && !status.success(), "the driver died on its own: {status}");
    (acked, phase)
}

fn note(line: &str, acked: &mut Option<u64>, phase: Phase) -> Phase {
    let mut words = line.split_whitespace();
    match (words.next(), words.next()) {
        (Some("acked"), Some(offset)) => {
            *acked = Some(offset.parse().expect("an offset"));
            Phase::Other
        }
        (Some("step"), Some(rotate)) => {
            if rotate == "rotate=true" {
                Phase::RotatingStep
            } else {
                Phase::Other
            }
        }
        (Some("snapshot-begin"), _) => Phase::Snapshot,
        (Some("snapshot-end"), _) => Phase::Other,
        _ => phase,
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
