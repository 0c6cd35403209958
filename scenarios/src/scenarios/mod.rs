//! The built-in scenarios. To add one: write `my_scenario.rs` here with a
//! type implementing [`crate::Scenario`], then add its `mod` line and one
//! line to [`builtin`].

mod bootstrap_from_history;
mod crash_during_snapshot;
mod incremental_snapshots;
mod mvcc_reads;
mod poisoned_writes;
mod rotation_snapshots;
mod snapshot_suffix_replay;
mod snapshotting;
mod swarm;
mod torn_tail;

use std::sync::Arc;

use crate::scenario::Scenario;

/// Every built-in scenario, in the order `faultline list` shows them.
pub(crate) fn builtin() -> Vec<Arc<dyn Scenario>> {
    vec![
        Arc::new(bootstrap_from_history::BootstrapFromHistory),
        Arc::new(poisoned_writes::PoisonedWrites),
        Arc::new(torn_tail::TornTail),
        Arc::new(snapshot_suffix_replay::SnapshotSuffixReplay),
        Arc::new(rotation_snapshots::RotationSnapshots),
        Arc::new(crash_during_snapshot::CrashDuringSnapshot),
        Arc::new(incremental_snapshots::IncrementalSnapshots),
        Arc::new(mvcc_reads::MvccReads),
        Arc::new(swarm::Swarm),
    ]
}
