//! Scenarios as data: a [`Plan`] says, for one seed, everything a run does
//! (engine options, faults, workload and its generator, crashes, engine
//! tasks and the checks they bring), built with [`Plan::builder`] and
//! validated into a typed [`PlanError`], never a panic. `replay --trace`
//! prints it whole (`Display`), as VOPR logs every parameter.
//!
//! The draw helpers ([`draw_options`], [`draw_crashes`], [`pick`]) are what
//! the built-in scenarios share to draw a plan from the seed's streams.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use faultline_engine::fs::Fs;
use faultline_engine::{Database, Options};
use faultline_sim::{CrashMode, FaultClass, FaultConfig, FsProfile, Seed, SimFs, SimRng, Stream};
use rand::RngExt;

use crate::judge::{Checker, Violation};
use crate::workload::{RandomTransactions, ShapeError, TxGenerator, WorkloadShape};

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
    /// After this much simulated time from the start of the incarnation's
    /// workload.
    AtTime {
        /// Simulated milliseconds.
        ms: u64,
        /// How the machine goes down.
        mode: CrashMode,
    },
}

impl fmt::Display for PlannedCrash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlannedCrash::AtMutation { n, mode } => write!(f, "{} at mutation {n}", mode.name()),
            PlannedCrash::AtTime { ms, mode } => write!(f, "{} at {ms} ms", mode.name()),
        }
    }
}

/// A background job on the live database, run by its own simulated task
/// next to the durability task.
pub trait EngineTask: fmt::Debug {
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
    /// It returned an error (the line says which). The judge accepts it
    /// only if a fault fired or a crash struck during the step (or bytes
    /// on the device were damaged before); otherwise it is the finding
    /// `failed-without-fault`.
    Failed(String),
}

type MakeTask = Arc<dyn Fn() -> Box<dyn EngineTask> + Send + Sync>;
type MakeChecker = Arc<dyn Fn() -> Box<dyn Checker> + Send + Sync>;

/// An engine task of a plan, with the check it brings (one instance of each
/// per run).
#[derive(Clone)]
pub struct TaskSpec {
    name: String,
    make: MakeTask,
    checker: Option<MakeChecker>,
}

impl fmt::Debug for TaskSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskSpec")
            .field("name", &self.name)
            .field("checked", &self.checker.is_some())
            .finish()
    }
}

impl TaskSpec {
    /// A new instance of the task.
    pub fn make(&self) -> Box<dyn EngineTask> {
        (self.make)()
    }
}

/// Everything a run does, for one seed (see the module documentation).
/// Build it with [`Plan::builder`].
#[derive(Clone)]
pub struct Plan {
    /// The seed it was drawn from.
    pub seed: Seed,
    /// The engine's options.
    pub options: Options,
    /// The faults while the workload runs, and the filesystem profile
    /// (`faults.profile`) they strike on, which holds for the whole run.
    pub faults: FaultConfig,
    /// Whether faults stay on while a database opens (recovery).
    pub recovery_faults: bool,
    /// The clients' workload (per incarnation).
    pub workload: WorkloadShape,
    /// What writes the clients' transactions.
    pub generator: Arc<dyn TxGenerator>,
    /// The planned crash of incarnation `i`, for each `i < crashes.len()`.
    pub crashes: Vec<PlannedCrash>,
    /// Incarnations after the crashed ones, each ending when its workload
    /// is done or the engine poisons.
    pub restarts: usize,
    /// How a process that poisoned (or failed to open on a fault) goes
    /// down: the chance that it is a power loss rather than a process
    /// crash.
    pub power_loss_after_failure: f64,
    /// `read_at` checks after each recovery.
    pub read_checks: usize,
    tasks: Vec<TaskSpec>,
    checks: Vec<(String, MakeChecker)>,
}

impl fmt::Debug for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

/// Why a plan cannot be run.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PlanError {
    /// The workload's shape.
    #[error(transparent)]
    Workload(#[from] ShapeError),
    /// A probability outside `0.0..=1.0`.
    #[error("{name}={value} is not a probability (0..=1)")]
    Probability {
        /// The setting.
        name: &'static str,
        /// Its value.
        value: f64,
    },
    /// A crash point counts from 1.
    #[error("crash {index} is at mutation 0: crash points count from 1")]
    CrashPointZero {
        /// Which planned crash.
        index: usize,
    },
    /// The engine refuses the options.
    #[error("engine options: {0}")]
    Options(String),
    /// More incarnations than a run drives.
    #[error("incarnations={0} exceeds the limit of {INCARNATIONS_MAX}")]
    TooManyIncarnations(usize),
}

