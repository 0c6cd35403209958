//! `hostile_requests`: clients send what a careless client sends, and the
//! engine refuses each with a clear error and keeps nothing of it.
//!
//! A third to a half of the transactions carry one bad request: a row
//! over the page limit, a value of the wrong type, a row of the wrong
//! width, a write to a table that does not exist or was dropped, a second
//! table with a live name, a malformed table, a drop of or a write to a
//! system table, a delete of a missing row, a second insert of a row; or
//! the transaction is too large for any commit. After a refused
//! operation the client gives up on the transaction or goes on with the
//! rest of it. The judge checks that the engine refuses exactly what the
//! model refuses, and that a transaction given up on used no offset, left
//! nothing visible in the latest state or in `read_at`, and queued
//! nothing for durability; a transaction that went on commits exactly
//! its accepted operations. Crashes at random points; no other fault.

use faultline_sim::{Seed, Stream};
use rand::RngExt;

use crate::plan::{Plan, PlanError, draw_crashes, draw_options};
use crate::workload::WorkloadShape;

/// One line on what it exercises.
pub(crate) const SUMMARY: &str =
    "careless requests are refused with a clear error and leave no offset, row or queued commit";

/// The plan for `seed` (see the module documentation).
pub(crate) fn plan(seed: Seed) -> Result<Plan, PlanError> {
    let mut rng = seed.rng(Stream::Workload);
    let options = draw_options(&mut rng);
    let workload = WorkloadShape {
        clients: rng.random_range(1..=3),
        txs_per_client: rng.random_range(10..=25),
        ddl_percent: rng.random_range(5..=20),
        hostile_percent: rng.random_range(30..=50),
        readers: 1,
        reads_per_reader: rng.random_range(5..=15),
        ..WorkloadShape::default()
    };
    let mut crash_rng = seed.rng(Stream::CrashPoints);
    let crashes = draw_crashes(&mut crash_rng, rng.random_range(0..=2), 200, 150, 0.5);
    Plan::builder(seed).options(options).workload(workload).crashes(crashes).read_checks(8).build()
}
