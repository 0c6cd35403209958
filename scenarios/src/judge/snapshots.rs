//! Snapshots: where both are possible, restoring the newest snapshot and
//! replaying the log suffix gives the state opening from the whole log
//! gives. A differential check between two of the engine's own open paths,
//! both through the public `Database` API: after every recovery that
//! restored a snapshot, a copy of the disk (the page cache, on a second,
//! fault-free machine) is opened with `restore_on_open` off, and the two
//! dumps must agree. Registered with the snapshot engine task
//! ([`crate::plan::Plan::engine_task`]).

use std::path::Path;
use std::sync::Arc;

use faultline_engine::Database;
use faultline_sim::View;

use super::layout::segments;
use super::{Checker, Facts, Invariant, RunEvent, Violation};
use crate::model;
use crate::runner::ROOT;

/// See the module documentation.
#[derive(Debug, Default)]
pub struct SnapshotChecker;

impl Checker for SnapshotChecker {
    fn name(&self) -> &str {
        "snapshots"
    }

    fn observe(&mut self, event: &RunEvent<'_>, facts: &Facts<'_>) -> Result<(), Violation> {
        let RunEvent::Opened { db, report } = event else { return Ok(()) };
        let (Some(restored), Some(disk)) = (report.restored_from, facts.disk) else {
            return Ok(());
        };
        let image = disk.image(View::Volatile);
        let segments = segments(&image, &Default::default());
        // Only where both are possible: the whole log is there, undamaged.
        if segments.first().is_none_or(|s| s.name_offset != 0) || segments.iter().any(|s| s.damaged)
        {
            return Ok(());
        }
        // A lying fsync voids every ordering the engine relies on: segment
        // removals may then have reached the disk in any subset, leaving a
        // hole, and the whole log is not there. Without one, a hole is the
        // engine's, and the open from the whole log below names it.
        let hole = segments
            .windows(2)
            .any(|w| w[0].summary.next_offset().unwrap_or(w[0].name_offset) != w[1].name_offset);
        if hole && facts.faults.voided {
            return Ok(());
        }
        let mut options = facts.plan.options.clone();
        options.snapshots.restore_on_open = false;
        let copy = Arc::new(disk.fork());
        let mismatch = |detail: String| {
            Violation::new(
                Invariant::SNAPSHOT_REPLAY_MISMATCH,
                format!("restored-from={restored} offset={:?}: {detail}", db.latest().offset()),
            )
        };
        let (whole, _) = Database::open(copy, Path::new(ROOT), options)
            .map_err(|error| mismatch(format!("opening from the whole log failed: {error}")))?;
        let served = model::dump_of(db.latest().dump()).map_err(mismatch)?;
        let replayed = model::dump_of(whole.latest().dump()).map_err(mismatch)?;
        match model::diff(&replayed, &served) {
            None => Ok(()),
            Some(diff) => Err(mismatch(format!(
                "the whole log opens to another state (expected = whole log, actual = served): {}",
                diff.text
            ))),
        }
    }
}
