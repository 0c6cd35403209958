//! The commit: the atomic unit of storage, and its byte encoding.
//!
//! ```text
//! offset    size  field
//!      0       8  min_tx_offset  u64 LE  offset of the commit's first transaction
//!      8       8  epoch          u64 LE
//!     16       2  n              u16 LE  transactions in the commit, >= 1
//!     18       4  len            u32 LE  payload bytes
//!     22     len  payload        n records, each a u32 LE length and that many bytes
//! 22+len       4  crc            u32 LE  CRC32C of bytes 0..22+len
//! ```
//!
//! Everything here is pure: decoding takes untrusted bytes and answers with a
//! typed error, never a panic; it allocates nothing on the strength of a
//! length field.

use std::fmt;
use std::ops::Range;

/// Bytes of a commit header.
pub const COMMIT_HEADER_LEN: usize =
    /* min_tx_offset */
    8 + /* epoch */ 8 + /* n */ 2 + /* len */ 4;
/// Bytes of the length prefix of one transaction record.
pub(crate) const RECORD_HEADER_LEN: usize = /* record length */ 4;
/// Bytes of the checksum that ends a commit.
pub(crate) const CHECKSUM_LEN: usize = /* crc32c */ 4;
/// The smallest possible commit: one empty transaction.
pub(crate) const COMMIT_LEN_MIN: usize = COMMIT_HEADER_LEN + RECORD_HEADER_LEN + CHECKSUM_LEN;
/// The most transactions one commit can hold (the `n` field is a u16).
pub const TRANSACTIONS_PER_COMMIT_MAX: usize = u16::MAX as usize;

const _: () = assert!(COMMIT_HEADER_LEN == 22);
const _: () = assert!(COMMIT_LEN_MIN == 30);
const _: () = assert!(TRANSACTIONS_PER_COMMIT_MAX == 65_535);

/// A commit, owned: what [`super::Commitlog::commits_from`] yields and what
/// [`Commit::decode`] returns.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Commit {
    /// The offset of the first transaction; the others follow contiguously.
    pub min_tx_offset: u64,
    /// The epoch the commit was written in.
    pub epoch: u64,
    /// The transactions, in offset order.
    pub transactions: Vec<Vec<u8>>,
}

/// Why bytes do not decode as a commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The bytes end before the commit does.
    Incomplete {
        /// Bytes the commit needs (as far as its header could be read).
        needed: u64,
        /// Bytes there are.
        available: u64,
    },
    /// The stored checksum does not match the bytes.
    ChecksumMismatch {
        /// The CRC32C stored after the payload.
        stored: u32,
        /// The CRC32C of the header and payload as read.
        computed: u32,
    },
    /// The header says `n = 0`.
    NoTransactions,
    /// Record `index` claims more bytes than the payload has left.
    RecordOverrun {
        /// The record's index in the commit.
        index: u16,
        /// The length the record claims.
        record_len: u64,
        /// The payload bytes left after its length prefix.
        remaining: u64,
    },
    /// The `n` records do not fill the payload exactly.
    TrailingPayload {
        /// Payload bytes left after the last record.
        bytes: u64,
    },
    /// `min_tx_offset + n` does not fit in a u64.
    OffsetOverflow {
        /// The header's `min_tx_offset`.
        min_tx_offset: u64,
        /// The header's `n`.
        n: u16,
    },
}

/// A commit header, as read from or written to disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CommitHeader {
    pub(crate) min_tx_offset: u64,
    pub(crate) epoch: u64,
    pub(crate) n: u16,
    pub(crate) len: u32,
}

/// A commit decoded in place and fully checked: checksum, `n >= 1`, record
/// framing, offset range. Only [`decode_commit`] makes one.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CommitView<'a> {
    header: CommitHeader,
    payload: &'a [u8],
}

/// The records of a commit's payload, in order.
#[derive(Clone, Debug)]
pub(crate) struct Records<'a> {
    rest: &'a [u8],
    index: u16,
    n: u16,
}

/// What identifies a commit of a log to a reader that holds neither the
/// log nor the commit: the offset of its last transaction and its stored
/// checksum. A snapshot of offset `O` records the stamp of the commit that
/// ends at `O`, and is restored only beside a log whose commit ending at
/// `O` has the same stamp (FORMAT.md, "Snapshots").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CommitStamp {
    /// The offset of the commit's last transaction.
    pub last_offset: u64,
    /// The commit's CRC32C, as stored at its end.
    pub crc: u32,
}

