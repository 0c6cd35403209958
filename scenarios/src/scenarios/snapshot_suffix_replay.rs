//! `snapshot_suffix_replay`: snapshots every few transactions while clients
//! commit; crashes at random times and mutation points. Every recovery
//! restores the newest valid snapshot and replays the log suffix, and must
//! equal opening from the whole log (kept whole here: old segments are
//! never removed) as well as the model.

use faultline_sim::{Seed, Stream};
use rand::RngExt;

use super::snapshotting::with_snapshots;
use crate::plan::{Plan, PlanError, draw_crashes, draw_options};
use crate::workload::WorkloadShape;

/// One line on what it exercises.
pub(crate) const SUMMARY: &str =
    "restore the newest snapshot + replay the suffix = open from the whole log = the model";

/// The plan for `seed` (see the module documentation).
pub(crate) fn plan(seed: Seed) -> Result<Plan, PlanError> {
    let mut rng = seed.rng(Stream::Workload);
    let mut options = draw_options(&mut rng);
    options.snapshots.every_txs = rng.random_range(3..=20);
    options.snapshots.on_rotation = rng.random_bool(0.5);
    options.snapshots.chain_max = rng.random_range(0..=4);
    options.snapshots.retain = rng.random_range(1..=3);
    options.snapshots.remove_old_segments = false;
    let workload = WorkloadShape {
        clients: rng.random_range(1..=3),
        txs_per_client: rng.random_range(10..=30),
        ..WorkloadShape::default()
    };
    let mut crash_rng = seed.rng(Stream::CrashPoints);
    let crashes = draw_crashes(&mut crash_rng, rng.random_range(1..=3), 400, 200, 0.5);
    let plan = Plan::builder(seed).options(options).workload(workload);
    with_snapshots(plan.crashes(crashes), 20).build()
}
