//! The state one run's tasks share, and every call into the engine, each
//! guarded: a poisoned-write panic is a crash, any other panic a finding,
//! and every answer is checked against the model on the spot.

use std::sync::Arc;

use faultline_engine::Database;
use faultline_engine::datastore::{MutTx, TxError};
use faultline_engine::db::CommitError;
use faultline_sim::{CrashMode, SimFs, SimRng};
use parking_lot::Mutex;
use rand::RngExt;

use crate::model::{DurabilityRule, Invariant, Model, Violation, apply_to_tx};
use crate::outcome::{Failure, FailureKind, RunStats};
use crate::panics::{self, Caught};
use crate::runtime;
use crate::scenario::{EngineTask, TaskStep};
use crate::schedule::{CrashTrigger, crash_mode_name};
use crate::tap::{TapCore, TapState};
use crate::trace::Trace;
use crate::workload::{WorkloadShape, generate_tx};

/// The most fault lines a report keeps.
const FIRED_MAX: usize = 200;

/// Why the tasks of an incarnation stop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Stop {
    /// The process died (a crash, or a poisoned write that took it down).
    Crashed,
    /// The engine refused a damaged history, as allowed: the run ends.
    Refused(String),
    /// A check failed: the run ends.
    Failed(Failure),
}

/// What the tasks of a run share (single-threaded: `Rc<RefCell<World>>`;
/// no borrow is ever held across an await).
pub(super) struct World {
    pub(super) db: Option<Database>,
    pub(super) model: Model,
    pub(super) trace: Trace,
    pub(super) stop: Option<Stop>,
    pub(super) stats: RunStats,
    pub(super) fired: Vec<String>,
    pub(super) clients_running: usize,
    pub(super) shape: WorkloadShape,
    pub(super) tap: Arc<Mutex<TapState>>,
    pub(super) tap_core: TapCore,
    pub(super) sim: Option<SimFs>,
    /// The simulated time last seen inside the runtime.
    last_ns: std::cell::Cell<u64>,
    poison_rng: SimRng,
    power_loss_after_poison: f64,
}

impl World {
    pub(super) fn new(
        shape: WorkloadShape,
        tap: Arc<Mutex<TapState>>,
        sim: Option<SimFs>,
        keep_trace: bool,
        poison_rng: SimRng,
        power_loss_after_poison: f64,
    ) -> Self {
        World {
            db: None,
            model: Model::new(),
            trace: Trace::new(keep_trace),
            stop: None,
            stats: RunStats { runs: 1, ..RunStats::default() },
            fired: Vec::new(),
            clients_running: 0,
            shape,
            tap_core: TapCore::new(sim.clone(), Arc::clone(&tap)),
            tap,
            sim,
            last_ns: std::cell::Cell::new(0),
            poison_rng,
            power_loss_after_poison,
        }
    }

