//! An independent reader of the engine's on-disk formats, written from
//! `engine/FORMAT.md` alone: the storage checker's eyes on the simulated disk.
//!
//! The judge must never run the code it judges, so nothing here uses the
//! engine (only the tests do, to produce real files). Every function is
//! total: arbitrary bytes give a typed answer, never a panic, and nothing is
//! allocated for a length field before the bytes it claims are known to be
//! present.

const SEGMENT_MAGIC: [u8; 8] = *b"FLTLOG\0\0";
const PAGE_MAGIC: [u8; 8] = *b"FLPAGE\0\0";
const MANIFEST_MAGIC: [u8; 8] = *b"FLSNAP\0\0";
/// The only version of segments and page files.
const FORMAT_VERSION: u16 = 1;
/// The only version of manifests (2 added `log_commit`).
const MANIFEST_VERSION: u16 = 2;
/// The segment header's checksum algorithm id of CRC32C.
const CHECKSUM_CRC32C: u8 = 1;
const SEGMENT_HEADER_LEN: usize = 8 /* magic */ + 2 /* version */ + 1 /* algorithm */ + 5;
const COMMIT_HEADER_LEN: usize = 8 /* min_tx_offset */ + 8 /* epoch */ + 2 /* n */ + 4 /* len */;
const CRC_LEN: usize = 4 /* crc32c */;
const RECORD_HEADER_LEN: usize = 4 /* length */;
/// The smallest commit (one empty transaction): it bounds the walk.
const COMMIT_LEN_MIN: usize = COMMIT_HEADER_LEN + RECORD_HEADER_LEN + CRC_LEN;
/// A page slot length that marks a hole.
const HOLE: u32 = u32::MAX;
const TABLE_LEN_MIN: usize = 4 /* id */ + 2 /* name len */ + 2 /* n_columns */ + 4 /* n_pages */;
const COLUMN_LEN_MIN: usize = 2 /* name len */ + 1 /* type tag */;
const PAGE_REF_LEN: usize = 8 /* source */ + 4 /* len */ + 4 /* crc */;
const _: () = assert!(SEGMENT_HEADER_LEN == 16);
const _: () = assert!(COMMIT_HEADER_LEN == 22);
const _: () = assert!(COMMIT_LEN_MIN == 30);

/// One commit that decoded whole (header, CRC32C, framing: n >= 1, records
/// fill the payload exactly, offsets fit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CommitSummary {
    /// Its byte offset in the segment file.
    pub(crate) pos: u64,
    /// The offset of its first transaction.
    pub(crate) min_tx_offset: u64,
    /// How many transactions it holds (at least 1).
    pub(crate) n: u16,
    /// The epoch it was written in.
    pub(crate) epoch: u64,
    /// The whole commit's length: 22 + payload + 4.
    pub(crate) len: u64,
    /// Its stored CRC32C (which holds).
    pub(crate) crc: u32,
}

/// How a walk of a segment ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SegmentEnd {
    /// The last whole commit (or the header) ends exactly at EOF.
    Clean,
    /// The bytes at `pos` do not decode as a whole commit that continues the
    /// segment (at `pos` 0: as a header).
    Tail {
        /// Byte offset in the file where the bad bytes start.
        pos: u64,
        /// Why, as `name: key=value ...`.
        reason: String,
    },
}

/// What a segment holds, read in order from the header on, commits back to
/// back, stopping at the first that does not decode whole or does not
/// continue the one before it (`min_tx_offset` = previous `min_tx_offset + n`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SegmentSummary {
    /// Whether the header is valid; if not, no commit is read.
    pub(crate) header: Result<(), String>,
    /// The whole commits in file order. Epochs are reported, not checked.
    pub(crate) commits: Vec<CommitSummary>,
    /// How the walk ended.
    pub(crate) end: SegmentEnd,
}

/// How a snapshot was written (manifest tags 0, 1, 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SnapshotKind {
    /// Every page written into the snapshot's own directory.
    Full,
    /// Only the pages changed since the parent written.
    Incremental,
    /// An incremental chain folded into this snapshot's directory.
    Compacted,
}

/// Where one page of a table lives and what its file must hash to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct PageRef {
    /// The table the page belongs to.
    pub(crate) table_id: u32,
    /// Its position in the table's page list (its page index).
    pub(crate) index: u32,
    /// The snapshot whose directory holds the page file.
    pub(crate) source: u64,
    /// The page file's length in bytes.
    pub(crate) len: u32,
    /// The page file's trailing CRC32C.
    pub(crate) crc: u32,
}

/// A decoded manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ManifestSummary {
    /// The transaction offset the snapshot captures.
    pub(crate) offset: u64,
    /// How it was written.
    pub(crate) kind: SnapshotKind,
    /// The parent snapshot (`u64::MAX` on disk is `None`).
    pub(crate) parent: Option<u64>,
    /// Incrementals since the last full or compacted snapshot.
    pub(crate) chain_len: u32,
    /// The CRC32C of the log's commit that ends at `offset`: which history
    /// the snapshot is of.
    pub(crate) log_commit_crc: u32,
    /// The tables, in manifest order.
    pub(crate) tables: Vec<TableSummary>,
}

/// One table of a manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TableSummary {
    /// The table id.
    pub(crate) id: u32,
    /// The table name.
    pub(crate) name: String,
    /// The columns in position order: name and type tag (1 u64, 2 i64,
    /// 3 bool, 4 string, 5 bytes).
    pub(crate) columns: Vec<(String, u8)>,
    /// The pages, by index.
    pub(crate) pages: Vec<PageRef>,
}

/// A segment file name `<20 digits>.log` -> its first offset (`None` if not
/// of that form or past `u64::MAX`).
pub(crate) fn parse_segment_name(name: &str) -> Option<u64> {
    parse_offset_digits(name.strip_suffix(".log")?)
}

/// A `<20 digits>` snapshot directory name -> its offset (`None` for `.tmp`,
/// `.rejected`, past `u64::MAX` or anything else).
pub(crate) fn parse_snapshot_dir_name(name: &str) -> Option<u64> {
    parse_offset_digits(name)
}

