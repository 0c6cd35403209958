//! A table: its schema, its pages, and the index from row to page slot.
//!
//! Every field is a persistent (structurally shared) collection, so cloning
//! a table, which every committed version does, costs O(1), and changing one
//! row copies one page and O(log n) index nodes.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::sync::Arc;

use super::page::{PAGE_SIZE, Page, RowLoc};
use super::schema::TableSchema;

/// How many pages with free space an insert looks at before opening a new
/// page (bounds the work per insert). Newest pages are looked at first.
const FREE_PAGE_CANDIDATES_MAX: usize = 8;
/// A page with less free space than this counts as full: it leaves the
/// free-page set, so that nearly full pages cannot crowd out the pages an
/// insert could use.
const FREE_BYTES_MIN: usize = PAGE_SIZE / 16;

/// Row count and bytes of a table, kept in step with its rows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TableSummary {
    /// Rows in the table.
    pub row_count: u64,
    /// Encoded bytes of those rows.
    pub row_bytes: u64,
}

fn has_space(page: &Page) -> bool {
    page.free() >= FREE_BYTES_MIN
}

/// A row index key: an encoded row with its first 8 bytes kept beside the
/// pointer, so that most comparisons settle without reading the row. A
/// restore sorts a million keys and inserts them into the tree, and each
/// comparison that reads the row is a cache miss (it was 39% of a snapshot
/// open's samples).
///
/// Orders exactly as the row's bytes do, which is what lets the index be
/// searched with a plain `&[u8]` ([`Borrow`]): `prefix` is the first
/// `min(8, len)` bytes, big-endian, padded with zeros, so a smaller prefix
/// means a smaller row (at the first byte the prefixes differ, either both
/// rows have that byte, or the shorter row ended there), and equal prefixes
/// fall back to the whole rows.
#[derive(Clone, Debug)]
struct RowKey {
    prefix: u64,
    row: Arc<[u8]>,
}

impl RowKey {
    fn new(row: Arc<[u8]>) -> Self {
        let mut first = [0u8; 8];
        let n = row.len().min(first.len());
        first[..n].copy_from_slice(&row[..n]);
        RowKey { prefix: u64::from_be_bytes(first), row }
    }
}

impl Ord for RowKey {
    fn cmp(&self, other: &Self) -> Ordering {
        self.prefix.cmp(&other.prefix).then_with(|| self.row[..].cmp(&other.row[..]))
    }
}

impl PartialOrd for RowKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for RowKey {
    fn eq(&self, other: &Self) -> bool {
        self.prefix == other.prefix && self.row[..] == other.row[..]
    }
}

impl Eq for RowKey {}

impl Borrow<[u8]> for RowKey {
    fn borrow(&self) -> &[u8] {
        &self.row
    }
}

/// One table's committed contents.
#[derive(Clone, Debug)]
pub struct Table {
    schema: Arc<TableSchema>,
    pages: imbl::Vector<Arc<Page>>,
    rows: imbl::OrdMap<RowKey, RowLoc>,
    /// Pages that are not full, by index: where inserts look first.
    with_space: imbl::OrdSet<u32>,
    summary: TableSummary,
}

impl Table {
    /// An empty table.
    pub fn new(schema: Arc<TableSchema>) -> Self {
        Table {
            schema,
            pages: imbl::Vector::new(),
            rows: imbl::OrdMap::new(),
            with_space: imbl::OrdSet::new(),
            summary: TableSummary::default(),
        }
    }

    /// Rebuilds a table from its pages (a snapshot restore). Returns `None`
    /// if a row appears twice.
    pub fn from_pages(schema: Arc<TableSchema>, pages: Vec<Page>) -> Option<Self> {
        let mut table = Table::new(schema);
        let mut entries = Vec::new();
        for (index, page) in pages.into_iter().enumerate() {
            let index = u32::try_from(index).ok()?;
            for (slot, row) in page.slots().iter().enumerate() {
                let Some(row) = row else { continue };
                entries.push((
                    RowKey::new(Arc::clone(row)),
                    RowLoc { page: index, slot: u32::try_from(slot).ok()? },
                ));
                table.summary.row_count += 1;
                table.summary.row_bytes += row.len() as u64;
            }
            if has_space(&page) {
                table.with_space.insert(index);
            }
            table.pages.push_back(Arc::new(page));
        }
        // Built in key order: each insert lands beside the last one (a
        // restore of a million rows in page order touched the whole tree
        // per row), and a row held twice is adjacent to itself.
        entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        if entries.windows(2).any(|pair| pair[0].0 == pair[1].0) {
            return None;
        }
        table.rows = entries.into_iter().collect();
        assert_eq!(table.rows.len() as u64, table.summary.row_count);
        Some(table)
    }

