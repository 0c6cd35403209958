//! `rotation_snapshots`: small segments, so the log rotates often, and a
//! snapshot after every rotation (the every-N policy is out of reach);
//! retention keeps one or two snapshots and the segments below the oldest
//! are removed, so recovery must come from a snapshot. Crashes at random
//! times and mutation points, torn writes at power loss.

use faultline_sim::{FaultClass, FaultConfig, Seed, Stream};
use rand::RngExt;

use super::snapshotting::with_snapshots;
use crate::plan::{Plan, PlanError, draw_crashes, draw_options, pick};
use crate::workload::WorkloadShape;

/// One line on what it exercises.
pub(crate) const SUMMARY: &str =
    "a snapshot on every segment rotation; old segments removed behind durable snapshots";

/// The plan for `seed` (see the module documentation).
pub(crate) fn plan(seed: Seed) -> Result<Plan, PlanError> {
    let mut rng = seed.rng(Stream::Workload);
    let mut options = draw_options(&mut rng);
    options.log.max_segment_size = *pick(&mut rng, &[4 << 10, 6 << 10, 8 << 10]);
    options.snapshots.every_txs = 1_000_000;
    options.snapshots.on_rotation = true;
    options.snapshots.retain = rng.random_range(1..=2);
    options.snapshots.chain_max = rng.random_range(0..=3);
    options.snapshots.remove_old_segments = true;
    let workload = WorkloadShape {
        clients: rng.random_range(1..=3),
        txs_per_client: rng.random_range(20..=40),
        ..WorkloadShape::default()
    };
    let mut crash_rng = seed.rng(Stream::CrashPoints);
    let crashes = draw_crashes(&mut crash_rng, rng.random_range(1..=3), 600, 250, 0.6);
    let faults = FaultConfig::none().with(FaultClass::TornWrite, 0.5);
    let plan = Plan::builder(seed).options(options).faults(faults).workload(workload);
    with_snapshots(plan.crashes(crashes), 10).build()
}