/// The page file name `<table_id>-<page_index>.page`, both in decimal.
pub(crate) fn page_file_name(table_id: u32, page_index: u32) -> String {
    format!("{table_id}-{page_index}.page")
}

/// Reads a segment: its header, then commits back to back up to the first
/// that does not decode whole or does not continue the previous commit.
pub(crate) fn read_segment(bytes: &[u8]) -> SegmentSummary {
    if let Err(reason) = check_segment_header(bytes) {
        let end = SegmentEnd::Tail { pos: 0, reason: reason.clone() };
        return SegmentSummary { header: Err(reason), commits: Vec::new(), end };
    }
    let (commits, end) = walk_commits(bytes, Vec::new(), SEGMENT_HEADER_LEN);
    SegmentSummary { header: Ok(()), commits, end }
}

/// Reads a segment of which an earlier read returned `earlier`, when the
/// bytes below `unchanged_below` are still what that read saw (what the
/// simulated disk says of the file): if its whole commits lie there (a log
/// only appends), the walk goes on after them instead of verifying them
/// again. The result is what [`read_segment`] returns (asserted in debug
/// builds): a commit decodes from its own bytes alone, so the walk's prefix
/// is a function of the bytes up to where it ended.
pub(crate) fn read_segment_after(
    bytes: &[u8],
    earlier: SegmentSummary,
    unchanged_below: u64,
) -> SegmentSummary {
    let whole_end = whole_commits_end(&earlier);
    if earlier.header.is_err() || bytes.len() < whole_end || unchanged_below < whole_end as u64 {
        return read_segment(bytes);
    }
    let (commits, end) = walk_commits(bytes, earlier.commits, whole_end);
    let summary = SegmentSummary { header: Ok(()), commits, end };
    debug_assert_eq!(summary, read_segment(bytes), "a resumed walk reads what a whole one does");
    summary
}

/// Where a segment's last whole commit ends (after the header if it holds
/// none).
fn whole_commits_end(summary: &SegmentSummary) -> usize {
    let end = summary.commits.last().map_or(SEGMENT_HEADER_LEN as u64, |last| last.pos + last.len);
    usize::try_from(end).expect("a commit lies within bytes in memory")
}

impl SegmentSummary {
    /// The offset after the last whole commit (`min_tx_offset + n` of the
    /// last one), if any.
    pub(crate) fn next_offset(&self) -> Option<u64> {
        self.commits.last().map(CommitSummary::offset_end)
    }

    /// The first commit's `min_tx_offset`, if any.
    pub(crate) fn first_offset(&self) -> Option<u64> {
        self.commits.first().map(|commit| commit.min_tx_offset)
    }

    /// Whether transaction `offset` lies in one of its whole commits (which
    /// are contiguous: the first to the last covers them all).
    pub(crate) fn holds(&self, offset: u64) -> bool {
        let range = self.first_offset().zip(self.next_offset());
        range.is_some_and(|(first, next)| (first..next).contains(&offset))
    }
}

impl CommitSummary {
    /// The offset just past its last transaction (checked to fit at decode).
    pub(crate) fn offset_end(&self) -> u64 {
        self.min_tx_offset.saturating_add(u64::from(self.n))
    }
}

/// Decodes a manifest: magic, version 2, trailing CRC32C over all bytes
/// before it, every field bounded by the bytes present, none left over.
/// `Err` names the byte offset and cause (`at=<n> reason`).
pub(crate) fn read_manifest(bytes: &[u8]) -> Result<ManifestSummary, String> {
    let mut fields = Fields::sealed(bytes, &MANIFEST_MAGIC, MANIFEST_VERSION)?;
    let kind = match fields.u8("kind")? {
        0 => SnapshotKind::Full,
        1 => SnapshotKind::Incremental,
        2 => SnapshotKind::Compacted,
        tag => return Err(format!("at=10 unknown kind={tag}")),
    };
    match fields.u8("reserved")? {
        0 => {}
        found => return Err(format!("at=11 nonzero reserved byte: found={found}")),
    }
    let offset = fields.u64("offset")?;
    let parent = Some(fields.u64("parent")?).filter(|parent| *parent != u64::MAX);
    let chain_len = fields.u32("chain-len")?;
    let log_commit_crc = fields.u32("log-commit")?;
    let n_tables = fields.count_u32("n-tables", TABLE_LEN_MIN)?;
    let mut tables = Vec::with_capacity(n_tables);
    for _ in 0..n_tables {
        tables.push(read_table(&mut fields)?);
    }
    fields.finish("the last table")?;
    Ok(ManifestSummary { offset, kind, parent, chain_len, log_commit_crc, tables })
}

/// Checks a page file's framing (magic, version, trailing CRC32C, `n_slots`
/// slots filling the body exactly) and returns its `(table_id, page_index,
/// modified_at)`. `Err` names the byte offset and cause.
pub(crate) fn read_page_header(bytes: &[u8]) -> Result<(u32, u32, u64), String> {
    let mut fields = Fields::sealed(bytes, &PAGE_MAGIC, FORMAT_VERSION)?;
    let table_id = fields.u32("table-id")?;
    let page_index = fields.u32("page-index")?;
    let modified_at = fields.u64("modified-at")?;
    for _ in 0..fields.count_u32("n-slots", RECORD_HEADER_LEN)? {
        let len = fields.u32("slot-len")?;
        if len != HOLE {
            fields.take(usize::try_from(len).unwrap_or(usize::MAX), "row")?;
        }
    }
    fields.finish("the last slot")?;
    Ok((table_id, page_index, modified_at))
}

/// `digits` as an offset, if exactly 20 ASCII digits that fit in a u64.
fn parse_offset_digits(digits: &str) -> Option<u64> {
    let well_formed = digits.len() == 20 && digits.bytes().all(|byte| byte.is_ascii_digit());
    well_formed.then(|| digits.parse().ok()).flatten()
}

