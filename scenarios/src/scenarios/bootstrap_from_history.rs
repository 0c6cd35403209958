//! `bootstrap_from_history`: crashes everywhere, the first open included;
//! every open rebuilds the database from its own history.
//!
//! The workload is heavy on schema changes (tables created, dropped and
//! created again under the same names with other columns), so replay must
//! rebuild every schema from the system rows as it goes. The first planned
//! crash strikes inside the very first open (before, during or after the
//! bootstrap transaction is made durable); later ones inside a recovery
//! open or in the middle of the workload; power losses and process crashes
//! alike. No other fault.

use faultline_sim::{Seed, Stream};
use rand::RngExt;

use crate::plan::{
    Plan, PlanError, PlannedCrash, draw_crashes, draw_mode, draw_options, first_open_mutations,
};
use crate::workload::WorkloadShape;

/// One line on what it exercises.
pub(crate) const SUMMARY: &str =
    "crashes inside the first open and later opens; recovery replays DDL-heavy history";

/// The plan for `seed` (see the module documentation).
pub(crate) fn plan(seed: Seed) -> Result<Plan, PlanError> {
    let mut rng = seed.rng(Stream::Workload);
    let mut crash_rng = seed.rng(Stream::CrashPoints);
    let options = draw_options(&mut rng);
    let workload = WorkloadShape {
        clients: rng.random_range(1..=3),
        txs_per_client: rng.random_range(6..=16),
        ddl_percent: rng.random_range(15..=40),
        tables_max: 4,
        ..WorkloadShape::default()
    };
    let open_mutations = first_open_mutations(&options);
    let inside_open = |rng: &mut faultline_sim::SimRng| PlannedCrash::AtMutation {
        n: rng.random_range(1..=open_mutations),
        mode: draw_mode(rng, 0.6),
    };
    let mut crashes = vec![inside_open(&mut crash_rng)];
    for _ in 0..crash_rng.random_range(1..=4) {
        // Inside the recovery open (it reads, repairs, rewrites), or in
        // the workload.
        let crash = if crash_rng.random_bool(0.4) {
            inside_open(&mut crash_rng)
        } else {
            draw_crashes(&mut crash_rng, 1, 200, 150, 0.6)[0]
        };
        crashes.push(crash);
    }
    Plan::builder(seed).options(options).workload(workload).crashes(crashes).read_checks(8).build()
}
