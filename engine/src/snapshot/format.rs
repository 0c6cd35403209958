//! The bytes of a snapshot: page files and the manifest (engine/FORMAT.md,
//! "Snapshots"). Pure functions; decoding takes untrusted bytes and answers
//! with a [`FormatError`], never a panic, and allocates nothing on the
//! strength of a length field it has not checked against the input.
//!
//! ```text
//! page file   offset  size  field
//!                  0     8  magic        b"FLPAGE\0\0"
//!                  8     2  version      u16 LE, 1
//!                 10     4  table_id     u32 LE
//!                 14     4  page_index   u32 LE
//!                 18     8  modified_at  u64 LE  offset of the last change
//!                 26     4  n_slots      u32 LE
//!                 30     .  slots        per slot: u32 LE length, then the
//!                                        row; HOLE (u32::MAX) for a hole
//!                  .     4  crc          u32 LE CRC32C of everything before
//!
//! manifest    offset  size  field
//!                  0     8  magic        b"FLSNAP\0\0"
//!                  8     2  version      u16 LE, 2
//!                 10     1  kind         0 full, 1 incremental, 2 compacted
//!                 11     1  reserved     0
//!                 12     8  offset       u64 LE  the snapshot's tx offset
//!                 20     8  parent       u64 LE  the previous snapshot, or
//!                                        u64::MAX
//!                 28     4  chain_len    u32 LE  incrementals since a full
//!                 32     4  log_commit   u32 LE  CRC32C of the log's commit
//!                                        that ends at `offset`
//!                 36     4  n_tables     u32 LE
//!                 40     .  tables       per table: table_id u32, name
//!                                        (u16 length + UTF-8), n_columns
//!                                        u16, per column: name (u16 length
//!                                        + UTF-8) and type tag u8; n_pages
//!                                        u32, per page: source u64 (the
//!                                        snapshot whose directory holds the
//!                                        page file), len u32, crc u32
//!                  .     4  crc          u32 LE CRC32C of everything before
//! ```

use std::fmt;
use std::sync::Arc;

use crate::codec::{Reader, Truncated};
use crate::datastore::{ColumnDef, ColumnType, Page, ROW_SIZE_MAX, TableId, TableSchema};

/// The first bytes of a page file.
pub const PAGE_MAGIC: [u8; 8] = *b"FLPAGE\0\0";
/// The first bytes of a manifest.
pub const MANIFEST_MAGIC: [u8; 8] = *b"FLSNAP\0\0";
/// The manifest format version this code writes and reads (2 added the
/// `log_commit` field that binds a snapshot to its log).
pub const MANIFEST_FORMAT_VERSION: u16 = 2;
/// The page file format version this code writes and reads.
pub const PAGE_FORMAT_VERSION: u16 = 1;
/// A slot length that marks a hole.
const HOLE: u32 = u32::MAX;
const PAGE_HEADER_LEN: usize = /* magic */
    8 + /* version */ 2 + /* table_id */ 4 + /* page_index */ 4 + /* modified_at */ 8 + /* n_slots */ 4;
const CRC_LEN: usize = 4;
/// No parent snapshot.
const NO_PARENT: u64 = u64::MAX;

const _: () = assert!(PAGE_HEADER_LEN == 30);

/// How a snapshot was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SnapshotKind {
    /// Every page written into this snapshot's directory.
    Full,
    /// Only pages changed since the parent written; the rest referred to.
    Incremental,
    /// An incremental chain folded into this snapshot's directory: every
    /// page is here again, the newest version of each.
    Compacted,
}

impl SnapshotKind {
    fn tag(self) -> u8 {
        match self {
            SnapshotKind::Full => 0,
            SnapshotKind::Incremental => 1,
            SnapshotKind::Compacted => 2,
        }
    }

    fn from_tag(tag: u8) -> Option<Self> {
        [SnapshotKind::Full, SnapshotKind::Incremental, SnapshotKind::Compacted]
            .into_iter()
            .find(|kind| kind.tag() == tag)
    }
}

/// Where one page of a table lives, and what it must hash to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PageRef {
    /// The offset of the snapshot whose directory holds the page file.
    pub source: u64,
    /// The page file's length in bytes.
    pub len: u32,
    /// The page file's CRC32C (the value stored at its end).
    pub crc: u32,
}

/// One table of a snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableEntry {
    /// The table's schema.
    pub schema: TableSchema,
    /// Its pages, by index.
    pub pages: Vec<PageRef>,
}

