//! The segment: one file of the log, its header, its name, and the walk
//! over the commits it holds.
//!
//! ```text
//! segment  = header commit*
//! header   offset  size  field
//!               0     8  magic               b"FLTLOG\0\0"
//!               8     2  version             u16 LE, 1
//!              10     1  checksum algorithm  u8, 1 = CRC32C
//!              11     5  reserved            zeros
//! name     = 20 decimal digits, zero-padded, of the first commit's
//!            min_tx_offset, then ".log"
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

use super::commit::{CommitView, decode_commit};
use super::error::CorruptionReason;

/// The first bytes of every segment.
pub const SEGMENT_MAGIC: [u8; 8] = *b"FLTLOG\0\0";
/// The segment format version this code writes and reads.
pub const FORMAT_VERSION: u16 = 1;
/// The id of the CRC32C checksum algorithm (Castagnoli), the only one known.
pub const CHECKSUM_ALGORITHM_CRC32C: u8 = 1;
/// Bytes of a segment header.
pub const SEGMENT_HEADER_LEN: usize =
    /* magic */
    8 + /* version */ 2 + /* checksum algorithm */ 1 + /* reserved */ 5;
/// The longest segment file the log writes or reads (1 GiB): a bound on
/// what opening or reading a segment loads into memory.
pub const SEGMENT_LEN_MAX: u64 = 1 << 30;

const SEGMENT_NAME_DIGITS: usize = 20;
const SEGMENT_NAME_SUFFIX: &str = ".log";

const _: () = assert!(SEGMENT_HEADER_LEN == 16);
// Every u64 offset fits the name: u64::MAX has exactly that many digits.
const _: () = assert!(u64::MAX.ilog10() + 1 == SEGMENT_NAME_DIGITS as u32);

/// Why a segment header is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// The file is shorter than a header.
    Incomplete {
        /// The file's length.
        len: u64,
    },
    /// The magic is not [`SEGMENT_MAGIC`].
    BadMagic {
        /// The bytes found instead.
        found: [u8; 8],
    },
    /// A format version this code does not know.
    UnknownVersion {
        /// The version found.
        version: u16,
    },
    /// A checksum algorithm this code does not know.
    UnknownChecksumAlgorithm {
        /// The algorithm id found.
        id: u8,
    },
    /// A reserved byte is not zero.
    NonzeroReserved {
        /// The reserved bytes found.
        found: [u8; 5],
    },
}

/// One segment of an open log, as the log knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentInfo {
    /// The offset of the segment's first transaction (its name).
    pub min_tx_offset: u64,
    /// The segment file.
    pub path: PathBuf,
}

/// A segment and how many of its bytes belong to the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SegmentSpan {
    pub(crate) min_tx_offset: u64,
    pub(crate) path: PathBuf,
    /// Bytes handed to the OS (header included); the reader stops here.
    pub(crate) len: u64,
}

/// Walks the commits of one segment's bytes, checking each against what the
/// log expects next: the offset that continues the previous commit and an
/// epoch no lower than the last one.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Walk {
    /// Where the next commit starts (at an error: where the bad one starts).
    pub(crate) pos: usize,
    /// The offset the next commit must start at.
    pub(crate) tx_offset_next: u64,
    /// The epoch of the last commit (0 before any).
    pub(crate) epoch_last: u64,
    /// The segment's name: its first commit must start there.
    segment_min_tx_offset: u64,
    /// Commits walked so far.
    pub(crate) n_commits: u64,
}

