//! Crashes: a process crash keeps the page cache; a power loss keeps, of
//! each file's and each directory's pending operations, a seeded choice
//! (none, a prefix, or a subset: a disk with a write cache reorders), may
//! tear the writes that persist at 512-byte sectors, and forgets whatever
//! is no longer reachable from a durable directory entry. A filesystem
//! that shut down (XFS) loses every pending operation and its cache at
//! whatever crash comes next: that crash's restart is its remount.

use std::collections::BTreeSet;

use rand::RngExt;

use crate::fault::{Fault, SECTOR_SIZE};
use crate::seed::SimRng;
use crate::site::Site;

use super::data::{Pending, TornFillChoice, TornSectors};
use super::disk::Disk;
use super::namespace::{Node, NodeId, ROOT, apply_dir_op};
use super::{CrashMode, FsEvent, Happening, Op, PowerLossReport};

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

/// A torn write that persisted, for its event.
struct TornWrite {
    id: NodeId,
    site: Site,
    offset: u64,
    len: u64,
    lost_sectors: u64,
}

impl Disk {
    /// Crashes the simulated machine now; `torn`: whether writes that
    /// persist at a power loss may tear. Every handle dies.
    pub(super) fn crash(&mut self, mode: CrashMode, torn: bool, call: u64, site: Site, path: &str) {
        if self.shut_down_at.take().is_some() {
            self.remount_after_shutdown();
        }
        let happening = match mode {
            CrashMode::ProcessCrash => {
                self.stats.process_crashes += 1;
                Happening::ProcessCrash
            }
            CrashMode::PowerLoss => {
                self.stats.power_losses += 1;
                Happening::PowerLoss(self.lose_power(torn, call))
            }
        };
        self.generation += 1;
        self.handles.clear();
        let event = FsEvent {
            op_index: call,
            generation: self.generation,
            op: Op::Crash,
            site,
            path: path.to_owned(),
            offset: 0,
            len: 0,
            happening,
        };
        self.record(event);
    }

    /// The machine comes back after a shutdown (XFS): nothing the page
    /// cache held reached the device after it, so every pending operation
    /// is lost and the cache with it, whatever the crash.
    fn remount_after_shutdown(&mut self) {
        for file in self.files.values_mut() {
            file.pending.clear();
            file.lose_cache();
        }
        for dir in self.dirs.values_mut() {
            dir.pending.clear();
            dir.volatile = dir.durable.clone();
        }
        self.collect_unreachable();
    }

    /// Throws the page cache away (see the module documentation).
    fn lose_power(&mut self, torn: bool, call: u64) -> PowerLossReport {
        let mut report = PowerLossReport::default();
        let mut torn_writes = Vec::new();
        let ids: Vec<NodeId> = self.files.keys().copied().collect();
        for id in ids {
            let pending = std::mem::take(&mut self.file_mut(id).pending);
            let survivors = choose_survivors(&mut self.decider.survivors_rng, pending.len());
            for (op, survives) in pending.iter().zip(survivors) {
                if !survives {
                    report.writes_lost += 1;
                    continue;
                }
                report.writes_persisted += 1;
                let tear = match op {
                    // A zero-length write covers no sector: nothing to tear.
                    Pending::Write { data, lands_at, .. }
                        if torn && !data.is_empty() && self.decider.tears() =>
                    {
                        Some(self.tear(*lands_at, data.len() as u64))
                    }
                    _ => None,
                };
                let damage = self.file_mut(id).persist(op, tear.as_ref());
                self.record_damage(id, call, Site::bare(Op::Crash), damage);
                if let (Pending::Write { lands_at, data, site, .. }, Some(tear)) = (op, &tear) {
                    torn_writes.push(TornWrite {
                        id,
                        site: *site,
                        offset: *lands_at,
                        len: data.len() as u64,
                        lost_sectors: tear.lost(),
                    });
                }
            }
            self.file_mut(id).lose_cache();
        }
        for dir in self.dirs.values_mut() {
            let pending = std::mem::take(&mut dir.pending);
            let survivors = choose_survivors(&mut self.decider.survivors_rng, pending.len());
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
        for write in torn_writes {
            report.writes_torn += 1;
            let path = self.file(write.id).path_hint.clone();
            let fault = Fault::TornWrite { lost_sectors: write.lost_sectors };
            self.record_fault(call, Op::Crash, write.site, &path, write.offset, write.len, fault);
        }
        self.collect_unreachable();
        report
    }

    /// Draws which sectors of a `len`-byte write at `offset` (at least one
    /// byte) are lost, at least one, and what each holds instead.
    fn tear(&mut self, offset: u64, len: u64) -> TornSectors {
        assert!(len > 0, "a zero-length write has no sector to tear");
        let fill = self.decider.config.torn_fill;
        let end = offset.checked_add(len).expect("a checked end");
        let n_sectors = (end - 1) / SECTOR_SIZE - offset / SECTOR_SIZE + 1;
        let rng = &mut self.decider.torn_rng;
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
        let sectors = lost
            .iter()
            .map(|&is_lost| {
                let choice = choices[rng.random_range(0..choices.len())];
                let garbage: Vec<u8> = (0..SECTOR_SIZE).map(|_| rng.random::<u8>()).collect();
                let fill = match choice {
                    0 => TornFillChoice::Old,
                    1 => TornFillChoice::Zeros,
                    _ => TornFillChoice::Garbage(garbage),
                };
                is_lost.then_some(fill)
            })
            .collect();
        TornSectors { sectors }
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
