//! Directories and their entries: a durable map, a volatile (page-cache)
//! map and the entry operations pending between them, per directory.
//!
//! Invariant, checked after every entry operation in debug builds:
//! `volatile == durable + pending`, applied in order. A failed or lying
//! `sync_dir` leaves the pending operations pending (a journaling
//! filesystem keeps its metadata in the journal), so it holds whatever
//! faults fire.

use std::collections::BTreeMap;
use std::io;
use std::path::{Component, Path, PathBuf};

/// The id of a file or directory: files and directories share one space.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub(super) u64);

impl NodeId {
    /// The number, for reports.
    pub fn get(self) -> u64 {
        self.0
    }
}

/// The id of the root directory, which always exists and is always durable.
pub(super) const ROOT: NodeId = NodeId(0);

/// What a directory entry points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Node {
    File(NodeId),
    Dir(NodeId),
}

impl Node {
    pub(super) fn id(self) -> NodeId {
        match self {
            Node::File(id) | Node::Dir(id) => id,
        }
    }
}

/// An entry operation that is not (yet) durable in its directory.
#[derive(Clone, Debug)]
pub(super) enum DirOp {
    Insert {
        name: String,
        node: Node,
    },
    Remove {
        name: String,
        node: Node,
    },
    /// A rename inside one directory: atomic, like rename(2) on a journaled
    /// filesystem. A rename across directories is a Remove in one and an
    /// Insert in the other, each durable with its own directory's sync.
    Rename {
        from: String,
        to: String,
        node: Node,
    },
}

/// One directory.
#[derive(Debug, Default)]
pub(super) struct DirNode {
    pub(super) durable: BTreeMap<String, Node>,
    pub(super) volatile: BTreeMap<String, Node>,
    pub(super) pending: Vec<DirOp>,
}

impl DirNode {
    /// Makes every pending entry operation durable (an honest sync).
    pub(super) fn sync(&mut self) {
        for op in std::mem::take(&mut self.pending) {
            apply_dir_op(&mut self.durable, &op);
        }
        self.assert_invariant();
    }

    /// Adds an entry in the cache.
    pub(super) fn insert(&mut self, name: String, node: Node) {
        self.volatile.insert(name.clone(), node);
        self.pending.push(DirOp::Insert { name, node });
        self.assert_invariant();
    }

    /// Removes an entry in the cache.
    pub(super) fn remove(&mut self, name: String, node: Node) {
        assert_eq!(self.volatile.get(&name), Some(&node), "removing an entry that exists");
        self.volatile.remove(&name);
        self.pending.push(DirOp::Remove { name, node });
        self.assert_invariant();
    }

    /// Renames an entry inside this directory, atomically.
    pub(super) fn rename(&mut self, from: String, to: String, node: Node) {
        self.volatile.remove(&from);
        self.volatile.insert(to.clone(), node);
        self.pending.push(DirOp::Rename { from, to, node });
        self.assert_invariant();
    }

    /// Asserts the invariant (debug builds).
    pub(super) fn assert_invariant(&self) {
        if cfg!(debug_assertions) {
            let mut expected = self.durable.clone();
            for op in &self.pending {
                apply_dir_op(&mut expected, op);
            }
            assert!(
                expected == self.volatile,
                "a directory's cache is not its durable entries plus pending"
            );
        }
    }
}

/// Applies an entry operation to a map of entries. Used for exact syncs and
/// for the subsets that survive a power loss, where an operation may find
/// its precondition gone (a rename whose source was never persisted): it is
/// then skipped, as no filesystem could persist it either.
pub(super) fn apply_dir_op(entries: &mut BTreeMap<String, Node>, op: &DirOp) {
    match op {
        DirOp::Insert { name, node } => {
            entries.insert(name.clone(), *node);
        }
        DirOp::Remove { name, node } => {
            if entries.get(name) == Some(node) {
                entries.remove(name);
            }
        }
        DirOp::Rename { from, to, node } => {
            if entries.get(from) == Some(node) {
                entries.remove(from);
                entries.insert(to.clone(), *node);
            }
        }
    }
}

/// Splits a path into its names, refusing `..` so that every path has one
/// meaning.
pub(super) fn components(path: &Path) -> io::Result<Vec<String>> {
    let mut names = Vec::new();
    for component in path.components() {
        match component {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(name) => names.push(
                name.to_str()
                    .ok_or_else(|| {
                        io::Error::new(io::ErrorKind::InvalidInput, "path is not UTF-8")
                    })?
                    .to_owned(),
            ),
            Component::ParentDir | Component::Prefix(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{}: SimFs paths must not contain '..'", path.display()),
                ));
            }
        }
    }
    Ok(names)
}

pub(super) fn not_found(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{}: no such file or directory", path.display()),
    )
}

/// Looks `path` up in the volatile namespace of `dirs`.
pub(super) fn lookup(dirs: &BTreeMap<NodeId, DirNode>, path: &Path) -> io::Result<Node> {
    let mut node = Node::Dir(ROOT);
    for name in components(path)? {
        let Node::Dir(dir) = node else { return Err(not_found(path)) };
        node = *dirs[&dir].volatile.get(&name).ok_or_else(|| not_found(path))?;
    }
    Ok(node)
}

/// The parent directory and last name of `path`, in the volatile namespace.
pub(super) fn parent_and_name(
    dirs: &BTreeMap<NodeId, DirNode>,
    path: &Path,
) -> io::Result<(NodeId, String)> {
    let mut names = components(path)?;
    let name = names.pop().ok_or_else(|| {
        io::Error::new(io::ErrorKind::AlreadyExists, "the root directory always exists")
    })?;
    let parent: PathBuf = names.iter().collect();
    match lookup(dirs, &parent)? {
        Node::Dir(dir) => Ok((dir, name)),
        Node::File(_) => Err(io::Error::new(
            io::ErrorKind::NotADirectory,
            format!("{}: parent is a file", path.display()),
        )),
    }
}
