//! The runner: drives one scenario at one seed on the simulated runtime.
//! It supervises only: the simulated filesystem decides and applies every
//! fault and crash, and the judge ([`crate::judge`]) checks every event the
//! runner reports.
//!
//! A run is a sequence of incarnations of the process, then a final check:
//!
//! 1. **open**: `Database::open` on the simulated filesystem (faults on or
//!    off as the plan says). An open that fails while a fault fired or a
//!    crash struck is retried after the process goes down, the last try
//!    fault-free; any other failed open is a refusal the judge rules on;
//! 2. **recover**: the judge checks the recovered offset and state, the
//!    storage layout and `read_at`;
//! 3. **workload**: client tasks commit with simulated think times, the
//!    durability task runs durability steps, readers have `read_at`
//!    checked, the plan's engine tasks run; all on madsim's deterministic
//!    scheduler;
//! 4. **crash**: at the planned mutation or simulated time (armed in the
//!    filesystem, which decides when it strikes), or because the engine
//!    poisoned (the database is dropped while the process lives, as its
//!    unwinding would, then the process goes down). Every task is dropped,
//!    the filesystem reopened, and the next incarnation starts;
//! 5. after the last incarnation: a final power loss and recovery, checked
//!    like any other.
//!
//! All randomness comes from the seed's streams; madsim's own seed is drawn
//! from the scheduling stream.

mod tasks;
mod world;

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use faultline_engine::fs::Phase;
use faultline_engine::fs::{Fs, RealFs};
use faultline_engine::{Database, OpenReport};
use faultline_sim::{
    CrashMode, FaultClass, Focus, FsProfile, Schedule, Seed, SimFs, Stream, Strike,
};
use rand::RngExt;

use crate::coverage::{self, Coverage, Recorder};
use crate::judge::{RunEvent, Step};
use crate::outcome::{Failure, FailureKind, Outcome, RunReport, RunStats};
use crate::panics;
use crate::plan::{Plan, PlannedCrash};
use crate::runtime::{self, RuntimeStop};
use crate::scenario::Scenario;
use crate::script::Script;
use crate::timeline::TimelineRecorder;

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
    /// No fault drawn; exactly the decisions of a schedule, aimed at the
    /// calls of a [`RunMode::Clean`] run (which this repeats up to the
    /// first decision): faults on during recovery, power losses that
    /// tear every write they keep when a decision says `+torn`; then one
    /// more incarnation and the final check. Exhausts every strike at
    /// every site.
    StrikeAt(Schedule),
}

/// How to run.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// Where the decisions come from. Default: random.
    pub mode: RunMode,
    /// Keep every trace event (not only the hash). Default: off.
    pub keep_trace: bool,
    /// Keep every filesystem call (to aim a pinned schedule). Default: off.
    pub keep_calls: bool,
    /// Where the engine's files live. Default: simulated.
    pub backend: Backend,
    /// The simulated-time budget: past it the run is a hang. Default: 1 h.
    pub sim_time_max: Duration,
    /// The filesystem-call budget: past it the run is a hang. Default: 4 M.
    pub fs_calls_max: u64,
    /// A strike aimed at a site (directed search), random mode only: the
    /// plan is adjusted so that it can strike (faults on during recovery
    /// for a site of the open; tearing writes for a torn write). Default:
    /// none.
    pub focus: Option<Focus>,
    /// Send this workload instead of the generator's (and run no more
    /// incarnations than it has). Default: none.
    pub script: Option<Arc<Script>>,
    /// Record the workload sent into the report's `script`. Default: off.
    pub record_script: bool,
    /// The filesystem profile every simulated run uses (`faultline run
    /// --fs-profile NAME`). Default: none pinned, each plan's own (drawn
    /// from the seed unless the scenario chooses).
    pub fs_profile: Option<FsProfile>,
    /// Keep the run's timeline (every event, typed, for `--html`): the
    /// report's `timeline`. Recording changes nothing in the run. Default:
    /// off.
    pub keep_timeline: bool,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            mode: RunMode::Random,
            keep_trace: false,
            keep_calls: false,
            backend: Backend::Sim,
            sim_time_max: Duration::from_secs(3600),
            fs_calls_max: 4_000_000,
            focus: None,
            script: None,
            record_script: false,
            fs_profile: None,
            keep_timeline: false,
        }
    }
}