impl HeaderError {
    /// A short, stable name for the kind of failure.
    pub fn name(&self) -> &'static str {
        match self {
            HeaderError::Incomplete { .. } => "incomplete segment header",
            HeaderError::BadMagic { .. } => "bad segment magic",
            HeaderError::UnknownVersion { .. } => "unknown format version",
            HeaderError::UnknownChecksumAlgorithm { .. } => "unknown checksum algorithm",
            HeaderError::NonzeroReserved { .. } => "nonzero reserved header bytes",
        }
    }

    /// Whether the header is one this code cannot read although it may be
    /// well formed (a newer writer's), as opposed to damaged.
    pub fn is_unsupported(&self) -> bool {
        matches!(
            self,
            HeaderError::UnknownVersion { .. } | HeaderError::UnknownChecksumAlgorithm { .. }
        )
    }

    /// Writes the failure's details as ` key=value` pairs.
    pub(crate) fn fmt_context(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderError::Incomplete { len } => {
                write!(f, " len={len} header-len={SEGMENT_HEADER_LEN}")
            }
            HeaderError::BadMagic { found } => write!(f, " found={}", hex(found)),
            HeaderError::UnknownVersion { version } => {
                write!(f, " version={version} supported={FORMAT_VERSION}")
            }
            HeaderError::UnknownChecksumAlgorithm { id } => {
                write!(f, " algorithm={id} supported={CHECKSUM_ALGORITHM_CRC32C}")
            }
            HeaderError::NonzeroReserved { found } => write!(f, " found={}", hex(found)),
        }
    }
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The context starts with a space: "name: key=value ...".
        write!(f, "{}:", self.name())?;
        self.fmt_context(f)
    }
}

impl std::error::Error for HeaderError {}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

impl Walk {
    /// A walk over a segment named `segment_min_tx_offset`, after a log
    /// whose last commit had `epoch_last`.
    pub(crate) fn new(segment_min_tx_offset: u64, epoch_last: u64) -> Walk {
        Walk {
            pos: SEGMENT_HEADER_LEN,
            tx_offset_next: segment_min_tx_offset,
            epoch_last,
            segment_min_tx_offset,
            n_commits: 0,
        }
    }

    /// The next commit of `bytes` (the whole segment, header included), or
    /// `None` at the end. On an error the walk stays at the bad commit.
    pub(crate) fn next<'a>(
        &mut self,
        bytes: &'a [u8],
    ) -> Option<Result<CommitView<'a>, CorruptionReason>> {
        let rest = bytes.get(self.pos..)?;
        if rest.is_empty() {
            return None;
        }
        Some(self.step(rest))
    }

    fn step<'a>(&mut self, rest: &'a [u8]) -> Result<CommitView<'a>, CorruptionReason> {
        let commit = decode_commit(rest).map_err(CorruptionReason::Commit)?;
        if commit.min_tx_offset() != self.tx_offset_next {
            if self.n_commits == 0 {
                return Err(CorruptionReason::NameMismatch {
                    name_offset: self.segment_min_tx_offset,
                    commit_offset: commit.min_tx_offset(),
                });
            }
            return Err(CorruptionReason::OutOfOrder {
                expected: self.tx_offset_next,
                actual: commit.min_tx_offset(),
            });
        }
        if commit.epoch() < self.epoch_last {
            return Err(CorruptionReason::EpochRegression {
                last: self.epoch_last,
                actual: commit.epoch(),
            });
        }
        // Bounded by `rest.len()`, which is in memory: it fits in usize.
        self.pos += usize::try_from(commit.encoded_len()).unwrap_or(usize::MAX);
        self.tx_offset_next = commit.tx_offset_end();
        self.epoch_last = commit.epoch();
        self.n_commits += 1;
        Ok(commit)
    }
}

/// The file name of the segment whose first transaction is `min_tx_offset`:
/// 20 digits, zero-padded, then `.log`.
pub fn segment_file_name(min_tx_offset: u64) -> String {
    format!("{min_tx_offset:0width$}{SEGMENT_NAME_SUFFIX}", width = SEGMENT_NAME_DIGITS)
}

/// The path of that segment in `dir`.
pub fn segment_path(dir: &Path, min_tx_offset: u64) -> PathBuf {
    dir.join(segment_file_name(min_tx_offset))
}

/// Whether `name` looks like a segment (ends in `.log`), well formed or not.
pub(crate) fn is_segment_like(name: &str) -> bool {
    name.ends_with(SEGMENT_NAME_SUFFIX)
}

/// Parses a segment file name; `None` unless it is exactly 20 ASCII digits,
/// naming an offset that fits in u64, then `.log`.
pub(crate) fn parse_segment_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SEGMENT_NAME_SUFFIX)?;
    if digits.len() != SEGMENT_NAME_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The header every segment this code writes starts with.
