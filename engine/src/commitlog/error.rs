//! The commitlog's errors, one enum per operation.
//!
//! Messages are lowercase, start with what went wrong and go on with
//! `key=value` context: `checksum mismatch: segment=/db/log/0…0.log
//! offset=4096 stored-crc=… computed-crc=…`.

use std::fmt;
use std::io;
use std::path::PathBuf;

use thiserror::Error;

use super::commit::DecodeError;
use super::segment::HeaderError;

/// Why [`super::Options`] were refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum OptionsError {
    /// `max_segment_size` cannot hold a header and the smallest commit, or
    /// exceeds [`super::SEGMENT_LEN_MAX`].
    #[error(
        "max-segment-size out of range: max-segment-size={max_segment_size} min={min} max={max}"
    )]
    SegmentSizeOutOfRange {
        /// The size asked for.
        max_segment_size: u64,
        /// The smallest size allowed.
        min: u64,
        /// The largest size allowed.
        max: u64,
    },
    /// `write_buffer_size` exceeds [`super::SEGMENT_LEN_MAX`].
    #[error("write-buffer-size too large: write-buffer-size={write_buffer_size} max={max}")]
    WriteBufferTooLarge {
        /// The size asked for.
        write_buffer_size: usize,
        /// The largest size allowed.
        max: u64,
    },
}

