//! Fixed-size pages of encoded rows: the unit a snapshot names, checks and
//! restores.
//!
//! A page holds at most [`PAGE_SIZE`] bytes of rows, counting
//! [`SLOT_OVERHEAD`] bytes per row for its slot. A row never spans pages.
//! Each page remembers the offset of the transaction that last changed it,
//! so that an incremental snapshot can ask which pages changed since the
//! previous one.

use std::sync::Arc;

/// The capacity of a page in bytes (rows plus slot overhead).
pub const PAGE_SIZE: usize = 4096;
/// What a row costs in a page beyond its own bytes (its slot's length).
pub const SLOT_OVERHEAD: usize = 4;
/// The largest encoded row a page can hold.
pub const ROW_SIZE_MAX: usize = PAGE_SIZE - SLOT_OVERHEAD;

const _: () = assert!(ROW_SIZE_MAX > 0 && PAGE_SIZE <= u16::MAX as usize + 1);

/// The position of a row: page index and slot in that page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RowLoc {
    /// The page's index in its table.
    pub page: u32,
    /// The slot in the page.
    pub slot: u32,
}

/// A page of rows. Immutable once published; copied on write.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Page {
    /// Slots: a row, or a hole left by a delete (reused by the next insert).
    slots: Vec<Option<Arc<[u8]>>>,
    /// Bytes in use, slot overhead included.
    used: usize,
    /// The offset of the last transaction that changed this page.
    modified_at: u64,
}

impl Page {
    /// An empty page.
    pub fn new() -> Self {
        Page::default()
    }

    /// Rebuilds a page from its slots (a snapshot's page file), checking that
    /// it fits. Returns `None` if the rows overflow the page.
    pub fn from_slots(slots: Vec<Option<Arc<[u8]>>>, modified_at: u64) -> Option<Self> {
        let used = slots.iter().flatten().map(|row| row.len() + SLOT_OVERHEAD).sum::<usize>();
        (used <= PAGE_SIZE).then_some(Page { slots, used, modified_at })
    }

    /// The bytes still free.
    pub fn free(&self) -> usize {
        PAGE_SIZE - self.used
    }

    /// Bytes in use, slot overhead included.
    pub fn used(&self) -> usize {
        self.used
    }

    /// The offset of the last transaction that changed this page.
    pub fn modified_at(&self) -> u64 {
        self.modified_at
    }

    /// The slots, holes included.
    pub fn slots(&self) -> &[Option<Arc<[u8]>>] {
        &self.slots
    }

    /// The rows, in slot order.
    pub fn rows(&self) -> impl Iterator<Item = &Arc<[u8]>> {
        self.slots.iter().flatten()
    }

    /// Whether `row_len` more bytes of row fit.
    pub fn fits(&self, row_len: usize) -> bool {
        row_len + SLOT_OVERHEAD <= self.free()
    }

    /// The slot the next [`Page::insert`] puts its row in: the first hole,
    /// or a new slot.
    pub fn next_slot(&self) -> u32 {
        let slot = self.slots.iter().position(Option::is_none).unwrap_or(self.slots.len());
        u32::try_from(slot).expect("a page has few slots")
    }

    /// Puts `row` in the first hole or a new slot; returns the slot.
    pub fn insert(&mut self, row: Arc<[u8]>, offset: u64) -> u32 {
        assert!(self.fits(row.len()), "page overflow: used={} row={}", self.used, row.len());
        self.used += row.len() + SLOT_OVERHEAD;
        self.modified_at = offset;
        let slot = self.next_slot();
        match self.slots.get_mut(slot as usize) {
            Some(hole) => *hole = Some(row),
            None => self.slots.push(Some(row)),
        }
        slot
    }

    /// Takes the row out of `slot`, leaving a hole.
    pub fn remove(&mut self, slot: u32, offset: u64) -> Arc<[u8]> {
        let row = self.slots[slot as usize].take().expect("the slot holds a row");
        self.used -= row.len() + SLOT_OVERHEAD;
        self.modified_at = offset;
        while self.slots.last().is_some_and(Option::is_none) {
            self.slots.pop();
        }
        row
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_fills_holes_and_accounts_bytes() {
        let mut page = Page::new();
        let a = page.insert(Arc::from(&b"aaaa"[..]), 1);
        let b = page.insert(Arc::from(&b"bb"[..]), 2);
        assert_eq!((a, b), (0, 1));
        assert_eq!(page.used(), 4 + 2 + 2 * SLOT_OVERHEAD);
        assert_eq!(&*page.remove(a, 3), b"aaaa");
        assert_eq!(page.insert(Arc::from(&b"c"[..]), 4), 0, "the hole is reused");
        assert_eq!(page.modified_at(), 4);
        assert_eq!(page.rows().count(), 2);
    }

    #[test]
    fn a_full_page_refuses_more() {
        let mut page = Page::new();
        page.insert(Arc::from(vec![0u8; ROW_SIZE_MAX]), 0);
        assert!(!page.fits(0));
        assert_eq!(page.free(), 0);
        assert!(Page::from_slots(vec![Some(Arc::from(vec![0u8; ROW_SIZE_MAX + 1]))], 0).is_none());
    }
}
