//! `torn_tail`: power losses while commits are in flight, with torn writes.
//!
//! Commits are large (long values, several sectors each) and appends are
//! lightly buffered, so a power loss catches commits half-written; each
//! persisted write may tear at 512-byte sectors, the lost sectors holding
//! old bytes, zeros or garbage. Recovery must cut exactly the torn tail:
//! every acknowledged transaction stays, nothing past the last submitted
//! one appears, and the state is the model's at the recovered offset.

use faultline_sim::{CrashMode, FaultConfig, Seed, Stream, TornFill};
use rand::RngExt;

use crate::plan::{Plan, PlanError, PlannedCrash, draw_options, first_open_mutations, pick};
use crate::workload::WorkloadShape;

/// One line on what it exercises.
pub(crate) const SUMMARY: &str =
    "power loss with torn writes while commits are in flight; the tail is cut, acks survive";

/// The plan for `seed` (see the module documentation).
pub(crate) fn plan(seed: Seed) -> Result<Plan, PlanError> {
    let mut rng = seed.rng(Stream::Workload);
    let mut mix = seed.rng(Stream::FaultMix);
    let mut options = draw_options(&mut rng);
    options.log.write_buffer_size = *pick(&mut rng, &[0, 512, 4096]);
    let fill = loop {
        let fill = TornFill { old: mix.random(), zeros: mix.random(), garbage: mix.random() };
        if fill.old || fill.zeros || fill.garbage {
            break fill;
        }
    };
    let mut faults = FaultConfig::none().with_torn_fill(fill);
    faults.torn_write = mix.random_range(0.3..=1.0);
    let workload = WorkloadShape {
        clients: rng.random_range(2..=4),
        txs_per_client: rng.random_range(10..=25),
        value_len_max: *pick(&mut rng, &[300, 900]),
        ops_per_tx_max: 8,
        durability_interval_ms_max: rng.random_range(2..=10),
        ..WorkloadShape::default()
    };
    // A durability step writes and syncs without yielding, so a crash
    // at a simulated time finds nothing in flight: most crashes are
    // placed at mutations past the open, where about half land between
    // a commit's write and its sync.
    let open_mutations = first_open_mutations(&options);
    let mut crash_rng = seed.rng(Stream::CrashPoints);
    let crashes: Vec<PlannedCrash> = (0..crash_rng.random_range(2..=5))
        .map(|_| {
            if crash_rng.random_bool(0.2) {
                let ms = crash_rng.random_range(5..=120);
                PlannedCrash::AtTime { ms, mode: CrashMode::PowerLoss }
            } else {
                let n = open_mutations + crash_rng.random_range(1..=100);
                PlannedCrash::AtMutation { n, mode: CrashMode::PowerLoss }
            }
        })
        .collect();
    Plan::builder(seed)
        .options(options)
        .faults(faults)
        .workload(workload)
        .crashes(crashes)
        .power_loss_after_failure(1.0)
        .build()
}