/// The most incarnations one run drives.
pub const INCARNATIONS_MAX: usize = 1 << 10;

impl Plan {
    /// A builder with every setting at its default, for `seed`.
    pub fn builder(seed: Seed) -> PlanBuilder {
        PlanBuilder {
            fs_profile: None,
            plan: Plan {
                seed,
                options: Options::default(),
                faults: FaultConfig::none(),
                recovery_faults: false,
                workload: WorkloadShape::default(),
                generator: Arc::new(RandomTransactions),
                crashes: Vec::new(),
                restarts: 0,
                power_loss_after_failure: 0.5,
                read_checks: 4,
                tasks: Vec::new(),
                checks: Vec::new(),
            },
        }
    }

    /// Incarnations of the process: one per planned crash, one more, and
    /// the restarts; then a final power loss and recovery.
    pub fn incarnations(&self) -> usize {
        self.crashes.len() + 1 + self.restarts
    }

    /// The engine tasks.
    pub fn tasks(&self) -> &[TaskSpec] {
        &self.tasks
    }

    /// New instances of the checks the plan brings: its engine tasks' and
    /// its own.
    pub fn checkers(&self) -> Vec<Box<dyn Checker>> {
        let tasks = self.tasks.iter().filter_map(|task| task.checker.as_ref());
        tasks.chain(self.checks.iter().map(|(_, make)| make)).map(|make| make()).collect()
    }

    /// The same plan with no fault, and as many incarnations, each ending
    /// with its workload instead of a crash.
    pub fn without_faults(mut self) -> Plan {
        self.restarts += self.crashes.len();
        self.without_faults_or_crashes_keeping_restarts()
    }

    fn without_faults_or_crashes_keeping_restarts(mut self) -> Plan {
        self.faults = FaultConfig::none().with_profile(self.faults.profile);
        self.recovery_faults = false;
        self.crashes.clear();
        self
    }

    /// The same plan with no fault and no crash: one incarnation.
    pub fn without_faults_or_crashes(mut self) -> Plan {
        self.faults = FaultConfig::none().with_profile(self.faults.profile);
        self.recovery_faults = false;
        self.crashes.clear();
        self.restarts = 0;
        self
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.options;
        let s = &o.snapshots;
        writeln!(f, "plan seed={}", self.seed)?;
        writeln!(
            f,
            "  options: log.max-segment-size={} log.write-buffer-size={} \
             durability.commit-txs-max={} durability.commit-bytes-max={} versions-retained={}",
            o.log.max_segment_size,
            o.log.write_buffer_size,
            o.durability.commit_txs_max,
            o.durability.commit_bytes_max,
            o.versions_retained
        )?;
        writeln!(
            f,
            "  snapshots: every-txs={} on-rotation={} retain={} chain-max={} \
             remove-old-segments={} restore-on-open={}",
            s.every_txs,
            s.on_rotation,
            s.retain,
            s.chain_max,
            s.remove_old_segments,
            s.restore_on_open
        )?;
        let faults: Vec<String> = FaultClass::ALL
            .iter()
            .filter(|c| **c != FaultClass::NoSpace && self.faults.is_on(**c))
            .map(|c| format!("{c}={:.4}", self.faults.probability(*c)))
            .chain(self.faults.no_space_quota_bytes.map(|q| format!("no-space-quota={q}")))
            .collect();
        let fill = self.faults.torn_fill;
        writeln!(
            f,
            "  faults: {} (torn fill: old={} zeros={} garbage={}); recovery-faults={} fs-profile={}",
            if faults.is_empty() { "none".to_owned() } else { faults.join(" ") },
            fill.old,
            fill.zeros,
            fill.garbage,
            self.recovery_faults,
            self.faults.profile
        )?;
        writeln!(f, "  workload: {} generator={}", self.workload, self.generator.name())?;
        let crashes: Vec<String> = self.crashes.iter().map(ToString::to_string).collect();
        writeln!(
            f,
            "  incarnations={} crashes=[{}] restarts={} power-loss-after-failure={} read-checks={}",
            self.incarnations(),
            crashes.join(", "),
            self.restarts,
            self.power_loss_after_failure,
            self.read_checks
        )?;
        let tasks: Vec<&str> = self.tasks.iter().map(|t| t.name.as_str()).collect();
        let checks: Vec<&str> = self.checks.iter().map(|(name, _)| name.as_str()).collect();
        write!(f, "  engine-tasks=[{}] checks=[{}]", tasks.join(", "), checks.join(", "))
    }
}

