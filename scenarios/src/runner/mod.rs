//! The runner: drives one scenario at one seed on the simulated runtime and
//! judges it with the oracle.
//!
//! A run is a sequence of incarnations of the process, then a final check:
//!
//! 1. **open**: `Database::open` on the simulated filesystem (faults on or
//!    off as the plan says; an open that fails on an injected I/O error is
//!    retried after a crash, the last try fault-free). A crash point may
//!    strike inside the open. An open that refuses the history is allowed
//!    only if a fault damaged durable bytes, and only with an error that
//!    names the place (DESIGN 4); otherwise it is a finding;
//! 2. **recover**: the oracle checks the recovered offset and state (system
//!    tables included) and `read_at` over the retained window, and the
//!    model forgets what was lost;
//! 3. **workload**: client tasks commit with simulated think times, the
//!    durability task runs durability steps, readers check `read_at`, the
//!    scenario's engine tasks run; all on madsim's deterministic scheduler;
//! 4. **crash**: at the planned mutation (`SimFs::crash_at_mutation`) or
//!    simulated time, or because a durability step poisoned (the poison
//!    panic is caught and the process taken down: power loss or process
//!    crash). The database and every task are dropped, the filesystem
//!    reopened, and the next incarnation starts;
//! 5. after the last incarnation: a final power loss and a fault-free
//!    recovery, checked like any other.
//!
//! All randomness comes from the seed's streams; madsim's own seed is drawn
//! from the scheduling stream. The filesystem calls go through the
//! [`tap`](crate::tap), which records the run's fault and crash decisions
//! (or injects a pinned schedule instead).

mod tasks;
mod world;

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use faultline_engine::commitlog;
use faultline_engine::fs::{Fs, RealFs};
use faultline_engine::{Database, OpenError, OpenReport};
use faultline_sim::{CrashMode, FaultConfig, Seed, SimFs, SimRng, Stream};
use parking_lot::Mutex;
use rand::RngExt;

use crate::model::{Invariant, Violation};
use crate::outcome::{Failure, FailureKind, Outcome, RunReport};
use crate::panics;
use crate::runtime::{self, RuntimeStop};
use crate::scenario::{Plan, PlannedCrash, RecoveryContext, Scenario};
use crate::schedule::{CrashTrigger, Decision, Schedule};
use crate::tap::{Tap, TapCore, TapState};

use tasks::Shared;
use world::{Stop, World};

/// The database directory inside the simulated filesystem.
pub const ROOT: &str = "/db";

/// Where the engine's files live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The simulated filesystem (crashes and faults as planned).
    Sim,
    /// The host's disk under `dir` (no faults, no crashes: for comparing
    /// speed only).
    Real {
        /// The directory; must not exist yet.
        dir: PathBuf,
    },
}

/// How a run takes its fault and crash decisions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunMode {
    /// Drawn from the seed, as the scenario's plan says.
    Random,
    /// Exactly the decisions of a schedule (replay, shrink): the plan's
    /// workload and incarnations, no fault or crash drawn.
    Pinned(Schedule),
    /// No fault, no crash: the plan's workload in one incarnation, then the
    /// final check (counts a bounded workload's crash points).
    Clean,
    /// No fault; a crash just before the `mutation`-th mutating operation
    /// of the first incarnation (its open included); then one more
    /// incarnation and the final check.
    CrashAt {
        /// The crash point, 1-based.
        mutation: u64,
        /// How the machine goes down.
        mode: CrashMode,
    },
}

/// How to run.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// Where the decisions come from. Default: random.
    pub mode: RunMode,
    /// Keep every trace event (not only the hash). Default: off.
    pub keep_trace: bool,
    /// Where the engine's files live. Default: simulated.
    pub backend: Backend,
    /// The simulated-time budget: past it the run is a hang. Default: 1 h.
    pub sim_time_max: Duration,
    /// The filesystem-call budget: past it the run is a hang. Default: 4 M.
    pub fs_calls_max: u64,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            mode: RunMode::Random,
            keep_trace: false,
            backend: Backend::Sim,
            sim_time_max: Duration::from_secs(3600),
            fs_calls_max: 4_000_000,
        }
    }
}

