//! `swarm`: everything at once, in a mix the seed draws (swarm testing).
//!
//! The seed draws the fault mix (`FaultConfig::swarm`: each class on or
//! off, each at its own rate; never a lying fsync), whether faults stay on
//! while the database recovers, the filesystem profile they strike on,
//! the engine's options, the workload's shape and the crash plan. Faults that damage bytes on the device (bit flips,
//! misdirected writes) put the run under the damage rule: recover the
//! right state, or refuse to open naming the place when no undamaged way
//! to the acknowledged state is left.

use faultline_sim::{FaultConfig, FsProfile, Seed, Stream};
use rand::RngExt;

use crate::plan::{Plan, PlanError, draw_crashes, draw_options};
use crate::workload::WorkloadShape;

/// One line on what it exercises.
pub(crate) const SUMMARY: &str =
    "the seed draws the fault mix, the workload shape and the crash plan";

/// The plan for `seed` (see the module documentation).
pub(crate) fn plan(seed: Seed) -> Result<Plan, PlanError> {
    let mut rng = seed.rng(Stream::Workload);
    let mut mix = seed.rng(Stream::FaultMix);
    let faults = FaultConfig::swarm(&mut mix);
    let recovery_faults = mix.random_bool(0.5);
    let fs_profile = FsProfile::draw(&mut mix);
    let options = draw_options(&mut rng);
    let workload = WorkloadShape::draw(&mut rng);
    let mut crash_rng = seed.rng(Stream::CrashPoints);
    let n_crashes = crash_rng.random_range(0..=4);
    let crashes = draw_crashes(&mut crash_rng, n_crashes, 300, 200, 0.6);
    Plan::builder(seed)
        .options(options)
        .faults(faults)
        .fs_profile(fs_profile)
        .recovery_faults(recovery_faults)
        .workload(workload)
        .crashes(crashes)
        .restarts(rng.random_range(0..=2))
        .read_checks(8)
        .build()
}