/// What a snapshot holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    /// The transaction offset the snapshot captures (commits `<= offset`).
    pub offset: u64,
    /// How it was written.
    pub kind: SnapshotKind,
    /// The snapshot it was written after, if any.
    pub parent: Option<u64>,
    /// Incremental snapshots since the last full or compacted one.
    pub chain_len: u32,
    /// The CRC32C of the log's commit that ends at `offset` (see
    /// [`crate::commitlog::CommitStamp`]): the snapshot is of the history
    /// that commit belongs to, and is restored only beside it.
    pub log_commit_crc: u32,
    /// Every table, system tables included, by id.
    pub tables: Vec<TableEntry>,
}

impl Manifest {
    /// Every snapshot whose directory this one needs.
    pub fn sources(&self) -> std::collections::BTreeSet<u64> {
        self.tables.iter().flat_map(|t| t.pages.iter().map(|p| p.source)).collect()
    }
}

/// Why bytes are not a valid page file or manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FormatError {
    /// The input ended inside a field.
    Truncated {
        /// Where the field started.
        at: usize,
        /// Its size.
        wanted: usize,
    },
    /// The stored checksum does not match the bytes.
    Checksum {
        /// The checksum stored.
        stored: u32,
        /// The checksum computed.
        computed: u32,
    },
    /// A field holds an impossible value.
    Invalid {
        /// Where the field starts.
        at: usize,
        /// What is wrong.
        reason: String,
    },
}

impl From<Truncated> for FormatError {
    fn from(t: Truncated) -> Self {
        FormatError::Truncated { at: t.at, wanted: t.wanted }
    }
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormatError::Truncated { at, wanted } => {
                write!(f, "truncated: at={at} wanted={wanted}")
            }
            FormatError::Checksum { stored, computed } => {
                write!(
                    f,
                    "checksum mismatch: stored-crc={stored:#010x} computed-crc={computed:#010x}"
                )
            }
            FormatError::Invalid { at, reason } => write!(f, "invalid: at={at} {reason}"),
        }
    }
}

fn invalid(at: usize, reason: impl Into<String>) -> FormatError {
    FormatError::Invalid { at, reason: reason.into() }
}

/// Splits off and checks the trailing CRC32C; returns the body.
fn checked_body<'a>(bytes: &'a [u8], magic: &[u8; 8]) -> Result<&'a [u8], FormatError> {
    if bytes.len() < magic.len() + CRC_LEN {
        return Err(FormatError::Truncated { at: 0, wanted: magic.len() + CRC_LEN });
    }
    let (body, crc) = bytes.split_at(bytes.len() - CRC_LEN);
    let stored = u32::from_le_bytes(crc.try_into().expect("4 bytes"));
    let computed = crc32c::crc32c(body);
    if stored != computed {
        return Err(FormatError::Checksum { stored, computed });
    }
    if body[..magic.len()] != magic[..] {
        return Err(invalid(0, "bad magic"));
    }
    Ok(body)
}