/// Runs `scenario` at `seed`.
pub fn run(scenario: &dyn Scenario, seed: Seed, config: &RunConfig) -> RunReport {
    let _quiet = panics::in_run();
    let plan = match panics::catch(|| scenario.plan(seed)) {
        Ok(plan) => adjust_plan(plan, config),
        Err(caught) => {
            return plan_failure(scenario, seed, format!("plan panicked: {}", caught.message));
        }
    };
    if let Err(reason) = plan.validate() {
        return plan_failure(scenario, seed, format!("bad plan: {reason}"));
    }
    let driver = match Driver::new(scenario, seed, plan, config) {
        Ok(driver) => driver,
        Err(reason) => return plan_failure(scenario, seed, reason),
    };
    let shared = Rc::clone(&driver.shared);
    let madsim_seed = seed.sub_rng(Stream::Scheduling, u32::MAX).random::<u64>();
    let result = panics::catch(|| {
        runtime::block_on(madsim_seed, config.sim_time_max, async move {
            let mut driver = driver;
            driver.execute().await;
            // Reads the clock while still inside the runtime.
            driver.shared.borrow().now_ns();
        })
    });
    let mut world = shared.borrow_mut();
    match result {
        Ok(Ok(())) => {}
        Ok(Err(RuntimeStop::TimeLimit(message) | RuntimeStop::Deadlock(message))) => {
            world.fail(FailureKind::Hang, message);
        }
        Err(caught) => world.panicked(caught),
    }
    world.sync_trace();
    finish(scenario, seed, config, &mut world)
}

/// Runs `scenario` at `seed` twice, keeping both traces; a second run that
/// diverges is a [`FailureKind::Nondeterminism`] failure naming the first
/// differing event. Returns the first run's report otherwise.
pub fn run_checking_determinism(
    scenario: &dyn Scenario,
    seed: Seed,
    config: &RunConfig,
) -> RunReport {
    let config = RunConfig { keep_trace: true, ..config.clone() };
    let mut first = run(scenario, seed, &config);
    let second = run(scenario, seed, &config);
    if first.trace_hash != second.trace_hash {
        let detail = match first.trace.first_difference(&second.trace) {
            Some(divergence) => format!(
                "trace-hash run1={:#018x} run2={:#018x}; {divergence}",
                first.trace_hash, second.trace_hash
            ),
            None => format!(
                "trace-hash run1={:#018x} run2={:#018x}; the events agree, the filesystem operations differ",
                first.trace_hash, second.trace_hash
            ),
        };
        first.outcome =
            Outcome::Failed(Failure { kind: FailureKind::Nondeterminism, detail, at_ns: 0 });
    }
    first
}

/// The plan as the mode runs it.
fn adjust_plan(mut plan: Plan, config: &RunConfig) -> Plan {
    if matches!(config.backend, Backend::Real { .. }) {
        plan.crashes.clear();
        plan.faults = FaultConfig::none();
        plan.recovery_faults = false;
        return plan;
    }
    match &config.mode {
        RunMode::Random | RunMode::Pinned(_) => {}
        RunMode::Clean => {
            plan.incarnations = 1;
            plan.crashes.clear();
            plan.faults = FaultConfig::none();
            plan.recovery_faults = false;
        }
        RunMode::CrashAt { mutation, mode } => {
            plan.incarnations = 2;
            plan.crashes = vec![PlannedCrash::AtMutation { n: *mutation, mode: *mode }];
            plan.faults = FaultConfig::none();
            plan.recovery_faults = false;
        }
    }
    plan
}

fn plan_failure(scenario: &dyn Scenario, seed: Seed, detail: String) -> RunReport {
    RunReport {
        scenario: scenario.name().to_owned(),
        seed,
        outcome: Outcome::Failed(Failure { kind: FailureKind::UnexpectedPanic, detail, at_ns: 0 }),
        trace_hash: 0,
        trace: crate::trace::Trace::new(false),
        schedule: Schedule::default(),
        fired: Vec::new(),
        stats: crate::outcome::RunStats { runs: 1, ..Default::default() },
    }
}