    /// Simulated nanoseconds since the run started (outside the runtime:
    /// the last time seen inside it).
    pub(super) fn now_ns(&self) -> u64 {
        if let Some(elapsed) = runtime::elapsed() {
            self.last_ns.set(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX));
        }
        self.last_ns.get()
    }

    /// Appends an event to the trace, after whatever the filesystem
    /// reported since the last one.
    pub(super) fn event(&mut self, text: String) {
        self.sync_trace();
        let at = self.now_ns();
        self.trace.push(at, text);
    }

    /// Moves the filesystem's fault and crash lines into the trace.
    pub(super) fn sync_trace(&mut self) {
        let lines = std::mem::take(&mut self.tap.lock().pending_trace);
        if lines.is_empty() {
            return;
        }
        let at = self.now_ns();
        for line in lines {
            if self.fired.len() < FIRED_MAX {
                self.fired.push(line.clone());
            }
            self.trace.push(at, line);
        }
    }

    pub(super) fn is_stopped(&self) -> bool {
        self.stop.is_some()
    }

    /// Records a failure; the first one wins.
    pub(super) fn fail(&mut self, kind: FailureKind, detail: String) {
        if matches!(self.stop, Some(Stop::Failed(_))) {
            return;
        }
        let at_ns = self.now_ns();
        self.event(format!("FAILED {kind}: {detail}"));
        self.stop = Some(Stop::Failed(Failure { kind, detail, at_ns }));
    }

    pub(super) fn violated(&mut self, violation: Violation) {
        self.fail(FailureKind::Invariant(violation.invariant), violation.detail);
    }

    /// A panic other than the poison message.
    pub(super) fn panicked(&mut self, caught: Caught) {
        let at = caught.location.as_ref().map(|l| format!(" at {l}")).unwrap_or_default();
        if caught.is_budget() {
            self.fail(FailureKind::Hang, caught.message);
        } else {
            self.fail(FailureKind::UnexpectedPanic, format!("{}{at}", caught.message));
        }
    }

    /// Marks the process dead (unless the run already stopped otherwise).
    pub(super) fn crashed(&mut self) {
        if self.stop.is_none() {
            self.stop = Some(Stop::Crashed);
        }
    }

    /// Which durability promise applies now.
    pub(super) fn rule(&self) -> DurabilityRule {
        if self.tap.lock().voided {
            DurabilityRule::ConsistencyOnly
        } else {
            DurabilityRule::Durable
        }
    }

    /// Whether a fault damaged bytes that may have been durable or voided
    /// the durability promise: only then may an open refuse the history or
    /// pass over a snapshot.
    pub(super) fn history_may_be_damaged(&self) -> bool {
        let tap = self.tap.lock();
        tap.damaged || tap.voided
    }

    /// Whether the simulated process is still alive.
    pub(super) fn alive(&self) -> bool {
        self.sim.as_ref().is_none_or(SimFs::is_alive)
    }

    /// Takes the process down after a poisoned write or a failed open: a
    /// power loss or a process crash, drawn (not a recorded decision: it is
    /// the consequence of one).
    pub(super) fn go_down(&mut self, cause: &str) {
        if self.sim.is_some() && self.alive() {
            let mode = if self.poison_rng.random_bool(self.power_loss_after_poison) {
                CrashMode::PowerLoss
            } else {
                CrashMode::ProcessCrash
            };
            self.tap_core.crash_now(mode, true, None);
            self.event(format!("crash mode={} cause={cause}", crash_mode_name(mode)));
        }
        self.crashed();
    }

    /// A planned crash at a simulated time, recorded as a decision (unless
    /// replaying a pinned one).
    pub(super) fn crash_now(
        &mut self,
        mode: CrashMode,
        torn: bool,
        record_as: Option<CrashTrigger>,
    ) {
        self.tap_core.crash_now(mode, torn, record_as);
        self.event(format!("crash mode={} cause=timer", crash_mode_name(mode)));
        self.crashed();
    }

    fn db(&mut self) -> &mut Database {
        self.db.as_mut().expect("a running incarnation has a database")
    }

    /// Starts a client transaction, after checking that the engine's latest
    /// offset is the model's. `None` once the run stopped.
    pub(super) fn begin(&mut self) -> Option<MutTx> {
        if self.is_stopped() {
            return None;
        }
        let submitted = self.model.submitted();
        let db = self.db();
        let latest = db.latest().offset();
        let tx = db.begin();
        if latest != Some(submitted) {
            self.violated(Violation::new(
                Invariant::StateMismatch,
                format!("engine latest-offset={latest:?} model submitted={submitted}"),
            ));
            return None;
        }
        Some(tx)
    }

    /// Builds a valid transaction on what `tx` began from and commits it;
    /// returns its offset, or `None` if it was (rightly) refused.
    pub(super) fn commit(&mut self, client: usize, mut tx: MutTx, rng: &mut SimRng) -> Option<u64> {
        if self.is_stopped() {
            return None;
        }
        let began = tx.offset() - 1;
        let base = self.model.state_at(began).expect("transactions begin at a submitted offset");
        let ops = generate_tx(base, &self.shape, rng);
        for op in &ops {
            match panics::catch(|| apply_to_tx(&mut tx, op)) {
                Ok(Ok(())) => {}
                Ok(Err(error)) => {
                    self.violated(Violation::new(
                        Invariant::TxRefused,
                        format!("client={client} began-after={began} {op}: {error}"),
                    ));
                    return None;
                }
                Err(caught) => {
                    self.panicked(caught);
                    return None;
                }
            }
        }
        let conflict_expected = self.model.submitted() != began;
        let db = self.db();
        match panics::catch(|| db.commit(tx)) {
            Ok(Ok(offset)) => self.committed(client, offset, &ops, conflict_expected),
            Ok(Err(error)) => {
                self.commit_refused(client, began, error, conflict_expected);
                None
            }
            Err(caught) => {
                self.panicked(caught);
                None
            }
        }
    }

    fn committed(
        &mut self,
        client: usize,
        offset: u64,
        ops: &[crate::model::TxOp],
        conflict_expected: bool,
    ) -> Option<u64> {
        self.stats.txs_committed += 1;
        self.event(format!("commit client={client} offset={offset} ops={}", ops.len()));
        if conflict_expected {
            self.violated(Violation::new(
                Invariant::ConflictMismatch,
                format!("offset={offset} committed though another transaction committed first"),
            ));
            return None;
        }
        if let Err(violation) = self.model.commit(offset, ops) {
            self.violated(violation);
            return None;
        }
        Some(offset)
    }

    fn commit_refused(
        &mut self,
        client: usize,
        began: u64,
        error: CommitError,
        conflict_expected: bool,
    ) {
        match error {
            CommitError::Tx(TxError::Conflict { .. }) if conflict_expected => {
                self.stats.txs_refused += 1;
                self.event(format!("conflict client={client} began-after={began}"));
            }
            CommitError::TooLarge { .. } => {
                self.stats.txs_refused += 1;
                self.event(format!("refused client={client}: {error}"));
            }
            CommitError::Tx(TxError::Conflict { .. }) => self.violated(Violation::new(
                Invariant::ConflictMismatch,
                format!("client={client} began-after={began}: {error} without a concurrent commit"),
            )),
            error => self.violated(Violation::new(
                Invariant::TxRefused,
                format!("client={client} began-after={began}: {error}"),
            )),
        }
    }

    /// Whether `offset` is durable; checks nothing.
    pub(super) fn is_durable(&mut self, offset: u64) -> bool {
        self.db().durable_offset().is_some_and(|durable| durable >= offset)
    }

    /// One durability step, judged: a step that returns must have seen no
    /// failed call; a step that poisons must not have moved the durable
    /// offset nor touched the filesystem after the failed call.
    pub(super) fn durability_step(&mut self) {
        let errors_before = self.tap.lock().errors;
        let db = self.db();
        let durable_before = db.durable_offset();
        let result = panics::catch(|| {
            let durable = db.durability_step();
            db.assert_invariants();
            durable
        });
        self.sync_trace();
        match result {
            Ok(None) => {}
            Ok(Some(durable)) => self.made_durable(durable, errors_before),
            Err(caught) if caught.is_poison() => {
                self.poisoned(&caught, durable_before, errors_before);
            }
            Err(caught) => self.panicked(caught),
        }
    }

    fn made_durable(&mut self, durable: u64, errors_before: u64) {
        self.stats.durability_steps += 1;
        self.event(format!("durable offset={durable}"));
        let errors = self.tap.lock().errors;
        if errors > errors_before {
            self.violated(Violation::new(
                Invariant::ErrorSwallowed,
                format!("failed-calls={} durable={durable}", errors - errors_before),
            ));
            return;
        }
        if let Err(violation) = self.model.acknowledge(durable) {
            self.violated(violation);
        }
    }

    /// The engine panicked with the poison message inside a durability
    /// step (or an engine task).
    pub(super) fn poisoned(
        &mut self,
        caught: &Caught,
        durable_before: Option<u64>,
        errors_before: u64,
    ) {
        self.stats.poisonings += 1;
        self.event(format!("poisoned: {}", caught.message));
        let durable_after = self.db.as_ref().and_then(Database::durable_offset);
        let (errors, calls, last_error) = {
            let tap = self.tap.lock();
            (tap.errors, tap.calls, tap.last_error_call)
        };
        if durable_after != durable_before {
            self.violated(Violation::new(
                Invariant::AckedAfterPoison,
                format!("durable before={durable_before:?} after={durable_after:?}"),
            ));
        } else if errors == errors_before {
            self.fail(
                FailureKind::UnexpectedPanic,
                format!("poisoned without a failed filesystem call: {}", caught.message),
            );
        } else if calls != last_error {
            self.violated(Violation::new(
                Invariant::RetriedAfterError,
                format!("fs-calls-after-the-failed-one={}", calls - last_error),
            ));
        }
        self.go_down("poison");
    }

    /// One step of a scenario's engine task.
    pub(super) fn engine_task_step(&mut self, task: &mut dyn EngineTask) {
        let errors_before = self.tap.lock().errors;
        let marks_before = self.fault_marks();
        let db = self.db();
        let durable_before = db.durable_offset();
        let result = panics::catch(|| task.step(db));
        self.sync_trace();
        match result {
            Ok(Ok(TaskStep::Done(line))) => self.event(format!("{}: {line}", task.name())),
            Ok(Ok(TaskStep::Idle)) => {}
            Ok(Ok(TaskStep::Failed(line))) => {
                let line = format!("{}: {line}", task.name());
                let excused = self.fault_marks() != marks_before
                    || !self.alive()
                    || self.history_may_be_damaged();
                if excused {
                    self.event(line);
                } else {
                    self.violated(Violation::new(Invariant::FailedWithoutFault, line));
                }
            }
            Ok(Err(violation)) => self.violated(violation),
            Err(caught) if caught.is_poison() => {
                self.poisoned(&caught, durable_before, errors_before);
            }
            Err(caught) => self.panicked(caught),
        }
        if !self.alive() {
            self.crashed();
        }
    }

    /// Faults fired plus crashes seen so far: a step that failed while
    /// this stayed put met no fault.
    fn fault_marks(&self) -> u64 {
        let tap = self.tap.lock();
        tap.counts.total() + tap.crashes
    }

    /// Checks `read_at` at offsets chosen by `picks` against the model.
    pub(super) fn check_reads(&mut self, picks: &[u64]) {
        self.stats.reads_checked += picks.len() as u64;
        let db = self.db.as_ref().expect("a running incarnation has a database");
        let result = panics::catch(|| self.model.check_reads(db, picks));
        match result {
            Ok(Ok(())) => {}
            Ok(Err(violation)) => self.violated(violation),
            Err(caught) => self.panicked(caught),
        }
    }
}
