//! What a run produced: its outcome (passed, refused a damaged history as
//! allowed, or failed and how), its statistics, its trace hash.

use std::fmt;

use faultline_sim::{FaultCounts, Schedule, Seed};

use crate::judge::{Invariant, Violation};
use crate::scenario::Registry;
use crate::trace::Trace;

/// How a run failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FailureKind {
    /// The judge found a broken invariant.
    Invariant(Invariant),
    /// The scenario's plan could not be built or run.
    BadPlan,
    /// The engine (or the harness) panicked other than with the poison
    /// message.
    UnexpectedPanic,
    /// A step budget or the simulated-time budget ran out, or every task
    /// waited forever.
    Hang,
    /// A rerun of the same seed produced another trace.
    Nondeterminism,
    /// The case's worker process died under it (an abort, an allocation
    /// failure, a stack overflow, a signal): the sweep went on.
    HarnessAbort,
    /// The case ran past its wall-time limit (a loop that never yields to
    /// the simulated clock): its worker process was killed.
    WallTimeout,
}

impl FailureKind {
    /// A short, stable name: the invariant's name, or `bad-plan`,
    /// `unexpected-panic`, `hang`, `nondeterminism`, `harness-abort`,
    /// `wall-timeout`.
    pub fn name(self) -> &'static str {
        match self {
            FailureKind::Invariant(invariant) => invariant.name(),
            FailureKind::BadPlan => "bad-plan",
            FailureKind::UnexpectedPanic => "unexpected-panic",
            FailureKind::Hang => "hang",
            FailureKind::Nondeterminism => "nondeterminism",
            FailureKind::HarnessAbort => "harness-abort",
            FailureKind::WallTimeout => "wall-timeout",
        }
    }

    /// The kind named `name` (see [`FailureKind::name`]): a built-in
    /// invariant, or one a scenario of `registry` declares.
    pub fn from_name(name: &str, registry: &Registry) -> Option<FailureKind> {
        match name {
            "bad-plan" => Some(FailureKind::BadPlan),
            "unexpected-panic" => Some(FailureKind::UnexpectedPanic),
            "hang" => Some(FailureKind::Hang),
            "nondeterminism" => Some(FailureKind::Nondeterminism),
            "harness-abort" => Some(FailureKind::HarnessAbort),
            "wall-timeout" => Some(FailureKind::WallTimeout),
            other => registry.invariant(other).map(FailureKind::Invariant),
        }
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A failure: its kind, what was seen, and when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The kind.
    pub kind: FailureKind,
    /// What was seen.
    pub detail: String,
    /// Simulated nanoseconds into the run.
    pub at_ns: u64,
}

impl Failure {
    /// A failure from a broken invariant.
    pub fn from_violation(violation: Violation, at_ns: u64) -> Self {
        Failure {
            kind: FailureKind::Invariant(violation.invariant),
            detail: violation.detail,
            at_ns,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.detail)
    }
}

/// The outcome of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every check held.
    Passed,
    /// A fault damaged durable bytes and the engine refused to open with a
    /// corruption error that names the place: allowed (DESIGN 4). The run
    /// stops there.
    Refused {
        /// The error.
        error: String,
    },
    /// A check failed.
    Failed(Failure),
}

impl Outcome {
    /// Whether the run failed.
    pub fn is_failure(&self) -> bool {
        matches!(self, Outcome::Failed(_))
    }

    /// The failure, if any.
    pub fn failure(&self) -> Option<&Failure> {
        match self {
            Outcome::Failed(failure) => Some(failure),
            _ => None,
        }
    }

    /// `passed`, `refused` or the failure kind's name.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Refused { .. } => "refused",
            Outcome::Failed(failure) => failure.kind.name(),
        }
    }
}

