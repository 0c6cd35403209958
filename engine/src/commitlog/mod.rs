//! The commitlog: a segmented, checksummed, append-only log of transactions
//! that makes the datastore durable (DESIGN 2.2; the byte format is in
//! `engine/FORMAT.md`).
//!
//! - The log is a directory of segments, each named after the offset of its
//!   first transaction (`00000000000000000000.log`) and starting with a
//!   header (magic, format version, checksum algorithm).
//! - A commit, the atomic unit of storage, holds one or more transactions
//!   with contiguous offsets, chosen by the caller, and ends in a CRC32C.
//! - Writes go through a buffer: [`Commitlog::flush`] hands them to the OS,
//!   [`Commitlog::sync`] makes them durable and only then moves
//!   [`Commitlog::durable_offset`].
//! - Any failed write or sync poisons the writer: it panics with
//!   `commitlog poisoned: ...` (the engine's one deliberate panic) and never
//!   retries; the next open re-verifies the log.
//! - A segment that reaches `max_segment_size` is synced and sealed; the next
//!   is created durably, then the [`Commitlog::on_rotate`] hook is told.
//! - Opening verifies every commit. A torn tail of the last segment is cut;
//!   anything else is a [`Corruption`] naming segment, byte offset and reason.
//!
//! ```
//! use std::sync::Arc;
//! use faultline_engine::commitlog::{Commitlog, Options};
//! use faultline_engine::fs::RealFs;
//!
//! let dir = tempfile::tempdir()?;
//! let log_dir = dir.path().join("log");
//! let mut log = Commitlog::open(Arc::new(RealFs::new()), &log_dir, Options::default())?;
//! log.append_commit(0, 1, &[b"first", b"second"])?;   // offsets 0 and 1
//! log.append_commit(2, 1, &[b"third"])?;              // offset 2
//! assert_eq!(log.durable_offset(), None);
//! log.sync();
//! assert_eq!(log.durable_offset(), Some(2));
//! let refused = log.append_commit(7, 1, &[b"gap"]).unwrap_err();
//! assert_eq!(refused.to_string(), "out-of-order commit: expected-offset=3 actual-offset=7");
//! drop(log);
//!
//! let log = Commitlog::open(Arc::new(RealFs::new()), &log_dir, Options::default())?;
//! let read: Vec<_> = log.transactions_from(1).collect::<Result<_, _>>()?;
//! assert_eq!(read.len(), 2);
//! assert_eq!((read[0].tx_offset, read[0].bytes.as_slice()), (1, &b"second"[..]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod commit;
mod correction;
mod error;
mod log;
mod options;
mod reader;
mod recovery;
mod segment;

pub use commit::{
    COMMIT_HEADER_LEN, Commit, CommitStamp, DecodeError, TRANSACTIONS_PER_COMMIT_MAX,
};
pub use error::{AppendError, Corruption, CorruptionReason, OpenError, OptionsError, ReadError};
pub use log::{Commitlog, POISON_PREFIX, RotationInfo};
pub use options::Options;
pub use reader::{Commits, Transaction, Transactions};
pub use recovery::LogRepair;
pub use segment::{
    CHECKSUM_ALGORITHM_CRC32C, FORMAT_VERSION, HeaderError, SEGMENT_HEADER_LEN, SEGMENT_LEN_MAX,
    SEGMENT_MAGIC, SegmentInfo, segment_file_name, segment_path,
};
