//! Each kind of failure is reported as exactly that, with its seed: a hang
//! when a step or simulated-time budget runs out, an unexpected panic (with
//! its message and place) when the engine panics other than with the
//! poison message, and the run stops at the first one.

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use faultline_engine::fs::{DirEntry, File, Fs};
use faultline_scenarios::{
    FailureKind, Plan, PlanError, Registry, RunConfig, Scenario, report, run,
};
use faultline_sim::Seed;

#[test]
fn running_out_of_filesystem_calls_is_a_hang() {
    let registry = Registry::builtin();
    let scenario = registry.get("torn_tail").unwrap();
    let config = RunConfig { fs_calls_max: 40, ..RunConfig::default() };
    let result = run(scenario.as_ref(), Seed(2), &config);
    let failure = result.outcome.failure().expect("40 calls are not enough");
    assert_eq!(failure.kind, FailureKind::Hang, "{failure}");
    assert!(failure.detail.contains("fs-calls-max=40"), "{failure}");
}

#[test]
fn running_out_of_simulated_time_is_a_hang() {
    let registry = Registry::builtin();
    let scenario = registry.get("mvcc_reads").unwrap();
    let config = RunConfig { sim_time_max: Duration::from_millis(20), ..RunConfig::default() };
    let result = run(scenario.as_ref(), Seed(2), &config);
    let failure = result.outcome.failure().expect("20 ms of simulated time are not enough");
    assert_eq!(failure.kind, FailureKind::Hang, "{failure}");
    assert!(failure.detail.contains("time limit exceeded"), "{failure}");
}

/// An `Fs` whose files panic on the `n`-th write: an engine bug that is not
/// the poisoned-write panic.
#[derive(Debug)]
struct PanickingFs {
    inner: Arc<dyn Fs>,
    writes: Arc<AtomicU64>,
}

#[derive(Debug)]
struct PanickingFile {
    inner: Box<dyn File>,
    writes: Arc<AtomicU64>,
}

const PANIC_AT_WRITE: u64 = 10;

impl Fs for PanickingFs {
    fn create(&self, path: &Path) -> io::Result<Box<dyn File>> {
        Ok(Box::new(PanickingFile {
            inner: self.inner.create(path)?,
            writes: Arc::clone(&self.writes),
        }))
    }
    fn open(&self, path: &Path) -> io::Result<Box<dyn File>> {
        Ok(Box::new(PanickingFile {
            inner: self.inner.open(path)?,
            writes: Arc::clone(&self.writes),
        }))
    }
    fn create_dir(&self, path: &Path) -> io::Result<()> {
        self.inner.create_dir(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.inner.rename(from, to)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        self.inner.remove(path)
    }
    fn list_dir(&self, dir: &Path) -> io::Result<Vec<DirEntry>> {
        self.inner.list_dir(dir)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.inner.sync_dir(dir)
    }
}

impl File for PanickingFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.inner.read_at(buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        let n = self.writes.fetch_add(1, Ordering::SeqCst) + 1;
        assert!(n != PANIC_AT_WRITE, "planted bug: write number {n}");
        self.inner.write_at(buf, offset)
    }
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.inner.set_len(len)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.inner.sync_data()
    }
}

/// A scenario on the panicking layer (one counter per run).
struct Panicking {
    writes: Arc<AtomicU64>,
}

impl Scenario for Panicking {
    fn name(&self) -> &str {
        "panicking"
    }

    fn summary(&self) -> &str {
        "test only: the engine panics on its 10th write"
    }

    fn plan(&self, seed: Seed) -> Result<Plan, PlanError> {
        self.writes.store(0, Ordering::SeqCst);
        Plan::builder(seed).build()
    }

    fn wrap_fs(&self, fs: Arc<dyn Fs>) -> Arc<dyn Fs> {
        Arc::new(PanickingFs { inner: fs, writes: Arc::clone(&self.writes) })
    }
}

#[test]
fn a_panic_other_than_the_poison_message_is_an_unexpected_panic() {
    let scenario = Panicking { writes: Arc::new(AtomicU64::new(0)) };
    let result = run(&scenario, Seed(9), &RunConfig::default());
    let failure = result.outcome.failure().expect("the planted panic is found");
    assert_eq!(failure.kind, FailureKind::UnexpectedPanic, "{failure}");
    assert!(failure.detail.contains("planted bug: write number 10"), "{failure}");
    assert!(failure.detail.contains("failure_kinds.rs"), "the place is named: {failure}");
    let text = report::failure_text(&result);
    assert!(text.contains("seed=0x0000000000000009"), "{text}");
    assert!(text.contains("replay --scenario panicking --seed 0x0000000000000009"), "{text}");
}
