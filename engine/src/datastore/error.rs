//! The datastore's errors. Messages are lowercase with `key=value` context.

use thiserror::Error;

use super::schema::TableId;

/// Untrusted bytes (a row, a transaction record) did not decode.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The bytes ended early.
    #[error("truncated: at={at} wanted={wanted} {reason}")]
    Truncated {
        /// Byte offset inside the encoded item.
        at: usize,
        /// Bytes wanted there.
        wanted: usize,
        /// What was being read.
        reason: String,
    },
    /// A field held an impossible value.
    #[error("invalid: at={at} {reason}")]
    Invalid {
        /// Byte offset inside the encoded item.
        at: usize,
        /// What was wrong.
        reason: String,
    },
}

/// A transaction the datastore refuses to build or commit. Nothing changes.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum TxError {
    /// No table with that name.
    #[error("no such table: name={0}")]
    NoSuchTable(String),
    /// A table with that name exists already.
    #[error("table exists: name={0}")]
    TableExists(String),
    /// The table is a system table and cannot be written by clients.
    #[error("system table is read-only for clients: name={0}")]
    SystemTable(String),
    /// A table definition was malformed.
    #[error("bad table definition: name={name} {reason}")]
    BadDefinition {
        /// The table's name.
        name: String,
        /// What was wrong.
        reason: String,
    },
    /// A row did not fit its table's schema.
    #[error("row does not fit schema: table={table} {reason}")]
    SchemaMismatch {
        /// The table's name.
        table: String,
        /// What did not fit.
        reason: String,
    },
    /// The row is in the table already (tables are sets).
    #[error("duplicate row: table={0}")]
    DuplicateRow(String),
    /// The row to delete is not in the table.
    #[error("row not found: table={0}")]
    RowNotFound(String),
    /// The row does not fit in a page.
    #[error("row too large: table={table} bytes={bytes} max={max}")]
    RowTooLarge {
        /// The table's name.
        table: String,
        /// The encoded row's size.
        bytes: usize,
        /// The largest row a page holds.
        max: usize,
    },
    /// The transaction does nothing.
    #[error("empty transaction")]
    Empty,
    /// Another transaction committed since this one began.
    #[error("conflict: began-after-offset={began_after:?} latest-offset={latest:?}")]
    Conflict {
        /// The last committed offset when this transaction began.
        began_after: Option<u64>,
        /// The last committed offset now.
        latest: Option<u64>,
    },
}

/// A read at an offset the snapshot manager cannot serve.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// Older than the retention window.
    #[error("offset too old: offset={offset} oldest-retained={oldest}")]
    TooOld {
        /// The offset asked for.
        offset: u64,
        /// The oldest offset still retained.
        oldest: u64,
    },
    /// Newer than the last commit.
    #[error("offset not committed yet: offset={offset} latest={latest:?}")]
    TooNew {
        /// The offset asked for.
        offset: u64,
        /// The last committed offset, if any.
        latest: Option<u64>,
    },
}

/// History that cannot be applied: the log holds a transaction that does not
/// fit the state before it. Never a panic, always this error.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ApplyError {
    /// The transaction record itself did not decode.
    #[error("transaction does not decode: tx-offset={offset}: {source}")]
    Record {
        /// The transaction's offset.
        offset: u64,
        /// Why.
        #[source]
        source: DecodeError,
    },
    /// A row did not decode with its table's schema.
    #[error("row does not decode: tx-offset={offset} table-id={table}: {source}")]
    Row {
        /// The transaction's offset.
        offset: u64,
        /// The table.
        table: TableId,
        /// Why.
        #[source]
        source: DecodeError,
    },
    /// The transaction does not fit the state (unknown table, missing row,
    /// duplicate row, inconsistent system tables, ...).
    #[error("transaction does not apply: tx-offset={offset} {reason}")]
    Inconsistent {
        /// The transaction's offset.
        offset: u64,
        /// Why.
        reason: String,
    },
}
