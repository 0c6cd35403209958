//! The state behind [`super::SimFs`] and every operation on it: each call is
//! counted and numbered, asks the decider what happens to it, and is
//! applied to the namespace ([`super::namespace`]) and the file data
//! ([`super::data`]); crashes are in [`super::power`].

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use faultline_engine::fs::{DirEntry, EntryKind};

use crate::fault::{DirtyAfterFailure, ErrorReport, FILE_LEN_MAX, Fault, FaultConfig, FaultCounts};
use crate::schedule::PinnedFault;
use crate::site::Site;
use crate::trace::TraceHasher;

use super::data::{Damaged, FileNode};
use super::decide::{CallFacts, Decider, Verdict};
use super::namespace::{DirNode, Node, NodeId, ROOT, lookup, not_found, parent_and_name};
use super::{
    CALL_BUDGET_MARKER, CallOutcome, CallRecord, FsEvent, FsRecord, FsStats, Happening, Op,
};

/// The whole simulated disk and kernel.
#[derive(Debug)]
pub(super) struct Disk {
    pub(super) decider: Decider,
    /// Bumped by every crash; handles of an older generation are dead.
    pub(super) generation: u64,
    pub(super) files: BTreeMap<NodeId, FileNode>,
    pub(super) dirs: BTreeMap<NodeId, DirNode>,
    pub(super) next_id: u64,
    pub(super) stats: FsStats,
    /// Calls past this index are a hang: the harness's budget.
    pub(super) calls_max: u64,
    /// The budget as it was set (calls from then on).
    pub(super) calls_budget: u64,
    /// Faults and crashes, in order.
    pub(super) events: Vec<FsEvent>,
    /// Every call and event not yet taken by the harness.
    pub(super) log: Vec<FsRecord>,
    pub(super) counts: FaultCounts,
    pub(super) trace: TraceHasher,
    /// Every live handle: the file's error count it has reported up to
    /// (Linux's `errseq_t` sample). Cleared at every crash: the process
    /// and its handles are gone.
    pub(super) handles: BTreeMap<HandleId, u64>,
    pub(super) next_handle: u64,
    /// The call whose failure shut the filesystem down (XFS), until the
    /// next crash remounts it.
    pub(super) shut_down_at: Option<u64>,
}

/// One open handle of a file (a file descriptor).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) struct HandleId(u64);

fn crash_error(call: u64) -> io::Error {
    io::Error::other(format!("simulated crash: the process died at fs call {call}"))
}

fn dead_handle_error() -> io::Error {
    io::Error::other("simulated crash: handle from before a crash")
}

