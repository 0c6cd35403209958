//! The judge against engines that are broken on purpose (test-only
//! scenarios): it must catch a lost acknowledged transaction, a write path
//! that touches the disk again after a failed write, a process that writes
//! as it unwinds from the poison panic, a snapshot an open has to pass
//! over and a snapshot that fails with no fault to blame, and it must hold
//! a lying fsync only to consistency, not durability. Each test shows the
//! fault fired (or that none did) and what the judge made of it.

use std::io;
use std::sync::Arc;

use faultline_engine::fs::{File, Fs};
use faultline_engine::snapshot::PAGE_MAGIC;
use faultline_scenarios::{
    FailureKind, Invariant, Plan, PlanError, RunConfig, Scenario, SnapshotTask, WorkloadShape,
    report, run,
};
use faultline_sim::{FaultClass, FaultConfig, Seed, SimRng};
use faultline_tests::broken_fs::{Breakage, BrokenFs};

/// A broken engine's files: fsync does nothing (and says it worked).
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

    fn plan(&self, seed: Seed) -> Result<Plan, PlanError> {
        Plan::builder(seed).build()
    }

    fn wrap_fs(&self, fs: Arc<dyn Fs>) -> Arc<dyn Fs> {
        Arc::new(BrokenFs::new(fs, SkipFsync))
    }
}

#[test]
fn an_engine_that_never_syncs_is_caught_on_the_device_before_any_crash() {
    let result = run(&NoSync, Seed(1), &RunConfig::default());
    let failure = result.outcome.failure().expect("the device lacks what was acknowledged");
    // The storage checker sees it on the durable image right after the
    // first open or durability step, long before a power loss could lose
    // it: the segment's name is durable but its header is not, or the
    // commits the engine called durable are not on the device.
    let caught = [Invariant::SEGMENTS_BROKEN, Invariant::ACKED_NOT_ON_DISK]
        .map(FailureKind::Invariant)
        .contains(&failure.kind);
    assert!(caught, "{failure}");
    assert_eq!(result.stats.faults.total(), 0, "no fault was injected");
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

    fn plan(&self, seed: Seed) -> Result<Plan, PlanError> {
        Plan::builder(seed)
            .faults(FaultConfig::none().with(FaultClass::LyingFsync, 0.3))
            .restarts(2)
            .build()
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

/// A broken engine's files: after a failed write it looks at the file
/// again before reporting the failure (a retry in disguise).
#[derive(Debug)]
struct PeekAfterFailure;

impl Breakage for PeekAfterFailure {
    fn write_at(&self, file: &dyn File, buf: &[u8], offset: u64) -> io::Result<()> {
        file.write_at(buf, offset).inspect_err(|_| {
            let _ = file.len();
        })
    }
}

/// A broken engine's files: a handle dropped after a failed write writes
/// its last buffer again (a writer whose `Drop` flushes what failed).
#[derive(Debug, Default)]
struct WriteOnDrop {
    failed: std::sync::Mutex<Option<(Vec<u8>, u64)>>,
}

impl Breakage for WriteOnDrop {
    fn write_at(&self, file: &dyn File, buf: &[u8], offset: u64) -> io::Result<()> {
        file.write_at(buf, offset).inspect_err(|_| {
            *self.failed.lock().unwrap() = Some((buf.to_vec(), offset));
        })
    }

    fn drop_file(&self, file: &dyn File) {
        if let Some((buf, offset)) = self.failed.lock().unwrap().take() {
            let _ = file.write_at(&buf, offset);
        }
    }
}

/// A broken engine: a write error fires often, and the layer misbehaves
/// around it.
struct AroundFailures<B: Breakage + Default + 'static>(std::marker::PhantomData<B>, &'static str);

impl<B: Breakage + Default + 'static> Scenario for AroundFailures<B> {
    fn name(&self) -> &str {
        self.1
    }

    fn summary(&self) -> &str {
        "test only: an engine that touches the disk around a failed write"
    }

    fn plan(&self, seed: Seed) -> Result<Plan, PlanError> {
        Plan::builder(seed)
            .faults(FaultConfig::none().with(FaultClass::WriteError, 0.2))
            .restarts(1)
            .build()
    }

    fn wrap_fs(&self, fs: Arc<dyn Fs>) -> Arc<dyn Fs> {
        Arc::new(BrokenFs::new(fs, B::default()))
    }
}

impl Default for PeekAfterFailure {
    fn default() -> Self {
        PeekAfterFailure
    }
}

#[test]
fn touching_the_disk_after_a_failed_write_is_caught() {
    let scenario = AroundFailures::<PeekAfterFailure>(Default::default(), "peeking");
    let result = run(&scenario, Seed(3), &RunConfig::default());
    assert!(result.stats.faults.get(FaultClass::WriteError) > 0, "the write error fired");
    let failure = result.outcome.failure().expect("the call after the failure is seen");
    assert_eq!(failure.kind, FailureKind::Invariant(Invariant::RETRIED_AFTER_ERROR), "{failure}");
    assert!(failure.detail.contains("fs-calls-after-the-failed-one=1, first call="), "{failure}");
    assert!(failure.detail.contains(" len path=/db/log/"), "names the call: {failure}");
}

