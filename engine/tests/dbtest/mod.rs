//! Helpers shared by the database tests.
#![allow(dead_code, unreachable_pub)]

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use faultline_engine::datastore::{ColumnDef, ColumnType, Row, Value};
use faultline_engine::fs::{DirEntry, File, Fs};
use faultline_engine::{Database, OpenError, OpenReport, Options};
use faultline_sim::{FaultConfig, Seed, SimFs};

/// The database directory every test uses.
pub const ROOT: &str = "/db";

/// A SimFs holding an empty, durable `/db`.
pub fn sim_fs(seed: u64) -> SimFs {
    let fs = SimFs::new(Seed(seed), FaultConfig::none());
    fs.create_dir(Path::new(ROOT)).unwrap();
    fs.sync_dir(Path::new("/")).unwrap();
    fs
}

/// Opens the database in `/db` on `fs`.
pub fn open(fs: &SimFs, options: Options) -> Result<(Database, OpenReport), OpenError> {
    Database::open(Arc::new(fs.clone()), Path::new(ROOT), options)
}

/// Options with small segments, so that tests rotate.
pub fn small_segments() -> Options {
    let mut options = Options::default();
    options.log.max_segment_size = 4096;
    options
}

/// The columns of the test table `accounts`.
pub fn account_columns() -> Vec<ColumnDef> {
    vec![ColumnDef::new("id", ColumnType::U64), ColumnDef::new("owner", ColumnType::String)]
}

/// An `accounts` row.
pub fn account(id: u64) -> Row {
    vec![Value::U64(id), Value::String(format!("owner-{id}"))]
}

/// The transactions read back from the log in `/db/log`.
pub fn log_offsets(db: &Database) -> Vec<u64> {
    db.log().transactions_from(0).map(|t| t.unwrap().tx_offset).collect()
}

/// What an operation that may hit a simulated crash did.
#[derive(Debug)]
pub enum Outcome<T> {
    /// It returned.
    Returned(T),
    /// It panicked with the commitlog's poison message.
    Poisoned(String),
}

/// Runs `f`, turning a `commitlog poisoned:` panic into
/// [`Outcome::Poisoned`]. Any other panic is re-raised.
pub fn catch_poison<T>(f: impl FnOnce() -> T) -> Outcome<T> {
    quiet_poison_panics();
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(value) => Outcome::Returned(value),
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            if message.starts_with("commitlog poisoned:") {
                Outcome::Poisoned(message)
            } else {
                std::panic::resume_unwind(payload)
            }
        }
    }
}

/// Keeps expected poison panics out of the test output; every other panic
/// still reaches the default hook.
fn quiet_poison_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let message = info
                .payload()
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| info.payload().downcast_ref::<&str>().copied())
                .unwrap_or_default();
            if !message.starts_with("commitlog poisoned:") {
                default(info);
            }
        }));
    });
}

/// A `SimFs` whose next `sync_dir` of one directory fails with EIO once
/// armed, without syncing anything (SimFs leaves the entry operations of a
/// directory pending after a failed sync, too). Counts what it injected.
#[derive(Debug)]
pub struct FailingDirSync {
    sim: SimFs,
    dir: PathBuf,
    armed: AtomicBool,
    injected: AtomicU64,
}

impl FailingDirSync {
    /// Wraps `sim`; nothing fails until [`FailingDirSync::arm`].
    pub fn new(sim: SimFs, dir: &str) -> Arc<Self> {
        let dir = PathBuf::from(dir);
        Arc::new(FailingDirSync {
            sim,
            dir,
            armed: AtomicBool::new(false),
            injected: AtomicU64::new(0),
        })
    }

    /// Makes the next `sync_dir` of the directory fail.
    pub fn arm(&self) {
        self.armed.store(true, Ordering::SeqCst);
    }

    /// How many syncs failed so far.
    pub fn injected(&self) -> u64 {
        self.injected.load(Ordering::SeqCst)
    }
}

impl Fs for FailingDirSync {
    fn create(&self, path: &Path) -> io::Result<Box<dyn File>> {
        self.sim.create(path)
    }
    fn open(&self, path: &Path) -> io::Result<Box<dyn File>> {
        self.sim.open(path)
    }
    fn create_dir(&self, path: &Path) -> io::Result<()> {
        self.sim.create_dir(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.sim.rename(from, to)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        self.sim.remove(path)
    }
    fn list_dir(&self, dir: &Path) -> io::Result<Vec<DirEntry>> {
        self.sim.list_dir(dir)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        if dir == self.dir && self.armed.swap(false, Ordering::SeqCst) {
            self.injected.fetch_add(1, Ordering::SeqCst);
            return Err(io::Error::other("injected sync-dir failure"));
        }
        self.sim.sync_dir(dir)
    }
}
