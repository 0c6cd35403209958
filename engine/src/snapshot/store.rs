//! The snapshot store: persist a committed state as a snapshot directory,
//! recover the store after a crash, load and validate a snapshot, compact an
//! incremental chain, prune old snapshots.
//!
//! Layout: `snapshots/<offset, 20 digits>/` holds `manifest` and the page
//! files `<table_id>-<page_index>.page` this snapshot wrote; pages it did
//! not write are referred to in the directories of older snapshots.
//!
//! Persist: everything is written under `snapshots/<O>.tmp/`, every file
//! synced, the tmp directory synced, renamed to `snapshots/<O>/`, and
//! `snapshots/` synced. The rename is the commit point: a crash before it
//! leaves a `.tmp` that recovery deletes; after it the snapshot is whole.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use thiserror::Error;

use super::format::{
    FormatError, Manifest, PageRef, SnapshotKind, TableEntry, decode_manifest, decode_page,
    encode_manifest, encode_page, stored_crc,
};
use crate::commitlog::CommitStamp;
use crate::datastore::{CommittedState, Table, TableId};
use crate::fs::phase::{self, Phase};
use crate::fs::{EntryKind, File, Fs};

/// The snapshot directory inside the database directory.
pub const SNAPSHOTS_DIR: &str = "snapshots";
const MANIFEST: &str = "manifest";
const MANIFEST_TMP: &str = "manifest.tmp";
const TMP_SUFFIX: &str = ".tmp";
const REJECTED_SUFFIX: &str = ".rejected";
/// The largest page file or manifest the store reads (bounds memory).
const FILE_LEN_MAX: u64 = 1 << 30;

/// Why a snapshot could not be written, read or trusted.
#[derive(Debug, Error)]
pub enum SnapshotError {
    /// A filesystem operation failed.
    #[error("io error: op={op} path={}", path.display())]
    Io {
        /// The operation.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The error the filesystem returned.
        #[source]
        source: io::Error,
    },
    /// A manifest or page file is not valid.
    #[error("bad snapshot file: path={} {reason}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: FormatError,
    },
    /// The files are valid but do not make a consistent state.
    #[error("snapshot does not restore: snapshot={} {reason}", snapshot.display())]
    Restore {
        /// The snapshot directory.
        snapshot: PathBuf,
        /// Why.
        reason: String,
    },
}

fn io_error<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> SnapshotError + 'a {
    move |source| SnapshotError::Io { op, path: path.to_owned(), source }
}

/// The snapshots of one database.
#[derive(Clone, Debug)]
pub struct SnapshotStore {
    fs: Arc<dyn Fs>,
    dir: PathBuf,
}

/// The name of a snapshot's directory.
pub fn snapshot_dir_name(offset: u64) -> String {
    format!("{offset:020}")
}

fn parse_snapshot_dir_name(name: &str) -> Option<u64> {
    (name.len() == 20 && name.bytes().all(|b| b.is_ascii_digit()))
        .then(|| name.parse().ok())
        .flatten()
}

fn page_file_name(table: TableId, index: u32) -> String {
    format!("{}-{index}.page", table.0)
}

