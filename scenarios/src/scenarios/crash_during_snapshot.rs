//! `crash_during_snapshot`: a snapshot after every couple of transactions,
//! so most filesystem mutations belong to a snapshot persist, and crash
//! points drawn densely over them: the machine goes down inside persists
//! (before, between and after the file syncs, the tmp-dir sync, the rename
//! and the parent sync), inside prunes and segment removals. Recovery must
//! leave no `*.tmp`, restore the previous or the new snapshot, and equal a
//! full replay where one is possible. Some seeds add a lying fsync (see
//! the plan).

use faultline_sim::{FaultClass, FaultConfig, Seed, Stream};
use rand::RngExt;

use super::snapshotting::with_snapshots;
use crate::plan::{Plan, PlanError, PlannedCrash, draw_mode, draw_options};
use crate::workload::WorkloadShape;

/// One line on what it exercises.
pub(crate) const SUMMARY: &str =
    "crashes at mutation points inside snapshot persists, prunes and segment removals";

/// The plan for `seed` (see the module documentation).
pub(crate) fn plan(seed: Seed) -> Result<Plan, PlanError> {
    let mut rng = seed.rng(Stream::Workload);
    let mut options = draw_options(&mut rng);
    options.snapshots.every_txs = rng.random_range(1..=3);
    options.snapshots.chain_max = rng.random_range(0..=3);
    options.snapshots.retain = rng.random_range(1..=2);
    // A third of the seeds also get a lying fsync: durability is void
    // then (the judge checks consistency only), and a snapshot can end
    // up newer than the log that survived, which must never be used.
    // The log is kept whole for them, so that a consistent state is
    // always there to recover.
    let lying = rng.random_bool(0.3);
    options.snapshots.remove_old_segments = !lying && rng.random_bool(0.5);
    let workload = WorkloadShape {
        clients: rng.random_range(1..=2),
        txs_per_client: rng.random_range(8..=20),
        ..WorkloadShape::default()
    };
    let mut crash_rng = seed.rng(Stream::CrashPoints);
    let crashes: Vec<PlannedCrash> = (0..rng.random_range(2..=4))
        .map(|_| {
            let mode = draw_mode(&mut crash_rng, 0.7);
            PlannedCrash::AtMutation { n: crash_rng.random_range(10..=300), mode }
        })
        .collect();
    let faults = FaultConfig::none()
        .with(FaultClass::TornWrite, 0.5)
        .with(FaultClass::LyingFsync, if lying { 0.5 } else { 0.0 });
    let plan = Plan::builder(seed).options(options).faults(faults).workload(workload);
    with_snapshots(plan.crashes(crashes), 3).build()
}
