//! The built-in scenarios, one file each: a module doc saying what it
//! exercises, a `SUMMARY` and a `plan` function. To add one: write
//! `my_scenario.rs` here, then add its `mod` line and one line to
//! [`builtin`]. (A scenario outside this crate implements
//! [`crate::Scenario`] itself and is registered with
//! [`crate::Registry::register`].)

mod bootstrap_from_history;
mod crash_during_snapshot;
mod hostile_requests;
mod incremental_snapshots;
mod mvcc_reads;
mod poisoned_writes;
mod rotation_snapshots;
mod snapshot_suffix_replay;
mod snapshotting;

pub use snapshotting::SnapshotTask;
mod swarm;
mod torn_tail;

use std::sync::Arc;

use faultline_sim::Seed;

use crate::coverage::Situation;
use crate::coverage::situations::{
    CRASH_BETWEEN_RENAME_AND_PARENT_SYNC, CRASH_BETWEEN_WRITE_AND_SYNC, CRASH_DURING_OPEN_REWRITE,
    CRASH_DURING_SEGMENT_REMOVAL, POWER_LOSS_IN_ROTATION, SEGMENT_DIR_SYNC_LOST,
    SNAPSHOT_PARENT_DIR_SYNC_LOST, SNAPSHOT_TMP_DIR_SYNC_LOST, TORN_COMMIT, WRITE_ERROR_IN_COMMIT,
};
use crate::plan::{Plan, PlanError};
use crate::scenario::Scenario;

/// A built-in scenario: its name, summary and plan function.
#[derive(Debug)]
struct BuiltIn {
    name: &'static str,
    summary: &'static str,
    plan: fn(Seed) -> Result<Plan, PlanError>,
    must_reach: &'static [Situation],
}

impl Scenario for BuiltIn {
    fn name(&self) -> &str {
        self.name
    }

    fn summary(&self) -> &str {
        self.summary
    }

    fn plan(&self, seed: Seed) -> Result<Plan, PlanError> {
        (self.plan)(seed)
    }

    fn must_reach(&self) -> Vec<Situation> {
        self.must_reach.to_vec()
    }
}

fn built_in(
    name: &'static str,
    summary: &'static str,
    plan: fn(Seed) -> Result<Plan, PlanError>,
    must_reach: &'static [Situation],
) -> Arc<dyn Scenario> {
    Arc::new(BuiltIn { name, summary, plan, must_reach })
}

// What each scenario must reach in a nightly sweep (`ci/nightly.sh`
// fails naming one never reached): the situations it exists to exercise.
const SWARM: &[Situation] = &[
    CRASH_BETWEEN_WRITE_AND_SYNC,
    POWER_LOSS_IN_ROTATION,
    TORN_COMMIT,
    SEGMENT_DIR_SYNC_LOST,
    WRITE_ERROR_IN_COMMIT,
    CRASH_DURING_OPEN_REWRITE,
];
const TORN_TAIL: &[Situation] =
    &[TORN_COMMIT, CRASH_BETWEEN_WRITE_AND_SYNC, POWER_LOSS_IN_ROTATION];
const POISONED: &[Situation] =
    &[WRITE_ERROR_IN_COMMIT, SEGMENT_DIR_SYNC_LOST, CRASH_BETWEEN_WRITE_AND_SYNC];
const INCREMENTAL: &[Situation] = &[
    SNAPSHOT_TMP_DIR_SYNC_LOST,
    SNAPSHOT_PARENT_DIR_SYNC_LOST,
    CRASH_BETWEEN_RENAME_AND_PARENT_SYNC,
    SEGMENT_DIR_SYNC_LOST,
];
const CRASH_SNAPSHOT: &[Situation] = &[CRASH_BETWEEN_RENAME_AND_PARENT_SYNC, TORN_COMMIT];
const ROTATION: &[Situation] =
    &[POWER_LOSS_IN_ROTATION, CRASH_DURING_SEGMENT_REMOVAL, CRASH_BETWEEN_RENAME_AND_PARENT_SYNC];
const SUFFIX: &[Situation] = &[CRASH_BETWEEN_RENAME_AND_PARENT_SYNC, POWER_LOSS_IN_ROTATION];
const BOOTSTRAP: &[Situation] =
    &[CRASH_BETWEEN_WRITE_AND_SYNC, CRASH_DURING_OPEN_REWRITE, POWER_LOSS_IN_ROTATION];
const MVCC: &[Situation] = &[CRASH_BETWEEN_WRITE_AND_SYNC];
const HOSTILE: &[Situation] = &[CRASH_BETWEEN_WRITE_AND_SYNC];

/// Every built-in scenario, in the order `faultline list` shows them.
pub(crate) fn builtin() -> Vec<Arc<dyn Scenario>> {
    use self::{
        bootstrap_from_history as bootstrap, crash_during_snapshot as crash_snapshot,
        incremental_snapshots as incremental, rotation_snapshots as rotation,
        snapshot_suffix_replay as suffix,
    };
    vec![
        built_in("bootstrap_from_history", bootstrap::SUMMARY, bootstrap::plan, BOOTSTRAP),
        built_in("poisoned_writes", poisoned_writes::SUMMARY, poisoned_writes::plan, POISONED),
        built_in("torn_tail", torn_tail::SUMMARY, torn_tail::plan, TORN_TAIL),
        built_in("snapshot_suffix_replay", suffix::SUMMARY, suffix::plan, SUFFIX),
        built_in("rotation_snapshots", rotation::SUMMARY, rotation::plan, ROTATION),
        built_in(
            "crash_during_snapshot",
            crash_snapshot::SUMMARY,
            crash_snapshot::plan,
            CRASH_SNAPSHOT,
        ),
        built_in("incremental_snapshots", incremental::SUMMARY, incremental::plan, INCREMENTAL),
        built_in("mvcc_reads", mvcc_reads::SUMMARY, mvcc_reads::plan, MVCC),
        built_in("hostile_requests", hostile_requests::SUMMARY, hostile_requests::plan, HOSTILE),
        built_in("swarm", swarm::SUMMARY, swarm::plan, SWARM),
        Arc::new(crate::hostile_history::HostileHistoryScenario),
    ]
}