/// Counters of one run (or, added up, of a sweep).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RunStats {
    /// Runs added up here (1 for a single run).
    pub runs: u64,
    /// Simulated time, nanoseconds.
    pub sim_time_ns: u64,
    /// Transactions the engine committed (submitted).
    pub txs_committed: u64,
    /// Transactions refused as expected (conflicts, too large).
    pub txs_refused: u64,
    /// Durability steps that made something durable.
    pub durability_steps: u64,
    /// Filesystem calls the engine made.
    pub fs_calls: u64,
    /// Mutating filesystem operations (the crash-point clock), if simulated.
    pub fs_mutations: u64,
    /// Mutations up to the end of the last workload, before the final
    /// crash: the crash points a bounded workload has.
    pub fs_mutations_workload: u64,
    /// Crashes (power losses and process crashes).
    pub crashes: u64,
    /// Poisoned-write panics caught.
    pub poisonings: u64,
    /// Opens that recovered an existing history.
    pub recoveries: u64,
    /// Incarnations of the process.
    pub incarnations: u64,
    /// `read_at` checks.
    pub reads_checked: u64,
    /// Faults fired, by class.
    pub faults: FaultCounts,
}

impl RunStats {
    /// Adds `other` to these.
    pub fn add(&mut self, other: &RunStats) {
        self.runs += other.runs;
        self.sim_time_ns += other.sim_time_ns;
        self.txs_committed += other.txs_committed;
        self.txs_refused += other.txs_refused;
        self.durability_steps += other.durability_steps;
        self.fs_calls += other.fs_calls;
        self.fs_mutations += other.fs_mutations;
        self.fs_mutations_workload += other.fs_mutations_workload;
        self.crashes += other.crashes;
        self.poisonings += other.poisonings;
        self.recoveries += other.recoveries;
        self.incarnations += other.incarnations;
        self.reads_checked += other.reads_checked;
        self.faults.add(&other.faults);
    }
}

/// Everything a run produced.
#[derive(Clone, Debug)]
pub struct RunReport {
    /// The scenario's name.
    pub scenario: String,
    /// The seed.
    pub seed: Seed,
    /// The plan, every parameter (empty if it could not be built).
    pub plan: String,
    /// The outcome.
    pub outcome: Outcome,
    /// The trace hash: same seed (and schedule), same hash.
    pub trace_hash: u64,
    /// The trace (its events only if the run was asked to keep them).
    pub trace: Trace,
    /// The fault and crash decisions the run made (drawn or pinned alike):
    /// replayed pinned, they repeat the run.
    pub schedule: Schedule,
    /// Decisions of a pinned schedule that never struck.
    pub unused: Schedule,
    /// The faults and crashes that fired, as the filesystem reported them.
    pub fired: Vec<String>,
    /// Every filesystem call, if the run was asked to keep them.
    pub calls: Vec<faultline_sim::CallRecord>,
    /// Counters.
    pub stats: RunStats,
    /// The strike directed search aimed at a site, if any: part of the
    /// run's identity (its repro names it).
    pub focus: Option<faultline_sim::Focus>,
    /// The filesystem profile the run's faults struck on (`None`: no
    /// simulated filesystem, or no plan). Part of the run's identity: its
    /// repro names it.
    pub fs_profile: Option<faultline_sim::FsProfile>,
    /// What the run reached: sites, strikes, situations.
    pub coverage: crate::coverage::Coverage,
    /// The replay options that repeat the run's mode (`--crash-at ...`,
    /// `--strike-at ...`), empty for a drawn run.
    pub mode_args: String,
    /// The workload the run sent, if it was asked to record it
    /// ([`crate::RunConfig::record_script`]).
    pub script: Option<crate::script::Script>,
    /// The run's timeline, if it was asked to keep it
    /// ([`crate::RunConfig::keep_timeline`]).
    pub timeline: Option<crate::timeline::Timeline>,
    /// Where the page of its timeline was written, if one was (`faultline
    /// run --html-dir`): the json and junit failure entries name it.
    pub timeline_page: Option<std::path::PathBuf>,
}

impl RunReport {
    /// The one-line command that replays this run.
    pub fn repro_command(&self) -> String {
        let mut command = repro_command(&self.scenario, self.seed);
        if let Some(focus) = &self.focus {
            command.push_str(&format!(" --focus {focus}"));
        }
        if let Some(profile) = self.fs_profile {
            command.push_str(&format!(" --fs-profile {profile}"));
        }
        command.push_str(&self.mode_args);
        command
    }
}

/// The one-line command that replays `scenario` at `seed`.
pub fn repro_command(scenario: &str, seed: Seed) -> String {
    format!(
        "cargo run --release -p faultline-scenarios -- replay --scenario {scenario} --seed {seed}"
    )
}
