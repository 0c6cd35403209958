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

use faultline_engine::{OpenError, OpenReport, commitlog};
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
            RunEvent::OpenFailed { error } => {
                // Keeping the image would make every later write copy the
                // file it shares bytes with.
                let judged = facts.faults.marks() == self.marks;
                let verdict = if judged { self.judge_refusal(error, facts) } else { Ok(()) };
                self.before = None;
                verdict
            }
            RunEvent::Opened { report, .. } => {
                let verdict =
                    if facts.faults.voided { Ok(()) } else { self.judge_set_aside(report, facts) };
                self.before = None;
                verdict
            }
            _ => Ok(()),
        }
    }
}

/// An undamaged way to the acknowledged state on `image`, the files in
/// `damaged` counting as damaged too: the whole log from offset 0, every
/// segment undamaged; or (if the engine restores snapshots) a whole,
/// undamaged snapshot that connects to the log, with every segment from
/// the one holding its offset + 1 on undamaged. Damage is judged per file:
/// an open reads a segment whole.
pub(super) fn intact_way(
    image: &DiskImage,
    damaged: &BTreeSet<NodeId>,
    snapshots_on: bool,
) -> Option<String> {
    let segments = segments(image, damaged);
    let whole_log =
        !segments.is_empty() && segments[0].name_offset == 0 && segments.iter().all(|s| !s.damaged);
    if whole_log {
        return Some(format!("the whole log, {} undamaged segments from offset 0", segments.len()));
    }
    if !snapshots_on {
        return None;
    }
    let snapshots = snapshots(image, damaged);
    snapshots.iter().rev().filter(|s| s.is_whole()).find_map(|snapshot| {
        let suffix = suffix_from(snapshot.offset + 1, &segments);
        let usable = connects(snapshot.offset, &segments)
            && snapshot.bound_to_log(&segments)
            && suffix.iter().all(|s| !s.damaged);
        usable.then(|| {
            let from = suffix.first().map_or("none".to_owned(), |s| s.path.clone());
            format!("snapshot={} and the log from segment {from}", snapshot.offset)
        })
    })
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
    /// A snapshot may be set aside only if a fault damaged a file it needs
    /// (or made it of another history than the log's: `bound_to_log`).
    /// After a lying fsync the open is not judged here at all (`observe`).
    fn judge_set_aside(&self, report: &OpenReport, facts: &Facts<'_>) -> Result<(), Violation> {
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
        let snapshots_on = facts.plan.options.snapshots.restore_on_open;
        intact_way(before, &RecoveryChecker::damaged_now(facts), snapshots_on)
    }

    /// Whether snapshot `offset` could be restored from the disk the open
    /// started from, with today's damage: whole, bound to the log and
    /// connected to it.
    fn snapshot_was_usable(&self, offset: u64, facts: &Facts<'_>) -> bool {
        let Some(before) = &self.before else { return false };
        let damaged = RecoveryChecker::damaged_now(facts);
        let segments = segments(before, &damaged);
        snapshots(before, &damaged).iter().any(|s| {
            s.offset == offset
                && s.is_whole()
                && connects(offset, &segments)
                && s.bound_to_log(&segments)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::layout::{log_dir, snapshots_dir};
    use crate::judge::test_disk;

    fn id_of(image: &DiskImage, path: &str) -> NodeId {
        image.file(path).unwrap_or_else(|| panic!("{path} not in {:?}", image.files.keys())).id
    }

    #[test]
    fn the_ways_left_follow_the_damage() {
        let (_, image, _) = test_disk::disk(60);
        let segments: Vec<String> = image.list(&log_dir());
        assert!(segments.len() >= 3, "several segments: {segments:?}");
        let snapshot_dirs = image.list(&snapshots_dir());
        assert!(snapshot_dirs.len() >= 2, "several snapshots: {snapshot_dirs:?}");
        let segment = |i: usize| id_of(&image, &format!("{}/{}", log_dir(), segments[i]));
        let none = BTreeSet::new();

        let way = intact_way(&image, &none, true).expect("an undamaged disk leaves every way");
        assert!(way.starts_with("the whole log"), "{way}");

        // The first segment damaged: the newest snapshot and the segments
        // after it are still a way, unless the engine ignores snapshots.
        let first = BTreeSet::from([segment(0)]);
        let way = intact_way(&image, &first, true).expect("snapshot + suffix");
        assert!(way.starts_with("snapshot="), "{way}");
        assert_eq!(intact_way(&image, &first, false), None);

        // The last segment damaged: every way goes through it.
        let last = BTreeSet::from([segment(segments.len() - 1)]);
        assert_eq!(intact_way(&image, &last, true), None);

        // The newest snapshot's manifest damaged as well as the first
        // segment: an older snapshot whose suffix is whole is a way.
        let newest = snapshot_dirs.iter().rev().find(|d| !d.ends_with(".tmp")).unwrap();
        let manifest = id_of(&image, &format!("{}/{newest}/manifest", snapshots_dir()));
        let both = BTreeSet::from([segment(0), manifest]);
        let way = intact_way(&image, &both, true).expect("an older snapshot");
        assert!(
            way.starts_with("snapshot=")
                && !way.contains(&format!("snapshot={}", newest.trim_start_matches('0'))),
            "{way}"
        );
    }
}