fn finish(scenario: &dyn Scenario, seed: Seed, config: &RunConfig, world: &mut World) -> RunReport {
    let tap = world.tap.lock();
    let schedule = match &config.mode {
        RunMode::Pinned(schedule) => schedule.clone(),
        _ => Schedule { decisions: tap.recorded.clone() },
    };
    world.stats.fs_calls = tap.calls;
    world.stats.crashes = tap.crashes;
    world.stats.faults = tap.counts.clone();
    drop(tap);
    world.stats.sim_time_ns = world.now_ns();
    let fs_hash = world.sim.as_ref().map_or(0, SimFs::trace_hash);
    if let Some(sim) = &world.sim {
        world.stats.fs_mutations = sim.stats().mutations;
    }
    let outcome = match world.stop.clone() {
        Some(Stop::Failed(failure)) => Outcome::Failed(failure),
        Some(Stop::Refused(error)) => Outcome::Refused { error },
        Some(Stop::Crashed) | None => Outcome::Passed,
    };
    RunReport {
        scenario: scenario.name().to_owned(),
        seed,
        outcome,
        trace_hash: world.trace.hash(fs_hash),
        trace: std::mem::take(&mut world.trace),
        schedule,
        fired: std::mem::take(&mut world.fired),
        stats: world.stats.clone(),
    }
}

/// Whether an open error names the place of the damage (DESIGN 4: "refuse
/// to open with a corruption error that names the place").
fn names_place(error: &OpenError) -> bool {
    matches!(
        error,
        OpenError::Log(commitlog::OpenError::Corrupt(_))
            | OpenError::Log(commitlog::OpenError::BadSegmentName { .. })
            | OpenError::Read(commitlog::ReadError::Corrupt(_))
            | OpenError::Replay { .. }
            | OpenError::Inconsistent { .. }
            | OpenError::HistoryGap { .. }
    )
}

/// A timed crash to arm for an incarnation's workload.
#[derive(Clone, Copy, Debug)]
struct Timer {
    /// After the workload starts (planned), or at an absolute simulated
    /// time (pinned).
    at: TimerAt,
    mode: CrashMode,
    torn: bool,
    record: bool,
}

#[derive(Clone, Copy, Debug)]
enum TimerAt {
    After(Duration),
    Deadline(u64),
}

/// A deadline no run reaches (about 3 years of simulated time).
const NEVER_NS: u64 = 1 << 56;

/// Opens allowed per incarnation (all but the last may see faults).
const OPEN_ATTEMPTS_MAX: usize = 4;
/// Opens allowed per incarnation under a pinned schedule, which injects
/// its faults whatever the recovery policy.
const OPEN_ATTEMPTS_MAX_PINNED: usize = 16;

/// The supervisor of a run.
struct Driver<'a> {
    scenario: &'a dyn Scenario,
    seed: Seed,
    plan: Plan,
    config: &'a RunConfig,
    shared: Shared,
    root: PathBuf,
    /// The filesystem the current incarnation runs on.
    backend_fs: Arc<dyn Fs>,
    check_rng: SimRng,
    /// A pinned schedule's crashes at simulated times: (incarnation,
    /// deadline, mode, torn).
    timed_crashes: Vec<(u32, u64, CrashMode, bool)>,
    /// Mutations the setup made before the first incarnation.
    setup_mutations: u64,
}