/// Builds a [`Plan`]; every setter names its setting and says its default.
#[derive(Clone)]
pub struct PlanBuilder {
    plan: Plan,
    fs_profile: Option<FsProfile>,
}

impl fmt::Debug for PlanBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PlanBuilder").field(&self.plan).finish()
    }
}

impl PlanBuilder {
    /// The engine's options. Default: `Options::default()`.
    pub fn options(mut self, options: Options) -> Self {
        self.plan.options = options;
        self
    }

    /// The faults while the workload runs. Default: none. Their `profile`
    /// is not taken from here: see [`PlanBuilder::fs_profile`].
    pub fn faults(mut self, faults: FaultConfig) -> Self {
        self.plan.faults = faults;
        self
    }

    /// The filesystem profile the run's faults strike on. Default: one
    /// drawn from the seed's own stream, so that a sweep covers every
    /// profile whatever the scenario (`faultline run --fs-profile` pins
    /// one for every case instead).
    pub fn fs_profile(mut self, profile: FsProfile) -> Self {
        self.fs_profile = Some(profile);
        self
    }

    /// Whether faults stay on while a database opens. Off: every open runs
    /// fault-free. Either way, an open that keeps failing on injected
    /// faults is retried, the last try fault-free. Default: off.
    pub fn recovery_faults(mut self, on: bool) -> Self {
        self.plan.recovery_faults = on;
        self
    }

    /// The clients' workload, per incarnation. Default:
    /// `WorkloadShape::default()`.
    pub fn workload(mut self, shape: WorkloadShape) -> Self {
        self.plan.workload = shape;
        self
    }

    /// What writes the clients' transactions. Default: [`RandomTransactions`].
    pub fn generator(mut self, generator: Arc<dyn TxGenerator>) -> Self {
        self.plan.generator = generator;
        self
    }

    /// Adds the crash that ends the next incarnation. Default: no crash.
    pub fn crash(mut self, crash: PlannedCrash) -> Self {
        self.plan.crashes.push(crash);
        self
    }

    /// Adds a crash per element, in order.
    pub fn crashes(mut self, crashes: impl IntoIterator<Item = PlannedCrash>) -> Self {
        self.plan.crashes.extend(crashes);
        self
    }

    /// Incarnations after the crashed ones (each ends when its workload is
    /// done or the engine poisons). Default: 0.
    pub fn restarts(mut self, restarts: usize) -> Self {
        self.plan.restarts = restarts;
        self
    }

    /// The chance that a process going down after a poisoned write or a
    /// failed open loses power (else it is killed). Default: 0.5.
    pub fn power_loss_after_failure(mut self, probability: f64) -> Self {
        self.plan.power_loss_after_failure = probability;
        self
    }

    /// `read_at` checks after each recovery. Default: 4.
    pub fn read_checks(mut self, n: usize) -> Self {
        self.plan.read_checks = n;
        self
    }

    /// Adds an engine task (`make` gives each run its instance) and the
    /// check it brings, if any. Default: none.
    pub fn engine_task(
        mut self,
        name: &str,
        make: impl Fn() -> Box<dyn EngineTask> + Send + Sync + 'static,
        checker: Option<MakeChecker>,
    ) -> Self {
        self.plan.tasks.push(TaskSpec { name: name.to_owned(), make: Arc::new(make), checker });
        self
    }

    /// Adds a check of the scenario's own (`make` gives each run its
    /// instance). Default: none.
    pub fn check(
        mut self,
        name: &str,
        make: impl Fn() -> Box<dyn Checker> + Send + Sync + 'static,
    ) -> Self {
        self.plan.checks.push((name.to_owned(), Arc::new(make)));
        self
    }

