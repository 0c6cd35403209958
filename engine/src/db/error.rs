//! Why a database would not open or commit.

use std::path::PathBuf;

use thiserror::Error;

use crate::commitlog;
use crate::datastore::{ApplyError, TxError};

/// Why [`super::Database::open`] failed. A database that fails to open
/// serves nothing: there is no partial open.
#[derive(Debug, Error)]
pub enum OpenError {
    /// The options were refused.
    #[error("bad options: {0}")]
    Options(String),
    /// The commitlog would not open (corruption, I/O).
    #[error("commitlog: {0}")]
    Log(#[from] commitlog::OpenError),
    /// Reading the history back failed.
    #[error("reading history: {0}")]
    Read(#[from] commitlog::ReadError),
    /// A transaction of the history does not apply to the state before it.
    #[error("replaying history: log={}: {source}", log.display())]
    Replay {
        /// The log directory.
        log: PathBuf,
        /// What did not apply, naming the transaction's offset.
        #[source]
        source: ApplyError,
    },
    /// The log does not start at offset 0 and no snapshot connects to it.
    #[error("history does not start at offset 0 and no snapshot connects: log={} first-offset={first_offset}", log.display())]
    HistoryGap {
        /// The log directory.
        log: PathBuf,
        /// The first offset the log holds.
        first_offset: u64,
    },
    /// After replay, the system tables, registries or summaries disagree
    /// with the rows.
    #[error("inconsistent state after replay: log={} offset={offset:?} {reason}", log.display())]
    Inconsistent {
        /// The log directory.
        log: PathBuf,
        /// The offset replay reached.
        offset: Option<u64>,
        /// The first disagreement.
        reason: String,
    },
    /// The snapshot store could not be recovered or listed.
    #[error("snapshots: {0}")]
    Snapshot(#[from] crate::snapshot::SnapshotError),
    /// A filesystem operation on the database directory failed.
    #[error("io error: op={op} path={}", path.display())]
    Io {
        /// The operation.
        op: &'static str,
        /// The path.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// Why [`super::Database::commit`] refused a transaction. Nothing changed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CommitError {
    /// The datastore refused it.
    #[error(transparent)]
    Tx(#[from] TxError),
    /// Its record would not fit in one commit of the log.
    #[error("transaction too large for the log: record-bytes={bytes} max={max}")]
    TooLarge {
        /// The record's size.
        bytes: u64,
        /// The largest record a commit takes.
        max: u64,
    },
}