fn finish(mut out: Vec<u8>) -> Vec<u8> {
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// The CRC32C stored at the end of an encoded page file or manifest.
pub(super) fn stored_crc(bytes: &[u8]) -> u32 {
    let tail = &bytes[bytes.len() - CRC_LEN..];
    u32::from_le_bytes(tail.try_into().expect("4 bytes"))
}

/// Encodes page `index` of `table`.
pub fn encode_page(table: TableId, index: u32, page: &Page) -> Vec<u8> {
    let mut out = Vec::with_capacity(PAGE_HEADER_LEN + page.used() + CRC_LEN);
    out.extend_from_slice(&PAGE_MAGIC);
    out.extend_from_slice(&PAGE_FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&table.0.to_le_bytes());
    out.extend_from_slice(&index.to_le_bytes());
    out.extend_from_slice(&page.modified_at().to_le_bytes());
    let n_slots = u32::try_from(page.slots().len()).expect("a page has few slots");
    out.extend_from_slice(&n_slots.to_le_bytes());
    for slot in page.slots() {
        match slot {
            Some(row) => {
                let len = u32::try_from(row.len()).expect("rows fit a page");
                out.extend_from_slice(&len.to_le_bytes());
                out.extend_from_slice(row);
            }
            None => out.extend_from_slice(&HOLE.to_le_bytes()),
        }
    }
    finish(out)
}

/// Decodes a page file that must hold page `index` of `table`.
pub fn decode_page(bytes: &[u8], table: TableId, index: u32) -> Result<Page, FormatError> {
    let body = checked_body(bytes, &PAGE_MAGIC)?;
    let mut reader = Reader::new(body);
    reader.take(PAGE_MAGIC.len())?;
    let version = reader.u16()?;
    if version != PAGE_FORMAT_VERSION {
        return Err(invalid(8, format!("unknown version={version}")));
    }
    let (found_table, found_index) = (reader.u32()?, reader.u32()?);
    if (found_table, found_index) != (table.0, index) {
        return Err(invalid(
            10,
            format!(
                "holds table-id={found_table} page={found_index}, expected table-id={table} page={index}"
            ),
        ));
    }
    let modified_at = reader.u64()?;
    let n_slots = reader.u32()? as usize;
    // Each slot takes at least its 4-byte length.
    if n_slots > reader.remaining() / 4 {
        return Err(invalid(26, format!("n-slots={n_slots} exceeds the file")));
    }
    let mut slots = Vec::with_capacity(n_slots);
    for slot in 0..n_slots {
        let at = reader.at();
        let len = reader.u32()?;
        if len == HOLE {
            slots.push(None);
            continue;
        }
        if len as usize > ROW_SIZE_MAX {
            return Err(invalid(
                at,
                format!("slot={slot} row length={len} exceeds max={ROW_SIZE_MAX}"),
            ));
        }
        slots.push(Some(Arc::from(reader.take(len as usize)?)));
    }
    if reader.remaining() != 0 {
        return Err(invalid(reader.at(), "trailing bytes after the last slot"));
    }
    Page::from_slots(slots, modified_at).ok_or_else(|| invalid(30, "rows overflow the page"))
}

/// Encodes a manifest.
pub fn encode_manifest(manifest: &Manifest) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&MANIFEST_MAGIC);
    out.extend_from_slice(&MANIFEST_FORMAT_VERSION.to_le_bytes());
    out.push(manifest.kind.tag());
    out.push(0);
    out.extend_from_slice(&manifest.offset.to_le_bytes());
    out.extend_from_slice(&manifest.parent.unwrap_or(NO_PARENT).to_le_bytes());
    out.extend_from_slice(&manifest.chain_len.to_le_bytes());
    out.extend_from_slice(&manifest.log_commit_crc.to_le_bytes());
    let n_tables = u32::try_from(manifest.tables.len()).expect("fewer than 2^32 tables");
    out.extend_from_slice(&n_tables.to_le_bytes());
    let put_str = |out: &mut Vec<u8>, text: &str| {
        let len = u16::try_from(text.len()).expect("names are short");
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(text.as_bytes());
    };
    for table in &manifest.tables {
        out.extend_from_slice(&table.schema.id.0.to_le_bytes());
        put_str(&mut out, &table.schema.name);
        let n_columns = u16::try_from(table.schema.columns.len()).expect("few columns");
        out.extend_from_slice(&n_columns.to_le_bytes());
        for column in &table.schema.columns {
            put_str(&mut out, &column.name);
            out.push(u8::try_from(column.ty.tag()).expect("type tags are small"));
        }
        let n_pages = u32::try_from(table.pages.len()).expect("fewer than 2^32 pages");
        out.extend_from_slice(&n_pages.to_le_bytes());
        for page in &table.pages {
            out.extend_from_slice(&page.source.to_le_bytes());
            out.extend_from_slice(&page.len.to_le_bytes());
            out.extend_from_slice(&page.crc.to_le_bytes());
        }
    }
    finish(out)
}

/// Decodes a manifest.
pub fn decode_manifest(bytes: &[u8]) -> Result<Manifest, FormatError> {
    let body = checked_body(bytes, &MANIFEST_MAGIC)?;
    let mut reader = Reader::new(body);
    reader.take(MANIFEST_MAGIC.len())?;
    let version = reader.u16()?;
    if version != MANIFEST_FORMAT_VERSION {
        return Err(invalid(8, format!("unknown version={version}")));
    }
    let kind_tag = reader.u8()?;
    let kind = SnapshotKind::from_tag(kind_tag)
        .ok_or_else(|| invalid(10, format!("unknown kind={kind_tag}")))?;
    if reader.u8()? != 0 {
        return Err(invalid(11, "reserved byte is not zero"));
    }
    let offset = reader.u64()?;
    let parent = Some(reader.u64()?).filter(|p| *p != NO_PARENT);
    let chain_len = reader.u32()?;
    let log_commit_crc = reader.u32()?;
    let n_tables = reader.u32()? as usize;
    // A table takes at least 12 bytes (id, name length, columns, pages).
    if n_tables > reader.remaining() / 12 {
        return Err(invalid(36, format!("n-tables={n_tables} exceeds the file")));
    }
    let mut tables = Vec::with_capacity(n_tables);
    for _ in 0..n_tables {
        tables.push(decode_table(&mut reader)?);
    }
    if reader.remaining() != 0 {
        return Err(invalid(reader.at(), "trailing bytes after the last table"));
    }
    Ok(Manifest { offset, kind, parent, chain_len, log_commit_crc, tables })
}