fn eio(what: &str, path: &str, offset: u64) -> io::Error {
    io::Error::other(format!("{path}: simulated {what} (EIO) at offset={offset}"))
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

/// A call in progress: what it is, for its record.
#[derive(Clone, Debug)]
struct Call {
    index: u64,
    generation: u64,
    op: Op,
    site: Site,
    path: String,
    offset: u64,
    len: u64,
}

impl Disk {
    pub(super) fn new(decider: Decider) -> Self {
        let mut dirs = BTreeMap::new();
        dirs.insert(ROOT, DirNode::default());
        Disk {
            decider,
            generation: 0,
            files: BTreeMap::new(),
            dirs,
            next_id: 1,
            stats: FsStats::default(),
            calls_max: u64::MAX,
            calls_budget: u64::MAX,
            events: Vec::new(),
            log: Vec::new(),
            counts: FaultCounts::default(),
            trace: TraceHasher::default(),
            handles: BTreeMap::new(),
            next_handle: 1,
            shut_down_at: None,
        }
    }

    /// A new handle of file `id`. It samples the file's error record as
    /// Linux's `errseq_sample` does: an error no handle has reported yet
    /// is reported by this one too.
    fn new_handle(&mut self, id: NodeId) -> HandleId {
        let errors = &self.file(id).errors;
        let sampled = if errors.seen { errors.recorded } else { 0 };
        let handle = HandleId(self.next_handle);
        self.next_handle += 1;
        self.handles.insert(handle, sampled);
        handle
    }

    pub(super) fn set_config(&mut self, config: FaultConfig) {
        config.assert_valid();
        self.decider.config = config;
    }

    // ----- calls ---------------------------------------------------------------

    /// Starts a call: refuses dead handles, counts and numbers it, mixes it
    /// into the trace, and enforces the call budget.
    fn begin(
        &mut self,
        generation: u64,
        op: Op,
        path: &str,
        offset: u64,
        len: u64,
    ) -> io::Result<Call> {
        if generation != self.generation {
            return Err(dead_handle_error());
        }
        self.stats.ops += 1;
        let index = self.stats.ops;
        if index > self.calls_max {
            panic!("{CALL_BUDGET_MARKER}: fs-calls-max={}", self.calls_budget);
        }
        if op.is_mutation() {
            self.stats.mutations += 1;
        }
        self.trace.u64(index);
        self.trace.str(op.name());
        self.trace.str(path);
        self.trace.u64(offset);
        self.trace.u64(len);
        let site = Site::here(op);
        let call = Call { index, generation, op, site, path: path.to_owned(), offset, len };
        if let Some(failed_at) = self.shut_down_at {
            // A shut-down filesystem serves nothing; the machine may still
            // go down instead.
            self.crash_verdict(&call)?;
            let event = FsEvent {
                op_index: index,
                generation,
                op,
                site,
                path: call.path.clone(),
                offset,
                len,
                happening: Happening::ErrorReported { failed_at },
            };
            self.record(event);
            let error = io::Error::other(format!(
                "{path}: simulated EIO: the filesystem shut down at fs call {failed_at}"
            ));
            return self.finish(&call, Err(error));
        }
        Ok(call)
    }

    /// Asks the decider what happens to `call` (`len`: the bytes it moves;
    /// `over_quota`: whether it would grow the disk past its quota); a
    /// crash strikes at once.
    fn verdict(&mut self, call: &Call, len: u64, over_quota: bool) -> io::Result<Verdict> {
        self.decide(call, Some((len, over_quota)))
    }

    /// Asks the decider only whether the machine goes down instead of
    /// `call`, which fails anyway (a write past the largest file).
    fn crash_verdict(&mut self, call: &Call) -> io::Result<()> {
        self.decide(call, None).map(drop)
    }

    fn decide(&mut self, call: &Call, faultable: Option<(u64, bool)>) -> io::Result<Verdict> {
        let facts = CallFacts {
            call: call.index,
            mutation: call.op.is_mutation().then_some(self.stats.mutations),
            op: call.op,
            site: call.site,
            offset: call.offset,
            len: faultable.map_or(0, |(len, _)| len),
            over_quota: faultable.is_some_and(|(_, over)| over),
            faultable: faultable.is_some(),
        };
        match self.decider.decide(&facts) {
            Verdict::Crash { mode, torn } => {
                self.crash(mode, torn, call.index, call.site, &call.path);
                self.log_call(call, CallOutcome::Crashed);
                Err(crash_error(call.index))
            }
            verdict => Ok(verdict),
        }
    }

    /// Ends a call: logs its outcome (once: a call the machine went down
    /// under was logged as crashed then, see [`Disk::decide`]).
    fn finish<T>(&mut self, call: &Call, result: io::Result<T>) -> io::Result<T> {
        if call.generation != self.generation {
            assert!(result.is_err(), "a call the machine went down under fails");
            return result;
        }
        let outcome = match &result {
            Ok(_) => CallOutcome::Ok,
            Err(error) => CallOutcome::Failed(error.kind()),
        };
        self.log_call(call, outcome);
        result
    }

    fn log_call(&mut self, call: &Call, outcome: CallOutcome) {
        self.log.push(FsRecord::Call(CallRecord {
            call: call.index,
            generation: call.generation,
            op: call.op,
            site: call.site,
            path: call.path.clone(),
            offset: call.offset,
            len: call.len,
            outcome,
        }));
    }

    pub(super) fn record(&mut self, event: FsEvent) {
        if let Happening::Fault(fault) = &event.happening {
            self.counts.record(fault.class());
        }
        self.trace.str(&event.to_string());
        tracing::debug!(target: "faultline::sim::fs", "{event}");
        self.log.push(FsRecord::Event(event.clone()));
        self.events.push(event);
    }

    /// Records `fault` striking `call` (its operation, site, path, offset
    /// and length).
    fn fault_on(&mut self, call: &Call, fault: Fault) {
        let (index, op, site, offset, len) =
            (call.index, call.op, call.site, call.offset, call.len);
        self.record_fault(index, op, site, &call.path, offset, len, fault);
    }

    #[allow(clippy::too_many_arguments)] // one per field of the event it records
    pub(super) fn record_fault(
        &mut self,
        call: u64,
        op: Op,
        site: Site,
        path: &str,
        offset: u64,
        len: u64,
        fault: Fault,
    ) {
        let event = FsEvent {
            op_index: call,
            generation: self.generation,
            op,
            site,
            path: path.to_owned(),
            offset,
            len,
            happening: Happening::Fault(fault),
        };
        self.record(event);
    }

    /// Records the damage a misdirected write did when it reached the
    /// device.
    pub(super) fn record_damage(
        &mut self,
        id: NodeId,
        call: u64,
        site: Site,
        damage: Vec<Damaged>,
    ) {
        for damaged in damage {
            let event = FsEvent {
                op_index: call,
                generation: self.generation,
                op: Op::SyncData,
                site,
                path: self.file(id).path_hint.clone(),
                offset: damaged.range.start,
                len: damaged.range.end - damaged.range.start,
                happening: Happening::Damage { file: id, cause: damaged.cause },
            };
            self.record(event);
        }
    }

    // ----- namespace -------------------------------------------------------------

    fn new_id(&mut self) -> NodeId {
        let id = NodeId(self.next_id);
        self.next_id += 1;
        id
    }

    fn dir_mut(&mut self, id: NodeId) -> &mut DirNode {
        self.dirs.get_mut(&id).expect("a directory in the namespace exists")
    }

    /// Resolves a create of `path`: the parent directory and the new name,
    /// which must not exist yet.
    fn resolve_new(&self, path: &Path) -> io::Result<(NodeId, String)> {
        let (parent, name) = parent_and_name(&self.dirs, path)?;
        if self.dirs[&parent].volatile.contains_key(&name) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{}: already exists", path.display()),
            ));
        }
        Ok((parent, name))
    }

    /// Runs a call that no fault strikes (a crash still may).
    fn plain<T>(
        &mut self,
        generation: u64,
        op: Op,
        path: &str,
        apply: impl FnOnce(&mut Self) -> io::Result<T>,
    ) -> io::Result<T> {
        let call = self.begin(generation, op, path, 0, 0)?;
        self.crash_verdict(&call)?;
        let result = apply(self);
        self.finish(&call, result)
    }

    pub(super) fn create(
        &mut self,
        generation: u64,
        path: &Path,
    ) -> io::Result<(NodeId, HandleId)> {
        self.plain(generation, Op::Create, &path.display().to_string(), |disk| {
            let (parent, name) = disk.resolve_new(path)?;
            let id = disk.new_id();
            let node = FileNode { path_hint: path.display().to_string(), ..FileNode::default() };
            disk.files.insert(id, node);
            disk.dir_mut(parent).insert(name, Node::File(id));
            Ok((id, disk.new_handle(id)))
        })
    }

    pub(super) fn open(&mut self, generation: u64, path: &Path) -> io::Result<(NodeId, HandleId)> {
        self.plain(generation, Op::Open, &path.display().to_string(), |disk| {
            match lookup(&disk.dirs, path)? {
                Node::File(id) => Ok((id, disk.new_handle(id))),
                Node::Dir(_) => Err(io::Error::new(
                    io::ErrorKind::IsADirectory,
                    format!("{}: is a directory", path.display()),
                )),
            }
        })
    }

    pub(super) fn create_dir(&mut self, generation: u64, path: &Path) -> io::Result<()> {
        self.plain(generation, Op::CreateDir, &path.display().to_string(), |disk| {
            let (parent, name) = disk.resolve_new(path)?;
            let id = disk.new_id();
            disk.dirs.insert(id, DirNode::default());
            disk.dir_mut(parent).insert(name, Node::Dir(id));
            Ok(())
        })
    }

    pub(super) fn rename(&mut self, generation: u64, from: &Path, to: &Path) -> io::Result<()> {
        let display = format!("{} -> {}", from.display(), to.display());
        self.plain(generation, Op::Rename, &display, |disk| disk.apply_rename(from, to))
    }

    fn apply_rename(&mut self, from: &Path, to: &Path) -> io::Result<()> {
        let (from_dir, from_name) = parent_and_name(&self.dirs, from)?;
        let (to_dir, to_name) = parent_and_name(&self.dirs, to)?;
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
        self.rehint(node, to.display().to_string());
        if from_dir == to_dir {
            self.dir_mut(from_dir).rename(from_name, to_name, node);
        } else {
            self.dir_mut(from_dir).remove(from_name, node);
            self.dir_mut(to_dir).insert(to_name, node);
        }
        Ok(())
    }

    /// Updates the path events name files by, for `node` and everything
    /// under it, now at `path`.
    fn rehint(&mut self, node: Node, path: String) {
        match node {
            Node::File(id) => self.file_mut(id).path_hint = path,
            Node::Dir(id) => {
                let children: Vec<(String, Node)> =
                    self.dirs[&id].volatile.iter().map(|(n, c)| (n.clone(), *c)).collect();
                for (name, child) in children {
                    self.rehint(child, format!("{path}/{name}"));
                }
            }
        }
    }

    pub(super) fn remove(&mut self, generation: u64, path: &Path) -> io::Result<()> {
        self.plain(generation, Op::Remove, &path.display().to_string(), |disk| {
            let (parent, name) = parent_and_name(&disk.dirs, path)?;
            let node = *disk.dirs[&parent].volatile.get(&name).ok_or_else(|| not_found(path))?;
            if let Node::Dir(id) = node
                && !disk.dirs[&id].volatile.is_empty()
            {
                return Err(io::Error::new(
                    io::ErrorKind::DirectoryNotEmpty,
                    format!("{}: directory not empty", path.display()),
                ));
            }
            disk.dir_mut(parent).remove(name, node);
            Ok(())
        })
    }

    pub(super) fn list_dir(&mut self, generation: u64, path: &Path) -> io::Result<Vec<DirEntry>> {
        self.plain(generation, Op::ListDir, &path.display().to_string(), |disk| {
            let Node::Dir(id) = lookup(&disk.dirs, path)? else {
                return Err(io::Error::new(
                    io::ErrorKind::NotADirectory,
                    format!("{}: not a directory", path.display()),
                ));
            };
            let entries = disk.dirs[&id].volatile.iter().map(|(name, node)| DirEntry {
                name: name.clone(),
                kind: match node {
                    Node::File(_) => EntryKind::File,
                    Node::Dir(_) => EntryKind::Dir,
                },
            });
            Ok(entries.collect())
        })
    }

    pub(super) fn sync_dir(&mut self, generation: u64, path: &Path) -> io::Result<()> {
        let display = path.display().to_string();
        let call = self.begin(generation, Op::SyncDir, &display, 0, 0)?;
        let verdict = self.verdict(&call, 0, false)?;
        let result = self.apply_sync_dir(&call, path, verdict);
        self.finish(&call, result)
    }

    fn apply_sync_dir(&mut self, call: &Call, path: &Path, verdict: Verdict) -> io::Result<()> {
        let Node::Dir(id) = lookup(&self.dirs, path)? else {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{}: not a directory", path.display()),
            ));
        };
        match verdict {
            Verdict::Fault(PinnedFault::FsyncError) => {
                // Unlike file data, entry operations are not dropped: they
                // stay pending (a journaling filesystem keeps its metadata
                // in the journal), so a later successful sync_dir persists
                // them; unless the filesystem shuts down (XFS).
                let fault = Fault::FsyncError { dropped_ops: 0, reported_later: false };
                self.fault_on(call, fault);
                if self.decider.config.profile.shuts_down_on_failed_dir_sync() {
                    self.shut_down_at = Some(call.index);
                }
                Err(eio("fsync error", &call.path, 0))
            }
            Verdict::Fault(PinnedFault::LyingFsync) => {
                self.fault_on(call, Fault::LyingFsync);
                Ok(())
            }
            Verdict::Proceed => {
                self.dir_mut(id).sync();
                self.stats.syncs += 1;
                Ok(())
            }
            other => unreachable!("the decider fits faults to the call: {other:?}"),
        }
    }

    // ----- file data ---------------------------------------------------------------

    /// The path of the file a handle of `generation` holds. A handle from
    /// before a crash is dead, and its file may be gone (a name that never
    /// became durable): refused before the file is looked at.
    fn handle_path(&self, generation: u64, id: NodeId) -> io::Result<String> {
        if generation != self.generation {
            return Err(dead_handle_error());
        }
        Ok(self.file(id).path_hint.clone())
    }

    pub(super) fn file(&self, id: NodeId) -> &FileNode {
        self.files.get(&id).expect("an open handle's file exists until a crash")
    }

    pub(super) fn file_mut(&mut self, id: NodeId) -> &mut FileNode {
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
        let Some(quota) = self.decider.config.no_space_quota_bytes else { return false };
        let growth = new_len.saturating_sub(self.file(id).volatile.len() as u64);
        growth > 0 && self.volatile_bytes_used() + growth > quota
    }

    pub(super) fn write_at(
        &mut self,
        generation: u64,
        id: NodeId,
        data: &[u8],
        offset: u64,
    ) -> io::Result<()> {
        let len = data.len() as u64;
        let path = self.handle_path(generation, id)?;
        let call = self.begin(generation, Op::Write, &path, offset, len)?;
        let result = self.apply_write(&call, id, data);
        self.finish(&call, result)
    }

    fn apply_write(&mut self, call: &Call, id: NodeId, data: &[u8]) -> io::Result<()> {
        let (offset, len, path) = (call.offset, call.len, call.path.as_str());
        let end = match check_file_end(path, offset, len) {
            Ok(end) => end,
            Err(error) => {
                self.crash_verdict(call)?;
                return Err(error);
            }
        };
        let over_quota = self.exceeds_quota(id, end);
        let (write, result) = match self.verdict(call, len, over_quota)? {
            Verdict::Proceed => (Some((offset, len)), Ok(())),
            Verdict::Fault(PinnedFault::NoSpace) => {
                self.fault_on(call, Fault::NoSpace);
                let error = io::Error::new(
                    io::ErrorKind::StorageFull,
                    format!("{path}: simulated ENOSPC at offset={offset}"),
                );
                (None, Err(error))
            }
            Verdict::Fault(PinnedFault::WriteError) => {
                self.fault_on(call, Fault::WriteError);
                (None, Err(eio("write error", path, offset)))
            }
            Verdict::Fault(PinnedFault::ShortWrite { written }) => {
                let fault = Fault::ShortWrite { written };
                self.fault_on(call, fault);
                (Some((offset, written)), Err(eio("short write", path, offset + written)))
            }
            Verdict::Fault(PinnedFault::MisdirectedWrite { shift }) => {
                let landed_at = offset.checked_add_signed(shift).expect("the decider fits it");
                let fault = Fault::MisdirectedWrite { landed_at };
                self.fault_on(call, fault);
                self.stats.bytes_written += len;
                self.file_mut(id).write(offset, landed_at, data, call.site);
                return Ok(());
            }
            other => unreachable!("the decider fits faults to the call: {other:?}"),
        };
        if let Some((offset, written)) = write {
            self.stats.bytes_written += written;
            self.file_mut(id).write(offset, offset, &data[..written as usize], call.site);
        }
        result
    }

    pub(super) fn read_at(
        &mut self,
        generation: u64,
        id: NodeId,
        buf: &mut [u8],
        offset: u64,
    ) -> io::Result<usize> {
        let path = self.handle_path(generation, id)?;
        let call = self.begin(generation, Op::Read, &path, offset, buf.len() as u64)?;
        let file_len = self.file(id).volatile.len() as u64;
        let end = file_len.min(offset.saturating_add(buf.len() as u64));
        let readable = end.saturating_sub(offset);
        let verdict = self.verdict(&call, readable, false)?;
        if let Verdict::Fault(PinnedFault::ReadBitFlip { delta, bit }) = verdict {
            let byte = offset + delta;
            *self.file_mut(id).latent.entry(byte).or_default() ^= 1 << bit;
            let fault = Fault::ReadBitFlip { byte, bit };
            self.fault_on(&call, fault);
        }
        let file = self.file(id);
        let n = readable as usize;
        if n > 0 {
            buf[..n].copy_from_slice(&file.volatile[offset as usize..end as usize]);
            for (&byte, &mask) in file.latent.range(offset..end) {
                buf[(byte - offset) as usize] ^= mask;
            }
        }
        self.finish(&call, Ok(n))
    }

    pub(super) fn len(&mut self, generation: u64, id: NodeId) -> io::Result<u64> {
        let path = self.handle_path(generation, id)?;
        self.plain(generation, Op::Len, &path, |disk| Ok(disk.file(id).volatile.len() as u64))
    }

    pub(super) fn set_len(&mut self, generation: u64, id: NodeId, len: u64) -> io::Result<()> {
        let path = self.handle_path(generation, id)?;
        let call = self.begin(generation, Op::SetLen, &path, len, 0)?;
        let result = self.apply_set_len(&call, id, len);
        self.finish(&call, result)
    }

    /// A failed `sync_data`, as the profile has it (see
    /// [`crate::FsProfile`]).
    fn fail_sync_data(&mut self, call: &Call, id: NodeId, handle: HandleId) -> io::Result<()> {
        let profile = self.decider.config.profile;
        let file = self.file_mut(id);
        let dropped_ops = match profile.dirty_after_failure() {
            DirtyAfterFailure::MarkedClean => file.fail_marked_clean(),
            DirtyAfterFailure::Reverted => file.fail_reverted(),
            DirtyAfterFailure::Redirtied => file.pending.len() as u64,
        };
        let report = profile.error_report();
        if report != ErrorReport::OnlyThisCall {
            file.errors.recorded += 1;
            file.errors.failed_at = call.index;
            file.errors.seen = false;
        }
        let reported_later = report == ErrorReport::NextCall;
        self.fault_on(call, Fault::FsyncError { dropped_ops, reported_later });
        match report {
            ErrorReport::NextCall => Ok(()),
            ErrorReport::ThisCall => {
                self.mark_reported(id, handle);
                Err(eio("fsync error", &call.path, 0))
            }
            ErrorReport::OnlyThisCall => Err(eio("fsync error", &call.path, 0)),
        }
    }

    /// Reports, once per handle, an fsync error recorded on the file since
    /// the handle last reported one (Linux's `errseq_check_and_advance`).
    fn report_recorded_error(
        &mut self,
        call: &Call,
        id: NodeId,
        handle: HandleId,
    ) -> io::Result<()> {
        let errors = self.file(id).errors;
        let sampled = *self.handles.get(&handle).expect("a live handle is registered");
        if errors.recorded <= sampled {
            return Ok(());
        }
        self.mark_reported(id, handle);
        let event = FsEvent {
            op_index: call.index,
            generation: self.generation,
            op: call.op,
            site: call.site,
            path: call.path.clone(),
            offset: 0,
            len: 0,
            happening: Happening::ErrorReported { failed_at: errors.failed_at },
        };
        self.record(event);
        Err(io::Error::other(format!(
            "{}: simulated fsync error (EIO) recorded at fs call {}, reported now",
            call.path, errors.failed_at
        )))
    }

    fn mark_reported(&mut self, id: NodeId, handle: HandleId) {
        let errors = &mut self.files.get_mut(&id).expect("an open handle's file exists").errors;
        errors.seen = true;
        let recorded = errors.recorded;
        self.handles.insert(handle, recorded);
    }

    fn apply_set_len(&mut self, call: &Call, id: NodeId, len: u64) -> io::Result<()> {
        if let Err(error) = check_file_end(&call.path, len, 0) {
            self.crash_verdict(call)?;
            return Err(error);
        }
        let over_quota = self.exceeds_quota(id, len);
        match self.verdict(call, 0, over_quota)? {
            Verdict::Proceed => {
                self.file_mut(id).set_len(len);
                Ok(())
            }
            Verdict::Fault(PinnedFault::NoSpace) => {
                self.fault_on(call, Fault::NoSpace);
                Err(io::Error::new(
                    io::ErrorKind::StorageFull,
                    format!("{}: simulated ENOSPC growing to len={len}", call.path),
                ))
            }
            other => unreachable!("the decider fits faults to the call: {other:?}"),
        }
    }

    pub(super) fn sync_data(
        &mut self,
        generation: u64,
        id: NodeId,
        handle: HandleId,
    ) -> io::Result<()> {
        let path = self.handle_path(generation, id)?;
        let call = self.begin(generation, Op::SyncData, &path, 0, 0)?;
        let result = self.apply_sync_data(&call, id, handle);
        self.finish(&call, result)
    }

    fn apply_sync_data(&mut self, call: &Call, id: NodeId, handle: HandleId) -> io::Result<()> {
        match self.verdict(call, 0, false)? {
            Verdict::Proceed => {
                let damage = self.file_mut(id).sync();
                self.record_damage(id, call.index, call.site, damage);
                self.stats.syncs += 1;
                // The data reached the device; an error recorded on the
                // file that this handle has not reported is reported now.
                self.report_recorded_error(call, id, handle)
            }
            Verdict::Fault(PinnedFault::FsyncError) => self.fail_sync_data(call, id, handle),
            Verdict::Fault(PinnedFault::LyingFsync) => {
                self.fault_on(call, Fault::LyingFsync);
                Ok(())
            }
            other => unreachable!("the decider fits faults to the call: {other:?}"),
        }
    }
}
