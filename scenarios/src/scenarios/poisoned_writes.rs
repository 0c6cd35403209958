//! `poisoned_writes`: write errors, short writes, fsync errors and a full
//! disk during durability steps.
//!
//! Each failed write or sync must make the engine panic with the poison
//! message before it acknowledges anything more, without touching the
//! filesystem again, not even while the process unwinds; the runner drops
//! the database, takes the process down (a power loss or a process crash)
//! and recovers. Recovery runs fault-free. The judge checks, at every
//! durability step, that a failed call poisons (never returns), that the
//! durable offset did not move, and that nothing was retried or written
//! after the failure.

use faultline_sim::{FaultClass, FaultConfig, Seed, Stream};
use rand::RngExt;

use crate::plan::{Plan, PlanError, draw_crashes, draw_options, pick};
use crate::workload::WorkloadShape;

/// One line on what it exercises.
pub(crate) const SUMMARY: &str =
    "write/short-write/fsync errors and ENOSPC in durability steps must poison, never ack";

/// The plan for `seed` (see the module documentation).
pub(crate) fn plan(seed: Seed) -> Result<Plan, PlanError> {
    let mut rng = seed.rng(Stream::Workload);
    let mut mix = seed.rng(Stream::FaultMix);
    let mut options = draw_options(&mut rng);
    // Unbuffered appends make every commit a write of its own.
    options.log.write_buffer_size = *pick(&mut rng, &[0, 0, 512, 64 << 10]);
    let mut faults = FaultConfig::none();
    for class in [FaultClass::WriteError, FaultClass::ShortWrite, FaultClass::FsyncError] {
        if mix.random_bool(0.7) {
            faults = faults.with(class, 10f64.powf(mix.random_range(-2.5..-1.2)));
        }
    }
    if mix.random_bool(0.3) {
        // A run writes some tens of KiB (segments, and the copy each open
        // makes of the last one): a small quota fills up mid-run.
        faults = faults.with_no_space_quota(mix.random_range(12u64 << 10..=96 << 10));
    }
    let workload = WorkloadShape {
        clients: rng.random_range(1..=3),
        txs_per_client: rng.random_range(8..=20),
        wait_ack_percent: 50,
        ..WorkloadShape::default()
    };
    let incarnations = rng.random_range(4..=8);
    let mut crash_rng = seed.rng(Stream::CrashPoints);
    let crashes = draw_crashes(&mut crash_rng, rng.random_range(0..=2), 100, 100, 0.5);
    Plan::builder(seed)
        .options(options)
        .faults(faults)
        .workload(workload)
        .restarts(incarnations - 1 - crashes.len())
        .crashes(crashes)
        .build()
}