pub(crate) fn encode_header() -> [u8; SEGMENT_HEADER_LEN] {
    let mut header = [0u8; SEGMENT_HEADER_LEN];
    header[0..8].copy_from_slice(&SEGMENT_MAGIC);
    header[8..10].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    header[10] = CHECKSUM_ALGORITHM_CRC32C;
    // Bytes 11..16 are reserved and stay zero.
    header
}

/// Checks the header at the start of `bytes` (the segment file). Never
/// panics on any input.
pub(crate) fn decode_header(bytes: &[u8]) -> Result<(), HeaderError> {
    let header = bytes
        .first_chunk::<SEGMENT_HEADER_LEN>()
        .ok_or(HeaderError::Incomplete { len: bytes.len() as u64 })?;
    let (magic, rest) =
        header.split_first_chunk::<8>().ok_or(HeaderError::Incomplete { len: 0 })?;
    let (version, rest) =
        rest.split_first_chunk::<2>().ok_or(HeaderError::Incomplete { len: 8 })?;
    let (algorithm, reserved) =
        rest.split_first_chunk::<1>().ok_or(HeaderError::Incomplete { len: 10 })?;
    let reserved = reserved.first_chunk::<5>().ok_or(HeaderError::Incomplete { len: 11 })?;
    if *magic != SEGMENT_MAGIC {
        return Err(HeaderError::BadMagic { found: *magic });
    }
    let version = u16::from_le_bytes(*version);
    if version != FORMAT_VERSION {
        return Err(HeaderError::UnknownVersion { version });
    }
    if algorithm[0] != CHECKSUM_ALGORITHM_CRC32C {
        return Err(HeaderError::UnknownChecksumAlgorithm { id: algorithm[0] });
    }
    if *reserved != [0; 5] {
        return Err(HeaderError::NonzeroReserved { found: *reserved });
    }
    Ok(())
}

/// Whether `error` is a commit a crash can leave at the tail of the log.
pub(crate) fn may_be_torn_write(reason: &CorruptionReason) -> bool {
    matches!(reason, CorruptionReason::Commit(error) if error.may_be_torn_write())
}

/// Looks for a commit that decodes whole (header, checksum, framing) at any
/// byte after the bad commit at `bad_pos`, with an offset at or after
/// `tx_offset_next` (the bad commit's expected offset) and an epoch at least
/// `epoch_last`.
///
/// Such a commit proves the bad one is not a torn tail: the writer only
/// appends, and a crash only loses or tears writes at their own places, so
/// a whole commit after a torn one was written after it and was meant to
/// follow it. Its offset is not bounded from above: a write that landed in
/// the wrong place (a misdirected write over durable commits) carries
/// commits far ahead of the one it overwrote, and cutting there would drop
/// acknowledged transactions silently. Cost: one header parse per byte,
/// plus a checksum for the rare header that passes those checks.
pub(crate) fn find_valid_commit_after(
    bytes: &[u8],
    bad_pos: usize,
    tx_offset_next: u64,
    epoch_last: u64,
) -> Option<usize> {
    use super::commit::CommitHeader;
    (bad_pos.saturating_add(1)..bytes.len()).find(|&pos| {
        let Some(rest) = bytes.get(pos..) else { return false };
        let Some(header) = CommitHeader::decode(rest) else { return false };
        // Cheap header checks first; decode_commit (checksum, framing)
        // decides.
        let plausible = header.n >= 1
            && header.commit_len() <= rest.len() as u64
            && header.epoch >= epoch_last
            && header.min_tx_offset >= tx_offset_next;
        plausible && decode_commit(rest).is_ok()
    })
}

/// Reads `len` bytes of a segment into memory, refusing lengths past
/// [`SEGMENT_LEN_MAX`] before allocating.
pub(crate) fn read_segment_bytes(
    file: &dyn crate::fs::File,
    len: u64,
) -> Result<Vec<u8>, SegmentReadError> {
    file.read_exact_vec_at(segment_len_in_memory(len)?, 0).map_err(SegmentReadError::Io)
}