impl CommitStamp {
    /// The stamp of the commit `encoded` (exactly one whole commit, as
    /// written) ending at `last_offset`.
    pub(crate) fn of_encoded(last_offset: u64, encoded: &[u8]) -> CommitStamp {
        let crc = encoded.last_chunk::<CHECKSUM_LEN>().expect("a commit ends in its checksum");
        CommitStamp { last_offset, crc: u32::from_le_bytes(*crc) }
    }
}

impl Commit {
    /// The commit's stamp (see [`CommitStamp`]).
    pub fn stamp(&self) -> CommitStamp {
        let mut encoded = Vec::with_capacity(usize::try_from(self.encoded_len()).unwrap_or(0));
        self.encode(&mut encoded);
        let last_offset = self.tx_offsets().end - 1;
        CommitStamp::of_encoded(last_offset, &encoded)
    }

    /// The offsets of the commit's transactions.
    pub fn tx_offsets(&self) -> Range<u64> {
        let n = self.transactions.len() as u64;
        self.min_tx_offset..self.min_tx_offset.saturating_add(n)
    }

    /// The commit's size on disk, header and checksum included.
    pub fn encoded_len(&self) -> u64 {
        let records: Vec<&[u8]> = self.transactions.iter().map(Vec::as_slice).collect();
        commit_len(&records)
    }

    /// Appends the commit's encoding to `out`.
    ///
    /// Panics if the commit could not be decoded again: no transaction, more
    /// than [`TRANSACTIONS_PER_COMMIT_MAX`], a payload past `u32::MAX` bytes,
    /// or offsets past `u64::MAX`. The commitlog refuses such commits with an
    /// [`super::AppendError`] before it encodes them.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let records: Vec<&[u8]> = self.transactions.iter().map(Vec::as_slice).collect();
        encode_commit(out, self.min_tx_offset, self.epoch, &records);
    }

    /// Decodes the commit at the start of `bytes` (which may go on past it)
    /// and returns it with its encoded length. Never panics.
    pub fn decode(bytes: &[u8]) -> Result<(Commit, u64), DecodeError> {
        let view = decode_commit(bytes)?;
        Ok((view.to_commit(), view.encoded_len()))
    }
}

impl DecodeError {
    /// A short, stable name for the kind of failure.
    pub fn name(&self) -> &'static str {
        match self {
            DecodeError::Incomplete { .. } => "incomplete commit",
            DecodeError::ChecksumMismatch { .. } => "checksum mismatch",
            DecodeError::NoTransactions => "empty commit",
            DecodeError::RecordOverrun { .. } => "record overruns payload",
            DecodeError::TrailingPayload { .. } => "trailing payload bytes",
            DecodeError::OffsetOverflow { .. } => "offset overflow",
        }
    }

    /// Whether a crash can leave this behind: a commit cut short or with a
    /// checksum that fails. A commit whose checksum holds was written whole,
    /// so anything else wrong with it is not a torn write.
    pub fn may_be_torn_write(&self) -> bool {
        matches!(self, DecodeError::Incomplete { .. } | DecodeError::ChecksumMismatch { .. })
    }

    /// Writes the failure's details as ` key=value` pairs.
    pub(crate) fn fmt_context(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Incomplete { needed, available } => {
                write!(f, " needed-bytes={needed} available-bytes={available}")
            }
            DecodeError::ChecksumMismatch { stored, computed } => {
                write!(f, " stored-crc={stored:#010x} computed-crc={computed:#010x}")
            }
            DecodeError::NoTransactions => Ok(()),
            DecodeError::RecordOverrun { index, record_len, remaining } => {
                write!(f, " record={index} record-len={record_len} remaining-bytes={remaining}")
            }
            DecodeError::TrailingPayload { bytes } => write!(f, " trailing-bytes={bytes}"),
            DecodeError::OffsetOverflow { min_tx_offset, n } => {
                write!(f, " min-tx-offset={min_tx_offset} n={n}")
            }
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())?;
        if !matches!(self, DecodeError::NoTransactions) {
            // The context starts with a space: "name: key=value ...".
            f.write_str(":")?;
            self.fmt_context(f)?;
        }
        Ok(())
    }
}

impl std::error::Error for DecodeError {}