#[test]
fn writing_after_the_poison_panic_is_caught_as_io_after_poison() {
    let scenario = AroundFailures::<WriteOnDrop>(Default::default(), "write_on_drop");
    let caught = (0..20).map(Seed).find_map(|seed| {
        let result = run(&scenario, seed, &RunConfig::default());
        assert!(result.stats.faults.get(FaultClass::WriteError) > 0, "seed={seed}: fired");
        result.outcome.failure().cloned().map(|failure| (seed, result, failure))
    });
    let (seed, result, failure) = caught.expect("a handle dropped after a failed write writes");
    assert!(result.stats.poisonings > 0, "seed={seed}: the engine poisoned first");
    assert_eq!(failure.kind, FailureKind::Invariant(Invariant::IO_AFTER_POISON), "{failure}");
    assert!(failure.detail.contains(" write path=/db/"), "names the call and path: {failure}");
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

    fn plan(&self, seed: Seed) -> Result<Plan, PlanError> {
        let mut options = faultline_engine::Options::default();
        options.snapshots.every_txs = 4;
        options.snapshots.chain_max = 0;
        options.snapshots.remove_old_segments = false;
        Plan::builder(seed)
            .options(options)
            .restarts(1)
            .engine_task("snapshot", || Box::new(SnapshotTask::new(2)), None)
            .build()
    }

    fn wrap_fs(&self, fs: Arc<dyn Fs>) -> Arc<dyn Fs> {
        Arc::new(BrokenFs::new(fs, self.0))
    }
}

#[test]
fn a_snapshot_whose_page_files_disagree_with_its_manifest_is_caught_on_the_device() {
    let result = run(&BrokenSnapshots(PageBreakage::BadChecksum), Seed(5), &RunConfig::default());
    assert_eq!(result.stats.faults.total(), 0, "no fault was injected");
    let failure = result.outcome.failure().expect("the storage checker reads the page files");
    assert_eq!(failure.kind, FailureKind::Invariant(Invariant::PAGE_FILE_MISSING), "{failure}");
    assert!(failure.detail.contains("manifest-says="), "the checksum disagrees: {failure}");
}

#[test]
fn a_snapshot_failing_on_a_healthy_disk_is_caught() {
    let result = run(&BrokenSnapshots(PageBreakage::SpuriousError), Seed(5), &RunConfig::default());
    assert_eq!(result.stats.faults.total(), 0, "no fault was injected");
    let failure = result.outcome.failure().expect("the first snapshot fails");
    assert_eq!(failure.kind, FailureKind::Invariant(Invariant::FAILED_WITHOUT_FAULT), "{failure}");
    assert!(
        failure
            .detail
            .starts_with("snapshot: snapshot failed: io error: op=write path=/db/snapshots/"),
        "{failure}"
    );
}

/// A generator that also writes transactions the engine must refuse: an
/// insert into a table that does not exist, every third transaction.
#[derive(Debug)]
struct SometimesInvalid;

impl faultline_scenarios::TxGenerator for SometimesInvalid {
    fn name(&self) -> &str {
        "sometimes-invalid"
    }

    fn generate(
        &self,
        base: &faultline_scenarios::model::ModelState,
        shape: &WorkloadShape,
        rng: &mut SimRng,
    ) -> Vec<faultline_scenarios::TxOp> {
        use rand::RngExt;
        let mut ops = faultline_scenarios::RandomTransactions.generate(base, shape, rng);
        if rng.random_range(0..3) == 0 {
            ops.push(faultline_scenarios::TxOp::Insert {
                table: "no_such_table".to_owned(),
                row: vec![faultline_engine::datastore::Value::U64(1)],
            });
        }
        ops
    }
}

struct InvalidWorkload;

impl Scenario for InvalidWorkload {
    fn name(&self) -> &str {
        "invalid_workload"
    }

    fn summary(&self) -> &str {
        "test only: a generator that writes operations the engine must refuse"
    }

    fn plan(&self, seed: Seed) -> Result<Plan, PlanError> {
        Plan::builder(seed).generator(Arc::new(SometimesInvalid)).build()
    }
}

#[test]
fn operations_the_model_refuses_must_be_refused_by_the_engine_too() {
    let result = run(&InvalidWorkload, Seed(2), &RunConfig::default());
    assert!(!result.outcome.is_failure(), "{}", report::failure_text(&result));
    assert!(result.stats.txs_refused > 0, "some transactions were refused and aborted");
    assert!(result.stats.txs_committed > 0);
}
