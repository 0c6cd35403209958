//! A filesystem layer for deliberately broken engines in tests: it forwards
//! every call to the filesystem below, except the file calls a [`Breakage`]
//! overrides (skipping fsyncs, retrying them, peeking after a failure,
//! writing as a handle is dropped), and one broken engine ready to sweep
//! ([`SkipsSyncs`], in `faultline-selftest`).

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use faultline_engine::fs::{DirEntry, File, Fs};
use faultline_scenarios::{Plan, PlanError, Scenario, WorkloadShape};
use faultline_sim::Seed;

/// How a broken engine misuses its files. Each method gets the real file;
/// the defaults forward.
pub trait Breakage: Send + Sync + fmt::Debug + 'static {
    /// `File::write_at`.
    fn write_at(&self, file: &dyn File, buf: &[u8], offset: u64) -> io::Result<()> {
        file.write_at(buf, offset)
    }

    /// `File::sync_data`.
    fn sync_data(&self, file: &dyn File) -> io::Result<()> {
        file.sync_data()
    }

    /// When the engine drops its handle (a process that unwinds drops
    /// them all).
    fn drop_file(&self, _file: &dyn File) {}
}

/// `inner` with every file it opens broken by `B`.
#[derive(Debug)]
pub struct BrokenFs<B: Breakage> {
    inner: Arc<dyn Fs>,
    breakage: Arc<B>,
}

impl<B: Breakage> BrokenFs<B> {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Fs>, breakage: B) -> Self {
        BrokenFs { inner, breakage: Arc::new(breakage) }
    }

    fn wrap(&self, file: Box<dyn File>) -> Box<dyn File> {
        Box::new(BrokenFile { file, breakage: Arc::clone(&self.breakage) })
    }
}

#[derive(Debug)]
struct BrokenFile<B: Breakage> {
    file: Box<dyn File>,
    breakage: Arc<B>,
}

impl<B: Breakage> Drop for BrokenFile<B> {
    fn drop(&mut self) {
        self.breakage.drop_file(self.file.as_ref());
    }
}

impl<B: Breakage> Fs for BrokenFs<B> {
    fn create(&self, path: &Path) -> io::Result<Box<dyn File>> {
        Ok(self.wrap(self.inner.create(path)?))
    }
    fn open(&self, path: &Path) -> io::Result<Box<dyn File>> {
        Ok(self.wrap(self.inner.open(path)?))
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

impl<B: Breakage> File for BrokenFile<B> {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.file.read_at(buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.breakage.write_at(self.file.as_ref(), buf, offset)
    }
    fn len(&self) -> io::Result<u64> {
        self.file.len()
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.breakage.sync_data(self.file.as_ref())
    }
}

/// A broken engine's files: every third fsync does nothing and says it
/// worked.
#[derive(Debug, Default)]
pub struct SkipsEveryThirdSync {
    syncs: AtomicU64,
}

impl Breakage for SkipsEveryThirdSync {
    fn sync_data(&self, file: &dyn File) -> io::Result<()> {
        if self.syncs.fetch_add(1, Ordering::Relaxed) % 3 == 2 {
            return Ok(());
        }
        file.sync_data()
    }
}

/// A broken engine (test-only scenario `selftest_skips_syncs`): it loses
/// what it acknowledged, and the judge says so.
pub struct SkipsSyncs;

impl Scenario for SkipsSyncs {
    fn name(&self) -> &str {
        "selftest_skips_syncs"
    }

    fn summary(&self) -> &str {
        "test only: an engine that skips every third fsync"
    }

    fn plan(&self, seed: Seed) -> Result<Plan, PlanError> {
        let workload = WorkloadShape { clients: 2, txs_per_client: 12, ..WorkloadShape::default() };
        Plan::builder(seed).workload(workload).restarts(2).build()
    }

    fn wrap_fs(&self, fs: Arc<dyn Fs>) -> Arc<dyn Fs> {
        Arc::new(BrokenFs::new(fs, SkipsEveryThirdSync::default()))
    }
}