impl CommitHeader {
    /// Reads a header from the start of `bytes`; `None` if there are fewer
    /// than [`COMMIT_HEADER_LEN`] bytes. Any field values are accepted here.
    pub(crate) fn decode(bytes: &[u8]) -> Option<CommitHeader> {
        let header = bytes.first_chunk::<COMMIT_HEADER_LEN>()?;
        let (min_tx_offset, rest) = header.split_first_chunk::<8>()?;
        let (epoch, rest) = rest.split_first_chunk::<8>()?;
        let (n, rest) = rest.split_first_chunk::<2>()?;
        let len = rest.first_chunk::<4>()?;
        Some(CommitHeader {
            min_tx_offset: u64::from_le_bytes(*min_tx_offset),
            epoch: u64::from_le_bytes(*epoch),
            n: u16::from_le_bytes(*n),
            len: u32::from_le_bytes(*len),
        })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&self.min_tx_offset.to_le_bytes());
        out.extend_from_slice(&self.epoch.to_le_bytes());
        out.extend_from_slice(&self.n.to_le_bytes());
        out.extend_from_slice(&self.len.to_le_bytes());
        assert_eq!(out.len() - start, COMMIT_HEADER_LEN);
    }

    /// The whole commit's length on disk.
    pub(crate) fn commit_len(&self) -> u64 {
        COMMIT_HEADER_LEN as u64 + u64::from(self.len) + CHECKSUM_LEN as u64
    }

    /// The offset just past the commit's last transaction, if it fits.
    pub(crate) fn tx_offset_end(&self) -> Option<u64> {
        self.min_tx_offset.checked_add(u64::from(self.n))
    }
}

impl<'a> CommitView<'a> {
    pub(crate) fn min_tx_offset(&self) -> u64 {
        self.header.min_tx_offset
    }

    pub(crate) fn epoch(&self) -> u64 {
        self.header.epoch
    }

    /// The offset just past the last transaction (checked at decode).
    pub(crate) fn tx_offset_end(&self) -> u64 {
        self.header.min_tx_offset + u64::from(self.header.n)
    }

    pub(crate) fn encoded_len(&self) -> u64 {
        self.header.commit_len()
    }

    pub(crate) fn records(&self) -> Records<'a> {
        Records { rest: self.payload, index: 0, n: self.header.n }
    }

    pub(crate) fn to_commit(self) -> Commit {
        let transactions: Vec<Vec<u8>> = self.records().map(<[u8]>::to_vec).collect();
        assert_eq!(transactions.len(), usize::from(self.header.n), "framing checked at decode");
        Commit { min_tx_offset: self.header.min_tx_offset, epoch: self.header.epoch, transactions }
    }
}

impl<'a> Records<'a> {
    /// The next record, or the framing error that stops it. `Ok(None)` once
    /// all `n` records were read (trailing bytes are the caller's to check).
    fn next_record(&mut self) -> Result<Option<&'a [u8]>, DecodeError> {
        if self.index == self.n {
            return Ok(None);
        }
        let index = self.index;
        let overrun = |record_len: u64, remaining: usize| DecodeError::RecordOverrun {
            index,
            record_len,
            remaining: remaining as u64,
        };
        let (len, rest) = self
            .rest
            .split_first_chunk::<RECORD_HEADER_LEN>()
            .ok_or_else(|| overrun(RECORD_HEADER_LEN as u64, self.rest.len()))?;
        let record_len = u32::from_le_bytes(*len);
        let record_len_usize = usize::try_from(record_len).unwrap_or(usize::MAX);
        let record =
            rest.get(..record_len_usize).ok_or(overrun(u64::from(record_len), rest.len()))?;
        self.rest = rest.get(record_len_usize..).unwrap_or_default();
        self.index += 1;
        Ok(Some(record))
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = &'a [u8];

    /// Yields the records of a checked commit. On bytes that were not checked
    /// (never made by [`decode_commit`]) it stops at the first framing error.
    fn next(&mut self) -> Option<&'a [u8]> {
        self.next_record().ok().flatten()
    }
}

/// The encoded length of a commit holding `records`.
pub(crate) fn commit_len(records: &[&[u8]]) -> u64 {
    COMMIT_HEADER_LEN as u64 + payload_len(records) + CHECKSUM_LEN as u64
}

/// The payload length of a commit holding `records` (may exceed u32).
pub(crate) fn payload_len(records: &[&[u8]]) -> u64 {
    records.iter().map(|record| RECORD_HEADER_LEN as u64 + record.len() as u64).sum()
}

