//! `mvcc_reads`: `read_at(t)` at random retained offsets equals the model
//! at `t`, while clients commit, after every recovery, and at the edges of
//! the retention window (just outside it is an error, never a guess).
//!
//! Retention windows are short so that reads fall off their edge; many
//! transactions are held across a wait, so conflicts are frequent. Process
//! crashes and power losses at random times; no other fault.

use faultline_sim::{Seed, Stream};
use rand::RngExt;

use crate::plan::{Plan, PlanError, draw_crashes, draw_options, pick};
use crate::workload::WorkloadShape;

/// One line on what it exercises.
pub(crate) const SUMMARY: &str =
    "read_at(t) at random retained offsets equals the model at t, live and after recovery";

/// The plan for `seed` (see the module documentation).
pub(crate) fn plan(seed: Seed) -> Result<Plan, PlanError> {
    let mut rng = seed.rng(Stream::Workload);
    let mut options = draw_options(&mut rng);
    options.versions_retained = *pick(&mut rng, &[2, 4, 16, 64]);
    let workload = WorkloadShape {
        clients: rng.random_range(1..=4),
        txs_per_client: rng.random_range(10..=25),
        hold_percent: rng.random_range(20..=50),
        readers: rng.random_range(1..=3),
        reads_per_reader: rng.random_range(10..=30),
        ..WorkloadShape::default()
    };
    let mut crash_rng = seed.rng(Stream::CrashPoints);
    let crashes = draw_crashes(&mut crash_rng, rng.random_range(1..=2), 200, 150, 0.5);
    Plan::builder(seed).options(options).workload(workload).crashes(crashes).read_checks(16).build()
}
