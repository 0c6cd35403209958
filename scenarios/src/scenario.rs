//! The [`Scenario`] trait and the [`Registry`] of scenarios.
//!
//! A scenario is a workload generator, a fault configuration and the checks
//! to run (DESIGN 4). It says all of that in a [`Plan`] drawn from the seed;
//! the runner drives the plan and the oracle judges it, so a scenario is
//! mostly data. Hooks let a scenario go further without touching the
//! runner:
//!
//! - [`Scenario::engine_tasks`]: background jobs on the live database next
//!   to the durability task, each in its own simulated task. This is the
//!   seam for the snapshot scenarios: a task whose step calls
//!   `Database::snapshot_step()` (with `Plan::options.snapshots` set), so
//!   that snapshots race commits, durability steps and crashes;
//! - [`Scenario::check_recovery`]: checks after every recovery on top of the
//!   oracle's (for snapshots: the open report says whether a snapshot was
//!   restored; restore + suffix must equal the model, which the oracle
//!   already checks, and the hook can compare against a full replay);
//! - [`Scenario::wrap_fs`]: a layer between the engine and the simulated
//!   filesystem (tests use it to build deliberately broken engines).
//!
//! Adding a scenario is one file in `src/scenarios/` and one line in
//! `src/scenarios/mod.rs` (see the README).

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use faultline_engine::fs::Fs;
use faultline_engine::{Database, OpenReport, Options};
use faultline_sim::{CrashMode, FaultConfig, Seed, SimRng};
use rand::RngExt;

use crate::model::{Model, Violation};
use crate::workload::WorkloadShape;

/// How an incarnation of the process ends, if not by finishing its
/// workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlannedCrash {
    /// Just before the `n`-th mutating filesystem operation counted from
    /// the incarnation's start (its open included: small `n` strike inside
    /// the open).
    AtMutation {
        /// The mutation, 1-based.
        n: u64,
        /// How the machine goes down.
        mode: CrashMode,
    },
    /// After this much simulated time from the incarnation's start.
    AtTime {
        /// Simulated milliseconds.
        ms: u64,
        /// How the machine goes down.
        mode: CrashMode,
    },
}

/// Everything a scenario decides for one seed.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The engine's options.
    pub options: Options,
    /// The faults while the workload runs.
    pub faults: FaultConfig,
    /// Whether faults stay on while a database opens (recovery). Off: the
    /// runner gives every open a fault-free run. Either way, an open that
    /// keeps failing on injected faults is retried with faults off.
    pub recovery_faults: bool,
    /// The clients' workload (per incarnation).
    pub workload: WorkloadShape,
    /// Incarnations of the process (at least 1); after the last one, a
    /// final power loss and recovery. An incarnation ends when its workload
    /// is done, at its planned crash, or when the engine poisons.
    pub incarnations: usize,
    /// The planned crash of incarnation `i`, if `i < crashes.len()`.
    pub crashes: Vec<PlannedCrash>,
    /// How a process that poisoned (or failed to open) goes down: the
    /// chance, per event, that it is a power loss rather than a process
    /// crash.
    pub power_loss_after_poison: f64,
    /// `read_at` checks after each recovery.
    pub read_checks: usize,
}

impl Default for Plan {
    fn default() -> Self {
        Plan {
            options: Options::default(),
            faults: FaultConfig::none(),
            recovery_faults: false,
            workload: WorkloadShape::default(),
            incarnations: 1,
            crashes: Vec::new(),
            power_loss_after_poison: 0.5,
            read_checks: 4,
        }
    }
}

impl Plan {
    /// Refuses plans the runner cannot drive.
    pub fn validate(&self) -> Result<(), String> {
        self.workload.validate()?;
        if self.incarnations == 0 || self.incarnations > 1 << 20 {
            return Err(format!("incarnations={} not in 1..=2^20", self.incarnations));
        }
        if self.workload.clients > 32 || self.workload.readers > 8 {
            return Err("at most 32 clients and 8 readers".to_owned());
        }
        self.faults.assert_valid();
        if !(0.0..=1.0).contains(&self.power_loss_after_poison) {
            return Err("power-loss-after-poison not in 0..=1".to_owned());
        }
        for crash in &self.crashes {
            if let PlannedCrash::AtMutation { n: 0, .. } = crash {
                return Err("crash points count from 1".to_owned());
            }
        }
        Ok(())
    }
}

/// What a scenario's recovery check sees.
#[derive(Debug)]
pub struct RecoveryContext<'a> {
    /// The database, just opened and checked by the oracle.
    pub db: &'a Database,
    /// What the open reported.
    pub report: &'a OpenReport,
    /// The model, at the recovered offset.
    pub model: &'a Model,
    /// The filesystem the database runs on.
    pub fs: &'a Arc<dyn Fs>,
    /// The database directory.
    pub root: &'a Path,
    /// The plan.
    pub plan: &'a Plan,
}

/// A background job on the live database, run by its own simulated task
/// next to the durability task (see the module documentation).
pub trait EngineTask {
    /// A short name for the trace.
    fn name(&self) -> &str;

    /// The simulated pause before the next step.
    fn interval(&mut self, rng: &mut SimRng) -> Duration;

    /// One step. A poisoned-write panic inside it is a crash, like one in
    /// a durability step; any other panic is a finding.
    fn step(&mut self, db: &mut Database) -> Result<TaskStep, Violation>;
}

/// What one step of an [`EngineTask`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TaskStep {
    /// Nothing was due.
    Idle,
    /// It did something; the line goes to the trace.
    Done(String),
    /// It returned an error (the line says which). The runner judges it: a
    /// failure is expected only if a fault fired or a crash struck during
    /// the step; otherwise it is the finding
    /// [`Invariant::FailedWithoutFault`](crate::Invariant::FailedWithoutFault).
    Failed(String),
}

