//! faultline's scenarios, the oracle that judges them, the runner that
//! drives them on the simulated runtime, the shrinker, and the sweep behind
//! the `faultline` CLI.
//!
//! - A [`Scenario`] says, for a seed, what the clients do, which faults
//!   fire, where the process crashes and what to check ([`Plan`]).
//! - The [`runner`] drives it on madsim's deterministic runtime against the
//!   simulated filesystem, catching the engine's poisoned-write panic as a
//!   crash, and judges every recovery with the [`model`] (the oracle).
//! - Every run yields a [`RunReport`]: an [`Outcome`], a trace and its hash
//!   (same seed, same hash), the fault and crash decisions it made (a
//!   [`Schedule`]) and counters.
//! - [`shrink()`] minimises a failing run's schedule; [`exhaust()`] crashes a
//!   bounded workload at every crash point; [`sweep()`] runs many seeds on
//!   several threads.
//!
//! ```
//! use faultline_scenarios::{Registry, RunConfig, run};
//! use faultline_sim::Seed;
//!
//! let registry = Registry::builtin();
//! let scenario = registry.get("torn_tail").unwrap();
//! let report = run(scenario.as_ref(), Seed(7), &RunConfig::default());
//! let again = run(scenario.as_ref(), Seed(7), &RunConfig::default());
//! assert_eq!(report.trace_hash, again.trace_hash, "same seed, same run");
//! println!("{} {}", report.outcome.label(), report.repro_command());
//! ```

pub mod corpus;
mod exhaust;
pub mod model;
mod outcome;
mod panics;
pub mod report;
pub mod runner;
mod runtime;
mod scenario;
mod scenarios;
mod schedule;
mod shrink;
mod sweep;
mod tap;
mod trace;
pub mod workload;

pub use exhaust::{ExhaustReport, exhaust};
pub use model::{Invariant, Violation};
pub use outcome::{Failure, FailureKind, Outcome, RunReport, RunStats, repro_command};
pub use panics::POISON_PREFIX;
pub use runner::{Backend, RunConfig, RunMode, run, run_checking_determinism};
pub use scenario::{
    EngineTask, Plan, PlannedCrash, RecoveryContext, Registry, Scenario, TaskStep, draw_crashes,
    draw_options, first_open_mutations, pick,
};
pub use schedule::{CrashTrigger, Decision, PinnedFault, Schedule, crash_mode_name};
pub use shrink::{ShrinkReport, shrink};
pub use sweep::{Case, CaseResult, Cases, Shard, SweepConfig, SweepReport, cases, sweep};
pub use trace::{Divergence, Trace, TraceEvent};