/// `len` as a buffer length, if a segment may be that long.
fn segment_len_in_memory(len: u64) -> Result<usize, SegmentReadError> {
    if len > SEGMENT_LEN_MAX {
        return Err(SegmentReadError::TooLong { len });
    }
    usize::try_from(len).map_err(|_| SegmentReadError::TooLong { len })
}

/// Why a segment could not be loaded.
#[derive(Debug)]
pub(crate) enum SegmentReadError {
    TooLong { len: u64 },
    Io(std::io::Error),
}

#[cfg(test)]
mod tests {
    use super::super::commit::encode_commit;
    use super::*;

    #[test]
    fn a_segment_may_be_exactly_as_long_as_the_limit() {
        assert_eq!(segment_len_in_memory(SEGMENT_LEN_MAX).unwrap(), SEGMENT_LEN_MAX as usize);
        assert_eq!(segment_len_in_memory(0).unwrap(), 0);
        let too_long = SEGMENT_LEN_MAX + 1;
        assert!(matches!(
            segment_len_in_memory(too_long),
            Err(SegmentReadError::TooLong { len }) if len == too_long
        ));
    }

    /// `prefix` bytes of a good log, a bad commit at `bad_pos = prefix`,
    /// `distance` bytes of garbage, then a valid commit at offset
    /// `next + gap` and epoch `epoch`.
    fn bytes_with_a_commit_after_garbage(
        prefix: usize,
        distance: usize,
        next: u64,
        gap: u64,
        epoch: u64,
    ) -> Vec<u8> {
        let mut bytes = vec![0x11; prefix];
        bytes.extend(std::iter::repeat_n(0xEE, distance));
        encode_commit(&mut bytes, next + gap, epoch, &[b"x"]);
        bytes
    }

    #[test]
    fn a_valid_commit_after_a_bad_one_counts_at_any_later_offset_but_never_behind() {
        let (next, epoch) = (100, 5);
        for prefix in [0, 40] {
            for distance in [12, 13, 16, 41] {
                // However far ahead: a misdirected write over durable
                // commits carries commits far ahead of the one it broke.
                for gap in [0, 1, distance as u64 / 4, distance as u64, 1 << 40] {
                    let bytes =
                        bytes_with_a_commit_after_garbage(prefix, distance, next, gap, epoch);
                    let found = find_valid_commit_after(&bytes, prefix, next, epoch);
                    assert_eq!(
                        found,
                        Some(prefix + distance),
                        "prefix={prefix} distance={distance} gap={gap}"
                    );
                }
                let behind =
                    bytes_with_a_commit_after_garbage(prefix, distance, next - 1, 0, epoch);
                assert_eq!(find_valid_commit_after(&behind, prefix, next, epoch), None, "behind");
                let older = bytes_with_a_commit_after_garbage(prefix, distance, next, 0, epoch - 1);
                assert_eq!(
                    find_valid_commit_after(&older, prefix, next, epoch),
                    None,
                    "older epoch"
                );
            }
        }
    }

