//! A table: its schema, its pages, and the index from row to page slot.
//!
//! Every field is a persistent (structurally shared) collection, or, for
//! the rows a restore loaded, an array no version changes ([`RowIndex`]), so
//! cloning a table, which every committed version does, costs O(1), and
//! changing one row copies one page and O(log n) index nodes.

use std::sync::Arc;

use super::page::{PAGE_SIZE, Page, RowLoc};
use super::row_index::{RowIndex, RowKey};
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

/// One table's committed contents.
#[derive(Clone, Debug)]
pub struct Table {
    schema: Arc<TableSchema>,
    pages: imbl::Vector<Arc<Page>>,
    rows: RowIndex,
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
            rows: RowIndex::default(),
            with_space: imbl::OrdSet::new(),
            summary: TableSummary::default(),
        }
    }

    /// Rebuilds a table from its pages (a snapshot restore). Returns `None`
    /// if a row appears twice.
    pub fn from_pages(schema: Arc<TableSchema>, pages: Vec<Page>) -> Option<Self> {
        let mut table = Table::new(schema);
        let mut entries = Vec::with_capacity(pages.iter().map(|page| page.slots().len()).sum());
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
        table.rows = RowIndex::from_entries(entries)?;
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
        self.rows.get(&RowKey::new(Arc::clone(row))).is_some()
    }

    /// The encoded rows, in byte order.
    pub fn rows(&self) -> impl Iterator<Item = &Arc<[u8]>> {
        self.rows.iter().map(|(key, _)| key.row())
    }

    /// The encoded rows whose first 8 bytes are `first`, in byte order: in
    /// a table whose first column is a `u64`, the rows holding one value
    /// there.
    pub fn rows_starting_with(&self, first: [u8; 8]) -> impl Iterator<Item = &Arc<[u8]>> {
        self.rows.starting_with(first).map(|(key, _)| key.row())
    }

    /// Inserts an encoded row that fits a page, unless the table holds it
    /// already: then nothing changes and the answer is `false`.
    ///
    /// The row's slot is chosen before anything changes, so that the index
    /// both inserts and finds a row already there in one walk
    /// ([`RowIndex::insert_absent`]).
    #[must_use = "false means the row was there and nothing was inserted"]
    pub fn insert(&mut self, row: Arc<[u8]>, offset: u64) -> bool {
        let len = row.len();
        let pages_before = self.pages.len();
        let index = self.page_with_room(len);
        let slot = self.pages[index as usize].next_slot();
        if self
            .rows
            .insert_absent(RowKey::new(Arc::clone(&row)), RowLoc { page: index, slot })
            .is_err()
        {
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
        let mut entries = 0u64;
        for (key, loc) in self.rows.iter() {
            entries += 1;
            let row = key.row();
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
        // The entries walked, not the index's own count, make the bijection;
        // the count must agree with them too.
        if summary.row_count != entries || entries != self.rows.len() as u64 {
            return Err(format!(
                "table={} index has rows={entries} (counted {}) pages have rows={}",
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

    /// Points the index's entry for `row` at `loc`, whether it was there or
    /// not: how the tests below break the index.
    fn point(table: &mut Table, row: Arc<[u8]>, loc: RowLoc) {
        let key = RowKey::new(row);
        table.rows.remove(&key);
        table.rows.insert_absent(key, loc).unwrap();
    }

    #[test]
    fn check_finds_every_disagreement_between_index_pages_and_summary() {
        let mut inserted = table();
        for i in 0..300u64 {
            assert!(inserted.insert(Arc::from(i.to_le_bytes().repeat(4)), i));
        }
        // The same rows restored from the pages: an index that was loaded,
        // not built by inserts (see `RowIndex`).
        let pages = inserted.pages().iter().map(|page| Page::clone(page)).collect();
        let restored = Table::from_pages(Arc::clone(inserted.schema()), pages).unwrap();
        for table in [inserted, restored] {
            check_finds_every_disagreement(table);
        }
    }

    fn check_finds_every_disagreement(table: Table) {
        table.check().unwrap();
        let row = |i: u64| -> Arc<[u8]> { Arc::from(i.to_le_bytes().repeat(4)) };
        let loc_of = |table: &Table, i: u64| table.rows.get(&RowKey::new(row(i))).unwrap();

        // An entry naming another row's slot.
        let mut wrong_slot = table.clone();
        point(&mut wrong_slot, row(0), loc_of(&table, 1));
        assert!(wrong_slot.check().unwrap_err().contains("row index disagrees"));
        // An entry whose key is another allocation of the same bytes agrees
        // (compared byte by byte); one naming the slot of a row of the same
        // length but other bytes does not.
        let mut copied = table.clone();
        let loc = loc_of(&table, 2);
        point(&mut copied, row(2), loc);
        let held = copied.pages[loc.page as usize].slots()[loc.slot as usize].clone().unwrap();
        let (key, _) = copied.rows.iter().find(|(key, _)| key.row()[..] == row(2)[..]).unwrap();
        assert!(!Arc::ptr_eq(key.row(), &held));
        copied.check().unwrap();
        let mut other_bytes = copied;
        assert_eq!(other_bytes.rows.remove(&RowKey::new(row(2))), Some(loc));
        point(&mut other_bytes, row(1_000), loc);
        assert!(other_bytes.check().unwrap_err().contains("row index disagrees"));
        // An entry naming an empty or a missing slot.
        let mut dangling = table.clone();
        point(&mut dangling, row(0), RowLoc { page: 0, slot: 100_000 });
        assert!(dangling.check().unwrap_err().contains("row index disagrees"));
        // A row in a page the index lost.
        let mut unindexed = table.clone();
        assert!(unindexed.rows.remove(&RowKey::new(row(5))).is_some());
        let lost = unindexed.check().unwrap_err();
        assert!(lost.contains("index has rows=299 (counted 299) pages have rows=300"), "{lost}");
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
            assert_eq!(
                table.rows.get(&RowKey::new(row(present))),
                before.rows.get(&RowKey::new(row(present)))
            );
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
}
