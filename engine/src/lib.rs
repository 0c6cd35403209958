//! faultline's storage engine: a transactional table store made durable by a
//! segmented commitlog and snapshots.
//!
//! The engine talks to storage only through [`fs::Fs`], so the same code runs
//! on the host's disk ([`fs::RealFs`]) and on the harness's simulated
//! filesystem. It owns no threads, reads no clock and draws no random
//! numbers: those come from its caller (enforced by `engine/clippy.toml`).
//!
//! ```
//! use faultline_engine::fs::{Fs, RealFs, File};
//!
//! let dir = tempfile::tempdir()?;
//! let fs = RealFs::new();
//! let file = fs.create(&dir.path().join("hello"))?;
//! file.write_at(b"durable", 0)?;
//! file.sync_data()?;             // the bytes are durable...
//! fs.sync_dir(dir.path())?;      // ...and so is the name
//! assert_eq!(file.read_to_end()?, b"durable");
//! # Ok::<(), std::io::Error>(())
//! ```

mod codec;
pub mod commitlog;
pub mod datastore;
pub mod db;
pub mod fs;
pub mod snapshot;

pub use db::{Database, OpenError, OpenReport, Options};