/// Why [`super::Commitlog::open`] failed. Nothing but the repairs the
/// documentation names (cutting a torn tail, removing an empty last segment)
/// was changed on disk.
#[derive(Debug, Error)]
pub enum OpenError {
    /// The options were refused.
    #[error(transparent)]
    Options(#[from] OptionsError),
    /// A filesystem operation failed.
    #[error("io error: op={op} path={}", path.display())]
    Io {
        /// The operation (`list-dir`, `read`, `set-len`, ...).
        op: &'static str,
        /// The file or directory it was on.
        path: PathBuf,
        /// The error the filesystem returned.
        #[source]
        source: io::Error,
    },
    /// An entry of the log directory ends in `.log` but is not a segment
    /// name (20 digits naming a u64) or is not a file.
    #[error("bad segment name: path={}", path.display())]
    BadSegmentName {
        /// The entry.
        path: PathBuf,
    },
    /// The log's bytes are not a valid log, and not in a way a crash can
    /// explain.
    #[error(transparent)]
    Corrupt(#[from] Corruption),
}

/// Why [`super::Commitlog::append_commit`] refused a commit. Nothing was
/// written and the log is as it was: the caller may go on.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum AppendError {
    /// The commit does not start at the next offset (a gap or a repeat).
    #[error("out-of-order commit: expected-offset={expected} actual-offset={actual}")]
    OutOfOrder {
        /// The offset the log expects next.
        expected: u64,
        /// The commit's `min_tx_offset`.
        actual: u64,
    },
    /// The commit's epoch is lower than the last commit's.
    #[error("epoch regression: offset={offset} last-epoch={last} actual-epoch={actual}")]
    EpochRegression {
        /// The commit's `min_tx_offset`.
        offset: u64,
        /// The last commit's epoch.
        last: u64,
        /// The commit's epoch.
        actual: u64,
    },
    /// The commit holds no transaction.
    #[error("empty commit: offset={offset}")]
    Empty {
        /// The commit's `min_tx_offset`.
        offset: u64,
    },
    /// The commit holds more than [`super::TRANSACTIONS_PER_COMMIT_MAX`]
    /// transactions.
    #[error("too many transactions: offset={offset} n={n} n-max={n_max}")]
    TooManyTransactions {
        /// The commit's `min_tx_offset`.
        offset: u64,
        /// Its transactions.
        n: usize,
        /// The most a commit holds.
        n_max: usize,
    },
    /// The encoded commit would not fit in an empty segment.
    #[error("commit too large: offset={offset} size={size} size-max={size_max}")]
    TooLarge {
        /// The commit's `min_tx_offset`.
        offset: u64,
        /// Its encoded size in bytes.
        size: u64,
        /// The largest commit `max_segment_size` allows.
        size_max: u64,
    },
    /// The commit's offsets would pass `u64::MAX`.
    #[error("offset overflow: offset={offset} n={n}")]
    OffsetOverflow {
        /// The commit's `min_tx_offset`.
        offset: u64,
        /// Its transactions.
        n: usize,
    },
}

/// Why reading the log failed. The iterator that returned it is done.
#[derive(Debug, Error)]
pub enum ReadError {
    /// A filesystem operation failed.
    #[error("io error: op={op} segment={}", segment.display())]
    Io {
        /// The operation (`open`, `read`).
        op: &'static str,
        /// The segment it was on.
        segment: PathBuf,
        /// The error the filesystem returned.
        #[source]
        source: io::Error,
    },
    /// The bytes read are not a valid log.
    #[error(transparent)]
    Corrupt(#[from] Corruption),
    /// The requested offset lies before the log's first transaction.
    #[error("offset not in log: requested-offset={requested} first-offset={first}")]
    OffsetNotInLog {
        /// The offset asked for.
        requested: u64,
        /// The log's first offset.
        first: u64,
    },
}

/// Where and why the log's bytes are not a valid log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Corruption {
    /// The segment file.
    pub segment: PathBuf,
    /// The byte offset in it where the bad commit (or header) starts.
    pub offset: u64,
    /// What is wrong.
    pub reason: CorruptionReason,
}

/// What is wrong with the log's bytes at a [`Corruption`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CorruptionReason {
    /// The segment header is refused.
    Header(HeaderError),
    /// The bytes do not decode as a commit.
    Commit(DecodeError),
    /// A valid commit that does not continue the previous one.
    OutOfOrder {
        /// The offset expected.
        expected: u64,
        /// The commit's `min_tx_offset`.
        actual: u64,
    },
    /// A valid commit whose epoch is lower than the previous one's.
    EpochRegression {
        /// The previous commit's epoch.
        last: u64,
        /// The commit's epoch.
        actual: u64,
    },
    /// The segment's first commit does not start at the offset its name says.
    NameMismatch {
        /// The offset in the segment's name.
        name_offset: u64,
        /// The first commit's `min_tx_offset`.
        commit_offset: u64,
    },
    /// The segment's name does not continue the previous segment.
    Gap {
        /// The offset the previous segment ends before.
        expected: u64,
        /// The offset in the segment's name.
        actual: u64,
    },
    /// A sealed (not the last) segment holds no commit.
    EmptySealedSegment,
    /// The log, read back, ends at another offset than the log says (the
    /// files changed under it).
    EndMismatch {
        /// The offset the log should end before.
        expected: u64,
        /// The offset the bytes end before.
        actual: u64,
    },
    /// The segment file is longer than any segment can be.
    TooLong {
        /// The file's length.
        len: u64,
    },
    /// A bad commit in the last segment with a valid commit after it: not a
    /// torn tail, so nothing is cut.
    ValidCommitAfter {
        /// What is wrong with the bad commit.
        cause: Box<CorruptionReason>,
        /// The byte offset of the valid commit found after it.
        valid_commit_at: u64,
    },
}

