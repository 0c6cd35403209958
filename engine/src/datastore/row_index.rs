//! A table's row index: each encoded row, in byte order, to its page slot.
//!
//! Two parts, because a table gets its rows in two ways:
//! - `loaded`: the rows a snapshot restore read, sorted once into a plain
//!   array that every later version shares and nobody changes. Inserting a
//!   million sorted keys into a persistent tree one at a time was 21% of a
//!   snapshot open's samples, and the tree bought nothing until a row
//!   changes.
//! - `changes`: every change since, in a persistent tree, so that cloning
//!   the index (every committed version does) costs O(1) and a change
//!   copies O(log n) nodes. A row is there with its slot; a loaded row
//!   deleted since is there with [`DELETED`] (a tombstone).
//!
//! A table built by inserts (a full replay, a new table) has nothing loaded
//! and is the persistent tree alone.
//!
//! Cost: a loaded row deleted since keeps its bytes in memory until the
//! next open, because the array is shared and not rewritten. That is
//! bounded: at most the loaded rows, each once.

use std::cmp::Ordering;
use std::ops::Bound;
use std::sync::Arc;

use super::page::RowLoc;

/// A row index key: an encoded row with its first 8 bytes kept beside the
/// pointer, so that most comparisons settle without reading the row. A
/// restore sorts a million keys and a replay searches among them, and each
/// comparison that reads the row is a cache miss (it was 39% of a snapshot
/// open's samples).
///
/// Orders exactly as the row's bytes do: `prefix` is the first
/// `min(8, len)` bytes, big-endian, padded with zeros, so a smaller prefix
/// means a smaller row (at the first byte the prefixes differ, either both
/// rows have that byte, or the shorter row ended there), and equal prefixes
/// fall back to the whole rows.
#[derive(Clone, Debug)]
pub(super) struct RowKey {
    prefix: u64,
    row: Arc<[u8]>,
}

impl RowKey {
    pub(super) fn new(row: Arc<[u8]>) -> Self {
        let mut first = [0u8; 8];
        let n = row.len().min(first.len());
        first[..n].copy_from_slice(&row[..n]);
        RowKey { prefix: u64::from_be_bytes(first), row }
    }

    /// The encoded row.
    pub(super) fn row(&self) -> &Arc<[u8]> {
        &self.row
    }

