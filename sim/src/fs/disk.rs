//! The state behind [`super::SimFs`]: files and directories, each with a
//! durable image, a volatile (page-cache) view and a list of pending
//! operations, plus the fault machinery that acts on them.
//!
//! Invariant, when no fault has fired: for every file and directory,
//! `volatile == durable + pending applied in order`. A failed fsync breaks it
//! on purpose (the pending operations are dropped, the page cache keeps the
//! new bytes), exactly like Linux.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Component, Path};

use faultline_engine::fs::{DirEntry, EntryKind};
use rand::RngExt;

use crate::fault::{FILE_LEN_MAX, Fault, FaultClass, FaultConfig, FaultCounts, SECTOR_SIZE};
use crate::seed::{Seed, SimRng, Stream};
use crate::trace::TraceHasher;

use super::{CrashMode, FsEvent, FsStats, Happening, Op, PowerLossReport};

/// The id of the root directory, which always exists and is always durable.
const ROOT: NodeId = NodeId(0);

/// An inode number: files and directories share one id space.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) struct NodeId(u64);

/// What a directory entry points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Node {
    File(NodeId),
    Dir(NodeId),
}

impl Node {
    fn id(self) -> NodeId {
        match self {
            Node::File(id) | Node::Dir(id) => id,
        }
    }
}

/// A write or truncate that reached the page cache but not (yet) the disk.
#[derive(Clone, Debug)]
enum PendingWrite {
    Write { offset: u64, data: Vec<u8> },
    SetLen { len: u64 },
}

/// An entry operation that is not (yet) durable in its directory.
#[derive(Clone, Debug)]
enum DirOp {
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

#[derive(Debug, Default)]
struct FileNode {
    durable: Vec<u8>,
    volatile: Vec<u8>,
    pending: Vec<PendingWrite>,
    /// Latent sector errors: byte offset -> XOR mask applied on every read,
    /// until a write touches the byte's sector.
    bad_bytes: BTreeMap<u64, u8>,
    /// The path it was last created or renamed at, for events.
    path_hint: String,
}

#[derive(Debug, Default)]
struct DirNode {
    durable: BTreeMap<String, Node>,
    volatile: BTreeMap<String, Node>,
    pending: Vec<DirOp>,
}

/// Where a crash will strike: before the `mutation`-th mutating operation.
#[derive(Clone, Copy, Debug)]
struct CrashPoint {
    mutation: u64,
    mode: CrashMode,
}

/// The whole simulated disk and kernel.
#[derive(Debug)]
pub(super) struct Disk {
    config: FaultConfig,
    faults_enabled: bool,
    /// One independent stream per fault class, so that switching one class
    /// off never changes when another fires.
    fault_rngs: Vec<SimRng>,
    power_loss_rng: SimRng,
    /// Bumped by every crash; handles of an older generation are dead.
    pub(super) generation: u64,
    crash_point: Option<CrashPoint>,
    files: BTreeMap<NodeId, FileNode>,
    dirs: BTreeMap<NodeId, DirNode>,
    next_id: u64,
    pub(super) stats: FsStats,
    pub(super) events: Vec<FsEvent>,
    pub(super) counts: FaultCounts,
    pub(super) trace: TraceHasher,
}

fn crash_error(op_index: u64) -> io::Error {
    io::Error::other(format!("simulated crash: the process died at fs op {op_index}"))
}

fn dead_handle_error() -> io::Error {
    io::Error::other("simulated crash: handle from before a crash")
}

fn eio(what: &str, path: &str, offset: u64) -> io::Error {
    io::Error::other(format!("{path}: simulated {what} (EIO) at offset={offset}"))
}

/// Splits a path into its names, refusing `..` so that every path has one
/// meaning.
fn components(path: &Path) -> io::Result<Vec<String>> {
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

fn not_found(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{}: no such file or directory", path.display()),
    )
}

/// Refuses a write or truncate whose end passes [`FILE_LEN_MAX`] (or
/// `u64::MAX`), as a real filesystem refuses one past its largest file
/// (EFBIG), before any arithmetic on it can overflow or allocate.
fn check_file_end(path: &str, offset: u64, len: u64) -> io::Result<u64> {
    offset.checked_add(len).filter(|end| *end <= FILE_LEN_MAX).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::FileTooLarge,
            format!(
                "{path}: offset={offset} len={len} passes the largest file (max={FILE_LEN_MAX})"
            ),
        )
    })
}

