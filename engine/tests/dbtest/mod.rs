//! Helpers shared by the database tests.
#![allow(dead_code, unreachable_pub)]

use std::path::Path;
use std::sync::Arc;

use faultline_engine::datastore::{ColumnDef, ColumnType, Row, Value};
use faultline_engine::fs::Fs;
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