/// Checks the 16-byte segment header at the start of `bytes`.
fn check_segment_header(bytes: &[u8]) -> Result<(), String> {
    let Some(header) = bytes.first_chunk::<SEGMENT_HEADER_LEN>() else {
        let available = bytes.len();
        return Err(format!("incomplete header: available-bytes={available} needed-bytes=16"));
    };
    let [m0, m1, m2, m3, m4, m5, m6, m7, v0, v1, algorithm, reserved @ ..] = *header;
    let magic = [m0, m1, m2, m3, m4, m5, m6, m7];
    if magic != SEGMENT_MAGIC {
        return Err(format!("bad magic: found={magic:02x?}"));
    }
    let version = u16::from_le_bytes([v0, v1]);
    if version != FORMAT_VERSION {
        return Err(format!("unknown format version: version={version} supported=1"));
    }
    if algorithm != CHECKSUM_CRC32C {
        return Err(format!("unknown checksum algorithm: algorithm={algorithm} supported=1"));
    }
    if reserved != [0; 5] {
        return Err(format!("nonzero reserved bytes: found={reserved:02x?}"));
    }
    Ok(())
}

/// Walks the commits from byte `pos` on (after a valid header), after
/// `commits`, those before it; see [`read_segment`].
fn walk_commits(
    bytes: &[u8],
    mut commits: Vec<CommitSummary>,
    mut pos: usize,
) -> (Vec<CommitSummary>, SegmentEnd) {
    while let Some(rest) = bytes.get(pos..).filter(|rest| !rest.is_empty()) {
        let tail = |reason| SegmentEnd::Tail { pos: pos as u64, reason };
        let commit = match decode_commit(rest, pos as u64) {
            Ok(commit) => commit,
            Err(reason) => return (commits, tail(reason)),
        };
        if let Some(expected) = commits.last().map(CommitSummary::offset_end)
            && commit.min_tx_offset != expected
        {
            let actual = commit.min_tx_offset;
            let reason =
                format!("out-of-order commit: expected-offset={expected} actual-offset={actual}");
            return (commits, tail(reason));
        }
        // Each step moves on by at least the smallest commit: the loop ends.
        assert!(commit.len >= COMMIT_LEN_MIN as u64);
        assert!(commit.len <= rest.len() as u64);
        pos += usize::try_from(commit.len).unwrap_or(usize::MAX);
        commits.push(commit);
    }
    (commits, SegmentEnd::Clean)
}

/// Decodes the commit at the start of `rest` (which may go on past it), in
/// FORMAT.md's order: completeness, checksum, then `n`, offsets, framing.
fn decode_commit(rest: &[u8], pos: u64) -> Result<CommitSummary, String> {
    let available = rest.len();
    let incomplete = |needed: u64| {
        format!("incomplete commit: needed-bytes={needed} available-bytes={available}")
    };
    let (Some(min_tx_offset), Some(epoch), Some(n), Some(len)) =
        (chunk::<8>(rest, 0), chunk::<8>(rest, 8), chunk::<2>(rest, 16), chunk::<4>(rest, 18))
    else {
        return Err(incomplete(COMMIT_HEADER_LEN as u64));
    };
    let (min_tx_offset, epoch) = (u64::from_le_bytes(min_tx_offset), u64::from_le_bytes(epoch));
    let (n, payload_len) = (u16::from_le_bytes(n), u32::from_le_bytes(len));
    let commit_len = (COMMIT_HEADER_LEN + CRC_LEN) as u64 + u64::from(payload_len);
    let body_len = usize::try_from(commit_len).unwrap_or(usize::MAX).saturating_sub(CRC_LEN);
    // From here on `commit_len <= rest.len()`: it fits in usize.
    let (Some(body), Some(stored)) = (rest.get(..body_len), chunk::<4>(rest, body_len)) else {
        return Err(incomplete(commit_len));
    };
    let (stored, computed) = (u32::from_le_bytes(stored), crc32c::crc32c(body));
    if stored != computed {
        return Err(mismatch(stored, computed));
    }
    if n == 0 {
        return Err("empty commit: n=0".to_owned());
    }
    if min_tx_offset.checked_add(u64::from(n)).is_none() {
        return Err(format!("offset overflow: min-tx-offset={min_tx_offset} n={n}"));
    }
    check_records(body.get(COMMIT_HEADER_LEN..).unwrap_or_default(), n)?;
    Ok(CommitSummary { pos, min_tx_offset, n, epoch, len: commit_len, crc: stored })
}

/// Checks that `payload` is exactly `n` length-prefixed records.
fn check_records(payload: &[u8], n: u16) -> Result<(), String> {
    let mut rest = payload;
    for index in 0..n {
        let overrun = |record_len: u64, remaining: usize| {
            format!(
                "record overruns payload: record={index} record-len={record_len} \
                 remaining-bytes={remaining}"
            )
        };
        let (len, after) = rest
            .split_first_chunk::<RECORD_HEADER_LEN>()
            .ok_or_else(|| overrun(RECORD_HEADER_LEN as u64, rest.len()))?;
        let len = u32::from_le_bytes(*len);
        let next = after.get(usize::try_from(len).unwrap_or(usize::MAX)..);
        rest = next.ok_or_else(|| overrun(u64::from(len), after.len()))?;
    }
    match rest.len() {
        0 => Ok(()),
        bytes => Err(format!("trailing payload bytes: bytes={bytes}")),
    }
}

/// `N` bytes of `bytes` at `at`, if present.
fn chunk<const N: usize>(bytes: &[u8], at: usize) -> Option<[u8; N]> {
    bytes.get(at..)?.first_chunk().copied()
}

/// The reason of a checksum that does not hold.
fn mismatch(stored: u32, computed: u32) -> String {
    format!("checksum mismatch: stored-crc={stored:#010x} computed-crc={computed:#010x}")
}

/// Reads one table entry of a manifest.
fn read_table(fields: &mut Fields<'_>) -> Result<TableSummary, String> {
    let id = fields.u32("table-id")?;
    let name = fields.str16("table-name")?;
    let n_columns = fields.count_u16("n-columns", COLUMN_LEN_MIN)?;
    let mut columns = Vec::with_capacity(n_columns);
    for _ in 0..n_columns {
        let column = fields.str16("column-name")?;
        let tag = fields.u8("column-type")?;
        if !(1..=5).contains(&tag) {
            return Err(format!("at={} unknown column type={tag}", fields.at.saturating_sub(1)));
        }
        columns.push((column, tag));
    }
    let n_pages = fields.count_u32("n-pages", PAGE_REF_LEN)?;
    let mut pages = Vec::with_capacity(n_pages);
    for index in (0..).take(n_pages) {
        let (source, len, crc) = (fields.u64("source")?, fields.u32("len")?, fields.u32("crc")?);
        pages.push(PageRef { table_id: id, index, source, len, crc });
    }
    Ok(TableSummary { id, name, columns, pages })
}