impl<'a> Driver<'a> {
    fn new(
        scenario: &'a dyn Scenario,
        seed: Seed,
        plan: Plan,
        config: &'a RunConfig,
    ) -> Result<Self, String> {
        let pinned = match &config.mode {
            RunMode::Pinned(schedule) => Some(schedule),
            _ => None,
        };
        let tap = match pinned {
            Some(schedule) => {
                TapState::pinned(config.fs_calls_max, schedule, torn_config(&plan.faults))
            }
            None => TapState::recording(config.fs_calls_max, plan.faults.torn_write > 0.0),
        };
        let tap = Arc::new(Mutex::new(tap));
        let (root, backend_fs, sim): (PathBuf, Arc<dyn Fs>, Option<SimFs>) = match &config.backend {
            Backend::Sim => {
                let faults =
                    if pinned.is_some() { FaultConfig::none() } else { plan.faults.clone() };
                let sim = setup_sim(seed, faults)?;
                (PathBuf::from(ROOT), Arc::new(sim.clone()), Some(sim))
            }
            Backend::Real { dir } => {
                std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                (dir.clone(), Arc::new(RealFs::new()), None)
            }
        };
        let timed_crashes = pinned
            .map(|schedule| {
                schedule
                    .decisions
                    .iter()
                    .filter_map(|d| match *d {
                        Decision::Crash {
                            trigger: CrashTrigger::Time { ns, incarnation },
                            mode,
                            torn,
                        } => Some((incarnation, ns, mode, torn)),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let setup_mutations = sim.as_ref().map_or(0, |sim| sim.stats().mutations);
        let world = World::new(
            plan.workload.clone(),
            tap,
            sim,
            config.keep_trace,
            seed.sub_rng(Stream::CrashPoints, 1),
            plan.power_loss_after_poison,
        );
        Ok(Driver {
            scenario,
            seed,
            config,
            shared: Rc::new(RefCell::new(world)),
            root,
            backend_fs,
            check_rng: seed.sub_rng(Stream::Workload, u32::MAX),
            timed_crashes,
            setup_mutations,
            plan,
        })
    }

    async fn execute(&mut self) {
        for index in 0..self.plan.incarnations {
            if !self.incarnation(index).await {
                return;
            }
        }
        self.final_recovery();
    }

    /// One incarnation; `false` once the run is over (a failure or an
    /// allowed refusal).
    async fn incarnation(&mut self, index: usize) -> bool {
        let timer = self.arm_crash(index);
        self.shared.borrow_mut().event(format!("incarnation {index}"));
        if let Some((db, report, fs)) = self.open()
            && self.recovered(db, &report, &fs)
        {
            self.run_workload(index, timer).await;
        }
        self.after_incarnation()
    }

    /// Arms the incarnation's planned crash: a crash point now, or a timer
    /// for the workload.
    fn arm_crash(&mut self, index: usize) -> Option<Timer> {
        let world = self.shared.borrow();
        let sim = world.sim.as_ref()?;
        if matches!(self.config.mode, RunMode::Pinned(_)) {
            return None;
        }
        match self.plan.crashes.get(index)? {
            PlannedCrash::AtMutation { n, mode } => {
                sim.crash_at_mutation(sim.stats().mutations + n, *mode);
                None
            }
            PlannedCrash::AtTime { ms, mode } => Some(Timer {
                at: TimerAt::After(Duration::from_millis(*ms)),
                mode: *mode,
                torn: true,
                record: true,
            }),
        }
    }

    /// A pinned schedule's crash at a simulated time armed by incarnation
    /// `index`, if its deadline lies ahead.
    fn pinned_timer(&self, index: usize) -> Option<Timer> {
        let now = self.shared.borrow().now_ns();
        let &(_, ns, mode, torn) =
            self.timed_crashes.iter().find(|(i, ns, _, _)| *i as usize == index && *ns >= now)?;
        Some(Timer { at: TimerAt::Deadline(ns), mode, torn, record: false })
    }

    /// The filesystem as the engine sees it: the scenario's layer over the
    /// tap over the backend.
    fn engine_fs(&self) -> Arc<dyn Fs> {
        let core = self.shared.borrow().tap_core.clone();
        self.scenario.wrap_fs(Arc::new(Tap::new(Arc::clone(&self.backend_fs), core)))
    }

    /// Opens the database; `None` if the incarnation ended (see `World::stop`).
    fn open(&mut self) -> Option<(Database, OpenReport, Arc<dyn Fs>)> {
        let attempts_max = match self.config.mode {
            RunMode::Pinned(_) => OPEN_ATTEMPTS_MAX_PINNED,
            _ => OPEN_ATTEMPTS_MAX,
        };
        for attempt in 0..attempts_max {
            let faults = self.plan.recovery_faults && attempt + 1 < attempts_max;
            let fs = self.engine_fs();
            let faults_before = {
                let mut world = self.shared.borrow_mut();
                world.event(format!(
                    "open attempt={attempt} faults={}",
                    if faults { "on" } else { "off" }
                ));
                if let Some(sim) = &world.sim {
                    sim.set_faults_enabled(faults);
                }
                // Faults that fired so far: an open that fails after one
                // fired during it failed on an injected fault. (Not I/O
                // errors: an open meets ordinary ones, NotFound probes.)
                world.tap.lock().counts.total()
            };
            let result = panics::catch(|| {
                Database::open(Arc::clone(&fs), &self.root, self.plan.options.clone())
            });
            let mut world = self.shared.borrow_mut();
            if let Some(sim) = &world.sim {
                sim.set_faults_enabled(true);
            }
            world.sync_trace();
            if !world.alive() {
                drop(result);
                world.event("crash during open".to_owned());
                world.crashed();
                return None;
            }
            match result {
                Ok(Ok((db, report))) => return Some((db, report, fs)),
                Ok(Err(error)) if world.tap.lock().counts.total() > faults_before => {
                    world.event(format!("open failed on an injected fault: {error}"));
                    world.go_down("open-failed");
                    drop(world);
                    self.restart();
                }
                Ok(Err(error)) => {
                    refused(&mut world, &error);
                    return None;
                }
                Err(caught) if caught.is_poison() => {
                    world.stats.poisonings += 1;
                    world.event(format!("poisoned during open: {}", caught.message));
                    world.go_down("poison");
                    return None;
                }
                Err(caught) => {
                    world.panicked(caught);
                    return None;
                }
            }
        }
        self.shared.borrow_mut().fail(
            FailureKind::Hang,
            format!("open kept failing on injected faults: attempts={attempts_max}"),
        );
        None
    }

    /// Judges a fresh open; `false` if a check failed. Hands the database
    /// to the world.
    fn recovered(&mut self, db: Database, report: &OpenReport, fs: &Arc<dyn Fs>) -> bool {
        let mut world = self.shared.borrow_mut();
        world.stats.incarnations += 1;
        if !report.bootstrapped {
            world.stats.recoveries += 1;
        }
        world.event(format!(
            "opened offset={:?} replayed={} bootstrapped={} restored-from={:?}",
            db.latest().offset(),
            report.replayed,
            report.bootstrapped,
            report.restored_from
        ));
        if !report.snapshots_rejected.is_empty() && !world.history_may_be_damaged() {
            world.violated(Violation::new(
                Invariant::SnapshotRejected,
                report.snapshots_rejected.join("; "),
            ));
            return false;
        }
        let (acked, submitted, rule) = (world.model.acked(), world.model.submitted(), world.rule());
        match panics::catch(|| world.model.recover(&db, rule)) {
            Ok(Ok(offset)) => world.event(format!(
                "recovered offset={offset} acked={acked:?} submitted={submitted} rule={rule:?}"
            )),
            Ok(Err(violation)) => {
                world.violated(violation);
                return false;
            }
            Err(caught) => {
                world.panicked(caught);
                return false;
            }
        }
        let context = RecoveryContext {
            db: &db,
            report,
            model: &world.model,
            fs,
            root: &self.root,
            plan: &self.plan,
        };
        let checked = panics::catch(|| self.scenario.check_recovery(&context));
        match checked {
            Ok(Ok(())) => {}
            Ok(Err(violation)) => world.violated(violation),
            Err(caught) => world.panicked(caught),
        }
        let picks: Vec<u64> = (0..self.plan.read_checks).map(|_| self.check_rng.random()).collect();
        world.db = Some(db);
        if !world.is_stopped() {
            world.check_reads(&picks);
        }
        !world.is_stopped()
    }

    async fn run_workload(&mut self, index: usize, timer: Option<Timer>) {
        let shape = self.plan.workload.clone();
        let base = index as u32 * 64;
        self.shared.borrow_mut().clients_running = shape.clients;
        let mut handles = Vec::new();
        for client in 0..shape.clients {
            let stream = base + 1 + client as u32;
            handles.push(runtime::spawn(tasks::client(
                Rc::clone(&self.shared),
                client,
                self.seed.sub_rng(Stream::Workload, stream),
                self.seed.sub_rng(Stream::Scheduling, stream),
            )));
        }
        let sched = self.seed.sub_rng(Stream::Scheduling, base + 40);
        handles.push(runtime::spawn(tasks::durability(
            Rc::clone(&self.shared),
            shape.durability_interval_ms_max,
            sched,
        )));
        for reader in 0..shape.readers {
            let rng = self.seed.sub_rng(Stream::Scheduling, base + 41 + reader as u32);
            handles.push(runtime::spawn(tasks::reader(
                Rc::clone(&self.shared),
                shape.reads_per_reader,
                shape.think_ms_max,
                rng,
            )));
        }
        for (k, task) in self.scenario.engine_tasks(&self.plan).into_iter().enumerate() {
            let rng = self.seed.sub_rng(Stream::Scheduling, base + 50 + k as u32);
            handles.push(runtime::spawn(tasks::engine_task(Rc::clone(&self.shared), task, rng)));
        }
        // The timer task is spawned whether or not a crash is armed, so that
        // a pinned replay (which arms other timers) schedules the same tasks.
        let now = self.shared.borrow().now_ns();
        let timer = timer.or_else(|| self.pinned_timer(index)).unwrap_or(Timer {
            at: TimerAt::Deadline(NEVER_NS),
            mode: CrashMode::ProcessCrash,
            torn: false,
            record: false,
        });
        let deadline = match timer.at {
            TimerAt::After(delay) => {
                now.saturating_add(u64::try_from(delay.as_nanos()).unwrap_or(u64::MAX))
            }
            TimerAt::Deadline(ns) => ns,
        };
        let timer = runtime::spawn(tasks::crash_timer(
            Rc::clone(&self.shared),
            deadline,
            index as u32,
            timer.mode,
            timer.torn,
            timer.record,
        ));
        for handle in handles {
            handle.join().await;
        }
        timer.abort();
    }

    /// Ends an incarnation: after a crash, reopens the filesystem; after a
    /// clean end, drops the database. `false` once the run is over.
    fn after_incarnation(&mut self) -> bool {
        let mut world = self.shared.borrow_mut();
        if let Some(sim) = &world.sim {
            sim.clear_crash_point();
        }
        world.db = None;
        match world.stop.clone() {
            Some(Stop::Failed(_) | Stop::Refused(_)) => false,
            Some(Stop::Crashed) => {
                drop(world);
                self.restart();
                true
            }
            None => {
                world.event("clean restart".to_owned());
                true
            }
        }
    }

    /// The next process after a crash: the filesystem reopened, the tasks'
    /// stop cleared.
    fn restart(&mut self) {
        let mut world = self.shared.borrow_mut();
        world.db = None;
        if let Some(sim) = &world.sim {
            let next = sim.reopen();
            world.tap_core = TapCore::new(Some(next.clone()), Arc::clone(&world.tap));
            self.backend_fs = Arc::new(next.clone());
            world.sim = Some(next);
        }
        world.stop = None;
    }

    /// The final power loss and a recovery, checked like any other.
    fn final_recovery(&mut self) {
        {
            let mut world = self.shared.borrow_mut();
            if let Some(sim) = world.sim.clone() {
                world.stats.fs_mutations_workload = sim.stats().mutations - self.setup_mutations;
                sim.clear_crash_point();
                if sim.is_alive() {
                    world.tap_core.crash_now(CrashMode::PowerLoss, true, None);
                    world.event("crash mode=power-loss cause=final".to_owned());
                }
            }
        }
        self.restart();
        for _ in 0..OPEN_ATTEMPTS_MAX {
            self.shared.borrow_mut().event("final recovery".to_owned());
            if let Some((db, report, fs)) = self.open() {
                self.recovered(db, &report, &fs);
                self.shared.borrow_mut().db = None;
                return;
            }
            if self.shared.borrow().stop != Some(Stop::Crashed) {
                return;
            }
            self.restart();
        }
    }
}

/// Judges an open that refused the history.
fn refused(world: &mut World, error: &OpenError) {
    let text = error.to_string();
    if !world.history_may_be_damaged() {
        world.violated(Violation::new(Invariant::RefusedHealthyHistory, text));
    } else if names_place(error) {
        world.event(format!("refused a damaged history: {text}"));
        world.stop = Some(Stop::Refused(text));
    } else {
        world.violated(Violation::new(Invariant::CorruptionUnnamed, text));
    }
}

/// A fresh simulated filesystem holding an empty, durable database
/// directory.
fn setup_sim(seed: Seed, faults: FaultConfig) -> Result<SimFs, String> {
    let sim = SimFs::new(seed, faults);
    sim.set_faults_enabled(false);
    let root = std::path::Path::new(ROOT);
    sim.create_dir(root).map_err(|e| format!("setup: {e}"))?;
    sim.sync_dir(std::path::Path::new("/")).map_err(|e| format!("setup: {e}"))?;
    sim.set_faults_enabled(true);
    Ok(sim)
}

/// The configuration a pinned torn crash uses: the plan's torn-write rate
/// and fill, nothing else.
fn torn_config(faults: &FaultConfig) -> FaultConfig {
    let mut config = FaultConfig::none().with_torn_fill(faults.torn_fill);
    config.torn_write = faults.torn_write;
    config
}