    #[test]
    fn names_are_twenty_digits_and_parse_back() {
        assert_eq!(segment_file_name(0), "00000000000000000000.log");
        assert_eq!(segment_file_name(42), "00000000000000000042.log");
        assert_eq!(segment_file_name(u64::MAX), "18446744073709551615.log");
        for offset in [0, 1, 42, 1 << 40, u64::MAX] {
            assert_eq!(parse_segment_file_name(&segment_file_name(offset)), Some(offset));
        }
        for bad in [
            "0000000000000000000.log",
            "000000000000000000000.log",
            "0000000000000000000a.log",
            "+0000000000000000001.log",
            "18446744073709551616.log",
            "00000000000000000000.lg",
            "00000000000000000000",
        ] {
            assert_eq!(parse_segment_file_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn header_round_trips_and_refuses_what_it_does_not_know() {
        let header = encode_header();
        assert_eq!(&header[..8], b"FLTLOG\0\0");
        assert_eq!(decode_header(&header), Ok(()));

        let mut bad = header;
        bad[8] = 2;
        let error = decode_header(&bad).unwrap_err();
        assert_eq!(error, HeaderError::UnknownVersion { version: 2 });
        assert!(error.is_unsupported());
        assert_eq!(error.to_string(), "unknown format version: version=2 supported=1");

        let mut bad = header;
        bad[10] = 2;
        assert_eq!(decode_header(&bad), Err(HeaderError::UnknownChecksumAlgorithm { id: 2 }));

        let mut bad = header;
        bad[15] = 1;
        assert!(matches!(decode_header(&bad), Err(HeaderError::NonzeroReserved { .. })));

        let mut bad = header;
        bad[0] = b'X';
        let error = decode_header(&bad).unwrap_err();
        assert!(matches!(error, HeaderError::BadMagic { .. }));
        assert!(!error.is_unsupported());

        for cut in 0..SEGMENT_HEADER_LEN {
            let error = decode_header(&header[..cut]).unwrap_err();
            assert_eq!(error, HeaderError::Incomplete { len: cut as u64 });
        }
    }

    #[test]
    fn every_header_bit_flip_is_refused() {
        let header = encode_header();
        for bit in 0..SEGMENT_HEADER_LEN * 8 {
            let mut flipped = header;
            flipped[bit / 8] ^= 1 << (bit % 8);
            assert!(decode_header(&flipped).is_err(), "bit {bit}");
        }
    }

    fn segment(commits: &[(u64, u64, &[&[u8]])]) -> Vec<u8> {
        let mut bytes = encode_header().to_vec();
        for (min_tx_offset, epoch, records) in commits {
            encode_commit(&mut bytes, *min_tx_offset, *epoch, records);
        }
        bytes
    }

    fn walk_all(bytes: &[u8], min_tx_offset: u64) -> Result<Walk, (Walk, CorruptionReason)> {
        let mut walk = Walk::new(min_tx_offset, 0);
        while let Some(step) = walk.next(bytes) {
            if let Err(reason) = step {
                return Err((walk, reason));
            }
        }
        Ok(walk)
    }

    #[test]
    fn walk_checks_name_contiguity_and_epochs() {
        let good = segment(&[(10, 1, &[b"a", b"b"]), (12, 1, &[b"c"]), (13, 2, &[b"d"])]);
        let walk = walk_all(&good, 10).unwrap();
        assert_eq!((walk.n_commits, walk.tx_offset_next, walk.epoch_last), (3, 14, 2));
        assert_eq!(walk.pos, good.len());

        let (walk, reason) = walk_all(&good, 9).unwrap_err();
        assert_eq!(walk.pos, SEGMENT_HEADER_LEN);
        assert_eq!(reason, CorruptionReason::NameMismatch { name_offset: 9, commit_offset: 10 });

        let gap = segment(&[(10, 1, &[b"a"]), (12, 1, &[b"c"])]);
        let (_, reason) = walk_all(&gap, 10).unwrap_err();
        assert_eq!(reason, CorruptionReason::OutOfOrder { expected: 11, actual: 12 });

        let regress = segment(&[(10, 3, &[b"a"]), (11, 2, &[b"c"])]);
        let (_, reason) = walk_all(&regress, 10).unwrap_err();
        assert_eq!(reason, CorruptionReason::EpochRegression { last: 3, actual: 2 });
    }

    #[test]
    fn valid_commit_after_a_bad_one_is_found_and_garbage_is_not() {
        let bytes = segment(&[(0, 0, &[b"aaaa"]), (1, 0, &[b"bbbb"]), (2, 0, &[b"cc"])]);
        let second = SEGMENT_HEADER_LEN + 34;
        let third = second + 34;
        let mut damaged = bytes.clone();
        damaged[second + 25] ^= 1;
        assert_eq!(find_valid_commit_after(&damaged, second, 1, 0), Some(third));
        // The same bytes, but the log already expects offset 3: the commit
        // at 2 lies behind it.
        assert_eq!(find_valid_commit_after(&damaged, second, 3, 0), None);

        let mut tail = bytes[..third].to_vec();
        tail.extend_from_slice(&[0; 100]);
        tail.extend((0..100u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
        assert_eq!(find_valid_commit_after(&tail, third, 2, 0), None);
    }
}
