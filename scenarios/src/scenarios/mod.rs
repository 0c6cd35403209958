//! The built-in scenarios, one file each: a module doc saying what it
//! exercises, a `SUMMARY` and a `plan` function. To add one: write
//! `my_scenario.rs` here, then add its `mod` line and one line to
//! [`builtin`]. (A scenario outside this crate implements
//! [`crate::Scenario`] itself and is registered with
//! [`crate::Registry::register`].)

mod bootstrap_from_history;
mod crash_during_snapshot;
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

use crate::plan::{Plan, PlanError};
use crate::scenario::Scenario;

/// A built-in scenario: its name, summary and plan function.
#[derive(Debug)]
struct BuiltIn {
    name: &'static str,
    summary: &'static str,
    plan: fn(Seed) -> Result<Plan, PlanError>,
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
}

fn built_in(
    name: &'static str,
    summary: &'static str,
    plan: fn(Seed) -> Result<Plan, PlanError>,
) -> Arc<dyn Scenario> {
    Arc::new(BuiltIn { name, summary, plan })
}

/// Every built-in scenario, in the order `faultline list` shows them.
pub(crate) fn builtin() -> Vec<Arc<dyn Scenario>> {
    use self::{
        bootstrap_from_history as bootstrap, crash_during_snapshot as crash_snapshot,
        incremental_snapshots as incremental, rotation_snapshots as rotation,
        snapshot_suffix_replay as suffix,
    };
    vec![
        built_in("bootstrap_from_history", bootstrap::SUMMARY, bootstrap::plan),
        built_in("poisoned_writes", poisoned_writes::SUMMARY, poisoned_writes::plan),
        built_in("torn_tail", torn_tail::SUMMARY, torn_tail::plan),
        built_in("snapshot_suffix_replay", suffix::SUMMARY, suffix::plan),
        built_in("rotation_snapshots", rotation::SUMMARY, rotation::plan),
        built_in("crash_during_snapshot", crash_snapshot::SUMMARY, crash_snapshot::plan),
        built_in("incremental_snapshots", incremental::SUMMARY, incremental::plan),
        built_in("mvcc_reads", mvcc_reads::SUMMARY, mvcc_reads::plan),
        built_in("swarm", swarm::SUMMARY, swarm::plan),
    ]
}