/// Appends the encoding of a commit to `out`.
///
/// The caller has checked what decoding will check; the asserts here catch
/// a caller that did not.
pub(crate) fn encode_commit(out: &mut Vec<u8>, min_tx_offset: u64, epoch: u64, records: &[&[u8]]) {
    assert!(!records.is_empty(), "a commit holds at least one transaction");
    let n = u16::try_from(records.len()).expect("at most u16::MAX transactions per commit");
    let len = u32::try_from(payload_len(records)).expect("commit payload fits in u32");
    assert!(min_tx_offset.checked_add(u64::from(n)).is_some(), "tx offsets fit in u64");
    let start = out.len();
    CommitHeader { min_tx_offset, epoch, n, len }.encode(out);
    for record in records {
        let record_len = u32::try_from(record.len()).expect("record length fits in u32");
        out.extend_from_slice(&record_len.to_le_bytes());
        out.extend_from_slice(record);
    }
    let checksum = crc32c::crc32c(&out[start..]);
    out.extend_from_slice(&checksum.to_le_bytes());
    assert_eq!((out.len() - start) as u64, commit_len(records));
}

/// Decodes and checks the commit at the start of `bytes`; the bytes may go
/// on past the commit. Never panics, allocates nothing.
///
/// Checks run in this order: enough bytes for the header and for the length
/// it claims; the checksum; then, on a commit whose checksum holds, `n >= 1`,
/// the offset range and the record framing.
pub(crate) fn decode_commit(bytes: &[u8]) -> Result<CommitView<'_>, DecodeError> {
    let available = bytes.len() as u64;
    let header = CommitHeader::decode(bytes)
        .ok_or(DecodeError::Incomplete { needed: COMMIT_HEADER_LEN as u64, available })?;
    let needed = header.commit_len();
    if needed > available {
        return Err(DecodeError::Incomplete { needed, available });
    }
    // `needed <= bytes.len()`, so these conversions and ranges are in bounds.
    let body_len = usize::try_from(needed).unwrap_or(usize::MAX) - CHECKSUM_LEN;
    let incomplete = DecodeError::Incomplete { needed, available };
    let body = bytes.get(..body_len).ok_or(incomplete.clone())?;
    let stored = bytes.get(body_len..).and_then(<[u8]>::first_chunk::<CHECKSUM_LEN>);
    let stored = u32::from_le_bytes(*stored.ok_or(incomplete.clone())?);
    let computed = crc32c::crc32c(body);
    if stored != computed {
        return Err(DecodeError::ChecksumMismatch { stored, computed });
    }
    if header.n == 0 {
        return Err(DecodeError::NoTransactions);
    }
    if header.tx_offset_end().is_none() {
        return Err(DecodeError::OffsetOverflow {
            min_tx_offset: header.min_tx_offset,
            n: header.n,
        });
    }
    let payload = body.get(COMMIT_HEADER_LEN..).ok_or(incomplete)?;
    check_framing(payload, header.n)?;
    Ok(CommitView { header, payload })
}