/// Runs `scenario` at `seed`.
///
/// Each run gets an OS thread of its own: std's `HashMap` draws its keys
/// once per thread, and madsim can seed them (making a `HashMap`'s order
/// inside the run a function of the seed, as it says) only on a thread
/// that has not drawn them yet. On a reused thread the keys would depend on
/// what ran there before, and madsim would warn that they are not
/// deterministic.
pub fn run(scenario: &dyn Scenario, seed: Seed, config: &RunConfig) -> RunReport {
    panics::on_fresh_thread(|| run_here(scenario, seed, config))
}

fn run_here(scenario: &dyn Scenario, seed: Seed, config: &RunConfig) -> RunReport {
    let _quiet = panics::in_run();
    // A scenario that runs itself (hostile_history) may panic in its own
    // harness code, say where the engine refused the history it wrote: a
    // finding of this case, never the end of the sweep.
    match panics::catch(|| scenario.run_whole(seed, config)) {
        Ok(Some(report)) => return report,
        Ok(None) => {}
        Err(caught) => return panicked_report(scenario, seed, caught),
    }
    let plan = match panics::catch(|| scenario.plan(seed)) {
        Ok(Ok(plan)) => adjust_plan(plan, config),
        Ok(Err(error)) => return plan_failure(scenario, seed, format!("bad plan: {error}")),
        Err(caught) => {
            return plan_failure(scenario, seed, format!("plan panicked: {}", caught.message));
        }
    };
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
    world.drain();
    let focus = config.focus.filter(|_| config.mode == RunMode::Random);
    let mut report = finish(scenario, seed, focus, &mut world);
    report.mode_args = match &config.mode {
        RunMode::Random => String::new(),
        RunMode::Pinned(schedule) if schedule.is_empty() => " --schedule none".to_owned(),
        RunMode::Pinned(schedule) => format!(" --schedule '{schedule}'"),
        RunMode::Clean => " --clean".to_owned(),
        RunMode::CrashAt { mutation, mode } => format!(" --crash-at {mutation}:{}", mode.name()),
        RunMode::StrikeAt(schedule) => format!(" --strike-at '{schedule}'"),
    };
    report
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
                "trace-hash run1={:#018x} run2={:#018x}; the events agree as shown: the filesystem operations, or a value the trace shortens, differ",
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
        return plan.without_faults();
    }
    if let Some(profile) = config.fs_profile {
        plan.faults.profile = profile;
    }
    if let Some(focus) = &config.focus {
        // A fault aimed inside an open needs faults on while it recovers.
        if focus.site.phases.phases().any(Phase::during_open) {
            plan.recovery_faults = true;
        }
        if focus.strike == Strike::Fault(FaultClass::TornWrite) && plan.faults.torn_write == 0.0 {
            plan.faults.torn_write = 1.0;
        }
    }
    match &config.mode {
        RunMode::Random | RunMode::Pinned(_) => plan,
        RunMode::Clean => plan.without_faults_or_crashes(),
        RunMode::CrashAt { mutation, mode } => {
            let mut plan = plan.without_faults_or_crashes();
            plan.crashes = vec![PlannedCrash::AtMutation { n: *mutation, mode: *mode }];
            plan
        }
        RunMode::StrikeAt(_) => {
            let mut plan = plan.without_faults_or_crashes();
            plan.restarts = 1;
            plan.recovery_faults = true;
            plan.faults.torn_write = 1.0;
            plan
        }
    }
}

/// The report of a case whose harness code panicked outside the run's own
/// catch: an `unexpected-panic` failure of that case.
pub(crate) fn panicked_report(
    scenario: &dyn Scenario,
    seed: Seed,
    caught: panics::Caught,
) -> RunReport {
    let at = caught.location.map_or(String::new(), |l| format!(" at {l}"));
    let detail = format!("panicked outside the run: {}{at}", caught.message);
    failure_report(scenario, seed, FailureKind::UnexpectedPanic, detail)
}

fn plan_failure(scenario: &dyn Scenario, seed: Seed, detail: String) -> RunReport {
    failure_report(scenario, seed, FailureKind::BadPlan, detail)
}