impl SnapshotStore {
    /// Opens the store in `root/snapshots`, creating it if needed, and
    /// recovers it: deletes every `*.tmp` directory (an interrupted
    /// persist) and every `manifest.tmp` (an interrupted compaction), then
    /// syncs every snapshot directory and the store's own.
    ///
    /// The syncs are the snapshot side of the log's durable rewrite at
    /// open: a process killed between a rename and the directory sync
    /// after it leaves the rename in the page cache, where the next
    /// process sees it and builds on it (a compacted manifest it then
    /// prunes the chain behind), while the device still holds the old
    /// entry. What this process relies on must be durable first.
    pub fn open(fs: Arc<dyn Fs>, root: &Path) -> Result<Self, SnapshotError> {
        let dir = root.join(SNAPSHOTS_DIR);
        let store = SnapshotStore { fs, dir };
        let entries = match store.fs.list_dir(&store.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                store.fs.create_dir(&store.dir).map_err(io_error("create-dir", &store.dir))?;
                store.fs.sync_dir(root).map_err(io_error("sync-dir", root))?;
                Vec::new()
            }
            Err(e) => return Err(io_error("list-dir", &store.dir)(e)),
        };
        for entry in entries.iter().filter(|e| e.kind == EntryKind::Dir) {
            let path = store.dir.join(&entry.name);
            if entry.name.ends_with(TMP_SUFFIX) {
                tracing::info!(path = %path.display(), "removing an interrupted snapshot");
                store.remove_dir(&path)?;
            } else if parse_snapshot_dir_name(&entry.name).is_some() {
                let tmp = path.join(MANIFEST_TMP);
                match store.fs.remove(&tmp) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io_error("remove", &tmp)(e)),
                }
                store.fs.sync_dir(&path).map_err(io_error("sync-dir", &path))?;
            }
        }
        store.fs.sync_dir(&store.dir).map_err(io_error("sync-dir", &store.dir))?;
        Ok(store)
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The offsets of the committed snapshots, oldest first.
    pub fn list(&self) -> Result<Vec<u64>, SnapshotError> {
        let entries = self.fs.list_dir(&self.dir).map_err(io_error("list-dir", &self.dir))?;
        let mut offsets: Vec<u64> = entries
            .iter()
            .filter(|e| e.kind == EntryKind::Dir)
            .filter_map(|e| parse_snapshot_dir_name(&e.name))
            .collect();
        offsets.sort_unstable();
        Ok(offsets)
    }

    fn snapshot_path(&self, offset: u64) -> PathBuf {
        self.dir.join(snapshot_dir_name(offset))
    }

    /// Persists `state` as the snapshot of its offset, bound to
    /// `log_commit`, the stamp of the log's commit that ends there. With a `parent`
    /// whose chain is shorter than `chain_max`, writes only the pages changed
    /// since the parent (incremental); otherwise every page (full).
    pub fn persist(
        &self,
        state: &CommittedState,
        log_commit: CommitStamp,
        parent: Option<&Manifest>,
        chain_max: u32,
    ) -> Result<Manifest, SnapshotError> {
        let offset = state.offset().expect("a snapshot captures at least one commit");
        assert_eq!(log_commit.last_offset, offset, "bound to the commit that ends at its offset");
        assert!(parent.is_none_or(|p| p.offset < offset), "snapshots move forward");
        let parent = parent.filter(|p| p.chain_len < chain_max);
        let kind = if parent.is_some() { SnapshotKind::Incremental } else { SnapshotKind::Full };
        let name = snapshot_dir_name(offset);
        let tmp_name = format!("{name}{TMP_SUFFIX}");
        let (tmp, path) = (self.dir.join(&tmp_name), self.dir.join(&name));
        let write = phase::enter(Phase::SnapshotWrite);
        let entries = self.fs.list_dir(&self.dir).map_err(io_error("list-dir", &self.dir))?;
        if entries.iter().any(|e| e.name == tmp_name) {
            self.remove_dir(&tmp)?; // left by an earlier failed attempt
        }
        if entries.iter().any(|e| e.name == name) {
            // An earlier attempt at this offset failed after its rename (the
            // directory sync failed): its durability is unknown, and the
            // rename below needs the name. Nothing relies on it yet (log
            // segments go only after a snapshot finished), so write it anew.
            // It is moved to the staging name first, atomically: a crash
            // while its files are removed then leaves an interrupted
            // snapshot, which recovery deletes, never a broken one under
            // its final name.
            tracing::info!(snapshot = %path.display(), "replacing an unfinished snapshot");
            let _replace = phase::enter(Phase::SnapshotReplace);
            self.fs.rename(&path, &tmp).map_err(io_error("rename", &path))?;
            self.remove_dir(&tmp)?;
            self.fs.sync_dir(&self.dir).map_err(io_error("sync-dir", &self.dir))?;
        }
        self.fs.create_dir(&tmp).map_err(io_error("create-dir", &tmp))?;
        let mut tables = Vec::new();
        for table in state.tables() {
            tables.push(self.persist_table(table, parent, offset, &tmp)?);
        }
        let manifest = Manifest {
            offset,
            kind,
            parent: parent.map(|p| p.offset),
            chain_len: parent.map_or(0, |p| p.chain_len + 1),
            log_commit_crc: log_commit.crc,
            tables,
        };
        write_file(self.fs.as_ref(), &tmp.join(MANIFEST), &encode_manifest(&manifest))?;
        self.fs.sync_dir(&tmp).map_err(io_error("sync-dir", &tmp))?;
        drop(write);
        let _publish = phase::enter(Phase::SnapshotPublish);
        self.fs.rename(&tmp, &path).map_err(io_error("rename", &tmp))?;
        self.fs.sync_dir(&self.dir).map_err(io_error("sync-dir", &self.dir))?;
        tracing::info!(snapshot = %path.display(), ?kind, "snapshot persisted");
        Ok(manifest)
    }

    fn persist_table(
        &self,
        table: &Table,
        parent: Option<&Manifest>,
        offset: u64,
        tmp: &Path,
    ) -> Result<TableEntry, SnapshotError> {
        let schema = table.schema();
        let previous = parent.and_then(|p| {
            let entry = p.tables.iter().find(|t| t.schema == **schema)?;
            Some((p.offset, entry))
        });
        let mut pages = Vec::with_capacity(table.pages().len());
        for (index, page) in table.pages().iter().enumerate() {
            let index = u32::try_from(index).expect("fewer than 2^32 pages");
            let unchanged = previous.and_then(|(parent_offset, entry)| {
                let page_ref = entry.pages.get(index as usize)?;
                (page.modified_at() <= parent_offset).then_some(*page_ref)
            });
            let page_ref = match unchanged {
                Some(page_ref) => page_ref,
                None => {
                    let bytes = encode_page(schema.id, index, page);
                    write_file(
                        self.fs.as_ref(),
                        &tmp.join(page_file_name(schema.id, index)),
                        &bytes,
                    )?;
                    let len = u32::try_from(bytes.len()).expect("a page file is small");
                    PageRef { source: offset, len, crc: stored_crc(&bytes) }
                }
            };
            pages.push(page_ref);
        }
        Ok(TableEntry { schema: (**schema).clone(), pages })
    }

    /// Reads and checks the manifest of snapshot `offset`.
    pub fn read_manifest(&self, offset: u64) -> Result<Manifest, SnapshotError> {
        let path = self.snapshot_path(offset).join(MANIFEST);
        let bytes = read_file(self.fs.as_ref(), &path)?;
        let manifest = decode_manifest(&bytes)
            .map_err(|reason| SnapshotError::Format { path: path.clone(), reason })?;
        if manifest.offset != offset {
            let reason =
                format!("manifest names offset={} in the directory of {offset}", manifest.offset);
            return Err(SnapshotError::Restore { snapshot: self.snapshot_path(offset), reason });
        }
        Ok(manifest)
    }

    /// Loads snapshot `offset` and validates it end to end: the manifest,
    /// every page file's length, checksum and identity, and the state they
    /// make (rows decode, system tables and registries agree).
    pub fn load(&self, offset: u64) -> Result<(Manifest, CommittedState), SnapshotError> {
        let manifest = self.read_manifest(offset)?;
        let tables = self.load_tables(&manifest)?;
        let state = CommittedState::restore(tables, offset).map_err(|e| {
            SnapshotError::Restore { snapshot: self.snapshot_path(offset), reason: e.to_string() }
        })?;
        Ok((manifest, state))
    }

    fn load_tables(&self, manifest: &Manifest) -> Result<Vec<Table>, SnapshotError> {
        let snapshot = self.snapshot_path(manifest.offset);
        let mut tables = Vec::with_capacity(manifest.tables.len());
        for entry in &manifest.tables {
            let mut pages = Vec::with_capacity(entry.pages.len());
            for (index, page_ref) in entry.pages.iter().enumerate() {
                let index = u32::try_from(index).expect("page counts are u32 on disk");
                let bytes =
                    self.read_page_file(manifest.offset, entry.schema.id, index, page_ref)?;
                let path = self.page_path(page_ref.source, entry.schema.id, index);
                pages.push(
                    decode_page(&bytes, entry.schema.id, index)
                        .map_err(|reason| SnapshotError::Format { path, reason })?,
                );
            }
            let table =
                Table::from_pages(Arc::new(entry.schema.clone()), pages).ok_or_else(|| {
                    SnapshotError::Restore {
                        snapshot: snapshot.clone(),
                        reason: format!("table-id={} holds a row twice", entry.schema.id),
                    }
                })?;
            tables.push(table);
        }
        Ok(tables)
    }

    fn page_path(&self, source: u64, table: TableId, index: u32) -> PathBuf {
        self.snapshot_path(source).join(page_file_name(table, index))
    }

    /// Reads the page file `page_ref` names and checks its length and
    /// checksum against the manifest.
    fn read_page_file(
        &self,
        offset: u64,
        table: TableId,
        index: u32,
        page_ref: &PageRef,
    ) -> Result<Vec<u8>, SnapshotError> {
        let path = self.page_path(page_ref.source, table, index);
        let mismatch = |reason: String| SnapshotError::Restore {
            snapshot: self.snapshot_path(offset),
            reason,
        };
        if page_ref.source > offset {
            return Err(mismatch(format!("page file {} is from a later snapshot", path.display())));
        }
        let bytes = read_file(self.fs.as_ref(), &path)?;
        if bytes.len() != page_ref.len as usize || bytes.len() < 4 {
            return Err(mismatch(format!(
                "page file {} len={} manifest-len={}",
                path.display(),
                bytes.len(),
                page_ref.len
            )));
        }
        if stored_crc(&bytes) != page_ref.crc {
            return Err(mismatch(format!(
                "page file {} crc={:#010x} manifest-crc={:#010x}",
                path.display(),
                stored_crc(&bytes),
                page_ref.crc
            )));
        }
        Ok(bytes)
    }

    /// Folds the incremental chain behind snapshot `offset` into its own
    /// directory: the newest version of every page, in page order (the
    /// order pages first appeared), copied next to the manifest, checked to
    /// restore the same state, then a new manifest committed by rename.
    /// Afterwards the snapshot needs no other directory.
    pub fn compact(&self, offset: u64) -> Result<Manifest, SnapshotError> {
        let _phase = phase::enter(Phase::SnapshotCompact);
        let manifest = self.read_manifest(offset)?;
        if manifest.sources() == BTreeSet::from([offset]) {
            return Ok(manifest);
        }
        let before = self.load_tables(&manifest)?;
        let snapshot = self.snapshot_path(offset);
        let mut compacted = manifest.clone();
        for entry in &mut compacted.tables {
            for (index, page_ref) in entry.pages.iter_mut().enumerate() {
                if page_ref.source == offset {
                    continue;
                }
                let index = u32::try_from(index).expect("page counts are u32 on disk");
                let bytes = self.read_page_file(offset, entry.schema.id, index, page_ref)?;
                let path = snapshot.join(page_file_name(entry.schema.id, index));
                match self.fs.remove(&path) {
                    Ok(()) => {} // a copy from an interrupted compaction
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io_error("remove", &path)(e)),
                }
                write_file(self.fs.as_ref(), &path, &bytes)?;
                page_ref.source = offset;
            }
        }
        compacted.kind = SnapshotKind::Compacted;
        compacted.chain_len = 0;
        let after = self.load_tables(&compacted)?;
        if !same_tables(&before, &after) {
            let reason = "the compacted chain does not restore the same pages".to_owned();
            return Err(SnapshotError::Restore { snapshot, reason });
        }
        self.fs.sync_dir(&snapshot).map_err(io_error("sync-dir", &snapshot))?;
        let tmp = snapshot.join(MANIFEST_TMP);
        write_file(self.fs.as_ref(), &tmp, &encode_manifest(&compacted))?;
        self.fs.rename(&tmp, &snapshot.join(MANIFEST)).map_err(io_error("rename", &tmp))?;
        self.fs.sync_dir(&snapshot).map_err(io_error("sync-dir", &snapshot))?;
        tracing::info!(snapshot = %snapshot.display(), "snapshot chain compacted");
        Ok(compacted)
    }

    /// Keeps the newest `retain` snapshots and every snapshot they refer to;
    /// removes the rest. Returns the oldest offset a retained snapshot can
    /// restore (the lowest of the newest `retain`), if any.
    ///
    /// Before removing anything it syncs the directory of every kept
    /// snapshot: the references it keeps by are read from the page cache,
    /// and a manifest renamed into place whose directory sync failed (a
    /// compaction's) is not on the device yet, which may still hold the
    /// older manifest that needs what is about to be removed.
    pub fn prune(&self, retain: usize) -> Result<Option<u64>, SnapshotError> {
        assert!(retain >= 1, "pruning keeps at least one snapshot");
        let _phase = phase::enter(Phase::SnapshotPrune);
        let offsets = self.list()?;
        let kept: Vec<u64> = offsets.iter().rev().take(retain).copied().collect();
        let mut needed: BTreeSet<u64> = kept.iter().copied().collect();
        for offset in &kept {
            match self.read_manifest(*offset) {
                Ok(manifest) => needed.extend(manifest.sources()),
                // Unknown references: it may need any older snapshot, and
                // every newer one is kept: keep them all, to be safe.
                Err(_) => needed.extend(&offsets),
            }
        }
        let removable: Vec<u64> = offsets.iter().copied().filter(|o| !needed.contains(o)).collect();
        if removable.is_empty() {
            return Ok(kept.last().copied());
        }
        for offset in &kept {
            let path = self.snapshot_path(*offset);
            self.fs.sync_dir(&path).map_err(io_error("sync-dir", &path))?;
        }
        for offset in removable {
            self.remove_dir(&self.snapshot_path(offset))?;
        }
        self.fs.sync_dir(&self.dir).map_err(io_error("sync-dir", &self.dir))?;
        Ok(kept.last().copied())
    }

    /// Moves snapshot `offset` out of the way, to `<offset>.rejected`, so
    /// that it is never restored (a snapshot newer than the durable log
    /// describes a future that did not survive; the log will grow past its
    /// offset with other contents) and the name is free for a new one. The
    /// bytes stay for a human to look at.
    pub fn set_aside(&self, offset: u64) -> Result<(), SnapshotError> {
        let _phase = phase::enter(Phase::SnapshotSetAside);
        let path = self.snapshot_path(offset);
        let aside = self.dir.join(format!("{}{REJECTED_SUFFIX}", snapshot_dir_name(offset)));
        if self.fs.list_dir(&aside).is_ok() {
            self.remove_dir(&aside)?;
        }
        self.fs.rename(&path, &aside).map_err(io_error("rename", &path))?;
        self.fs.sync_dir(&self.dir).map_err(io_error("sync-dir", &self.dir))
    }

    /// Removes a directory and the files in it.
    fn remove_dir(&self, path: &Path) -> Result<(), SnapshotError> {
        for entry in self.fs.list_dir(path).map_err(io_error("list-dir", path))? {
            let child = path.join(&entry.name);
            match entry.kind {
                EntryKind::File => self.fs.remove(&child).map_err(io_error("remove", &child))?,
                EntryKind::Dir => self.remove_dir(&child)?,
            }
        }
        self.fs.remove(path).map_err(io_error("remove", path))
    }
}