/// Writes `data` at `offset` of `bytes`, growing it with zeros if needed.
/// A zero-length write changes nothing, past the end included (as
/// `pwrite(2)` of 0 bytes). The caller checked the end with
/// [`check_file_end`].
fn write_into(bytes: &mut Vec<u8>, offset: u64, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    let start = usize::try_from(offset).expect("a checked offset fits in memory");
    let end = start.checked_add(data.len()).expect("a checked end fits in memory");
    if bytes.len() < end {
        bytes.resize(end, 0);
    }
    bytes[start..end].copy_from_slice(data);
}

fn apply_pending(bytes: &mut Vec<u8>, op: &PendingWrite) {
    match op {
        PendingWrite::Write { offset, data } => write_into(bytes, *offset, data),
        PendingWrite::SetLen { len } => {
            bytes.resize(usize::try_from(*len).expect("length fits in memory"), 0);
        }
    }
}

/// Applies an entry operation to a durable map. Used for exact syncs and for
/// the subsets that survive a power loss, where an operation may find its
/// precondition gone (a rename whose source was never persisted): it is then
/// skipped, as no filesystem could persist it either.
fn apply_dir_op(entries: &mut BTreeMap<String, Node>, op: &DirOp) {
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

/// Which of `n` pending operations survive a power loss: none, a prefix, or
/// an arbitrary subset (a disk with a write cache reorders).
fn choose_survivors(rng: &mut SimRng, n: usize) -> Vec<bool> {
    match rng.random_range(0..3u8) {
        0 => vec![false; n],
        1 => {
            let k = rng.random_range(0..=n);
            (0..n).map(|i| i < k).collect()
        }
        _ => (0..n).map(|_| rng.random_bool(0.5)).collect(),
    }
}

impl Disk {
    pub(super) fn new(seed: Seed, config: FaultConfig) -> Self {
        config.assert_valid();
        let fault_rngs = (0..FaultClass::ALL.len() as u32)
            .map(|class| seed.sub_rng(Stream::Faults, class))
            .collect();
        let mut dirs = BTreeMap::new();
        dirs.insert(ROOT, DirNode::default());
        Disk {
            config,
            faults_enabled: true,
            fault_rngs,
            power_loss_rng: seed.rng(Stream::PowerLoss),
            generation: 0,
            crash_point: None,
            files: BTreeMap::new(),
            dirs,
            next_id: 1,
            stats: FsStats::default(),
            events: Vec::new(),
            counts: FaultCounts::default(),
            trace: TraceHasher::default(),
        }
    }

    pub(super) fn set_config(&mut self, config: FaultConfig) {
        config.assert_valid();
        self.config = config;
    }

    pub(super) fn set_faults_enabled(&mut self, enabled: bool) {
        self.faults_enabled = enabled;
    }

    pub(super) fn set_crash_point(&mut self, mutation: u64, mode: CrashMode) {
        assert!(mutation > self.stats.mutations, "crash point {mutation} is in the past");
        self.crash_point = Some(CrashPoint { mutation, mode });
    }

    pub(super) fn clear_crash_point(&mut self) {
        self.crash_point = None;
    }

    // ----- operation bookkeeping -------------------------------------------

    /// Starts an operation: refuses dead handles, counts it, mixes it into
    /// the trace, and strikes the crash point if this is the one.
    fn begin(
        &mut self,
        generation: u64,
        op: Op,
        path: &str,
        offset: u64,
        len: u64,
    ) -> io::Result<u64> {
        if generation != self.generation {
            return Err(dead_handle_error());
        }
        self.stats.ops += 1;
        let op_index = self.stats.ops;
        if op.is_mutation() {
            self.stats.mutations += 1;
            if let Some(point) = self.crash_point
                && point.mutation == self.stats.mutations
            {
                self.crash_point = None;
                self.crash(point.mode, op_index, path);
                return Err(crash_error(op_index));
            }
        }
        self.trace.u64(op_index);
        self.trace.str(op.name());
        self.trace.str(path);
        self.trace.u64(offset);
        self.trace.u64(len);
        Ok(op_index)
    }

    /// Draws whether `class` fires now, from that class's own stream.
    fn draws(&mut self, class: FaultClass) -> bool {
        let probability = self.config.probability(class);
        self.faults_enabled
            && probability > 0.0
            && self.fault_rngs[class.index()].random_bool(probability)
    }

    fn fault_rng(&mut self, class: FaultClass) -> &mut SimRng {
        &mut self.fault_rngs[class.index()]
    }

    fn record(&mut self, event: FsEvent) {
        if let Happening::Fault(fault) = &event.happening {
            self.counts.record(fault.class());
        }
        self.trace.str(&event.to_string());
        tracing::debug!(target: "faultline::sim::fs", "{event}");
        self.events.push(event);
    }

    fn record_fault(
        &mut self,
        op_index: u64,
        op: Op,
        path: &str,
        offset: u64,
        len: u64,
        fault: Fault,
    ) {
        let event = FsEvent {
            op_index,
            generation: self.generation,
            op,
            path: path.to_owned(),
            offset,
            len,
            happening: Happening::Fault(fault),
        };
        self.record(event);
    }

    // ----- namespace ---------------------------------------------------------

    fn lookup(&self, path: &Path) -> io::Result<Node> {
        let mut node = Node::Dir(ROOT);
        for name in components(path)? {
            let Node::Dir(dir) = node else { return Err(not_found(path)) };
            node = *self.dirs[&dir].volatile.get(&name).ok_or_else(|| not_found(path))?;
        }
        Ok(node)
    }

    fn parent_and_name(&self, path: &Path) -> io::Result<(NodeId, String)> {
        let mut names = components(path)?;
        let name = names.pop().ok_or_else(|| {
            io::Error::new(io::ErrorKind::AlreadyExists, "the root directory always exists")
        })?;
        let parent: std::path::PathBuf = names.iter().collect();
        match self.lookup(&parent)? {
            Node::Dir(dir) => Ok((dir, name)),
            Node::File(_) => Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{}: parent is a file", path.display()),
            )),
        }
    }

    fn new_id(&mut self) -> NodeId {
        let id = NodeId(self.next_id);
        self.next_id += 1;
        id
    }

    fn insert_entry(&mut self, dir: NodeId, name: String, node: Node) {
        let dir = self.dirs.get_mut(&dir).expect("parent directory exists");
        dir.volatile.insert(name.clone(), node);
        dir.pending.push(DirOp::Insert { name, node });
    }

    /// Starts a create of `path`: the parent directory and the new name,
    /// which must not exist yet.
    fn begin_create(
        &mut self,
        generation: u64,
        op: Op,
        path: &Path,
    ) -> io::Result<(NodeId, String)> {
        let display = path.display().to_string();
        self.begin(generation, op, &display, 0, 0)?;
        let (parent, name) = self.parent_and_name(path)?;
        if self.dirs[&parent].volatile.contains_key(&name) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{display}: already exists"),
            ));
        }
        Ok((parent, name))
    }

    pub(super) fn create(&mut self, generation: u64, path: &Path) -> io::Result<NodeId> {
        let (parent, name) = self.begin_create(generation, Op::Create, path)?;
        let id = self.new_id();
        self.files
            .insert(id, FileNode { path_hint: path.display().to_string(), ..FileNode::default() });
        self.insert_entry(parent, name, Node::File(id));
        Ok(id)
    }

    pub(super) fn open(&mut self, generation: u64, path: &Path) -> io::Result<NodeId> {
        self.begin(generation, Op::Open, &path.display().to_string(), 0, 0)?;
        match self.lookup(path)? {
            Node::File(id) => Ok(id),
            Node::Dir(_) => Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                format!("{}: is a directory", path.display()),
            )),
        }
    }

    pub(super) fn create_dir(&mut self, generation: u64, path: &Path) -> io::Result<()> {
        let (parent, name) = self.begin_create(generation, Op::CreateDir, path)?;
        let id = self.new_id();
        self.dirs.insert(id, DirNode::default());
        self.insert_entry(parent, name, Node::Dir(id));
        Ok(())
    }

    pub(super) fn rename(&mut self, generation: u64, from: &Path, to: &Path) -> io::Result<()> {
        let display = format!("{} -> {}", from.display(), to.display());
        self.begin(generation, Op::Rename, &display, 0, 0)?;
        let (from_dir, from_name) = self.parent_and_name(from)?;
        let (to_dir, to_name) = self.parent_and_name(to)?;
        let node = *self.dirs[&from_dir].volatile.get(&from_name).ok_or_else(|| not_found(from))?;
        if let Some(existing) = self.dirs[&to_dir].volatile.get(&to_name).copied() {
            match (node, existing) {
                (Node::File(_), Node::File(_)) => {}
                (Node::Dir(_), Node::Dir(target)) if self.dirs[&target].volatile.is_empty() => {}
                _ => {
                    return Err(io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        format!("{}: cannot replace", to.display()),
                    ));
                }
            }
        }
        if let Node::File(id) = node {
            self.files.get_mut(&id).expect("file exists").path_hint = to.display().to_string();
        }
        if from_dir == to_dir {
            let dir = self.dirs.get_mut(&from_dir).expect("directory exists");
            dir.volatile.remove(&from_name);
            dir.volatile.insert(to_name.clone(), node);
            dir.pending.push(DirOp::Rename { from: from_name, to: to_name, node });
        } else {
            let source = self.dirs.get_mut(&from_dir).expect("directory exists");
            source.volatile.remove(&from_name);
            source.pending.push(DirOp::Remove { name: from_name, node });
            self.insert_entry(to_dir, to_name, node);
        }
        Ok(())
    }

    pub(super) fn remove(&mut self, generation: u64, path: &Path) -> io::Result<()> {
        let display = path.display().to_string();
        self.begin(generation, Op::Remove, &display, 0, 0)?;
        let (parent, name) = self.parent_and_name(path)?;
        let node = *self.dirs[&parent].volatile.get(&name).ok_or_else(|| not_found(path))?;
        if let Node::Dir(id) = node
            && !self.dirs[&id].volatile.is_empty()
        {
            return Err(io::Error::new(
                io::ErrorKind::DirectoryNotEmpty,
                format!("{display}: directory not empty"),
            ));
        }
        let dir = self.dirs.get_mut(&parent).expect("directory exists");
        dir.volatile.remove(&name);
        dir.pending.push(DirOp::Remove { name, node });
        Ok(())
    }

    pub(super) fn list_dir(&mut self, generation: u64, path: &Path) -> io::Result<Vec<DirEntry>> {
        self.begin(generation, Op::ListDir, &path.display().to_string(), 0, 0)?;
        let Node::Dir(id) = self.lookup(path)? else {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{}: not a directory", path.display()),
            ));
        };
        let entries = self.dirs[&id].volatile.iter().map(|(name, node)| DirEntry {
            name: name.clone(),
            kind: match node {
                Node::File(_) => EntryKind::File,
                Node::Dir(_) => EntryKind::Dir,
            },
        });
        Ok(entries.collect())
    }

    pub(super) fn sync_dir(&mut self, generation: u64, path: &Path) -> io::Result<()> {
        let display = path.display().to_string();
        let op_index = self.begin(generation, Op::SyncDir, &display, 0, 0)?;
        let Node::Dir(id) = self.lookup(path)? else {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{display}: not a directory"),
            ));
        };
        let failed = self.draws(FaultClass::FsyncError);
        let lied = self.draws(FaultClass::LyingFsync);
        if failed {
            // Unlike file data, entry operations are not dropped: they stay
            // pending (a journaling filesystem keeps its metadata in the
            // journal), so a later successful sync_dir persists them.
            self.record_fault(
                op_index,
                Op::SyncDir,
                &display,
                0,
                0,
                Fault::FsyncError { dropped_ops: 0 },
            );
            return Err(eio("fsync error", &display, 0));
        }
        if lied {
            self.record_fault(op_index, Op::SyncDir, &display, 0, 0, Fault::LyingFsync);
            return Ok(());
        }
        let dir = self.dirs.get_mut(&id).expect("directory exists");
        for op in std::mem::take(&mut dir.pending) {
            apply_dir_op(&mut dir.durable, &op);
        }
        self.stats.syncs += 1;
        Ok(())
    }

    // ----- file data -----------------------------------------------------------

    fn file(&self, id: NodeId) -> &FileNode {
        self.files.get(&id).expect("an open handle's file exists until a crash")
    }

    fn file_mut(&mut self, id: NodeId) -> &mut FileNode {
        self.files.get_mut(&id).expect("an open handle's file exists until a crash")
    }

    /// The bytes of every file reachable in the volatile namespace.
    fn volatile_bytes_used(&self) -> u64 {
        let mut used = 0;
        let mut stack = vec![ROOT];
        while let Some(dir) = stack.pop() {
            for node in self.dirs[&dir].volatile.values() {
                match node {
                    Node::File(id) => used += self.files[id].volatile.len() as u64,
                    Node::Dir(id) => stack.push(*id),
                }
            }
        }
        used
    }

    /// Whether growing file `id` to `new_len` would pass the ENOSPC quota.
    fn exceeds_quota(&self, id: NodeId, new_len: u64) -> bool {
        let Some(quota) = self.config.no_space_quota_bytes else { return false };
        let growth = new_len.saturating_sub(self.file(id).volatile.len() as u64);
        self.faults_enabled && growth > 0 && self.volatile_bytes_used() + growth > quota
    }

    /// Puts a write in the page cache: volatile view, pending list, and the
    /// bad sectors it rewrites are good again.
    fn apply_write(&mut self, id: NodeId, offset: u64, data: &[u8]) {
        self.stats.bytes_written += data.len() as u64;
        let file = self.file_mut(id);
        write_into(&mut file.volatile, offset, data);
        if !data.is_empty() {
            let first = offset / SECTOR_SIZE * SECTOR_SIZE;
            let end = (offset + data.len() as u64).div_ceil(SECTOR_SIZE) * SECTOR_SIZE;
            assert!(end <= FILE_LEN_MAX.next_multiple_of(SECTOR_SIZE), "write_at checked the end");
            file.bad_bytes.retain(|byte, _| !(first..end).contains(byte));
        }
        file.pending.push(PendingWrite::Write { offset, data: data.to_vec() });
    }

    pub(super) fn write_at(
        &mut self,
        generation: u64,
        id: NodeId,
        data: &[u8],
        offset: u64,
    ) -> io::Result<()> {
        let len = data.len() as u64;
        let path = self.file(id).path_hint.clone();
        let op_index = self.begin(generation, Op::Write, &path, offset, len)?;
        let end = check_file_end(&path, offset, len)?;
        // Every class draws from its own stream before any of them acts, so
        // that one class firing never shifts another's decisions.
        let no_space = self.exceeds_quota(id, end);
        let write_error = self.draws(FaultClass::WriteError);
        let short_write = self.draws(FaultClass::ShortWrite) && len > 0;
        let written = if short_write {
            self.fault_rng(FaultClass::ShortWrite).random_range(0..len)
        } else {
            0
        };
        let misdirected = self.draws(FaultClass::MisdirectedWrite);
        let landed_at = if misdirected {
            let rng = self.fault_rng(FaultClass::MisdirectedWrite);
            let delta = rng.random_range(1..=8u64) * SECTOR_SIZE;
            let backward = rng.random_bool(0.5);
            let before = offset.checked_sub(delta);
            let after = offset.checked_add(delta).filter(|at| at + len <= FILE_LEN_MAX);
            if backward { before.or(after) } else { after.or(before) }
        } else {
            None
        };
        let misdirected = landed_at.is_some();
        let landed_at = landed_at.unwrap_or(offset);
        if no_space {
            self.record_fault(op_index, Op::Write, &path, offset, len, Fault::NoSpace);
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                format!("{path}: simulated ENOSPC at offset={offset}"),
            ));
        }
        if write_error {
            self.record_fault(op_index, Op::Write, &path, offset, len, Fault::WriteError);
            return Err(eio("write error", &path, offset));
        }
        if short_write {
            self.apply_write(id, offset, &data[..written as usize]);
            let fault = Fault::ShortWrite { written };
            self.record_fault(op_index, Op::Write, &path, offset, len, fault);
            return Err(eio("short write", &path, offset + written));
        }
        if misdirected {
            self.apply_write(id, landed_at, data);
            let fault = Fault::MisdirectedWrite { landed_at };
            self.record_fault(op_index, Op::Write, &path, offset, len, fault);
            return Ok(());
        }
        self.apply_write(id, offset, data);
        Ok(())
    }

    pub(super) fn read_at(
        &mut self,
        generation: u64,
        id: NodeId,
        buf: &mut [u8],
        offset: u64,
    ) -> io::Result<usize> {
        let path = self.file(id).path_hint.clone();
        let op_index = self.begin(generation, Op::Read, &path, offset, buf.len() as u64)?;
        let file_len = self.file(id).volatile.len() as u64;
        let end = file_len.min(offset.saturating_add(buf.len() as u64));
        if offset >= end {
            return Ok(0);
        }
        if self.draws(FaultClass::ReadBitFlip) {
            let rng = self.fault_rng(FaultClass::ReadBitFlip);
            let byte = rng.random_range(offset..end);
            let bit = rng.random_range(0..8u8);
            *self.file_mut(id).bad_bytes.entry(byte).or_default() ^= 1 << bit;
            let fault = Fault::ReadBitFlip { byte, bit };
            self.record_fault(op_index, Op::Read, &path, offset, buf.len() as u64, fault);
        }
        let file = self.file(id);
        let n = (end - offset) as usize;
        buf[..n].copy_from_slice(&file.volatile[offset as usize..end as usize]);
        for (&byte, &mask) in file.bad_bytes.range(offset..end) {
            buf[(byte - offset) as usize] ^= mask;
        }
        Ok(n)
    }

    pub(super) fn len(&mut self, generation: u64, id: NodeId) -> io::Result<u64> {
        let path = self.file(id).path_hint.clone();
        self.begin(generation, Op::Len, &path, 0, 0)?;
        Ok(self.file(id).volatile.len() as u64)
    }

    pub(super) fn set_len(&mut self, generation: u64, id: NodeId, len: u64) -> io::Result<()> {
        let path = self.file(id).path_hint.clone();
        let op_index = self.begin(generation, Op::SetLen, &path, len, 0)?;
        check_file_end(&path, len, 0)?;
        if self.exceeds_quota(id, len) {
            self.record_fault(op_index, Op::SetLen, &path, len, 0, Fault::NoSpace);
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                format!("{path}: simulated ENOSPC growing to len={len}"),
            ));
        }
        let file = self.file_mut(id);
        let op = PendingWrite::SetLen { len };
        apply_pending(&mut file.volatile, &op);
        file.bad_bytes.retain(|&byte, _| byte < len);
        file.pending.push(op);
        Ok(())
    }

    pub(super) fn sync_data(&mut self, generation: u64, id: NodeId) -> io::Result<()> {
        let path = self.file(id).path_hint.clone();
        let op_index = self.begin(generation, Op::SyncData, &path, 0, 0)?;
        let failed = self.draws(FaultClass::FsyncError);
        let lied = self.draws(FaultClass::LyingFsync);
        if failed {
            // Linux: the pages that failed to write are marked clean and
            // dropped from the dirty list; the page cache still serves them.
            let dropped_ops = std::mem::take(&mut self.file_mut(id).pending).len() as u64;
            self.record_fault(
                op_index,
                Op::SyncData,
                &path,
                0,
                0,
                Fault::FsyncError { dropped_ops },
            );
            return Err(eio("fsync error", &path, 0));
        }
        if lied {
            self.record_fault(op_index, Op::SyncData, &path, 0, 0, Fault::LyingFsync);
            return Ok(());
        }
        let file = self.file_mut(id);
        for op in std::mem::take(&mut file.pending) {
            apply_pending(&mut file.durable, &op);
        }
        self.stats.syncs += 1;
        Ok(())
    }

    // ----- crashes -------------------------------------------------------------

    /// Crashes the simulated machine now. Every handle dies.
    pub(super) fn crash(&mut self, mode: CrashMode, op_index: u64, path: &str) {
        let happening = match mode {
            CrashMode::ProcessCrash => {
                self.stats.process_crashes += 1;
                Happening::ProcessCrash
            }
            CrashMode::PowerLoss => {
                self.stats.power_losses += 1;
                Happening::PowerLoss(self.lose_power())
            }
        };
        self.generation += 1;
        let event = FsEvent {
            op_index,
            generation: self.generation,
            op: Op::Crash,
            path: path.to_owned(),
            offset: 0,
            len: 0,
            happening,
        };
        self.record(event);
    }

    /// Throws the page cache away: each file and directory keeps a seeded
    /// choice of its pending operations, writes may tear, and whatever is no
    /// longer reachable from a durable directory entry is gone.
    fn lose_power(&mut self) -> PowerLossReport {
        let mut report = PowerLossReport::default();
        let mut torn = Vec::new();
        let ids: Vec<NodeId> = self.files.keys().copied().collect();
        for id in ids {
            let pending = std::mem::take(&mut self.file_mut(id).pending);
            let survivors = choose_survivors(&mut self.power_loss_rng, pending.len());
            for (op, survives) in pending.iter().zip(survivors) {
                if !survives {
                    report.writes_lost += 1;
                    continue;
                }
                report.writes_persisted += 1;
                let lost_sectors = match op {
                    // A zero-length write covers no sector: nothing to tear.
                    PendingWrite::Write { offset, data }
                        if !data.is_empty() && self.draws(FaultClass::TornWrite) =>
                    {
                        self.persist_torn(id, *offset, data)
                    }
                    _ => {
                        apply_pending(&mut self.file_mut(id).durable, op);
                        0
                    }
                };
                if let (PendingWrite::Write { offset, data }, true) = (op, lost_sectors > 0) {
                    torn.push((id, *offset, data.len() as u64, lost_sectors));
                }
            }
            let file = self.file_mut(id);
            file.volatile = file.durable.clone();
        }
        for dir in self.dirs.values_mut() {
            let pending = std::mem::take(&mut dir.pending);
            let survivors = choose_survivors(&mut self.power_loss_rng, pending.len());
            for (op, survives) in pending.iter().zip(survivors) {
                if survives {
                    report.dir_ops_persisted += 1;
                    apply_dir_op(&mut dir.durable, op);
                } else {
                    report.dir_ops_lost += 1;
                }
            }
            dir.volatile = dir.durable.clone();
        }
        for (id, offset, len, lost_sectors) in torn {
            report.writes_torn += 1;
            let path = self.file(id).path_hint.clone();
            let op_index = self.stats.ops;
            self.record_fault(
                op_index,
                Op::Crash,
                &path,
                offset,
                len,
                Fault::TornWrite { lost_sectors },
            );
        }
        self.collect_unreachable();
        report
    }

    /// Persists `data` (at least one byte) at `offset` with some of its
    /// sectors lost; returns how many were lost (at least one).
    fn persist_torn(&mut self, id: NodeId, offset: u64, data: &[u8]) -> u64 {
        assert!(!data.is_empty(), "a zero-length write has no sector to tear");
        let fill = self.config.torn_fill;
        let end = offset.checked_add(data.len() as u64).expect("write_at checked the end");
        let first_sector = offset / SECTOR_SIZE;
        let n_sectors = (end - 1) / SECTOR_SIZE - first_sector + 1;
        let rng = &mut self.fault_rngs[FaultClass::TornWrite.index()];
        let mut lost: Vec<bool> = (0..n_sectors).map(|_| rng.random_bool(0.5)).collect();
        if !lost.contains(&true) {
            lost[rng.random_range(0..n_sectors) as usize] = true;
        }
        let choices: Vec<u8> = [fill.old, fill.zeros, fill.garbage]
            .iter()
            .enumerate()
            .filter(|(_, on)| **on)
            .map(|(i, _)| i as u8)
            .collect();
        let fills: Vec<(u8, Vec<u8>)> = lost
            .iter()
            .map(|_| {
                let choice = choices[rng.random_range(0..choices.len())];
                let garbage = (0..SECTOR_SIZE).map(|_| rng.random::<u8>()).collect();
                (choice, garbage)
            })
            .collect();
        let file = self.file_mut(id);
        let old: Vec<u8> =
            (offset..end).map(|i| file.durable.get(i as usize).copied().unwrap_or(0)).collect();
        write_into(&mut file.durable, offset, data);
        for (index, (is_lost, (choice, garbage))) in lost.iter().zip(fills).enumerate() {
            if !is_lost {
                continue;
            }
            let sector = first_sector + index as u64;
            let start = offset.max(sector * SECTOR_SIZE);
            let stop = end.min((sector + 1) * SECTOR_SIZE);
            for byte in start..stop {
                file.durable[byte as usize] = match choice {
                    0 => old[(byte - offset) as usize],
                    1 => 0,
                    _ => garbage[(byte % SECTOR_SIZE) as usize],
                };
            }
        }
        lost.iter().filter(|l| **l).count() as u64
    }

    /// Drops every file and directory no longer reachable from the root.
    fn collect_unreachable(&mut self) {
        let mut reachable = BTreeSet::from([ROOT]);
        let mut stack = vec![ROOT];
        while let Some(dir) = stack.pop() {
            for node in self.dirs[&dir].volatile.values() {
                reachable.insert(node.id());
                if let Node::Dir(id) = node {
                    stack.push(*id);
                }
            }
        }
        self.files.retain(|id, _| reachable.contains(id));
        self.dirs.retain(|id, _| reachable.contains(id));
    }
}