/// The report of a case that failed before (or outside) a run.
pub(crate) fn failure_report(
    scenario: &dyn Scenario,
    seed: Seed,
    kind: FailureKind,
    detail: String,
) -> RunReport {
    RunReport {
        scenario: scenario.name().to_owned(),
        seed,
        plan: String::new(),
        outcome: Outcome::Failed(Failure { kind, detail, at_ns: 0 }),
        trace_hash: 0,
        trace: crate::trace::Trace::new(false),
        schedule: Schedule::default(),
        unused: Schedule::default(),
        fired: Vec::new(),
        calls: Vec::new(),
        stats: RunStats { runs: 1, ..RunStats::default() },
        focus: None,
        fs_profile: None,
        coverage: Coverage::default(),
        mode_args: String::new(),
        script: None,
        timeline: None,
        timeline_page: None,
    }
}

fn finish(
    scenario: &dyn Scenario,
    seed: Seed,
    focus: Option<Focus>,
    world: &mut World,
) -> RunReport {
    world.stats.sim_time_ns = world.now_ns();
    let (mut schedule, mut unused, mut fs_hash) = (Schedule::default(), Schedule::default(), 0);
    if let Some(sim) = &world.sim {
        let fs = sim.stats();
        world.stats.fs_calls = fs.ops;
        world.stats.fs_mutations = fs.mutations;
        world.stats.crashes = fs.power_losses + fs.process_crashes;
        world.stats.faults = sim.fault_counts();
        schedule = sim.schedule();
        unused = Schedule { decisions: sim.unused_decisions() };
        fs_hash = sim.trace_hash();
    }
    let outcome = match world.stop.clone() {
        Some(Stop::Failed(failure)) => Outcome::Failed(failure),
        Some(Stop::Refused(error)) => Outcome::Refused { error },
        Some(Stop::Crashed) | None => Outcome::Passed,
    };
    RunReport {
        scenario: scenario.name().to_owned(),
        seed,
        plan: world.plan.to_string(),
        outcome,
        trace_hash: world.trace.hash(fs_hash),
        trace: std::mem::take(&mut world.trace),
        schedule,
        unused,
        fired: std::mem::take(&mut world.fired),
        calls: std::mem::take(&mut world.calls),
        stats: world.stats.clone(),
        focus,
        fs_profile: world.sim.is_some().then_some(world.plan.faults.profile),
        coverage: std::mem::take(&mut world.coverage).finish(),
        mode_args: String::new(),
        script: world.recorded.take(),
        timeline: world.timeline.take().map(TimelineRecorder::finish),
        timeline_page: None,
    }
}

/// Opens allowed per incarnation (all but the last may see faults).
const OPEN_ATTEMPTS_MAX: usize = 4;

