//! `incremental_snapshots`: long incremental chains (a full snapshot, then
//! incrementals that write only changed pages and refer to the rest, then a
//! compaction when the chain reaches its bound), with fsync errors, short
//! writes and torn writes aimed at snapshot persists as much as at the log,
//! and for half the seeds bit flips on read, which hit the snapshot files
//! an open reads. Every recovery must equal a full replay where one is
//! possible.

use faultline_sim::{FaultClass, FaultConfig, Seed, Stream};
use rand::RngExt;

use super::snapshotting::with_snapshots;
use crate::plan::{Plan, PlanError, draw_crashes, draw_options};
use crate::workload::WorkloadShape;

/// One line on what it exercises.
pub(crate) const SUMMARY: &str = "incremental chains and their compaction under write, fsync, torn-write and read bit-flip faults";

/// The plan for `seed` (see the module documentation).
pub(crate) fn plan(seed: Seed) -> Result<Plan, PlanError> {
    let mut rng = seed.rng(Stream::Workload);
    let mut options = draw_options(&mut rng);
    options.snapshots.every_txs = rng.random_range(2..=8);
    options.snapshots.chain_max = rng.random_range(2..=6);
    options.snapshots.retain = rng.random_range(2..=4);
    options.snapshots.remove_old_segments = rng.random_bool(0.3);
    let workload = WorkloadShape {
        clients: rng.random_range(1..=3),
        txs_per_client: rng.random_range(15..=35),
        ..WorkloadShape::default()
    };
    let mut crash_rng = seed.rng(Stream::CrashPoints);
    let crashes = draw_crashes(&mut crash_rng, rng.random_range(1..=2), 500, 250, 0.5);
    // Half the seeds also flip bits on read (a latent sector error): the
    // snapshot files read at open must be checked, never trusted.
    let bit_flips = if rng.random_bool(0.5) { 0.02 } else { 0.0 };
    let faults = FaultConfig::none()
        .with(FaultClass::FsyncError, 0.004)
        .with(FaultClass::ShortWrite, 0.004)
        .with(FaultClass::TornWrite, 0.5)
        .with(FaultClass::ReadBitFlip, bit_flips);
    let plan = Plan::builder(seed).options(options).faults(faults).workload(workload);
    with_snapshots(plan.crashes(crashes), 8).build()
}
