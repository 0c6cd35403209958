//! Recovery and refusal: when an open may refuse a history, and when it may
//! set a snapshot aside (DESIGN 4).
//!
//! - An open may refuse only if a fault damaged bytes on the device (or a
//!   lying fsync voided durability), only with an error that names the
//!   place, and only if no undamaged way to the acknowledged state was
//!   left: an undamaged snapshot that connects to an undamaged log suffix,
//!   or an undamaged whole log from offset 0. The ways are worked out from
//!   the disk image the open started from, with the damage the filesystem
//!   marks on it during and before the open. A refusal while a way was
//!   left is its own failure.
//! - An open may set a snapshot aside only if a fault damaged a file it
//!   needs (or durability is void).
//!
//! An open that fails while a fault fired or a crash struck during it is
//! not judged here: the runner restarts the process and tries again.

use std::collections::BTreeSet;

use faultline_engine::{OpenError, commitlog};
use faultline_sim::{DiskImage, NodeId, View};

use super::layout::{connects, segments, snapshots, suffix_from};
use super::{Checker, Facts, Invariant, RunEvent, Violation};

/// See the module documentation.
#[derive(Debug, Default)]
pub(super) struct RecoveryChecker {
    /// The disk as the open in progress found it.
    before: Option<DiskImage>,
    /// Faults and crashes seen when it started.
    marks: u64,
}

impl Checker for RecoveryChecker {
    fn name(&self) -> &str {
        "recovery"
    }

    fn observe(&mut self, event: &RunEvent<'_>, facts: &Facts<'_>) -> Result<(), Violation> {
        match event {
            RunEvent::OpenStarting { .. } => {
                self.before = facts.disk.map(|disk| disk.image(View::Volatile));
                self.marks = facts.faults.marks();
                Ok(())
            }
            RunEvent::OpenFailed { error } if facts.faults.marks() == self.marks => {
                self.judge_refusal(error, facts)
            }
            RunEvent::Opened { report, .. } if !facts.faults.voided => {
                let usable = report.snapshots_rejected.iter().find(|line| {
                    let offset = rejected_offset(line);
                    !facts.faults.damaged
                        || offset.is_some_and(|offset| self.snapshot_was_usable(offset, facts))
                });
                match usable {
                    Some(line) => Err(Violation::new(
                        Invariant::SNAPSHOT_REJECTED,
                        format!("{line}; no fault damaged it and it connects to the log"),
                    )),
                    None => Ok(()),
                }
            }
            _ => Ok(()),
        }
    }
}

/// The offset of a rejection line `snapshot=<offset> <reason>`.
fn rejected_offset(line: &str) -> Option<u64> {
    line.strip_prefix("snapshot=")?.split_whitespace().next()?.parse().ok()
}

/// Whether an open error names the place of the damage (DESIGN 4: "refuse
/// to open with a corruption error that names the place").
fn names_place(error: &OpenError) -> bool {
    matches!(
        error,
        OpenError::Log(commitlog::OpenError::Corrupt(_))
            | OpenError::Log(commitlog::OpenError::BadSegmentName { .. })
            | OpenError::Read(commitlog::ReadError::Corrupt(_))
            | OpenError::Replay { .. }
            | OpenError::Inconsistent { .. }
            | OpenError::HistoryGap { .. }
    )
}

impl RecoveryChecker {
    fn judge_refusal(&self, error: &OpenError, facts: &Facts<'_>) -> Result<(), Violation> {
        let text = error.to_string();
        if !facts.faults.damaged && !facts.faults.voided {
            return Err(Violation::new(Invariant::REFUSED_HEALTHY_HISTORY, text));
        }
        if !names_place(error) {
            return Err(Violation::new(Invariant::CORRUPTION_UNNAMED, text));
        }
        if facts.faults.voided {
            return Ok(());
        }
        match self.intact_way(facts) {
            Some(way) => Err(Violation::new(
                Invariant::REFUSED_INTACT_HISTORY,
                format!("{text}; yet an undamaged way was left: {way}"),
            )),
            None => Ok(()),
        }
    }

    /// The files damaged now (a read during the open may have found a bad
    /// sector the image from before it did not show).
    fn damaged_now(facts: &Facts<'_>) -> BTreeSet<NodeId> {
        let Some(disk) = facts.disk else { return BTreeSet::new() };
        let now = disk.image(View::Volatile);
        now.files.values().filter(|f| !f.damaged.is_empty()).map(|f| f.id).collect()
    }

    /// An undamaged way to the acknowledged state on the disk the open
    /// started from, if one was left.
    fn intact_way(&self, facts: &Facts<'_>) -> Option<String> {
        let before = self.before.as_ref()?;
        let damaged = RecoveryChecker::damaged_now(facts);
        let segments = segments(before, &damaged);
        let whole_log = !segments.is_empty()
            && segments[0].name_offset == 0
            && segments.iter().all(|s| !s.damaged);
        if whole_log {
            return Some(format!(
                "the whole log, {} undamaged segments from offset 0",
                segments.len()
            ));
        }
        let snapshots = snapshots(before, &damaged);
        snapshots.iter().rev().filter(|s| s.is_whole()).find_map(|snapshot| {
            let suffix = suffix_from(snapshot.offset + 1, &segments);
            let usable = connects(snapshot.offset, &segments) && suffix.iter().all(|s| !s.damaged);
            usable.then(|| {
                let from = suffix.first().map_or("none".to_owned(), |s| s.path.clone());
                format!("snapshot={} and the log from segment {from}", snapshot.offset)
            })
        })
    }

    /// Whether snapshot `offset` could be restored from the disk the open
    /// started from, with today's damage: whole, and connected to the log.
    fn snapshot_was_usable(&self, offset: u64, facts: &Facts<'_>) -> bool {
        let Some(before) = &self.before else { return false };
        let damaged = RecoveryChecker::damaged_now(facts);
        let segments = segments(before, &damaged);
        snapshots(before, &damaged)
            .iter()
            .any(|s| s.offset == offset && s.is_whole() && connects(offset, &segments))
    }
}