/// `len` as a buffer length, if a snapshot file may be that long.
fn file_len_in_memory(len: u64) -> Result<usize, FormatError> {
    let too_long = || FormatError::Invalid {
        at: 0,
        reason: format!("file length={len} exceeds max={FILE_LEN_MAX}"),
    };
    if len > FILE_LEN_MAX {
        return Err(too_long());
    }
    usize::try_from(len).map_err(|_| too_long())
}

/// Whether `after` holds the same tables as `before`: schemas and pages,
/// in order. What a compaction must leave unchanged.
fn same_tables(before: &[Table], after: &[Table]) -> bool {
    before.len() == after.len()
        && before.iter().zip(after).all(|(b, a)| b.schema() == a.schema() && b.pages() == a.pages())
}

/// Creates `path`, writes `bytes`, syncs it.
fn write_file(fs: &dyn Fs, path: &Path, bytes: &[u8]) -> Result<(), SnapshotError> {
    let file = fs.create(path).map_err(io_error("create", path))?;
    file.write_at(bytes, 0).map_err(io_error("write", path))?;
    file.sync_data().map_err(io_error("sync-data", path))
}

fn read_file(fs: &dyn Fs, path: &Path) -> Result<Vec<u8>, SnapshotError> {
    let file: Box<dyn File> = fs.open(path).map_err(io_error("open", path))?;
    let len = file.len().map_err(io_error("len", path))?;
    let len = file_len_in_memory(len)
        .map_err(|reason| SnapshotError::Format { path: path.to_owned(), reason })?;
    file.read_exact_vec_at(len, 0).map_err(io_error("read", path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_file_may_be_exactly_as_long_as_the_limit() {
        assert_eq!(file_len_in_memory(FILE_LEN_MAX), Ok(FILE_LEN_MAX as usize));
        assert_eq!(
            file_len_in_memory(FILE_LEN_MAX + 1).unwrap_err().to_string(),
            format!("invalid: at=0 file length={} exceeds max={FILE_LEN_MAX}", FILE_LEN_MAX + 1)
        );
    }

    #[test]
    fn tables_are_the_same_only_with_the_same_schemas_and_pages_in_order() {
        use crate::datastore::{ColumnDef, ColumnType, Page, TableSchema};
        let schema = |id, name| {
            Arc::new(TableSchema::new(
                TableId(id),
                name,
                vec![ColumnDef::new("a", ColumnType::U64)],
            ))
        };
        let page = |row: &[u8]| {
            let mut page = Page::new();
            page.insert(Arc::from(row), 1);
            page
        };
        let table = |id, pages: Vec<Page>| Table::from_pages(schema(id, "t"), pages).unwrap();
        let base = vec![table(4096, vec![page(b"a"), page(b"b")]), table(4097, vec![page(b"c")])];
        assert!(same_tables(&base, &base.clone()));
        let reordered = vec![table(4096, vec![page(b"b"), page(b"a")]), base[1].clone()];
        assert!(!same_tables(&base, &reordered), "pages in another order");
        let renamed =
            vec![base[0].clone(), Table::from_pages(schema(4097, "u"), vec![page(b"c")]).unwrap()];
        assert!(!same_tables(&base, &renamed), "another schema");
        assert!(!same_tables(&base, &base[..1]), "a table fewer");
        assert!(!same_tables(&base[..1], &base), "a table more");
    }

    #[test]
    fn only_twenty_digit_names_are_snapshots() {
        assert_eq!(parse_snapshot_dir_name(&snapshot_dir_name(5)), Some(5));
        assert_eq!(parse_snapshot_dir_name(&snapshot_dir_name(u64::MAX)), Some(u64::MAX));
        for name in ["5", "0000000000000000000a", "000000000000000000005", "99999999999999999999"] {
            assert_eq!(parse_snapshot_dir_name(name), None, "{name}");
        }
    }
}