    /// A bound for a range of keys, not a row's key: it orders before
    /// every key whose prefix is `prefix` and after every smaller prefix.
    fn least_with_prefix(prefix: u64) -> RowKey {
        RowKey { prefix, row: Arc::from(&[][..]) }
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

/// The tombstone of a loaded row deleted since the load. No row is ever in
/// this slot: a page has far fewer than `u32::MAX` slots. A sentinel rather
/// than an `Option`, because the `Option` made every entry of the tree 25%
/// larger and a full replay, which only inserts, 7% slower.
const DELETED: RowLoc = RowLoc { page: u32::MAX, slot: u32::MAX };

/// See the module doc.
#[derive(Clone, Debug, Default)]
pub(super) struct RowIndex {
    /// Sorted by key, no key twice.
    loaded: Arc<Vec<(RowKey, RowLoc)>>,
    /// Rows changed since the load; [`DELETED`] only for a loaded key.
    changes: imbl::OrdMap<RowKey, RowLoc>,
    /// Rows in the index: loaded ones not deleted, plus inserted ones.
    len: usize,
}

impl RowIndex {
    /// The index of `entries` (a restore), or `None` if a row appears twice.
    pub(super) fn from_entries(mut entries: Vec<(RowKey, RowLoc)>) -> Option<Self> {
        // In key order a row held twice is adjacent to itself.
        entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        if entries.windows(2).any(|pair| pair[0].0 == pair[1].0) {
            return None;
        }
        let len = entries.len();
        Some(RowIndex { loaded: Arc::new(entries), changes: imbl::OrdMap::new(), len })
    }

    /// Rows in the index.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Where the row is, if it is in the index.
    #[inline]
    pub(super) fn get(&self, key: &RowKey) -> Option<RowLoc> {
        match self.changes.get(key) {
            Some(&DELETED) => None,
            Some(change) => Some(*change),
            None => self.loaded_get(key),
        }
    }

    /// Adds a row that is not in the index; if it is, nothing changes and
    /// the answer is where it is.
    #[inline]
    pub(super) fn insert_absent(&mut self, key: RowKey, loc: RowLoc) -> Result<(), RowLoc> {
        assert_ne!(loc, DELETED, "no row is in the tombstone's slot");
        if let Some(held) = self.loaded_get(&key) {
            return match self.changes.get(&key) {
                // Deleted since the load: the row comes back, elsewhere.
                Some(&DELETED) => {
                    self.changes.insert(key, loc);
                    self.len += 1;
                    Ok(())
                }
                Some(moved) => Err(*moved),
                None => Err(held),
            };
        }
        // Not loaded: one walk inserts, and only the rare refusal costs a
        // second, to put the old entry back (a search first, then the
        // insert, was two walks, and the search was 38% of a full replay's
        // samples).
        match self.changes.insert(key.clone(), loc) {
            None => {
                self.len += 1;
                Ok(())
            }
            Some(present) => {
                assert_ne!(present, DELETED, "a tombstone only for a loaded row");
                self.changes.insert(key, present);
                Err(present)
            }
        }
    }

    /// Removes a row; returns where it was, or `None` if it was not there.
    #[inline]
    pub(super) fn remove(&mut self, key: &RowKey) -> Option<RowLoc> {
        let removed = if let Some(held) = self.loaded_get(key) {
            // One search of the loaded rows: what they hold decides, unless
            // a change since the load has moved or deleted the row.
            let removed = match self.changes.get(key) {
                Some(&DELETED) => return None,
                Some(moved) => *moved,
                None => held,
            };
            self.changes.insert(key.clone(), DELETED);
            Some(removed)
        } else {
            let removed = self.changes.remove(key);
            assert_ne!(removed, Some(DELETED), "a tombstone only for a loaded row");
            removed
        };
        if removed.is_some() {
            self.len -= 1;
        }
        removed
    }

    /// The rows and their slots, in key order.
    pub(super) fn iter(&self) -> Rows<'_> {
        Rows::of(&self.loaded, self.changes.range::<_, RowKey>(..))
    }

    /// The rows whose first 8 bytes are `first`, and their slots, in key
    /// order: they are adjacent, so a system table's rows for one id (its
    /// first field) are read without walking the others.
    pub(super) fn starting_with(&self, first: [u8; 8]) -> impl Iterator<Item = (&RowKey, RowLoc)> {
        // Every row starting with `first` has this prefix; so does a row
        // shorter than 8 bytes that is `first` without its trailing zeros,
        // which the filter drops.
        let prefix = u64::from_be_bytes(first);
        let from = self.loaded.partition_point(|(key, _)| key.prefix < prefix);
        let to = from + self.loaded[from..].partition_point(|(key, _)| key.prefix == prefix);
        let upper = match prefix.checked_add(1) {
            Some(next) => Bound::Excluded(RowKey::least_with_prefix(next)),
            None => Bound::Unbounded,
        };
        let lower = Bound::Included(RowKey::least_with_prefix(prefix));
        Rows::of(&self.loaded[from..to], self.changes.range((lower, upper)))
            .filter(move |(key, _)| key.row.len() >= first.len())
            .inspect(move |(key, _)| debug_assert_eq!(key.row[..8], first))
    }

    #[inline]
    fn loaded_get(&self, key: &RowKey) -> Option<RowLoc> {
        if self.loaded.is_empty() {
            return None;
        }
        let at = self.loaded.binary_search_by(|(loaded, _)| loaded.cmp(key)).ok()?;
        Some(self.loaded[at].1)
    }
}

type ChangesIter<'a> =
    imbl::ordmap::RangedIter<'a, RowKey, RowLoc, imbl::shared_ptr::DefaultSharedPtr>;
type LoadedIter<'a> = std::slice::Iter<'a, (RowKey, RowLoc)>;

/// The rows of a [`RowIndex`] and their slots, in key order.
pub(super) enum Rows<'a> {
    /// Nothing loaded: no tombstone either.
    Changes(ChangesIter<'a>),
    /// Nothing changed since the load.
    Loaded(LoadedIter<'a>),
    Both(Merge<'a>),
}

impl<'a> Rows<'a> {
    /// The loaded rows `loaded` merged with the changes `changes` walks;
    /// both cover the same range of keys.
    fn of(loaded: &'a [(RowKey, RowLoc)], mut changes: ChangesIter<'a>) -> Rows<'a> {
        // Most tables hold one part only, and walk it alone: the merge's
        // comparison per row was 1% of a sweep's instructions.
        if loaded.is_empty() {
            return Rows::Changes(changes);
        }
        match changes.next() {
            None => Rows::Loaded(loaded.iter()),
            change => Rows::Both(Merge { loaded, change, changes }),
        }
    }
}

impl<'a> Iterator for Rows<'a> {
    type Item = (&'a RowKey, RowLoc);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Rows::Changes(changes) => changes.next().map(|(key, loc)| {
                debug_assert_ne!(*loc, DELETED, "a tombstone only for a loaded row");
                (key, *loc)
            }),
            Rows::Loaded(loaded) => loaded.next().map(|(key, loc)| (key, *loc)),
            Rows::Both(merge) => merge.next(),
        }
    }
}

