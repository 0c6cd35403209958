//! The oracle against engines that are broken on purpose (test-only
//! scenarios): it must catch a lost acknowledged transaction, a write path
//! that touches the disk again after a failed write, a snapshot an open
//! has to pass over and a snapshot that fails with no fault to blame, and
//! it must hold a lying fsync only to consistency, not durability.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use faultline_engine::Database;
use faultline_engine::fs::{File, Fs};
use faultline_engine::snapshot::PAGE_MAGIC;
use faultline_scenarios::{
    EngineTask, FailureKind, Invariant, Plan, RunConfig, Scenario, TaskStep, Violation, report, run,
};
use faultline_sim::{FaultClass, FaultConfig, Seed, SimRng};
use faultline_tests::broken_fs::{Breakage, BrokenFs};

/// An `Fs` whose files never sync their data (and say they did).
/// A broken engine's files: fsync does nothing.
#[derive(Debug)]
struct SkipFsync;

impl Breakage for SkipFsync {
    fn sync_data(&self, _file: &dyn File) -> io::Result<()> {
        Ok(())
    }
}

/// A broken engine: it never syncs file data.
struct NoSync;

impl Scenario for NoSync {
    fn name(&self) -> &str {
        "no_sync"
    }

    fn summary(&self) -> &str {
        "test only: an engine that never syncs"
    }

    fn plan(&self, _seed: Seed) -> Plan {
        Plan::default()
    }

    fn wrap_fs(&self, fs: Arc<dyn Fs>) -> Arc<dyn Fs> {
        Arc::new(BrokenFs::new(fs, SkipFsync))
    }
}

#[test]
fn an_engine_that_never_syncs_loses_acknowledged_transactions_and_is_caught() {
    let result = run(&NoSync, Seed(1), &RunConfig::default());
    let failure =
        result.outcome.failure().expect("the final power loss loses what was acknowledged");
    // Depending on what the lost page cache leaves, the acknowledged
    // transactions are gone from a log that still opens, or the log's
    // segment lost even its header and is refused though no fault hit it.
    let caught = [Invariant::AckedLost, Invariant::RefusedHealthyHistory]
        .map(FailureKind::Invariant)
        .contains(&failure.kind);
    assert!(caught, "{failure}");
    let text = report::failure_text(&result);
    assert!(text.contains("repro: cargo run --release -p faultline-scenarios -- replay --scenario no_sync --seed 0x"), "{text}");
}

/// A disk whose fsync sometimes lies: durability is void, consistency is
/// still required.
struct LyingDisk;

impl Scenario for LyingDisk {
    fn name(&self) -> &str {
        "lying_disk"
    }

    fn summary(&self) -> &str {
        "test only: lying fsyncs, checked for consistency"
    }

    fn plan(&self, _seed: Seed) -> Plan {
        Plan {
            faults: FaultConfig::none().with(FaultClass::LyingFsync, 0.3),
            incarnations: 3,
            ..Plan::default()
        }
    }
}

#[test]
fn a_lying_fsync_is_held_to_consistency_not_durability() {
    let mut refused = 0;
    for seed in 0..8 {
        let result = run(&LyingDisk, Seed(seed), &RunConfig::default());
        assert!(
            result.stats.faults.get(FaultClass::LyingFsync) > 0,
            "seed={seed}: the fsyncs lied"
        );
        match result.outcome.failure() {
            None => refused += u32::from(result.outcome.label() == "refused"),
            Some(failure) => panic!("seed={seed}: {failure}\n{}", report::failure_text(&result)),
        }
    }
    eprintln!("lying disk: {refused} of 8 seeds refused a history the lies broke");
}

/// An `Fs` whose files, after a failed write, look at the file again
/// before reporting the failure: the engine poisons, but not before the
/// disk was touched again.
/// A broken engine's files: after a failed write it looks at the file
/// again (a retry in disguise).
#[derive(Debug)]
struct PeekAfterFailure;

impl Breakage for PeekAfterFailure {
    fn write_at(&self, file: &dyn File, buf: &[u8], offset: u64) -> io::Result<()> {
        file.write_at(buf, offset).inspect_err(|_| {
            let _ = file.len();
        })
    }
}

/// A broken engine: it touches the disk after a failed write.
struct Peeking;

impl Scenario for Peeking {
    fn name(&self) -> &str {
        "peeking"
    }

    fn summary(&self) -> &str {
        "test only: an engine that touches the disk after a failed write"
    }

    fn plan(&self, _seed: Seed) -> Plan {
        Plan {
            faults: FaultConfig::none().with(FaultClass::WriteError, 0.2),
            incarnations: 2,
            ..Plan::default()
        }
    }