    /// The plan, or why it cannot run.
    pub fn build(self) -> Result<Plan, PlanError> {
        let mut plan = self.plan;
        plan.faults.profile = self
            .fs_profile
            .unwrap_or_else(|| FsProfile::draw(&mut plan.seed.rng(Stream::FsProfile)));
        plan.workload.validate()?;
        for (name, value) in [("power-loss-after-failure", plan.power_loss_after_failure)]
            .into_iter()
            .chain(FaultClass::ALL.iter().map(|c| (c.name(), plan.faults.probability(*c))))
        {
            if !(0.0..=1.0).contains(&value) {
                return Err(PlanError::Probability { name, value });
            }
        }
        if let Some(index) =
            plan.crashes.iter().position(|c| matches!(c, PlannedCrash::AtMutation { n: 0, .. }))
        {
            return Err(PlanError::CrashPointZero { index });
        }
        plan.options.log.validate().map_err(|e| PlanError::Options(e.to_string()))?;
        plan.options.durability.validate().map_err(PlanError::Options)?;
        plan.options.snapshots.validate().map_err(PlanError::Options)?;
        if plan.options.versions_retained == 0 {
            return Err(PlanError::Options("versions-retained must be at least 1".to_owned()));
        }
        if plan.incarnations() > INCARNATIONS_MAX {
            return Err(PlanError::TooManyIncarnations(plan.incarnations()));
        }
        Ok(plan)
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
            let mode = draw_mode(rng, power_loss);
            if rng.random_bool(0.5) {
                PlannedCrash::AtMutation { n: rng.random_range(1..=mutations_max), mode }
            } else {
                PlannedCrash::AtTime { ms: rng.random_range(1..=ms_max), mode }
            }
        })
        .collect()
}

/// A power loss with probability `power_loss`, else a process crash.
pub fn draw_mode(rng: &mut SimRng, power_loss: f64) -> CrashMode {
    if rng.random_bool(power_loss) { CrashMode::PowerLoss } else { CrashMode::ProcessCrash }
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
    let fs = SimFs::new(Seed(0), FaultConfig::none());
    let root = Path::new(crate::runner::ROOT);
    fs.create_dir(root).expect("a fresh filesystem takes a directory");
    let before = fs.stats().mutations;
    let opened = Database::open(Arc::new(fs.clone()), root, options.clone());
    assert!(opened.is_ok(), "a fault-free first open succeeds: {:?}", opened.err());
    fs.stats().mutations - before
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_that_cannot_run_is_refused_with_a_typed_error() {
        let plan = Plan::builder(Seed(1))
            .crash(PlannedCrash::AtMutation { n: 0, mode: CrashMode::PowerLoss })
            .build();
        assert_eq!(plan.unwrap_err(), PlanError::CrashPointZero { index: 0 });
        let plan = Plan::builder(Seed(1)).power_loss_after_failure(1.5).build();
        assert_eq!(
            plan.unwrap_err().to_string(),
            "power-loss-after-failure=1.5 is not a probability (0..=1)"
        );
        let shape = WorkloadShape { clients: 0, ..WorkloadShape::default() };
        let plan = Plan::builder(Seed(1)).workload(shape).build();
        assert_eq!(plan.unwrap_err().to_string(), "workload.clients must be at least 1");
        let mut options = Options::default();
        options.snapshots.retain = 0;
        let plan = Plan::builder(Seed(1)).options(options).build();
        assert!(matches!(plan.unwrap_err(), PlanError::Options(_)));
    }

    #[test]
    fn incarnations_follow_the_crashes_and_the_plan_prints_every_parameter() {
        let plan = Plan::builder(Seed(7))
            .crash(PlannedCrash::AtTime { ms: 5, mode: CrashMode::ProcessCrash })
            .crash(PlannedCrash::AtMutation { n: 3, mode: CrashMode::PowerLoss })
            .restarts(2)
            .faults(FaultConfig::none().with(FaultClass::ShortWrite, 0.01))
            .build()
            .unwrap();
        assert_eq!(plan.incarnations(), 5);
        let text = plan.to_string();
        for part in [
            "plan seed=0x0000000000000007",
            "short-write=0.0100",
            "process-crash at 5 ms, power-loss at mutation 3",
            "restarts=2",
            "generator=random",
            "versions-retained=1024",
        ] {
            assert!(text.contains(part), "{part} missing from:\n{text}");
        }
    }
}