/// Reads little-endian fields front to back, each bounded by the bytes
/// present; errors name the field's offset.
struct Fields<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Fields<'a> {
    /// Checks a snapshot file's frame (length, magic, trailing CRC32C,
    /// `version`) and returns its body's fields after the version.
    fn sealed(bytes: &'a [u8], magic: &[u8; 8], version: u16) -> Result<Fields<'a>, String> {
        let len = bytes.len();
        let Some(crc_at) = len.checked_sub(CRC_LEN).filter(|at| *at >= magic.len()) else {
            return Err(format!("at=0 truncated: file-len={len} min-len=12"));
        };
        let (body, crc) = bytes.split_at(crc_at);
        if !body.starts_with(magic) {
            return Err(format!(
                "at=0 bad magic: found={:02x?}",
                body.get(..magic.len()).unwrap_or_default()
            ));
        }
        let stored = u32::from_le_bytes(chunk(crc, 0).unwrap_or_default());
        let computed = crc32c::crc32c(body);
        if stored != computed {
            return Err(format!("at={crc_at} {}", mismatch(stored, computed)));
        }
        let mut fields = Fields { bytes: body, at: magic.len() };
        match fields.u16("version")? {
            found if found == version => Ok(fields),
            found => Err(format!("at=8 unknown version={found} supported={version}")),
        }
    }

    fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.at)
    }

    fn take(&mut self, n: usize, field: &str) -> Result<&'a [u8], String> {
        let taken = self.at.checked_add(n).and_then(|end| self.bytes.get(self.at..end));
        let (at, remaining) = (self.at, self.remaining());
        let taken = taken.ok_or_else(|| {
            format!("at={at} truncated: field={field} wanted-bytes={n} available-bytes={remaining}")
        })?;
        self.at += n;
        Ok(taken)
    }

    fn array<const N: usize>(&mut self, field: &str) -> Result<[u8; N], String> {
        Ok(self.take(N, field)?.first_chunk().copied().unwrap_or([0; N]))
    }

    fn u8(&mut self, field: &str) -> Result<u8, String> {
        Ok(u8::from_le_bytes(self.array(field)?))
    }

    fn u16(&mut self, field: &str) -> Result<u16, String> {
        Ok(u16::from_le_bytes(self.array(field)?))
    }

    fn u32(&mut self, field: &str) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.array(field)?))
    }

    fn u64(&mut self, field: &str) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.array(field)?))
    }

    /// A u16 count of items of at least `item_len` bytes, refused unless the
    /// bytes left can hold them: callers may allocate for it.
    fn count_u16(&mut self, field: &str, item_len: usize) -> Result<usize, String> {
        let count = usize::from(self.u16(field)?);
        self.bounded(field, 2, count, item_len)
    }

    /// As [`Fields::count_u16`], for a u32 count.
    fn count_u32(&mut self, field: &str, item_len: usize) -> Result<usize, String> {
        let count = usize::try_from(self.u32(field)?).unwrap_or(usize::MAX);
        self.bounded(field, 4, count, item_len)
    }

    fn bounded(
        &self,
        field: &str,
        width: usize,
        count: usize,
        item_len: usize,
    ) -> Result<usize, String> {
        let (at, remaining) = (self.at.saturating_sub(width), self.remaining());
        if count > remaining / item_len {
            return Err(format!(
                "at={at} {field}={count} exceeds the file: remaining-bytes={remaining}"
            ));
        }
        Ok(count)
    }

    /// A u16 length, then that many bytes of UTF-8.
    fn str16(&mut self, field: &str) -> Result<String, String> {
        let len = usize::from(self.u16(field)?);
        let at = self.at;
        let text = self.take(len, field)?.to_vec();
        String::from_utf8(text).map_err(|_| format!("at={at} not utf-8: field={field}"))
    }

    /// Refuses bytes left over after the last item.
    fn finish(&self, after: &str) -> Result<(), String> {
        match self.remaining() {
            0 => Ok(()),
            bytes => Err(format!("at={} trailing bytes after {after}: bytes={bytes}", self.at)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;
    use std::sync::Arc;

    use faultline_engine::datastore::{ColumnDef, ColumnType, Value};
    use faultline_engine::fs::{EntryKind, Fs};
    use faultline_engine::snapshot::{self, Manifest};
    use faultline_engine::{Database, Options};
    use faultline_sim::{FaultConfig, Seed, SimFs};

    use super::*;

    // Encoders written from FORMAT.md, to build files by hand.

    fn seal(mut body: Vec<u8>) -> Vec<u8> {
        body.extend_from_slice(&crc32c::crc32c(&body).to_le_bytes());
        body
    }

    /// A commit with any `n` and payload, its checksum right.
    fn raw_commit(min_tx_offset: u64, epoch: u64, n: u16, payload: &[u8]) -> Vec<u8> {
        let mut out = [min_tx_offset.to_le_bytes(), epoch.to_le_bytes()].concat();
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        out.extend_from_slice(payload);
        seal(out)
    }

    fn commit(min_tx_offset: u64, epoch: u64, records: &[&[u8]]) -> Vec<u8> {
        let framed = records.iter().map(|r| [&(r.len() as u32).to_le_bytes()[..], r].concat());
        let payload = framed.collect::<Vec<_>>().concat();
        raw_commit(min_tx_offset, epoch, records.len() as u16, &payload)
    }

    fn segment(commits: &[Vec<u8>]) -> Vec<u8> {
        [b"FLTLOG\0\0\x01\0\x01\0\0\0\0\0".to_vec(), commits.concat()].concat()
    }

    fn put_str(out: &mut Vec<u8>, text: &str) {
        out.extend_from_slice(&(text.len() as u16).to_le_bytes());
        out.extend_from_slice(text.as_bytes());
    }

    fn encode_manifest(m: &ManifestSummary) -> Vec<u8> {
        let kinds = [SnapshotKind::Full, SnapshotKind::Incremental, SnapshotKind::Compacted];
        let mut out = [&MANIFEST_MAGIC[..], &[2, 0][..]].concat();
        out.extend([kinds.iter().position(|k| *k == m.kind).unwrap() as u8, 0]);
        out.extend_from_slice(
            &[m.offset, m.parent.unwrap_or(u64::MAX)].map(u64::to_le_bytes).concat(),
        );
        let counts = [m.chain_len, m.log_commit_crc, m.tables.len() as u32];
        out.extend_from_slice(&counts.map(u32::to_le_bytes).concat());
        for table in &m.tables {
            out.extend_from_slice(&table.id.to_le_bytes());
            put_str(&mut out, &table.name);
            out.extend_from_slice(&(table.columns.len() as u16).to_le_bytes());
            for (name, tag) in &table.columns {
                put_str(&mut out, name);
                out.push(*tag);
            }
            out.extend_from_slice(&(table.pages.len() as u32).to_le_bytes());
            for page in &table.pages {
                out.extend_from_slice(&page.source.to_le_bytes());
                out.extend_from_slice(&[page.len, page.crc].map(u32::to_le_bytes).concat());
            }
        }
        seal(out)
    }

    /// Two tables: one empty (12 bytes at 40), one with columns and pages.
    fn sample_manifest() -> ManifestSummary {
        let page = |index, source| PageRef { table_id: 4096, index, source, len: 64, crc: 7 };
        let columns = vec![("id".to_owned(), 1), ("owner".to_owned(), 4)];
        let table = TableSummary {
            id: 4096,
            name: "t".into(),
            columns,
            pages: vec![page(0, 3), page(1, 9)],
        };
        let empty = TableSummary { id: 1, name: String::new(), columns: vec![], pages: vec![] };
        let (kind, tables) = (SnapshotKind::Incremental, vec![empty, table]);
        ManifestSummary {
            offset: 9,
            kind,
            parent: Some(3),
            chain_len: 1,
            log_commit_crc: 7,
            tables,
        }
    }

    fn page_file(table_id: u32, index: u32, modified_at: u64, slots: &[Option<&[u8]>]) -> Vec<u8> {
        let mut out = [&PAGE_MAGIC[..], &[1, 0][..]].concat();
        out.extend_from_slice(&[table_id, index].map(u32::to_le_bytes).concat());
        out.extend_from_slice(&modified_at.to_le_bytes());
        out.extend_from_slice(&(slots.len() as u32).to_le_bytes());
        for slot in slots {
            out.extend_from_slice(&slot.map_or(HOLE, |row| row.len() as u32).to_le_bytes());
            out.extend_from_slice(slot.unwrap_or_default());
        }
        seal(out)
    }

    /// `file` with `patch` at `at`, sealed again so the checks after the
    /// checksum are reached.
    fn patched(file: &[u8], at: usize, patch: &[u8]) -> Vec<u8> {
        let mut body = file[..file.len() - CRC_LEN].to_vec();
        body[at..at + patch.len()].copy_from_slice(patch);
        seal(body)
    }

    /// Reads `bytes` and checks what any summary must satisfy: commits back
    /// to back and contiguous, the end where the last one ends.
    fn read_checked(bytes: &[u8]) -> SegmentSummary {
        let summary = read_segment(bytes);
        let mut pos = SEGMENT_HEADER_LEN as u64;
        for (i, commit) in summary.commits.iter().enumerate() {
            assert_eq!(commit.pos, pos, "back to back");
            let previous = i.checked_sub(1).map(|i| summary.commits[i].offset_end());
            assert!(previous.is_none_or(|end| end == commit.min_tx_offset), "contiguous");
            pos += commit.len;
        }
        match (&summary.header, &summary.end) {
            (Err(_), SegmentEnd::Tail { pos: 0, .. }) => assert!(summary.commits.is_empty()),
            (Ok(()), SegmentEnd::Clean) => assert_eq!(pos, bytes.len() as u64),
            (Ok(()), SegmentEnd::Tail { pos: tail, .. }) => assert_eq!(*tail, pos),
            other => panic!("inconsistent summary: {other:?}"),
        }
        summary
    }

    fn tail_reason(bytes: &[u8]) -> String {
        match read_checked(bytes).end {
            SegmentEnd::Tail { reason, .. } => reason,
            SegmentEnd::Clean => panic!("expected a tail"),
        }
    }

    #[test]
    fn names_are_twenty_digits_and_the_crc_is_castagnoli() {
        assert_eq!(crc32c::crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(parse_segment_name("00000000000000001234.log"), Some(1234));
        assert_eq!(parse_segment_name("18446744073709551615.log"), Some(u64::MAX));
        assert_eq!(parse_snapshot_dir_name("00000000000000000042"), Some(42));
        for bad in [
            "0000000000000000000.log",
            "000000000000000000000.log",
            "0000000000000000000a.log",
            "+0000000000000000001.log",
            "18446744073709551616.log",
            "00000000000000000000.log.rewrite",
            "０000000000000000000.log",
            "00000000000000000000",
        ] {
            assert_eq!(parse_segment_name(bad), None, "{bad}");
        }
        for bad in ["00000000000000000042.tmp", "00000000000000000042.rejected", "42"] {
            assert_eq!(parse_snapshot_dir_name(bad), None, "{bad}");
        }
        assert_eq!(page_file_name(4096, 3), "4096-3.page");
    }

    #[test]
    fn a_hand_built_segment_reads_back_and_headers_are_checked() {
        let summary = read_checked(&segment(&[
            commit(10, 1, &[b"a", b"bc"]),
            commit(12, 1, &[b""]),
            commit(13, 2, &[b"d"]),
        ]));
        let found: Vec<_> =
            summary.commits.iter().map(|c| (c.pos, c.min_tx_offset, c.n, c.epoch, c.len)).collect();
        assert_eq!(found, [(16, 10, 2, 1, 37), (53, 12, 1, 1, 30), (83, 13, 1, 2, 31)]);
        assert_eq!((summary.first_offset(), summary.next_offset()), (Some(10), Some(14)));
        assert!(!summary.holds(9) && summary.holds(10) && summary.holds(13) && !summary.holds(14));
        let empty = read_checked(&segment(&[]));
        assert_eq!((empty.next_offset(), empty.end), (None, SegmentEnd::Clean));

        let good = segment(&[commit(0, 0, &[b"x"])]);
        for cut in 0..SEGMENT_HEADER_LEN {
            assert!(tail_reason(&good[..cut]).starts_with("incomplete header"), "cut={cut}");
        }
        let refused = |at: usize, byte: u8| {
            let mut bytes = good.clone();
            bytes[at] = byte;
            read_checked(&bytes).header.unwrap_err()
        };
        assert!(refused(0, b'X').starts_with("bad magic"));
        assert_eq!(refused(8, 2), "unknown format version: version=2 supported=1");
        assert_eq!(refused(10, 2), "unknown checksum algorithm: algorithm=2 supported=1");
        assert!(refused(15, 1).starts_with("nonzero reserved bytes"));
    }

    #[test]
    fn every_cut_and_every_bit_flip_leaves_the_good_prefix() {
        let commits =
            [commit(0, 1, &[b"aaaa"]), commit(1, 1, &[b"bb", b"c"]), commit(3, 1, &[b"d"])];
        let bytes = segment(&commits);
        let ends = [50, 50 + commits[1].len(), bytes.len()];
        for cut in SEGMENT_HEADER_LEN..=bytes.len() {
            let summary = read_checked(&bytes[..cut]);
            assert_eq!(summary.commits.len(), ends.iter().filter(|end| **end <= cut).count());
            let clean = cut == SEGMENT_HEADER_LEN || ends.contains(&cut);
            assert_eq!(summary.end == SegmentEnd::Clean, clean, "cut={cut}");
        }
        for bit in 0..commits[1].len() * 8 {
            let mut flipped = bytes.clone();
            flipped[ends[0] + bit / 8] ^= 1 << (bit % 8);
            let summary = read_checked(&flipped);
            assert_eq!(summary.commits.len(), 1, "bit={bit}");
            assert!(matches!(summary.end, SegmentEnd::Tail { pos: 50, .. }), "bit={bit}");
        }
    }

    /// A walk resumed after an earlier read's whole commits finds what a
    /// whole walk does: after every cut of a log that then grew (its torn
    /// tail overwritten included), and when the prefix changed below the
    /// earlier commits' end, which a resumed walk must not trust.
    #[test]
    fn a_resumed_walk_reads_what_a_whole_one_does() {
        let commits =
            [commit(0, 1, &[b"aaaa"]), commit(1, 1, &[b"bb", b"c"]), commit(3, 1, &[b"d"])];
        let grown = segment(&commits);
        let mut resumed = 0;
        for cut in 0..=grown.len() {
            let earlier = read_segment(&grown[..cut]);
            let whole_end = whole_commits_end(&earlier);
            let after = read_segment_after(&grown, earlier.clone(), cut as u64);
            assert_eq!(after, read_segment(&grown), "cut={cut}");
            resumed += usize::from(earlier.header.is_ok() && whole_end <= cut);
            // A torn tail the engine cut and wrote over: garbage after the
            // earlier whole commits, then the right bytes in its place.
            let mut torn = grown[..cut].to_vec();
            torn.extend_from_slice(&[0xA5; 40]);
            let earlier = read_segment(&torn);
            assert_eq!(read_segment_after(&grown, earlier, cut as u64), read_segment(&grown));
        }
        assert!(resumed > grown.len() / 2, "most cuts resume: {resumed}");

        // The first commit changed after the earlier read: told so, the
        // walk starts over and stops at the damage.
        let earlier = read_segment(&grown);
        let mut flipped = grown.clone();
        flipped[SEGMENT_HEADER_LEN + 20] ^= 1;
        let after = read_segment_after(&flipped, earlier, SEGMENT_HEADER_LEN as u64 + 20);
        assert_eq!(after, read_segment(&flipped));
        assert!(after.commits.is_empty(), "{after:?}");
    }

    #[test]
    fn malformed_out_of_order_and_hostile_commits_end_the_walk() {
        let after_one = |bad: Vec<u8>| tail_reason(&segment(&[commit(0, 0, &[b"x"]), bad]));
        assert_eq!(after_one(raw_commit(1, 0, 0, b"")), "empty commit: n=0");
        let overflow = format!("offset overflow: min-tx-offset={} n=1", u64::MAX);
        assert_eq!(after_one(raw_commit(u64::MAX, 0, 1, &[0; 4])), overflow);
        let short = "record overruns payload: record=1 record-len=4 remaining-bytes=0";
        assert_eq!(after_one(raw_commit(1, 0, 2, &[0; 4])), short);
        let huge =
            format!("record overruns payload: record=0 record-len={} remaining-bytes=1", u32::MAX);
        assert_eq!(after_one(raw_commit(1, 0, 1, &[0xFF, 0xFF, 0xFF, 0xFF, 7])), huge);
        assert_eq!(after_one(raw_commit(1, 0, 1, &[0; 6])), "trailing payload bytes: bytes=2");
        let gap = "out-of-order commit: expected-offset=1 actual-offset=3";
        assert_eq!(after_one(commit(3, 0, &[b"y"])), gap);
        let repeat = "out-of-order commit: expected-offset=1 actual-offset=0";
        assert_eq!(after_one(commit(0, 0, &[b"y"])), repeat);
        let mut hostile = commit(1, 0, &[b"y"]);
        hostile[18..22].copy_from_slice(&u32::MAX.to_le_bytes());
        let needed = u64::from(u32::MAX) + 26;
        let incomplete = format!("incomplete commit: needed-bytes={needed} available-bytes=31");
        assert_eq!(after_one(hostile), incomplete);
    }

    #[test]
    fn garbage_tails_and_arbitrary_bytes_never_panic() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut random = move |len: usize| -> Vec<u8> {
            let mut next = || {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            };
            (0..len).map(|_| next()).collect()
        };
        let good = segment(&[commit(5, 1, &[b"x"])]);
        for len in [1, 21, 22, 29, 30, 100, 4096] {
            for tail in [vec![0; len], vec![0xFF; len], random(len)] {
                assert_eq!(
                    read_checked(&[&good[..], &tail[..]].concat()).commits.len(),
                    1,
                    "{len}"
                );
            }
        }
        for round in 0..3000 {
            let bytes = random(round % 300);
            read_checked(&bytes);
            read_checked(&[&good[..16], &bytes[..]].concat());
            for magic in [MANIFEST_MAGIC, PAGE_MAGIC] {
                for file in [bytes.clone(), seal([&magic[..], &[1, 0][..], &bytes[..]].concat())] {
                    let _ = (read_manifest(&file), read_page_header(&file));
                }
            }
        }
    }

    #[test]
    fn a_hand_built_manifest_reads_back_and_damage_is_refused() {
        let manifest = sample_manifest();
        let bytes = encode_manifest(&manifest);
        assert_eq!(read_manifest(&bytes), Ok(manifest.clone()));
        let root = ManifestSummary { parent: None, kind: SnapshotKind::Full, ..manifest };
        assert_eq!(read_manifest(&encode_manifest(&root)), Ok(root));
        for cut in 0..bytes.len() {
            assert!(read_manifest(&bytes[..cut]).is_err(), "cut={cut}");
        }
        for bit in 0..bytes.len() * 8 {
            let mut flipped = bytes.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            assert!(read_manifest(&flipped).is_err(), "bit={bit}");
        }
        assert_eq!(
            read_manifest(&bytes[..11]).unwrap_err(),
            "at=0 truncated: file-len=11 min-len=12"
        );
        let crc_at = bytes.len() - 4;
        let bad_crc = [&bytes[..crc_at], &[0; 4]].concat();
        assert!(read_manifest(&bad_crc).unwrap_err().starts_with(&format!("at={crc_at} checksum")));
        let refused = |at, patch: &[u8]| read_manifest(&patched(&bytes, at, patch)).unwrap_err();
        assert!(refused(0, b"FLPAGE").starts_with("at=0 bad magic"));
        assert_eq!(refused(8, &[1, 0]), "at=8 unknown version=1 supported=2");
        assert_eq!(refused(10, &[3]), "at=10 unknown kind=3");
        assert_eq!(refused(11, &[1]), "at=11 nonzero reserved byte: found=1");
        // The second table starts at 52: id 4, name 2+1, columns 2, "id" 2+2+1.
        assert_eq!(refused(58, &[0xFF]), "at=58 not utf-8: field=table-name");
        assert_eq!(refused(65, &[6]), "at=65 unknown column type=6");
        // Hostile counts are refused before anything is allocated for them.
        assert!(refused(36, &[0xFF; 4]).starts_with("at=36 n-tables=4294967295 exceeds the file"));
        // Ten tables need at least 120 bytes; 70 are left.
        assert_eq!(
            refused(36, &[10, 0, 0, 0]),
            "at=36 n-tables=10 exceeds the file: remaining-bytes=70"
        );
        assert!(refused(56, &[0xFF; 2]).starts_with("at=58 truncated: field=table-name"));
        assert!(refused(59, &[0xFF; 2]).starts_with("at=59 n-columns=65535 exceeds the file"));
        let n_pages = crc_at - 2 * PAGE_REF_LEN - 4;
        let pages = refused(n_pages, &[0xFF; 4]);
        assert!(pages.starts_with(&format!("at={n_pages} n-pages=4294967295 exceeds")), "{pages}");
        let trailing = read_manifest(&seal([&bytes[..crc_at], &[0]].concat())).unwrap_err();
        assert_eq!(trailing, format!("at={crc_at} trailing bytes after the last table: bytes=1"));
    }

    #[test]
    fn a_hand_built_page_file_reads_back_and_damage_is_refused() {
        let page = page_file(7, 2, 9, &[Some(b"row-a"), None, Some(b"")]);
        assert_eq!(read_page_header(&page), Ok((7, 2, 9)));
        assert_eq!(read_page_header(&page_file(1, 0, 0, &[])), Ok((1, 0, 0)));
        for cut in 0..page.len() {
            assert!(read_page_header(&page[..cut]).is_err(), "cut={cut}");
        }
        for bit in 0..page.len() * 8 {
            let mut flipped = page.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            assert!(read_page_header(&flipped).is_err(), "bit={bit}");
        }
        let refused = |at, patch: &[u8]| read_page_header(&patched(&page, at, patch)).unwrap_err();
        assert_eq!(refused(8, &[9, 0]), "at=8 unknown version=9 supported=1");
        let trailing = format!("at={} trailing bytes after the last slot: bytes=4", page.len() - 8);
        assert_eq!(refused(26, &2u32.to_le_bytes()), trailing);
        assert!(refused(26, &[0xFF; 4]).starts_with("at=26 n-slots=4294967295 exceeds the file"));
        let row = refused(30, &(u32::MAX - 1).to_le_bytes());
        assert!(row.starts_with("at=34 truncated: field=row wanted-bytes=4294967294"), "{row}");
        // Each slot takes at least 4 bytes: five holes fill 20 exactly.
        let holes = page_file(7, 2, 9, &[None; 5]);
        assert_eq!(read_page_header(&holes), Ok((7, 2, 9)));
        let six = read_page_header(&patched(&holes, 26, &[6, 0, 0, 0])).unwrap_err();
        assert_eq!(six, "at=26 n-slots=6 exceeds the file: remaining-bytes=20");
        let manifest = encode_manifest(&sample_manifest());
        assert!(read_page_header(&manifest).unwrap_err().starts_with("at=0 bad magic"));
    }

    // Files the engine wrote, read back.

    fn read_file(fs: &SimFs, path: &Path) -> Vec<u8> {
        fs.open(path).unwrap().read_to_end().unwrap()
    }

    /// The engine's manifest in this module's terms.
    fn summary_of(manifest: &Manifest) -> ManifestSummary {
        let kind = match manifest.kind {
            snapshot::SnapshotKind::Full => SnapshotKind::Full,
            snapshot::SnapshotKind::Incremental => SnapshotKind::Incremental,
            snapshot::SnapshotKind::Compacted => SnapshotKind::Compacted,
        };
        let tables = manifest.tables.iter().map(|table| {
            let (id, columns) = (table.schema.id.0, table.schema.columns.iter());
            let columns = columns.map(|c| (c.name.clone(), c.ty.tag() as u8)).collect();
            let pages = (0..).zip(&table.pages).map(|(index, p)| PageRef {
                table_id: id,
                index,
                source: p.source,
                len: p.len,
                crc: p.crc,
            });
            TableSummary { id, name: table.schema.name.clone(), columns, pages: pages.collect() }
        });
        let (offset, parent, chain_len) = (manifest.offset, manifest.parent, manifest.chain_len);
        let log_commit_crc = manifest.log_commit_crc;
        ManifestSummary {
            offset,
            kind,
            parent,
            chain_len,
            log_commit_crc,
            tables: tables.collect(),
        }
    }

    /// Reads snapshot `offset` from disk and checks every page file it names.
    fn read_snapshot(fs: &SimFs, offset: u64) -> ManifestSummary {
        let dir = |offset: u64| Path::new("/db/snapshots").join(format!("{offset:020}"));
        let manifest = read_manifest(&read_file(fs, &dir(offset).join("manifest"))).unwrap();
        for page in manifest.tables.iter().flat_map(|table| &table.pages) {
            let name = page_file_name(page.table_id, page.index);
            let bytes = read_file(fs, &dir(page.source).join(&name));
            assert_eq!(bytes.len(), page.len as usize, "{name}");
            assert_eq!(bytes[bytes.len() - 4..], page.crc.to_le_bytes(), "{name}");
            let (table_id, index, modified_at) = read_page_header(&bytes).unwrap();
            assert_eq!((table_id, index), (page.table_id, page.index));
            assert!(modified_at <= page.source, "a page is not newer than its snapshot");
        }
        manifest
    }

    #[test]
    fn the_reader_agrees_with_what_the_engine_wrote() {
        let fs = SimFs::new(Seed(11), FaultConfig::none());
        fs.create_dir(Path::new("/db")).unwrap();
        let mut options = Options::default();
        options.log.max_segment_size = 4096;
        options.snapshots.every_txs = 5;
        options.snapshots.chain_max = 2;
        options.snapshots.on_rotation = false;
        options.snapshots.remove_old_segments = false;
        let (mut db, _) = Database::open(Arc::new(fs.clone()), Path::new("/db"), options).unwrap();
        let mut tx = db.begin();
        let columns =
            vec![ColumnDef::new("k", ColumnType::U64), ColumnDef::new("v", ColumnType::String)];
        tx.create_table("t", columns).unwrap();
        db.commit(tx).unwrap();
        db.durability_step().unwrap();
        let row = |i: u64| vec![Value::U64(i), Value::String(format!("{i:0>300}"))];
        let mut written = BTreeMap::new();
        for i in 0..60u64 {
            let mut tx = db.begin();
            match i % 7 {
                6 => tx.delete("t", &row(i - 3)).unwrap(),
                _ => tx.insert("t", &row(i)).unwrap(),
            }
            db.commit(tx).unwrap();
            db.durability_step().unwrap();
            if let Some(offset) = db.snapshot_step().unwrap() {
                let manifest = summary_of(db.last_snapshot().unwrap());
                assert_eq!(read_snapshot(&fs, offset), manifest, "offset={offset}");
                written.insert(offset, manifest);
            }
        }
        let kinds = [SnapshotKind::Full, SnapshotKind::Incremental, SnapshotKind::Compacted];
        assert!(kinds.iter().all(|kind| written.values().any(|m| m.kind == *kind)));
        let snapshots = fs.list_dir(Path::new("/db/snapshots")).unwrap();
        for offset in snapshots.iter().filter_map(|entry| parse_snapshot_dir_name(&entry.name)) {
            let on_disk = read_snapshot(&fs, offset);
            assert!(on_disk.tables.iter().any(|table| table.pages.len() > 1), "several pages");
            assert_eq!(on_disk, written[&offset], "the engine's last word on offset={offset}");
        }

        let log = Path::new("/db/log");
        let entries = fs.list_dir(log).unwrap();
        assert!(entries.iter().all(|entry| entry.kind == EntryKind::File));
        let mut names: Vec<String> = entries.into_iter().map(|entry| entry.name).collect();
        names.sort();
        assert!(names.len() >= 3, "several segments: {names:?}");
        let (mut commits, mut next) = (Vec::new(), Some(0));
        for name in &names {
            let summary = read_checked(&read_file(&fs, &log.join(name)));
            assert_eq!((&summary.header, &summary.end), (&Ok(()), &SegmentEnd::Clean), "{name}");
            assert_eq!(summary.first_offset(), parse_segment_name(name), "named after its first");
            assert_eq!(summary.first_offset(), next, "{name} continues the one before");
            next = summary.next_offset();
            commits.extend(summary.commits.iter().map(|c| (c.min_tx_offset, c.epoch, c.n, c.len)));
        }
        assert_eq!(next, db.durable_offset().map(|last| last + 1));
        let engine = db.log().commits_from(0).map(Result::unwrap);
        let engine: Vec<_> = engine
            .map(|c| (c.min_tx_offset, c.epoch, c.transactions.len() as u16, c.encoded_len()))
            .collect();
        assert_eq!(commits, engine);

        let bytes = read_file(&fs, &log.join(names.last().unwrap()));
        let whole = read_segment(&bytes);
        let last = *whole.commits.last().unwrap();
        let torn = read_checked(&bytes[..last.pos as usize + 25]);
        assert_eq!(torn.commits, whole.commits[..whole.commits.len() - 1]);
        assert!(tail_reason(&bytes[..last.pos as usize + 25]).starts_with("incomplete commit"));
        assert!(whole.holds(last.min_tx_offset) && !torn.holds(last.min_tx_offset));
    }
}
