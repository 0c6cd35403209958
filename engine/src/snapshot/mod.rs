//! Snapshots: a committed state written as pages plus a manifest, so that
//! opening restores the snapshot and replays only the log suffix after it
//! (DESIGN 2.6; the byte format is in `engine/FORMAT.md`).
//!
//! A full snapshot writes every page; an incremental one writes the pages
//! changed since its parent and refers to the rest; a chain of incrementals
//! can be compacted into one self-contained snapshot.

mod format;
mod store;

pub use format::{
    FormatError, MANIFEST_FORMAT_VERSION, MANIFEST_MAGIC, Manifest, PAGE_FORMAT_VERSION,
    PAGE_MAGIC, PageRef, SnapshotKind, TableEntry, decode_manifest, decode_page, encode_manifest,
    encode_page,
};
pub use store::{SNAPSHOTS_DIR, SnapshotError, SnapshotStore, snapshot_dir_name};