fn decode_str(reader: &mut Reader<'_>) -> Result<String, FormatError> {
    let len = reader.u16()? as usize;
    let at = reader.at();
    String::from_utf8(reader.take(len)?.to_vec()).map_err(|_| invalid(at, "name is not UTF-8"))
}

fn decode_table(reader: &mut Reader<'_>) -> Result<TableEntry, FormatError> {
    let id = TableId(reader.u32()?);
    let name = decode_str(reader)?;
    let n_columns = reader.u16()? as usize;
    let mut columns = Vec::with_capacity(n_columns.min(reader.remaining() / 3));
    for _ in 0..n_columns {
        let column = decode_str(reader)?;
        let at = reader.at();
        let tag = reader.u8()?;
        let ty = ColumnType::from_tag(u64::from(tag))
            .ok_or_else(|| invalid(at, format!("unknown column type={tag}")))?;
        columns.push(ColumnDef { name: column, ty });
    }
    let at = reader.at();
    let n_pages = reader.u32()? as usize;
    // A page reference is 16 bytes.
    if n_pages > reader.remaining() / 16 {
        return Err(invalid(at, format!("n-pages={n_pages} exceeds the file")));
    }
    let mut pages = Vec::with_capacity(n_pages);
    for _ in 0..n_pages {
        pages.push(PageRef { source: reader.u64()?, len: reader.u32()?, crc: reader.u32()? });
    }
    Ok(TableEntry { schema: TableSchema::new(id, &name, columns), pages })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn the_smallest_checked_file_is_its_magic_and_checksum() {
        let smallest = finish(PAGE_MAGIC.to_vec());
        assert_eq!(smallest.len(), 12);
        assert_eq!(checked_body(&smallest, &PAGE_MAGIC), Ok(&PAGE_MAGIC[..]));
        assert_eq!(stored_crc(&smallest), crc32c::crc32c(&PAGE_MAGIC));
        for len in 0..smallest.len() {
            assert_eq!(
                checked_body(&smallest[..len], &PAGE_MAGIC),
                Err(FormatError::Truncated { at: 0, wanted: 12 }),
                "len={len}"
            );
        }
        assert_eq!(checked_body(&smallest, &MANIFEST_MAGIC), Err(invalid(0, "bad magic")));
    }

    /// A page file of table 7, page 0, holding `n_slots` and then `slots`
    /// as they are, checksummed.
    fn raw_page(n_slots: u32, slots: &[u8]) -> Vec<u8> {
        let mut out = PAGE_MAGIC.to_vec();
        out.extend_from_slice(&PAGE_FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&7u32.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&9u64.to_le_bytes());
        out.extend_from_slice(&n_slots.to_le_bytes());
        out.extend_from_slice(slots);
        finish(out)
    }

    #[test]
    fn slot_counts_and_row_lengths_hold_at_their_limits() {
        // Every slot a hole: exactly four bytes per slot, the most there is
        // room for.
        let holes: Vec<u8> = std::iter::repeat_n(HOLE.to_le_bytes(), 5).flatten().collect();
        let page = decode_page(&raw_page(5, &holes), TableId(7), 0).unwrap();
        assert_eq!(page.modified_at(), 9);
        assert_eq!(
            decode_page(&raw_page(6, &holes), TableId(7), 0),
            Err(invalid(26, "n-slots=6 exceeds the file"))
        );
        // A row of the largest length decodes; one byte longer is refused
        // before it is read.
        let mut largest = (ROW_SIZE_MAX as u32).to_le_bytes().to_vec();
        largest.extend(std::iter::repeat_n(0xAB, ROW_SIZE_MAX));
        assert!(decode_page(&raw_page(1, &largest), TableId(7), 0).is_ok());
        let mut longer = (ROW_SIZE_MAX as u32 + 1).to_le_bytes().to_vec();
        longer.extend(std::iter::repeat_n(0xAB, ROW_SIZE_MAX + 1));
        assert_eq!(
            decode_page(&raw_page(1, &longer), TableId(7), 0),
            Err(invalid(
                30,
                format!("slot=0 row length={} exceeds max={ROW_SIZE_MAX}", ROW_SIZE_MAX + 1)
            ))
        );
    }

    #[test]
    fn table_and_page_counts_hold_at_their_limits() {
        // Each table at its smallest (empty name, no columns, no pages):
        // 12 bytes, so the count may be exactly remaining / 12.
        let manifest = |n_tables: u32, tables: usize| {
            let mut out = MANIFEST_MAGIC.to_vec();
            out.extend_from_slice(&MANIFEST_FORMAT_VERSION.to_le_bytes());
            out.extend_from_slice(&[0, 0]); // full, reserved
            out.extend_from_slice(&5u64.to_le_bytes());
            out.extend_from_slice(&NO_PARENT.to_le_bytes());
            out.extend_from_slice(&0u32.to_le_bytes()); // chain length
            out.extend_from_slice(&0u32.to_le_bytes()); // log commit
            out.extend_from_slice(&n_tables.to_le_bytes());
            for id in 0..tables as u32 {
                out.extend_from_slice(&id.to_le_bytes());
                out.extend_from_slice(&[0; 8]); // name length, columns, pages
            }
            finish(out)
        };
        assert_eq!(decode_manifest(&manifest(3, 3)).unwrap().tables.len(), 3);
        assert_eq!(
            decode_manifest(&manifest(4, 3)),
            Err(invalid(36, "n-tables=4 exceeds the file"))
        );
        // One table claiming more page references than the bytes after it.
        let mut out = manifest(1, 1);
        out.truncate(out.len() - CRC_LEN - 4);
        out.extend_from_slice(&2u32.to_le_bytes());
        out.extend_from_slice(&[0; 16]);
        let out = finish(out);
        assert_eq!(decode_manifest(&out), Err(invalid(48, "n-pages=2 exceeds the file")));
    }

    fn sample_page() -> Page {
        let mut page = Page::new();
        page.insert(Arc::from(&b"row-a"[..]), 3);
        let hole = page.insert(Arc::from(&b"row-b"[..]), 4);
        page.insert(Arc::from(&b"row-c"[..]), 5);
        page.remove(hole, 6);
        page
    }

    fn sample_manifest() -> Manifest {
        let schema =
            TableSchema::new(TableId(4096), "t", vec![ColumnDef::new("a", ColumnType::U64)]);
        let page = PageRef { source: 7, len: 100, crc: 0xdead_beef };
        Manifest {
            offset: 9,
            kind: SnapshotKind::Incremental,
            parent: Some(7),
            chain_len: 1,
            log_commit_crc: 0x1234_5678,
            tables: vec![TableEntry { schema, pages: vec![page, PageRef { source: 9, ..page }] }],
        }
    }

    #[test]
    fn pages_and_manifests_round_trip() {
        let page = sample_page();
        let bytes = encode_page(TableId(4096), 2, &page);
        assert_eq!(decode_page(&bytes, TableId(4096), 2).unwrap(), page);
        let manifest = sample_manifest();
        assert_eq!(decode_manifest(&encode_manifest(&manifest)).unwrap(), manifest);
        assert_eq!(manifest.sources().into_iter().collect::<Vec<_>>(), vec![7, 9]);
    }

    #[test]
    fn a_page_file_for_another_page_is_refused() {
        let bytes = encode_page(TableId(4096), 2, &sample_page());
        let err = decode_page(&bytes, TableId(4096), 3).unwrap_err();
        assert!(err.to_string().contains("expected table-id=4096 page=3"), "{err}");
    }

    #[test]
    fn every_bit_flip_and_every_cut_is_caught() {
        for bytes in
            [encode_page(TableId(1), 0, &sample_page()), encode_manifest(&sample_manifest())]
        {
            let is_page = bytes.starts_with(&PAGE_MAGIC);
            let decode = |b: &[u8]| {
                if is_page {
                    decode_page(b, TableId(1), 0).map(|_| ())
                } else {
                    decode_manifest(b).map(|_| ())
                }
            };
            for index in 0..bytes.len() {
                for bit in 0..8 {
                    let mut flipped = bytes.clone();
                    flipped[index] ^= 1 << bit;
                    assert!(decode(&flipped).is_err(), "byte {index} bit {bit}");
                }
            }
            for cut in 0..bytes.len() {
                assert!(decode(&bytes[..cut]).is_err(), "cut {cut}");
            }
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode_page(&bytes, TableId(1), 0);
            let _ = decode_manifest(&bytes);
            // With a valid checksum the structural checks are reached too.
            let mut framed = MANIFEST_MAGIC.to_vec();
            framed.extend_from_slice(&bytes);
            let _ = decode_manifest(&finish(framed));
            let mut framed = PAGE_MAGIC.to_vec();
            framed.extend_from_slice(&bytes);
            let _ = decode_page(&finish(framed), TableId(1), 0);
        }
    }
}
