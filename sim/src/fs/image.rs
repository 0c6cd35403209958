//! What a checker may look at: the disk as the device holds it (durable)
//! or as the page cache shows it (volatile), with the stretches faults
//! damaged; and a fork of the page cache onto a second, fault-free
//! machine. Neither is a filesystem call: nothing here is counted, traced
//! or faulted.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::sync::Arc;

use super::data::{Changes, FileNode};
use super::decide::Decider;
use super::disk::Disk;
use super::namespace::{DirNode, Node, NodeId, ROOT};
use crate::fault::FaultConfig;
use crate::seed::Seed;

/// Which side of the page cache an image shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum View {
    /// What the device holds: what a power loss now would leave (entries
    /// through durable directory entries, bytes as last persisted).
    Durable,
    /// What the running process sees (the page cache).
    Volatile,
}

/// One file of an image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileImage {
    /// The file's identity (survives renames).
    pub id: NodeId,
    /// Changes whenever the bytes this view shows change: what a checker
    /// read of a file can be kept by `(id, version)`.
    pub version: u64,
    /// The latest changes to this view of the file (see
    /// [`FileImage::unchanged_below`]).
    pub changes: Changes,
    /// Its bytes, as the view shows them (bad sectors read back as
    /// stored: a latent error is in `damaged`, not in the bytes).
    pub bytes: Arc<Vec<u8>>,
    /// Sorted, disjoint byte ranges that no longer hold what the engine
    /// wrote there: bad sectors (latent read errors), and where a
    /// misdirected write should have landed and where it did (in the
    /// volatile view, only where the page cache does not cover them with
    /// the right bytes).
    pub damaged: Vec<Range<u64>>,
}

impl FileImage {
    /// An offset below which these bytes are the same as they were at
    /// `earlier_version` of the same view of this file (0 when not known).
    pub fn unchanged_below(&self, earlier_version: u64) -> u64 {
        self.changes.unchanged_below(earlier_version)
    }
}

/// The disk, as one view shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DiskImage {
    /// Every file, by absolute path.
    pub files: BTreeMap<String, FileImage>,
    /// Every directory, by absolute path (`/` included).
    pub dirs: BTreeSet<String>,
}

impl DiskImage {
    /// The file at `path`.
    pub fn file(&self, path: &str) -> Option<&FileImage> {
        self.files.get(path)
    }

    /// The names directly inside directory `dir` (files and directories),
    /// sorted; empty if there is no such directory.
    pub fn list(&self, dir: &str) -> Vec<String> {
        let prefix = under_prefix(dir);
        let paths = self.files_under(dir).map(|(path, _)| path).chain(self.dirs_under(dir));
        let mut names: Vec<String> = paths
            .filter_map(|path| {
                let rest = &path[prefix.len()..];
                (!rest.is_empty() && !rest.contains('/')).then(|| rest.to_owned())
            })
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// Every file under directory `dir`, at any depth, in path order.
    pub fn files_under<'a>(
        &'a self,
        dir: &str,
    ) -> impl Iterator<Item = (&'a String, &'a FileImage)> + use<'a> {
        let prefix = under_prefix(dir);
        self.files.range(prefix.clone()..).take_while(move |(path, _)| path.starts_with(&prefix))
    }

    /// Every directory under directory `dir`, at any depth, in path order.
    pub fn dirs_under<'a>(&'a self, dir: &str) -> impl Iterator<Item = &'a String> + use<'a> {
        let prefix = under_prefix(dir);
        self.dirs.range(prefix.clone()..).take_while(move |path| path.starts_with(&prefix))
    }

    /// Whether `path` is a directory of the image.
    pub fn is_dir(&self, path: &str) -> bool {
        self.dirs.contains(path)
    }
}

/// `dir` with one trailing `/`: what every path under it starts with.
fn under_prefix(dir: &str) -> String {
    if dir.ends_with('/') { dir.to_owned() } else { format!("{dir}/") }
}

fn join(dir: &str, name: &str) -> String {
    let dir = dir.strip_suffix('/').unwrap_or(dir);
    let mut path = String::with_capacity(dir.len() + 1 + name.len());
    path.push_str(dir);
    path.push('/');
    path.push_str(name);
    path
}

impl Disk {
    /// The disk as `view` shows it.
    pub(super) fn image(&self, view: View) -> DiskImage {
        let mut image = DiskImage::default();
        let mut stack = vec![("/".to_owned(), ROOT)];
        while let Some((path, dir)) = stack.pop() {
            image.dirs.insert(path.clone());
            let Some(node) = self.dirs.get(&dir) else { continue };
            let entries = match view {
                View::Durable => &node.durable,
                View::Volatile => &node.volatile,
            };
            for (name, child) in entries {
                let child_path = join(&path, name);
                match *child {
                    Node::Dir(id) => stack.push((child_path, id)),
                    Node::File(id) => {
                        let Some(file) = self.files.get(&id) else { continue };
                        image.files.insert(child_path, file_image(id, file, view));
                    }
                }
            }
        }
        image
    }

    /// A second machine whose device holds this one's page cache.
    pub(super) fn fork(&self) -> Disk {
        let mut fork = Disk::new(Decider::drawn(Seed(0), FaultConfig::none()));
        fork.decider.enabled = false;
        fork.files = self
            .files
            .iter()
            .map(|(id, file)| {
                let copy = FileNode {
                    durable: Arc::clone(&file.volatile),
                    volatile: Arc::clone(&file.volatile),
                    path_hint: file.path_hint.clone(),
                    ..FileNode::default()
                };
                (*id, copy)
            })
            .collect();
        fork.dirs = self
            .dirs
            .iter()
            .map(|(id, dir)| {
                let copy = DirNode {
                    durable: dir.volatile.clone(),
                    volatile: dir.volatile.clone(),
                    pending: Vec::new(),
                };
                (*id, copy)
            })
            .collect();
        fork.next_id = self.next_id;
        fork
    }
}

fn file_image(id: NodeId, file: &FileNode, view: View) -> FileImage {
    match view {
        View::Durable => {
            let damaged = file.durable_damage();
            FileImage {
                id,
                version: file.durable_changes.version(),
                changes: file.durable_changes,
                bytes: Arc::clone(&file.durable),
                damaged,
            }
        }
        View::Volatile => {
            let damaged = file.visible_damage();
            let (version, changes) = (file.volatile_changes.version(), file.volatile_changes);
            FileImage { id, version, changes, bytes: Arc::clone(&file.volatile), damaged }
        }
    }
}