/// Checks that `payload` is exactly `n` length-prefixed records.
fn check_framing(payload: &[u8], n: u16) -> Result<(), DecodeError> {
    let mut records = Records { rest: payload, index: 0, n };
    while records.next_record()?.is_some() {}
    if !records.rest.is_empty() {
        return Err(DecodeError::TrailingPayload { bytes: records.rest.len() as u64 });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn encode(min_tx_offset: u64, epoch: u64, records: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_commit(&mut out, min_tx_offset, epoch, records);
        out
    }

    /// Re-seals a hand-edited commit with a checksum that holds.
    fn reseal(bytes: &mut [u8]) {
        let body_len = bytes.len() - CHECKSUM_LEN;
        let checksum = crc32c::crc32c(&bytes[..body_len]);
        bytes[body_len..].copy_from_slice(&checksum.to_le_bytes());
    }

    #[test]
    fn layout_matches_format_md() {
        let bytes = encode(0x0102, 7, &[b"ab", b""]);
        assert_eq!(bytes.len(), 22 + (4 + 2) + 4 + 4);
        assert_eq!(&bytes[0..8], &0x0102u64.to_le_bytes());
        assert_eq!(&bytes[8..16], &7u64.to_le_bytes());
        assert_eq!(&bytes[16..18], &2u16.to_le_bytes());
        assert_eq!(&bytes[18..22], &10u32.to_le_bytes());
        assert_eq!(&bytes[22..28], &[2, 0, 0, 0, b'a', b'b']);
        assert_eq!(&bytes[28..32], &[0, 0, 0, 0]);
        assert_eq!(&bytes[32..36], &crc32c::crc32c(&bytes[..32]).to_le_bytes());
    }

    #[test]
    fn checksum_is_crc32c_castagnoli() {
        // The check value FORMAT.md gives, for readers in other languages.
        assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
    }

    #[test]
    fn every_single_bit_flip_is_caught() {
        let bytes = encode(41, 3, &[b"hello", b"", b"world!"]);
        assert!(decode_commit(&bytes).is_ok());
        for bit in 0..bytes.len() * 8 {
            let mut flipped = bytes.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            let error = decode_commit(&flipped).unwrap_err();
            assert!(error.may_be_torn_write(), "bit {bit}: {error}");
        }
    }

    #[test]
    fn every_cut_is_incomplete() {
        let bytes = encode(0, 0, &[b"abc", b"defgh"]);
        for cut in 0..bytes.len() {
            let error = decode_commit(&bytes[..cut]).unwrap_err();
            assert!(matches!(error, DecodeError::Incomplete { .. }), "cut {cut}: {error}");
        }
    }

    #[test]
    fn zeros_fail_the_checksum() {
        let error = decode_commit(&[0; 64]).unwrap_err();
        assert!(matches!(error, DecodeError::ChecksumMismatch { stored: 0, .. }), "{error}");
    }

    #[test]
    fn malformed_commits_with_a_good_checksum_are_not_torn_writes() {
        // n = 0.
        let mut bytes = encode(5, 0, &[b"x"]);
        bytes[16..18].copy_from_slice(&0u16.to_le_bytes());
        reseal(&mut bytes);
        assert_eq!(decode_commit(&bytes).unwrap_err(), DecodeError::NoTransactions);
        // n = 2 with one record: the second record overruns.
        let mut bytes = encode(5, 0, &[b"x"]);
        bytes[16..18].copy_from_slice(&2u16.to_le_bytes());
        reseal(&mut bytes);
        let error = decode_commit(&bytes).unwrap_err();
        assert_eq!(error, DecodeError::RecordOverrun { index: 1, record_len: 4, remaining: 0 });
        assert!(!error.may_be_torn_write());
        // The record claims more than the payload holds.
        let mut bytes = encode(5, 0, &[b"xyz"]);
        bytes[22..26].copy_from_slice(&9u32.to_le_bytes());
        reseal(&mut bytes);
        let error = decode_commit(&bytes).unwrap_err();
        assert_eq!(error, DecodeError::RecordOverrun { index: 0, record_len: 9, remaining: 3 });
        // The record leaves payload bytes over.
        let mut bytes = encode(5, 0, &[b"xyz"]);
        bytes[22..26].copy_from_slice(&1u32.to_le_bytes());
        reseal(&mut bytes);
        assert_eq!(decode_commit(&bytes).unwrap_err(), DecodeError::TrailingPayload { bytes: 2 });
        // Offsets past u64::MAX.
        let mut bytes = encode(5, 0, &[b"x"]);
        bytes[0..8].copy_from_slice(&u64::MAX.to_le_bytes());
        reseal(&mut bytes);
        let error = decode_commit(&bytes).unwrap_err();
        assert_eq!(error, DecodeError::OffsetOverflow { min_tx_offset: u64::MAX, n: 1 });
    }

    #[test]
    fn errors_read_as_name_and_key_values() {
        let error = DecodeError::ChecksumMismatch { stored: 1, computed: 0xabcd };
        assert_eq!(
            error.to_string(),
            "checksum mismatch: stored-crc=0x00000001 computed-crc=0x0000abcd"
        );
        assert_eq!(DecodeError::NoTransactions.to_string(), "empty commit");
    }

    #[test]
    fn a_huge_length_field_allocates_nothing_and_is_incomplete() {
        let mut bytes = encode(0, 0, &[b"x"]);
        bytes[18..22].copy_from_slice(&u32::MAX.to_le_bytes());
        let error = decode_commit(&bytes).unwrap_err();
        assert!(matches!(error, DecodeError::Incomplete { needed, .. } if needed > 1 << 32));
    }

    proptest! {
        #[test]
        fn encode_decode_round_trip(
            min_tx_offset in 0u64..u64::MAX / 2,
            epoch: u64,
            transactions in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 1..16),
            trailing in prop::collection::vec(any::<u8>(), 0..8),
        ) {
            let commit = Commit { min_tx_offset, epoch, transactions };
            let mut bytes = Vec::new();
            commit.encode(&mut bytes);
            prop_assert_eq!(bytes.len() as u64, commit.encoded_len());
            bytes.extend_from_slice(&trailing);
            let (decoded, len) = Commit::decode(&bytes).unwrap();
            prop_assert_eq!(len, commit.encoded_len());
            prop_assert_eq!(decoded, commit);
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = Commit::decode(&bytes);
        }
    }
}