/// The loaded rows and the changes, merged in key order; a change to a
/// loaded row wins over it.
pub(super) struct Merge<'a> {
    loaded: &'a [(RowKey, RowLoc)],
    changes: ChangesIter<'a>,
    /// The next change, taken from `changes` and not yet merged.
    change: Option<(&'a RowKey, &'a RowLoc)>,
}

impl<'a> Iterator for Merge<'a> {
    type Item = (&'a RowKey, RowLoc);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let Some((changed, change)) = self.change else {
                let ((key, loc), rest) = self.loaded.split_first()?;
                self.loaded = rest;
                return Some((key, *loc));
            };
            let order = match self.loaded.split_first() {
                Some(((key, loc), rest)) => {
                    let order = key.cmp(changed);
                    if order == Ordering::Less {
                        self.loaded = rest;
                        return Some((key, *loc));
                    }
                    if order == Ordering::Equal {
                        self.loaded = rest;
                    }
                    order
                }
                None => Ordering::Greater,
            };
            self.change = self.changes.next();
            if *change != DELETED {
                return Some((changed, *change));
            }
            assert_eq!(order, Ordering::Equal, "a tombstone only for a loaded row");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

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

    #[test]
    fn a_row_loaded_twice_is_refused() {
        let loc = |slot| RowLoc { page: 0, slot };
        let entries = vec![(key(b"b"), loc(0)), (key(b"a"), loc(1)), (key(b"b"), loc(2))];
        assert!(RowIndex::from_entries(entries).is_none());
        let index = RowIndex::from_entries(vec![(key(b"b"), loc(0)), (key(b"a"), loc(1))]).unwrap();
        let listed: Vec<_> = index.iter().map(|(key, loc)| (key.row().to_vec(), loc)).collect();
        assert_eq!(listed, vec![(b"a".to_vec(), loc(1)), (b"b".to_vec(), loc(0))]);
    }

    /// An operation on the index; rows are drawn from a small alphabet so
    /// that inserts, deletes and reinserts meet the same rows.
    #[derive(Clone, Debug)]
    enum Op {
        Insert(Vec<u8>, u32),
        Remove(Vec<u8>),
        /// A clone taken here must not see the operations after it.
        Fork,
    }