/// A scenario: see the module documentation.
pub trait Scenario: Send + Sync {
    /// The scenario's name, as `faultline run --scenario` takes it.
    fn name(&self) -> &str;

    /// One line on what it exercises.
    fn summary(&self) -> &str;

    /// The plan for `seed`. Must be a pure function of the seed: draw only
    /// from `seed`'s streams.
    fn plan(&self, seed: Seed) -> Plan;

    /// Puts a layer between the engine and the filesystem. Default: none.
    fn wrap_fs(&self, fs: Arc<dyn Fs>) -> Arc<dyn Fs> {
        fs
    }

    /// The background jobs of one incarnation. Default: none.
    fn engine_tasks(&self, _plan: &Plan) -> Vec<Box<dyn EngineTask>> {
        Vec::new()
    }

    /// Checks after each recovery, on top of the oracle's. Default: none.
    fn check_recovery(&self, _context: &RecoveryContext<'_>) -> Result<(), Violation> {
        Ok(())
    }
}

impl fmt::Debug for dyn Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scenario").field("name", &self.name()).finish()
    }
}

/// The scenarios a sweep can run, by name.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    scenarios: Vec<Arc<dyn Scenario>>,
}

impl Registry {
    /// The built-in scenarios.
    pub fn builtin() -> Self {
        let mut registry = Registry::default();
        for scenario in crate::scenarios::builtin() {
            registry.register(scenario);
        }
        registry
    }

    /// Adds a scenario.
    ///
    /// # Panics
    ///
    /// If a scenario of that name is registered already.
    pub fn register(&mut self, scenario: Arc<dyn Scenario>) {
        assert!(
            self.get(scenario.name()).is_none(),
            "scenario {} registered twice",
            scenario.name()
        );
        self.scenarios.push(scenario);
    }

    /// The scenario named `name`.
    pub fn get(&self, name: &str) -> Option<Arc<dyn Scenario>> {
        self.scenarios.iter().find(|s| s.name() == name).cloned()
    }

    /// Every scenario, in registration order.
    pub fn all(&self) -> &[Arc<dyn Scenario>] {
        &self.scenarios
    }

    /// The scenarios `filter` selects: comma-separated names or substrings
    /// of names (`all` or empty: every one). An element that selects
    /// nothing is an error.
    pub fn select(&self, filter: &str) -> Result<Vec<Arc<dyn Scenario>>, String> {
        let filter = filter.trim();
        if filter.is_empty() || filter == "all" {
            return Ok(self.scenarios.clone());
        }
        let mut selected: Vec<Arc<dyn Scenario>> = Vec::new();
        for part in filter.split(',').map(str::trim) {
            let exact = self.get(part);
            let matches: Vec<_> = match exact {
                Some(scenario) => vec![scenario],
                None => {
                    self.scenarios.iter().filter(|s| s.name().contains(part)).cloned().collect()
                }
            };
            if matches.is_empty() {
                return Err(format!("no scenario matches {part:?} (see `faultline list`)"));
            }
            for scenario in matches {
                if !selected.iter().any(|s| s.name() == scenario.name()) {
                    selected.push(scenario);
                }
            }
        }
        Ok(selected)
    }
}

/// Draws engine options that make the log rotate and buffer in different
/// ways: small segments, write buffers from none to large, small commits,
/// short or long MVCC windows.
pub fn draw_options(rng: &mut SimRng) -> Options {
    let mut options = Options::default();
    options.log.max_segment_size = *pick(rng, &[16 << 10, 32 << 10, 64 << 10, 1 << 20]);
    options.log.write_buffer_size = *pick(rng, &[0, 512, 4096, 64 << 10]);
    options.durability.commit_txs_max = *pick(rng, &[1, 4, 16, 1024]);
    options.versions_retained = *pick(rng, &[2, 8, 64, 1024]);
    options
}

/// Draws `n` crashes: at a mutation (within `mutations_max` of the
/// incarnation's start) or at a simulated time (within `ms_max`), power
/// loss with probability `power_loss`.
pub fn draw_crashes(
    rng: &mut SimRng,
    n: usize,
    mutations_max: u64,
    ms_max: u64,
    power_loss: f64,
) -> Vec<PlannedCrash> {
    (0..n)
        .map(|_| {
            let mode = if rng.random_bool(power_loss) {
                CrashMode::PowerLoss
            } else {
                CrashMode::ProcessCrash
            };
            if rng.random_bool(0.5) {
                PlannedCrash::AtMutation { n: rng.random_range(1..=mutations_max), mode }
            } else {
                PlannedCrash::AtTime { ms: rng.random_range(1..=ms_max), mode }
            }
        })
        .collect()
}

/// A random element of a non-empty slice.
pub fn pick<'a, T>(rng: &mut SimRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// How many mutating filesystem operations the first open of an empty
/// database performs with `options` (creating directories, the first
/// segment, the bootstrap commit and its syncs): the crash points that lie
/// inside it. Measured on a scratch filesystem.
pub fn first_open_mutations(options: &Options) -> u64 {
    let fs = faultline_sim::SimFs::new(Seed(0), FaultConfig::none());
    let root = Path::new(crate::runner::ROOT);
    fs.create_dir(root).expect("a fresh filesystem takes a directory");
    let before = fs.stats().mutations;
    let opened = Database::open(Arc::new(fs.clone()), root, options.clone());
    assert!(opened.is_ok(), "a fault-free first open succeeds: {:?}", opened.err());
    fs.stats().mutations - before
}
