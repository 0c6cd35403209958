//! What the snapshot scenarios share: the engine task that takes snapshots
//! while clients commit, registered together with the check it brings
//! (snapshot + suffix must open to the state the whole log opens to:
//! [`SnapshotChecker`]).

use std::sync::Arc;
use std::time::Duration;

use faultline_engine::Database;
use faultline_sim::SimRng;
use rand::RngExt;

use crate::judge::{Checker, SnapshotChecker, Violation};
use crate::plan::{EngineTask, PlanBuilder, TaskStep};

/// Calls `Database::snapshot_step` every few simulated milliseconds. A
/// snapshot that fails is reported as such: the judge accepts it only if a
/// fault fired or a crash struck during the step, and the recovery checks
/// judge what it left behind.
#[derive(Debug)]
pub struct SnapshotTask {
    interval_ms_max: u64,
}

impl SnapshotTask {
    /// A task stepping every 1 to `interval_ms_max` (at least 1) simulated
    /// milliseconds. Registered alone it brings no check;
    /// the built-in scenarios register it with [`SnapshotChecker`].
    pub fn new(interval_ms_max: u64) -> Self {
        assert!(interval_ms_max >= 1, "a snapshot task steps at least every millisecond");
        SnapshotTask { interval_ms_max }
    }
}

impl EngineTask for SnapshotTask {
    fn name(&self) -> &str {
        "snapshot"
    }

    fn interval(&mut self, rng: &mut SimRng) -> Duration {
        Duration::from_millis(rng.random_range(1..=self.interval_ms_max))
    }

    fn step(&mut self, db: &mut Database) -> Result<TaskStep, Violation> {
        Ok(match db.snapshot_step() {
            Ok(Some(offset)) => {
                let kind = db.last_snapshot().map(|m| format!("{:?}", m.kind)).unwrap_or_default();
                TaskStep::Done(format!("snapshot offset={offset} kind={kind}"))
            }
            Ok(None) => TaskStep::Idle,
            Err(error) => TaskStep::Failed(format!("snapshot failed: {error}")),
        })
    }
}

/// Adds the snapshot task, stepping every 1 to `interval_ms_max` simulated
/// milliseconds, and its check.
pub(crate) fn with_snapshots(builder: PlanBuilder, interval_ms_max: u64) -> PlanBuilder {
    builder.engine_task(
        "snapshot",
        move || Box::new(SnapshotTask::new(interval_ms_max)),
        Some(Arc::new(|| Box::new(SnapshotChecker) as Box<dyn Checker>)),
    )
}
