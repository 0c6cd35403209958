//! A table: its schema, its pages, and the index from row to page slot.
//!
//! Every field is a persistent (structurally shared) collection, so cloning
//! a table, which every committed version does, costs O(1), and changing one
//! row copies one page and O(log n) index nodes.

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

/// One table's committed contents.
#[derive(Clone, Debug)]
pub struct Table {
    schema: Arc<TableSchema>,
    pages: imbl::Vector<Arc<Page>>,
    rows: imbl::OrdMap<Arc<[u8]>, RowLoc>,
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
                    Arc::clone(row),
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
    pub fn contains(&self, row: &[u8]) -> bool {
        self.rows.contains_key(row)
    }

    /// The encoded rows, in byte order.
    pub fn rows(&self) -> impl Iterator<Item = &Arc<[u8]>> {
        self.rows.keys()
    }

    /// Inserts an encoded row that is not in the table and fits a page.
    pub fn insert(&mut self, row: Arc<[u8]>, offset: u64) {
        let len = row.len();
        let index = self.page_with_room(len);
        let page = Arc::make_mut(&mut self.pages[index as usize]);
        let slot = page.insert(Arc::clone(&row), offset);
        if !has_space(page) {
            self.with_space.remove(&index);
        }
        // One walk of the index both inserts and checks (the row was absent).
        let previous = self.rows.insert(row, RowLoc { page: index, slot });
        assert!(previous.is_none(), "insert of a present row");
        self.summary.row_count += 1;
        self.summary.row_bytes += len as u64;
    }

    /// Deletes an encoded row; returns whether it was there.
    pub fn delete(&mut self, row: &[u8], offset: u64) -> bool {
        let Some(loc) = self.rows.remove(row) else { return false };
        let page = Arc::make_mut(&mut self.pages[loc.page as usize]);
        let removed = page.remove(loc.slot, offset);
        assert_eq!(&*removed, row, "the index pointed at another row");
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
        for (row, loc) in &self.rows {
            let held = self
                .pages
                .get(loc.page as usize)
                .and_then(|page| page.slots().get(loc.slot as usize).and_then(Option::as_ref));
            if held.is_none_or(|held| held[..] != row[..]) {
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
            table.insert(Arc::from(i.to_le_bytes().repeat(5)), u64::from(i));
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
            table.insert(Arc::from([i.to_le_bytes().to_vec(), vec![7; len]].concat()), i);
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
            table.insert(Arc::from(i.to_le_bytes().repeat(4)), i);
        }
        table.check().unwrap();
        let row = |i: u64| -> Arc<[u8]> { Arc::from(i.to_le_bytes().repeat(4)) };

        // An entry naming another row's slot.
        let mut wrong_slot = table.clone();
        let other = wrong_slot.rows[&row(1)];
        wrong_slot.rows.insert(row(0), other);
        assert!(wrong_slot.check().unwrap_err().contains("row index disagrees"));
        // An entry naming an empty or a missing slot.
        let mut dangling = table.clone();
        dangling.rows.insert(row(0), RowLoc { page: 0, slot: 100_000 });
        assert!(dangling.check().unwrap_err().contains("row index disagrees"));
        // A row in a page the index lost.
        let mut unindexed = table.clone();
        unindexed.rows.remove(&row(5));
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
}