impl CorruptionReason {
    /// A short, stable name for the kind of corruption.
    pub fn name(&self) -> &'static str {
        match self {
            CorruptionReason::Header(error) => error.name(),
            CorruptionReason::Commit(error) => error.name(),
            CorruptionReason::OutOfOrder { .. } => "out-of-order commit",
            CorruptionReason::EpochRegression { .. } => "epoch regression",
            CorruptionReason::NameMismatch { .. } => "segment name mismatch",
            CorruptionReason::Gap { .. } => "segment gap",
            CorruptionReason::EmptySealedSegment => "empty sealed segment",
            CorruptionReason::EndMismatch { .. } => "log ends at the wrong offset",
            CorruptionReason::TooLong { .. } => "segment too long",
            CorruptionReason::ValidCommitAfter { .. } => {
                "corrupt commit followed by a valid commit"
            }
        }
    }

    /// Writes the details as ` key=value` pairs.
    fn fmt_context(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CorruptionReason::Header(error) => error.fmt_context(f),
            CorruptionReason::Commit(error) => error.fmt_context(f),
            CorruptionReason::OutOfOrder { expected, actual } => {
                write!(f, " expected-offset={expected} actual-offset={actual}")
            }
            CorruptionReason::EpochRegression { last, actual } => {
                write!(f, " last-epoch={last} actual-epoch={actual}")
            }
            CorruptionReason::NameMismatch { name_offset, commit_offset } => {
                write!(f, " name-offset={name_offset} commit-offset={commit_offset}")
            }
            CorruptionReason::Gap { expected, actual } => {
                write!(f, " expected-offset={expected} actual-offset={actual}")
            }
            CorruptionReason::EmptySealedSegment => Ok(()),
            CorruptionReason::EndMismatch { expected, actual } => {
                write!(f, " expected-end={expected} actual-end={actual}")
            }
            CorruptionReason::TooLong { len } => {
                write!(f, " len={len} len-max={}", super::segment::SEGMENT_LEN_MAX)
            }
            CorruptionReason::ValidCommitAfter { cause, valid_commit_at } => {
                write!(f, " valid-commit-at={valid_commit_at} cause=\"{}", cause.name())?;
                cause.fmt_context(f)?;
                f.write_str("\"")
            }
        }
    }
}

impl fmt::Display for CorruptionReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        /// Renders only the ` key=value` details.
        struct Context<'a>(&'a CorruptionReason);
        impl fmt::Display for Context<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt_context(f)
            }
        }
        let context = Context(self).to_string();
        match context.strip_prefix(' ') {
            Some(context) => write!(f, "{}: {context}", self.name()),
            None => f.write_str(self.name()),
        }
    }
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: segment={} offset={}",
            self.reason.name(),
            self.segment.display(),
            self.offset
        )?;
        self.reason.fmt_context(f)
    }
}

impl std::error::Error for Corruption {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corruption_reads_reason_segment_offset_then_details() {
        let corruption = Corruption {
            segment: PathBuf::from("/db/log/00000000000000000000.log"),
            offset: 4096,
            reason: CorruptionReason::Commit(DecodeError::ChecksumMismatch {
                stored: 1,
                computed: 2,
            }),
        };
        assert_eq!(
            corruption.to_string(),
            "checksum mismatch: segment=/db/log/00000000000000000000.log offset=4096 \
             stored-crc=0x00000001 computed-crc=0x00000002"
        );
        let after = Corruption {
            reason: CorruptionReason::ValidCommitAfter {
                cause: Box::new(corruption.reason.clone()),
                valid_commit_at: 5000,
            },
            ..corruption
        };
        assert_eq!(
            after.to_string(),
            "corrupt commit followed by a valid commit: \
             segment=/db/log/00000000000000000000.log offset=4096 valid-commit-at=5000 \
             cause=\"checksum mismatch stored-crc=0x00000001 computed-crc=0x00000002\""
        );
        // A reason alone (as the repair and cut log lines print it).
        assert_eq!(
            after.reason.to_string(),
            "corrupt commit followed by a valid commit: valid-commit-at=5000 \
             cause=\"checksum mismatch stored-crc=0x00000001 computed-crc=0x00000002\""
        );
        assert_eq!(CorruptionReason::EmptySealedSegment.to_string(), "empty sealed segment");
        let error = AppendError::OutOfOrder { expected: 41, actual: 43 };
        assert_eq!(error.to_string(), "out-of-order commit: expected-offset=41 actual-offset=43");
    }
}
