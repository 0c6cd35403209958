//! faultline's scenarios, the judge that checks them, the runner that
//! drives them on the simulated runtime, the shrinker, and the sweep behind
//! the `faultline` CLI.
//!
//! - A [`Scenario`] builds, for a seed, a [`Plan`]: engine options, faults,
//!   the workload and its generator, crashes, engine tasks and the checks
//!   they bring.
//! - The [`runner`] drives it on madsim's deterministic runtime against the
//!   simulated filesystem (which alone decides and applies every fault and
//!   crash), catching the engine's poisoned-write panic as a crash, and
//!   reports every event to the [`judge`], which checks it against the
//!   [`model`] (the oracle, computed from the workload alone) and the disk
//!   image.
//! - Every run yields a [`RunReport`]: an [`Outcome`], a trace and its hash
//!   (same seed, same hash), the fault and crash decisions it made (a
//!   [`Schedule`], which replays pinned to the same hash) and counters.
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

mod case_log;
pub mod cli;
pub mod corpus;
pub mod coverage;
mod exhaust;
pub mod fuzzing;
pub mod hostile_history;
pub mod judge;
pub mod model;
mod outcome;
mod panics;
pub mod plan;
pub mod regress;
pub mod report;
pub mod runner;
mod runtime;
mod scenario;
mod scenarios;
pub mod script;
mod shrink;
pub mod supervise;
mod sweep;
pub mod timeline;
mod trace;
pub mod workload;

pub use case_log::CaseLog;
pub use exhaust::{ExhaustReport, StrikeReport, exhaust, exhaust_strikes};
pub use faultline_sim::{CrashTrigger, Decision, PinnedFault, Schedule};
pub use judge::{Checker, Facts, Invariant, RunEvent, Violation};
pub use outcome::{Failure, FailureKind, Outcome, RunReport, RunStats, repro_command};
pub use panics::POISON_PREFIX;
pub use plan::{
    EngineTask, Plan, PlanBuilder, PlanError, PlannedCrash, TaskStep, draw_crashes, draw_mode,
    draw_options, first_open_mutations, pick,
};
pub use runner::{Backend, RunConfig, RunMode, run, run_checking_determinism};
pub use scenario::{Registry, Scenario};
pub use scenarios::SnapshotTask;
pub use shrink::{CaseSize, ShrinkReport, shrink};
pub use supervise::{Isolation, WorkerSpec};
pub use sweep::{
    Case, CaseResult, Cases, Directed, Shard, SweepConfig, SweepReport, cases, focus_for, sweep,
};
pub use trace::{Divergence, Trace, TraceEvent};
pub use workload::{RandomTransactions, TxGenerator, TxOp, WorkloadShape};