    fn row() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        proptest::collection::vec(proptest::sample::select(vec![0u8, 1, 255]), 0..10)
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            (row(), any::<u32>()).prop_map(|(row, slot)| Op::Insert(row, slot)),
            row().prop_map(Op::Remove),
            Just(Op::Fork),
        ]
    }

    /// Rows of 6 to 10 bytes of two letters: most share their first 8
    /// bytes with another, some are shorter than 8 (what the padding of a
    /// key's prefix could confuse).
    fn prefixed_row() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        proptest::collection::vec(proptest::sample::select(vec![0u8, 1]), 6..=10)
    }

    fn listed(index: &RowIndex) -> Vec<(Vec<u8>, RowLoc)> {
        index.iter().map(|(key, loc)| (key.row().to_vec(), loc)).collect()
    }

    proptest::proptest! {
        #[test]
        fn row_keys_order_as_their_bytes(a in row(), b in row()) {
            proptest::prop_assert_eq!(key(&a).cmp(&key(&b)), a.cmp(&b));
            proptest::prop_assert_eq!(key(&a) == key(&b), a == b);
        }

        /// The index against a `BTreeMap`, from a load (possibly empty)
        /// through inserts, removes and forks: every answer, its length and
        /// its listing in order.
        #[test]
        fn the_index_behaves_as_an_ordered_map(
            loaded in proptest::collection::btree_map(row(), proptest::prelude::any::<u32>(), 0..20),
            ops in proptest::collection::vec(op(), 0..60),
        ) {
            let loc = |slot| RowLoc { page: 1, slot };
            let entries = loaded.iter().map(|(row, slot)| (key(row), loc(*slot))).collect();
            let mut index = RowIndex::from_entries(entries).unwrap();
            let mut model: BTreeMap<Vec<u8>, RowLoc> =
                loaded.into_iter().map(|(row, slot)| (row, loc(slot))).collect();
            let mut forks = Vec::new();
            for op in ops {
                match op {
                    Op::Insert(row, slot) => {
                        let expected = match model.get(&row) {
                            Some(held) => Err(*held),
                            None => Ok(()),
                        };
                        if expected.is_ok() {
                            model.insert(row.clone(), loc(slot));
                        }
                        proptest::prop_assert_eq!(index.insert_absent(key(&row), loc(slot)), expected);
                    }
                    Op::Remove(row) => {
                        proptest::prop_assert_eq!(index.remove(&key(&row)), model.remove(&row));
                    }
                    Op::Fork => forks.push((index.clone(), model.clone())),
                }
                proptest::prop_assert_eq!(index.len(), model.len());
                let expected: Vec<_> = model.iter().map(|(row, loc)| (row.clone(), *loc)).collect();
                proptest::prop_assert_eq!(listed(&index), expected);
                for (row, loc) in &model {
                    proptest::prop_assert_eq!(index.get(&key(row)), Some(*loc));
                }
            }
            for (fork, model) in forks {
                let expected: Vec<_> = model.iter().map(|(row, loc)| (row.clone(), *loc)).collect();
                proptest::prop_assert_eq!(listed(&fork), expected);
                proptest::prop_assert_eq!(fork.len(), model.len());
            }
        }

        /// `starting_with` lists what a walk of every row, filtered by its
        /// first 8 bytes, lists: loaded rows, changes, and both, after
        /// inserts and removes.
        #[test]
        fn rows_starting_with_eight_bytes_are_the_filtered_walk(
            loaded in proptest::collection::btree_set(prefixed_row(), 0..24),
            inserted in proptest::collection::vec(prefixed_row(), 0..24),
            removed in proptest::collection::vec(prefixed_row(), 0..24),
            firsts in proptest::collection::vec(
                proptest::array::uniform8(proptest::sample::select(vec![0u8, 1])), 1..6,
            ),
        ) {
            let loc = |slot| RowLoc { page: 1, slot };
            let entries = loaded.iter().zip(0..).map(|(row, slot)| (key(row), loc(slot))).collect();
            let mut index = RowIndex::from_entries(entries).unwrap();
            for (row, slot) in inserted.iter().zip(100..) {
                let _ = index.insert_absent(key(row), loc(slot));
            }
            for row in &removed {
                index.remove(&key(row));
            }
            let everything = listed(&index);
            for first in firsts.into_iter().chain([[0; 8], [1; 8]]) {
                let expected: Vec<_> =
                    everything.iter().filter(|(row, _)| row.starts_with(&first)).cloned().collect();
                let got: Vec<_> = index
                    .starting_with(first)
                    .map(|(key, loc)| (key.row().to_vec(), loc))
                    .collect();
                proptest::prop_assert_eq!(got, expected, "first={:?}", first);
            }
        }
    }
}