/// The supervisor of a run.
struct Driver<'a> {
    scenario: &'a dyn Scenario,
    seed: Seed,
    shared: Shared,
    root: PathBuf,
    /// The filesystem below the engine: the simulated one of the current
    /// incarnation, or the host's.
    backend_fs: Arc<dyn Fs>,
    check_rng: faultline_sim::SimRng,
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
        let mut setup_log = Vec::new();
        let (root, backend_fs, sim): (PathBuf, Arc<dyn Fs>, Option<SimFs>) = match &config.backend {
            Backend::Sim => {
                let sim = match &config.mode {
                    RunMode::Pinned(schedule) | RunMode::StrikeAt(schedule) => {
                        SimFs::replaying(seed, plan.faults.clone(), schedule)
                    }
                    _ => SimFs::new(seed, plan.faults.clone()),
                };
                setup_log = setup_sim(&sim)?;
                if config.mode == RunMode::Random {
                    sim.set_focus(config.focus);
                }
                sim.set_call_budget(config.fs_calls_max);
                (PathBuf::from(ROOT), Arc::new(sim.clone()), Some(sim))
            }
            Backend::Real { dir } => {
                std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                (dir.clone(), Arc::new(RealFs::new()), None)
            }
        };
        let setup_mutations = sim.as_ref().map_or(0, |sim| sim.stats().mutations);
        let mut in_play = coverage::in_play(&plan.faults);
        in_play.extend(config.focus.map(|focus| focus.strike));
        let recorder = Recorder::new(in_play, &scenario.must_reach());
        let mut world = World::new(plan, sim, config.keep_trace, recorder);
        world.keep_calls = config.keep_calls;
        world.script = config.script.clone();
        world.recorded = config.record_script.then(Script::default);
        world.timeline = config.keep_timeline.then(|| {
            // The page shows every call the filesystem served, the
            // harness's setup included (the run's `fs_calls` counts them).
            let mut timeline = TimelineRecorder::new();
            setup_log.iter().for_each(|record| timeline.observe(0, &RunEvent::Fs(record)));
            timeline
        });
        Ok(Driver {
            scenario,
            seed,
            shared: Rc::new(RefCell::new(world)),
            root,
            backend_fs,
            check_rng: seed.sub_rng(Stream::Workload, u32::MAX),
            setup_mutations,
        })
    }

    fn plan(&self) -> Plan {
        self.shared.borrow().plan.clone()
    }

    async fn execute(&mut self) {
        let incarnations = {
            let world = self.shared.borrow();
            let planned = world.plan.incarnations();
            // A script's run ends with its last incarnation.
            world.script.as_ref().map_or(planned, |s| planned.min(s.incarnations.len()))
        };
        for index in 0..incarnations {
            if !self.incarnation(index).await {
                return;
            }
        }
        self.final_recovery();
    }

    /// One incarnation; `false` once the run is over (a failure or an
    /// allowed refusal).
    async fn incarnation(&mut self, index: usize) -> bool {
        let timed = self.arm_crash(index);
        {
            let mut world = self.shared.borrow_mut();
            // Recorded before its open: one that ends there (a crash, a
            // refusal, a failure) is part of the run a script replays.
            if let Some(recorded) = &mut world.recorded {
                recorded.spawned(index, 0);
            }
            world.event(format!("incarnation {index}"));
            world.emit(&RunEvent::Incarnation(index));
        }
        if let Some((db, report)) = self.open()
            && self.recovered(db, &report)
        {
            self.run_workload(index, timed).await;
        }
        self.after_incarnation()
    }

    /// Arms the incarnation's planned crash at a mutation now; returns a
    /// planned crash at a time, armed when the workload starts.
    fn arm_crash(&mut self, index: usize) -> Option<(u64, CrashMode)> {
        let world = self.shared.borrow();
        let sim = world.sim.as_ref()?;
        match world.plan.crashes.get(index)? {
            PlannedCrash::AtMutation { n, mode } => {
                sim.crash_at_mutation(sim.stats().mutations + n, *mode);
                None
            }
            PlannedCrash::AtTime { ms, mode } => Some((*ms, *mode)),
        }
    }

    /// The filesystem as the engine sees it: the scenario's layer over the
    /// backend.
    fn engine_fs(&self) -> Arc<dyn Fs> {
        self.scenario.wrap_fs(Arc::clone(&self.backend_fs))
    }

    /// Opens the database; `None` if the incarnation ended (see `World::stop`).
    fn open(&mut self) -> Option<(Database, OpenReport)> {
        let options = self.plan().options;
        for attempt in 0..OPEN_ATTEMPTS_MAX {
            let faults =
                self.shared.borrow().plan.recovery_faults && attempt + 1 < OPEN_ATTEMPTS_MAX;
            let fs = self.engine_fs();
            let marks = {
                let mut world = self.shared.borrow_mut();
                world.event(format!(
                    "open attempt={attempt} faults={}",
                    if faults { "on" } else { "off" }
                ));
                if let Some(sim) = &world.sim {
                    sim.set_faults_enabled(faults);
                }
                if !world.emit(&RunEvent::OpenStarting { attempt }) {
                    return None;
                }
                world.judge.faults().marks()
            };
            let result = panics::catch(|| Database::open(fs, &self.root, options.clone()));
            let mut world = self.shared.borrow_mut();
            if let Some(sim) = &world.sim {
                sim.set_faults_enabled(true);
            }
            world.drain();
            if !world.alive() {
                drop(result);
                world.event("crash during open".to_owned());
                world.crashed();
                return None;
            }
            match result {
                Ok(Ok((db, report))) => return Some((db, report)),
                Ok(Err(error)) if world.judge.faults().marks() > marks => {
                    world.event(format!("open failed on an injected fault: {error}"));
                    world.emit(&RunEvent::OpenFailed { error: &error });
                    world.go_down("open-failed");
                    drop(world);
                    self.restart();
                }
                Ok(Err(error)) => {
                    let text = error.to_string();
                    if world.emit(&RunEvent::OpenFailed { error: &error }) {
                        world.event(format!("refused a damaged history: {text}"));
                        world.stop = Some(Stop::Refused(text));
                    }
                    return None;
                }
                Err(caught) if caught.is_poison() => {
                    world.stats.poisonings += 1;
                    world.event(format!("poisoned during open: {}", caught.message));
                    let event = RunEvent::Poisoned {
                        step: Step::Open,
                        message: &caught.message,
                        durable_before: None,
                        durable_after: None,
                    };
                    if world.emit(&event) {
                        world.go_down("poison");
                    }
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
            format!("open kept failing on injected faults: attempts={OPEN_ATTEMPTS_MAX}"),
        );
        None
    }

    /// Has the judge check a fresh open; `false` if a check failed. Hands
    /// the database to the world.
    fn recovered(&mut self, db: Database, report: &OpenReport) -> bool {
        let read_checks = self.shared.borrow().plan.read_checks;
        let picks: Vec<u64> = (0..read_checks).map(|_| self.check_rng.random()).collect();
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
        let (acked, submitted) = (world.judge.model().acked(), world.judge.model().submitted());
        if !world.emit(&RunEvent::Opened { db: &db, report }) {
            return false;
        }
        let recovered = db.latest().offset().expect("an opened database holds offset 0");
        world.event(format!("recovered offset={recovered} acked={acked:?} submitted={submitted}"));
        world.db = Some(db);
        world.check_reads(&picks);
        !world.is_stopped()
    }

    async fn run_workload(&mut self, index: usize, timed: Option<(u64, CrashMode)>) {
        let plan = self.plan();
        let shape = plan.workload.clone();
        let base = index as u32 * 64;
        let clients = {
            let mut world = self.shared.borrow_mut();
            world.incarnation = index;
            world.clients_running = world.clients(index);
            let clients = world.clients_running;
            if let Some(recorded) = &mut world.recorded {
                recorded.spawned(index, clients);
            }
            clients
        };
        let mut handles = Vec::new();
        for client in 0..clients {
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
        for (k, task) in plan.tasks().iter().enumerate() {
            let rng = self.seed.sub_rng(Stream::Scheduling, base + 50 + k as u32);
            handles.push(runtime::spawn(tasks::engine_task(
                Rc::clone(&self.shared),
                task.make(),
                rng,
            )));
        }
        {
            let world = self.shared.borrow();
            if let (Some(sim), Some((ms, mode))) = (&world.sim, timed) {
                let deadline = world.now_ns().saturating_add(ms.saturating_mul(1_000_000));
                sim.arm_crash_timer(index as u32, deadline, mode);
            }
        }
        let timer = runtime::spawn(tasks::crash_timer(Rc::clone(&self.shared), index as u32));
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
        let db = world.db.take();
        if let Err(caught) = panics::catch(|| drop(db)) {
            world.panicked(caught);
        }
        world.drain();
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
                    sim.crash(CrashMode::PowerLoss);
                    world.event("crash mode=power-loss cause=final".to_owned());
                    world.emit(&RunEvent::WentDown { mode: CrashMode::PowerLoss, cause: "final" });
                }
            }
        }
        self.restart();
        for _ in 0..OPEN_ATTEMPTS_MAX {
            self.shared.borrow_mut().event("final recovery".to_owned());
            if let Some((db, report)) = self.open() {
                self.recovered(db, &report);
                let mut world = self.shared.borrow_mut();
                let db = world.db.take();
                if let Err(caught) = panics::catch(|| drop(db)) {
                    world.panicked(caught);
                }
                world.drain();
                return;
            }
            if self.shared.borrow().stop != Some(Stop::Crashed) {
                return;
            }
            self.restart();
        }
    }
}

/// The filesystem calls the setup makes before the engine's first: a
/// schedule's decisions for the engine start at call `SETUP_CALLS + 1`.
pub const SETUP_CALLS: u64 = 2;

/// Creates the empty, durable database directory on a fresh simulated
/// filesystem, with faults off.
/// Makes the database directory (faults off); returns the filesystem's
/// log of it, which the judge does not hear (the harness made the calls).
fn setup_sim(sim: &SimFs) -> Result<Vec<faultline_sim::FsRecord>, String> {
    sim.set_faults_enabled(false);
    let root = Path::new(ROOT);
    sim.create_dir(root).map_err(|e| format!("setup: {e}"))?;
    sim.sync_dir(Path::new("/")).map_err(|e| format!("setup: {e}"))?;
    assert_eq!(sim.stats().ops, SETUP_CALLS, "the setup makes SETUP_CALLS calls");
    sim.set_faults_enabled(true);
    Ok(sim.take_log())
}