    /// The schema.
    pub fn schema(&self) -> &Arc<TableSchema> {
        &self.schema
    }

    /// Row count and bytes.
    pub fn summary(&self) -> TableSummary {
        self.summary
    }

    /// The pages, in index order.
    pub fn pages(&self) -> &imbl::Vector<Arc<Page>> {
        &self.pages
    }

    /// The indexes of the pages changed by a transaction after `offset`
    /// (all pages if `offset` is `None`): what an incremental snapshot
    /// writes.
    pub fn pages_changed_since(&self, offset: Option<u64>) -> impl Iterator<Item = u32> + '_ {
        self.pages
            .iter()
            .enumerate()
            .filter(move |(_, page)| offset.is_none_or(|offset| page.modified_at() > offset))
            .map(|(index, _)| u32::try_from(index).expect("fewer than 2^32 pages"))
    }

    /// Whether the encoded row is in the table.
    pub fn contains(&self, row: &Arc<[u8]>) -> bool {
        // A key, not the bytes: the search then compares prefixes first.
        self.rows.contains_key(&RowKey::new(Arc::clone(row)))
    }

    /// The encoded rows, in byte order.
    pub fn rows(&self) -> impl Iterator<Item = &Arc<[u8]>> {
        self.rows.keys().map(|key| &key.row)
    }

    /// Inserts an encoded row that fits a page, unless the table holds it
    /// already: then nothing changes and the answer is `false`.
    ///
    /// One walk of the index both inserts and finds a row already there (a
    /// search first, then the insert, was two walks, and the search was 38%
    /// of a full replay's samples). So the row's slot is chosen before
    /// anything changes, and only the rare refusal costs a second walk, to
    /// put the old entry back.
    #[must_use = "false means the row was there and nothing was inserted"]
    pub fn insert(&mut self, row: Arc<[u8]>, offset: u64) -> bool {
        let len = row.len();
        let pages_before = self.pages.len();
        let index = self.page_with_room(len);
        let slot = self.pages[index as usize].next_slot();
        let key = RowKey::new(Arc::clone(&row));
        if let Some(present) = self.rows.insert(key.clone(), RowLoc { page: index, slot }) {
            self.rows.insert(key, present);
            if self.pages.len() > pages_before {
                // The page opened for the row stays out: nothing changed.
                assert_eq!(self.pages.len(), pages_before + 1);
                self.pages.pop_back();
                self.with_space.remove(&index);
            }
            return false;
        }
        let page = Arc::make_mut(&mut self.pages[index as usize]);
        let placed = page.insert(row, offset);
        assert_eq!(placed, slot, "the page put the row where the index says");
        if !has_space(page) {
            self.with_space.remove(&index);
        }
        self.summary.row_count += 1;
        self.summary.row_bytes += len as u64;
        true
    }

    /// Deletes an encoded row; returns whether it was there.
    pub fn delete(&mut self, row: &Arc<[u8]>, offset: u64) -> bool {
        let Some(loc) = self.rows.remove(&RowKey::new(Arc::clone(row))) else { return false };
        let page = Arc::make_mut(&mut self.pages[loc.page as usize]);
        let removed = page.remove(loc.slot, offset);
        assert_eq!(removed[..], row[..], "the index pointed at another row");
        if has_space(page) {
            self.with_space.insert(loc.page);
        }
        self.summary.row_count -= 1;
        self.summary.row_bytes -= row.len() as u64;
        true
    }

    /// The index of a page with room for `len` bytes, opening one if needed.
    fn page_with_room(&mut self, len: usize) -> u32 {
        let candidate = self
            .with_space
            .iter()
            .rev()
            .take(FREE_PAGE_CANDIDATES_MAX)
            .copied()
            .find(|index| self.pages[*index as usize].fits(len));
        candidate.unwrap_or_else(|| {
            self.pages.push_back(Arc::new(Page::new()));
            let index = u32::try_from(self.pages.len() - 1).expect("fewer than 2^32 pages");
            self.with_space.insert(index);
            index
        })
    }

    /// Recomputes the summary and the row index from the pages and checks
    /// them against the kept ones. Returns what disagrees.
    ///
    /// The index agrees with the pages when every entry names a slot that
    /// holds exactly its row and the pages hold as many rows as the index
    /// has entries: entries are distinct rows, so no two name one slot, and
    /// the map from entries to filled slots is a bijection. That is checked
    /// by walking the index once, with no search per row.
    pub fn check(&self) -> Result<(), String> {
        let mut summary = TableSummary::default();
        for (index, page) in self.pages.iter().enumerate() {
            for row in page.slots().iter().flatten() {
                summary.row_count += 1;
                summary.row_bytes += row.len() as u64;
            }
            if has_space(page) != self.with_space.contains(&(index as u32)) {
                return Err(format!(
                    "table={} free-page set disagrees at page={index}",
                    self.schema.name
                ));
            }
        }
        // Pages by index in a plain slice: one lookup per entry, not a walk
        // of the persistent vector's tree.
        let pages: Vec<&Arc<Page>> = self.pages.iter().collect();
        for (key, loc) in &self.rows {
            let row = &key.row;
            let held = pages
                .get(loc.page as usize)
                .and_then(|page| page.slots().get(loc.slot as usize).and_then(Option::as_ref));
            // The same allocation holds the same bytes: a row inserted or
            // restored shares its bytes between page and index, and the
            // comparison then need not read them.
            if held.is_none_or(|held| !Arc::ptr_eq(held, row) && held[..] != row[..]) {
                return Err(format!("table={} row index disagrees at {loc:?}", self.schema.name));
            }
        }
        if summary.row_count != self.rows.len() as u64 {
            return Err(format!(
                "table={} index has rows={} pages have rows={}",
                self.schema.name,
                self.rows.len(),
                summary.row_count
            ));
        }
        if summary != self.summary {
            return Err(format!(
                "table={} summary {:?} disagrees with rows {:?}",
                self.schema.name, self.summary, summary
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datastore::schema::{ColumnDef, TableId};
    use crate::datastore::value::ColumnType;

    fn table() -> Table {
        let schema =
            TableSchema::new(TableId(4096), "t", vec![ColumnDef::new("b", ColumnType::Bytes)]);
        Table::new(Arc::new(schema))
    }

    #[test]
    fn small_rows_fill_pages_instead_of_opening_one_per_row() {
        let mut table = table();
        for i in 0..10_000u32 {
            assert!(table.insert(Arc::from(i.to_le_bytes().repeat(5)), u64::from(i)));
        }
        let rows_per_page = (PAGE_SIZE / (20 + crate::datastore::SLOT_OVERHEAD)) as u64;
        let pages = table.pages().len() as u64;
        assert!(pages <= 10_000 / (rows_per_page - rows_per_page / 8) + 1, "pages={pages}");
        table.check().unwrap();
    }

    #[test]
    fn mixed_row_sizes_keep_pages_well_used() {
        let mut table = table();
        for i in 0..5_000u64 {
            let len = [10, 300, 1500, 40][(i % 4) as usize];
            assert!(table.insert(Arc::from([i.to_le_bytes().to_vec(), vec![7; len]].concat()), i));
            if i % 3 == 0 {
                let first = table.rows().next().cloned().unwrap();
                table.delete(&first, i);
            }
        }
        let used: usize = table.pages().iter().map(|p| p.used()).sum();
        let capacity = table.pages().len() * PAGE_SIZE;
        assert!(used * 10 >= capacity * 7, "pages are at least 70% used: {used}/{capacity}");
        table.check().unwrap();
    }

    #[test]
    fn check_finds_every_disagreement_between_index_pages_and_summary() {
        let mut table = table();
        for i in 0..300u64 {
            assert!(table.insert(Arc::from(i.to_le_bytes().repeat(4)), i));
        }
        table.check().unwrap();
        let row = |i: u64| -> Arc<[u8]> { Arc::from(i.to_le_bytes().repeat(4)) };

        // An entry naming another row's slot.
        let mut wrong_slot = table.clone();
        let other = wrong_slot.rows[&row(1)[..]];
        wrong_slot.rows.insert(RowKey::new(row(0)), other);
        assert!(wrong_slot.check().unwrap_err().contains("row index disagrees"));
        // An entry whose key is another allocation of the same bytes agrees
        // (compared byte by byte); one naming the slot of a row of the same
        // length but other bytes does not.
        let mut copied = table.clone();
        let loc = copied.rows.remove(&row(2)[..]).unwrap();
        copied.rows.insert(RowKey::new(row(2)), loc);
        let held = copied.pages[loc.page as usize].slots()[loc.slot as usize].clone().unwrap();
        assert!(!Arc::ptr_eq(&copied.rows.get_key_value(&row(2)[..]).unwrap().0.row, &held));
        copied.check().unwrap();
        let mut other_bytes = copied;
        let loc = other_bytes.rows.remove(&row(2)[..]).unwrap();
        other_bytes.rows.insert(RowKey::new(row(1_000)), loc);
        assert!(other_bytes.check().unwrap_err().contains("row index disagrees"));
        // An entry naming an empty or a missing slot.
        let mut dangling = table.clone();
        dangling.rows.insert(RowKey::new(row(0)), RowLoc { page: 0, slot: 100_000 });
        assert!(dangling.check().unwrap_err().contains("row index disagrees"));
        // A row in a page the index lost.
        let mut unindexed = table.clone();
        unindexed.rows.remove(&row(5)[..]);
        assert!(unindexed.check().unwrap_err().contains("index has rows=299 pages have rows=300"));
        // A summary out of step.
        let mut summary = table.clone();
        summary.summary.row_bytes += 1;
        assert!(summary.check().unwrap_err().contains("summary"));
        // A free-page set out of step.
        let mut free = table;
        let full = (0..free.pages.len() as u32).find(|p| !free.with_space.contains(p)).unwrap();
        free.with_space.insert(full);
        assert!(free.check().unwrap_err().contains("free-page set disagrees"));
    }

    #[test]
    fn inserting_a_present_row_is_refused_and_changes_nothing() {
        let mut table = table();
        let row = |i: u64| -> Arc<[u8]> { Arc::from(i.to_le_bytes().repeat(60)) };
        let mut i = 0;
        // Fill until the next row opens a page, so that the refusal must
        // also take back the page it opened.
        while table.pages().len() < 2 || table.pages()[table.pages().len() - 1].fits(480) {
            assert!(table.insert(row(i), i));
            i += 1;
        }
        assert!(table.pages().iter().all(|page| !page.fits(480)), "an insert opens a page");
        for present in [0, i - 1] {
            let before = table.clone();
            assert!(!table.insert(row(present), 1_000), "row {present} is there");
            assert_eq!(table.pages().len(), before.pages().len());
            assert_eq!(table.summary(), before.summary());
            assert_eq!(table.rows[&row(present)[..]], before.rows[&row(present)[..]]);
            assert_eq!(table.with_space, before.with_space);
            assert!(table.pages().iter().zip(before.pages().iter()).all(|(a, b)| a == b));
            table.check().unwrap();
        }
        // And with room left in a page: delete one, refuse a present one.
        assert!(table.delete(&row(3), 2_000));
        let before = table.clone();
        assert!(!table.insert(row(4), 2_001));
        assert!(table.pages().iter().zip(before.pages().iter()).all(|(a, b)| a == b));
        assert_eq!(table.summary(), before.summary());
        table.check().unwrap();
    }

    fn key(bytes: &[u8]) -> RowKey {
        RowKey::new(Arc::from(bytes))
    }

    #[test]
    fn row_keys_order_as_their_bytes_at_the_prefix_edges() {
        // Shorter than the prefix, zero bytes where the padding goes, equal
        // prefixes with different tails, and a prefix of another row.
        let rows: [&[u8]; 9] = [
            b"",
            b"\0",
            b"\0\0",
            b"a",
            b"a\0",
            b"a\0\x01",
            b"abcdefgh",
            b"abcdefgh\0",
            b"abcdefgi",
        ];
        for a in rows {
            for b in rows {
                assert_eq!(key(a).cmp(&key(b)), a.cmp(b), "{a:?} against {b:?}");
                assert_eq!(key(a) == key(b), a == b);
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn row_keys_order_as_their_bytes(
            a in proptest::collection::vec(proptest::sample::select(vec![0u8, 1, 255]), 0..12),
            b in proptest::collection::vec(proptest::sample::select(vec![0u8, 1, 255]), 0..12),
        ) {
            proptest::prop_assert_eq!(key(&a).cmp(&key(&b)), a.cmp(&b));
            proptest::prop_assert_eq!(key(&a) == key(&b), a == b);
        }
    }
}