    fn wrap_fs(&self, fs: Arc<dyn Fs>) -> Arc<dyn Fs> {
        Arc::new(BrokenFs::new(fs, PeekAfterFailure))
    }
}

#[test]
fn touching_the_disk_after_a_failed_write_is_caught() {
    let result = run(&Peeking, Seed(3), &RunConfig::default());
    let failure = result.outcome.failure().expect("the write after the failure is seen");
    assert_eq!(failure.kind, FailureKind::Invariant(Invariant::RetriedAfterError), "{failure}");
    assert_eq!(failure.detail, "fs-calls-after-the-failed-one=1");
}

/// What a broken engine does to the page files of its snapshots.
#[derive(Debug, Clone, Copy)]
enum PageBreakage {
    /// Writes them with a wrong checksum (the last byte flipped): every
    /// snapshot it writes fails validation when an open reads it.
    BadChecksum,
    /// Reports a write error on a healthy disk.
    SpuriousError,
}

impl Breakage for PageBreakage {
    fn write_at(&self, file: &dyn File, buf: &[u8], offset: u64) -> io::Result<()> {
        if offset != 0 || !buf.starts_with(&PAGE_MAGIC) {
            return file.write_at(buf, offset);
        }
        match self {
            PageBreakage::BadChecksum => {
                let mut bad = buf.to_vec();
                *bad.last_mut().expect("a page file is not empty") ^= 1;
                file.write_at(&bad, offset)
            }
            PageBreakage::SpuriousError => Err(io::Error::other("planted: page write refused")),
        }
    }
}

/// Takes a snapshot whenever one is due, every few milliseconds.
#[derive(Debug)]
struct Snapshotter;

impl EngineTask for Snapshotter {
    fn name(&self) -> &str {
        "snapshotter"
    }

    fn interval(&mut self, _rng: &mut SimRng) -> Duration {
        Duration::from_millis(2)
    }

    fn step(&mut self, db: &mut Database) -> Result<TaskStep, Violation> {
        Ok(match db.snapshot_step() {
            Ok(Some(offset)) => TaskStep::Done(format!("snapshot offset={offset}")),
            Ok(None) => TaskStep::Idle,
            Err(error) => TaskStep::Failed(error.to_string()),
        })
    }
}

/// A broken engine's snapshots, taken often, all full, with the whole log
/// kept so that an open can always fall back to a full replay; no faults.
struct BrokenSnapshots(PageBreakage);

impl Scenario for BrokenSnapshots {
    fn name(&self) -> &str {
        "broken_snapshots"
    }

    fn summary(&self) -> &str {
        "test only: an engine whose snapshot page writes are broken"
    }

    fn plan(&self, _seed: Seed) -> Plan {
        let mut plan = Plan { incarnations: 2, ..Plan::default() };
        plan.options.snapshots.every_txs = 4;
        plan.options.snapshots.chain_max = 0;
        plan.options.snapshots.remove_old_segments = false;
        plan
    }

    fn engine_tasks(&self, _plan: &Plan) -> Vec<Box<dyn EngineTask>> {
        vec![Box::new(Snapshotter)]
    }

    fn wrap_fs(&self, fs: Arc<dyn Fs>) -> Arc<dyn Fs> {
        Arc::new(BrokenFs::new(fs, self.0))
    }
}

#[test]
fn a_snapshot_set_aside_on_a_healthy_disk_is_caught() {
    let result = run(&BrokenSnapshots(PageBreakage::BadChecksum), Seed(5), &RunConfig::default());
    assert_eq!(result.stats.faults.total(), 0, "no fault was injected");
    let failure = result.outcome.failure().expect("the open passes over the bad snapshots");
    assert_eq!(failure.kind, FailureKind::Invariant(Invariant::SnapshotRejected), "{failure}");
    assert!(failure.detail.contains("crc="), "the reason is the page checksum: {failure}");
}

#[test]
fn a_snapshot_failing_on_a_healthy_disk_is_caught() {
    let result = run(&BrokenSnapshots(PageBreakage::SpuriousError), Seed(5), &RunConfig::default());
    assert_eq!(result.stats.faults.total(), 0, "no fault was injected");
    let failure = result.outcome.failure().expect("the first snapshot fails");
    assert_eq!(failure.kind, FailureKind::Invariant(Invariant::FailedWithoutFault), "{failure}");
    assert!(
        failure.detail.starts_with("snapshotter: io error: op=write path=/db/snapshots/"),
        "{failure}"
    );
}
