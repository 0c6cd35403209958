//! The state one run's tasks share, and every call into the engine, each
//! guarded: a poisoned-write panic is a crash, any other panic a finding.
//! The world supervises; it judges nothing itself: it tells the judge what
//! happened ([`RunEvent`]), after the filesystem's own log of calls and
//! events, and stops the run at the first broken invariant.

use std::cell::Cell;
use std::sync::Arc;

use faultline_engine::Database;
use faultline_engine::datastore::{MutTx, TxError};
use faultline_engine::db::CommitError;
use faultline_engine::db::DurabilityStep;
use faultline_sim::{CallRecord, FsRecord, SimFs, SimRng, TraceHasher};

use crate::coverage::{Gap, Recorder};
use crate::judge::{Judge, RunEvent, Step, Violation};
use crate::outcome::{Failure, FailureKind, RunStats};
use crate::panics::{self, Caught};
use crate::plan::{EngineTask, Plan};
use crate::runtime;
use crate::script::{Script, ScriptedTx};
use crate::timeline::TimelineRecorder;
use crate::trace::Trace;
use crate::workload::TxOp;
use rand::RngExt;

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
    pub(super) judge: Judge,
    pub(super) trace: Trace,
    pub(super) stop: Option<Stop>,
    pub(super) stats: RunStats,
    pub(super) fired: Vec<String>,
    pub(super) clients_running: usize,
    pub(super) plan: Plan,
    /// The simulated filesystem of the current incarnation, if simulated.
    pub(super) sim: Option<SimFs>,
    /// Whether to keep every call in `calls`.
    pub(super) keep_calls: bool,
    pub(super) calls: Vec<CallRecord>,
    /// The simulated time last seen inside the runtime.
    last_ns: Cell<u64>,
    /// What the run reached.
    pub(super) coverage: Recorder,
    /// Where the durability step stands between its parts.
    gap: Gap,
    /// The workload to send instead of the generator's (a shrunk or
    /// emitted case).
    pub(super) script: Option<Arc<Script>>,
    /// The workload sent, if asked to record it.
    pub(super) recorded: Option<Script>,
    /// The incarnation running.
    pub(super) incarnation: usize,
    /// The timeline being recorded, if asked for.
    pub(super) timeline: Option<TimelineRecorder>,
}

impl World {
    pub(super) fn new(
        plan: Plan,
        sim: Option<SimFs>,
        keep_trace: bool,
        coverage: Recorder,
    ) -> Self {
        World {
            coverage,
            gap: Gap::Idle,
            db: None,
            judge: Judge::new(&plan, sim.clone()),
            trace: Trace::new(keep_trace),
            stop: None,
            stats: RunStats { runs: 1, ..RunStats::default() },
            fired: Vec::new(),
            clients_running: 0,
            plan,
            sim,
            keep_calls: false,
            calls: Vec::new(),
            last_ns: Cell::new(0),
            script: None,
            recorded: None,
            incarnation: 0,
            timeline: None,
        }
    }

    /// How many clients incarnation `index` runs: the plan's, or the
    /// script's.
    pub(super) fn clients(&self, index: usize) -> usize {
        match &self.script {
            Some(script) => script.incarnations.get(index).map_or(0, Vec::len),
            None => self.plan.workload.clients,
        }
    }

    /// How many transactions of a script `client` sends in the running
    /// incarnation (`None`: the generator's, `txs_per_client` of them).
    pub(super) fn scripted_txs(&self, client: usize) -> Option<usize> {
        self.script.as_ref().map(|script| script.txs(self.incarnation, client).len())
    }

    /// Simulated nanoseconds since the run started (outside the runtime:
    /// the last time seen inside it).
    pub(super) fn now_ns(&self) -> u64 {
        let now = self.peek_ns();
        self.last_ns.set(now);
        now
    }

    /// The time [`World::now_ns`] would give, without remembering it (what
    /// only the timeline reads must not move what the run sees later).
    fn peek_ns(&self) -> u64 {
        runtime::elapsed()
            .map_or(self.last_ns.get(), |e| u64::try_from(e.as_nanos()).unwrap_or(u64::MAX))
    }

    /// Appends an event to the trace, after what the filesystem logged
    /// since the last one.
    pub(super) fn event(&mut self, text: String) {
        self.drain();
        let at = self.now_ns();
        self.trace.push(at, text);
    }

    /// Appends an event to the trace as [`Trace::push_hashed`] does, after
    /// what the filesystem logged since the last one.
    fn event_hashed(
        &mut self,
        content: impl FnOnce(&mut TraceHasher),
        text: impl FnOnce() -> String,
    ) {
        self.drain();
        let at = self.now_ns();
        self.trace.push_hashed(at, content, text);
    }

    /// Hands the filesystem's log to the judge (and its faults, crashes
    /// and damage to the trace).
    pub(super) fn drain(&mut self) {
        let Some(sim) = &self.sim else { return };
        let log = sim.take_log();
        if log.is_empty() {
            return;
        }
        let at = self.now_ns();
        for record in log {
            match &record {
                FsRecord::Event(event) => {
                    let line = format!("fs {event}");
                    if self.fired.len() < FIRED_MAX {
                        self.fired.push(line.clone());
                    }
                    self.trace.push(at, line);
                }
                FsRecord::Call(call) if self.keep_calls => self.calls.push(call.clone()),
                FsRecord::Call(_) => {}
            }
            self.judge_only(&RunEvent::Fs(&record));
            self.coverage.observe(&record, self.gap);
        }
    }

    /// Tells the judge `event` (after the filesystem's log); `false` if it
    /// found a broken invariant (the run then stops).
    pub(super) fn emit(&mut self, event: &RunEvent<'_>) -> bool {
        self.drain();
        self.judge_only(event)
    }

    fn judge_only(&mut self, event: &RunEvent<'_>) -> bool {
        if self.timeline.is_some() {
            let at = self.peek_ns();
            if let Some(timeline) = &mut self.timeline {
                timeline.observe(at, event);
            }
        }
        if matches!(self.stop, Some(Stop::Failed(_))) {
            return false;
        }
        match panics::catch(|| self.judge.observe(event)) {
            Ok(Ok(())) => true,
            Ok(Err(violation)) => {
                self.violated(violation);
                false
            }
            Err(caught) => {
                self.panicked(caught);
                false
            }
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
        self.trace.push(at_ns, format!("FAILED {kind}: {detail}"));
        let failure = Failure { kind, detail, at_ns };
        if let Some(timeline) = &mut self.timeline {
            timeline.failed(&failure);
        }
        self.stop = Some(Stop::Failed(failure));
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
        // What the crash struck is counted where the step stood.
        self.drain();
        self.gap = Gap::Idle;
        if self.stop.is_none() {
            self.stop = Some(Stop::Crashed);
        }
    }

    /// Whether the simulated process is still alive.
    pub(super) fn alive(&self) -> bool {
        self.sim.as_ref().is_none_or(SimFs::is_alive)
    }

    /// Takes the process down after a poisoned write or a failed open: the
    /// filesystem draws how (a consequence, not a decision).
    pub(super) fn go_down(&mut self, cause: &str) {
        if let Some(sim) = self.sim.clone()
            && sim.is_alive()
        {
            let mode = sim.go_down(self.plan.power_loss_after_failure);
            self.event(format!("crash mode={} cause={cause}", mode.name()));
            self.emit(&RunEvent::WentDown { mode, cause });
        }
        self.crashed();
    }

    fn db(&mut self) -> &mut Database {
        self.db.as_mut().expect("a running incarnation has a database")
    }

    /// Starts a client transaction. `None` once the run stopped.
    pub(super) fn begin(&mut self, client: usize) -> Option<MutTx> {
        if self.is_stopped() {
            return None;
        }
        let db = self.db();
        let latest = db.latest().offset();
        let tx = db.begin();
        self.emit(&RunEvent::Began { client, latest }).then_some(tx)
    }

    /// Has the plan's generator write a transaction on what `tx` began
    /// from, applies it and commits it; returns its offset, or `None` if
    /// it was (rightly) refused or the run stopped. After an operation the
    /// engine refuses, the client either gives up on the transaction or
    /// (a careless client) goes on with the rest of it.
    pub(super) fn commit(
        &mut self,
        client: usize,
        nth: usize,
        tx: MutTx,
        rng: &mut SimRng,
    ) -> Option<u64> {
        if self.is_stopped() {
            return None;
        }
        let began_after = tx.offset() - 1;
        let (generated, aborts_at_end) = match &self.script {
            Some(script) => {
                let scripted = &script.txs(self.incarnation, client)[nth];
                (scripted.ops.clone(), scripted.aborts)
            }
            None => {
                let base =
                    self.judge.model().state_at(began_after).expect("began on a submitted offset");
                (self.plan.generator.generate(base, &self.plan.workload, rng), false)
            }
        };
        let scripted = self.script.is_some();
        let n_generated = generated.len();
        // Only a recording run copies what it sends.
        let mut sent = self.recorded.is_some().then(ScriptedTx::default);
        let result = self.send(
            client,
            tx,
            generated,
            |i, rng: &mut SimRng| {
                // Go on after a refusal, or end the transaction: a coin, or
                // what the recorded client did.
                if scripted {
                    !(aborts_at_end && i + 1 == n_generated)
                } else {
                    rng.random_bool(0.5)
                }
            },
            rng,
            sent.as_mut(),
        );
        if let (Some(recorded), Some(sent)) = (&mut self.recorded, sent) {
            recorded.record(self.incarnation, client, sent);
        }
        result
    }

    /// Sends the operations `ops` in `tx`, in order, and commits those the
    /// engine accepted; `goes_on(i, rng)` says whether a refused operation
    /// `i` leaves the transaction going. `sent`, if given, gets every
    /// operation sent and whether the transaction ended at a refusal: the
    /// transaction as a script records it.
    fn send(
        &mut self,
        client: usize,
        mut tx: MutTx,
        mut ops: Vec<TxOp>,
        goes_on: impl Fn(usize, &mut SimRng) -> bool,
        rng: &mut SimRng,
        mut sent: Option<&mut ScriptedTx>,
    ) -> Option<u64> {
        let began_after = tx.offset() - 1;
        // The operations accepted so far stay at the front of `ops`, in
        // the order sent (each is moved down past the refused ones), so
        // that none is copied; the refused ones are dropped at the end.
        let mut accepted = 0;
        for i in 0..ops.len() {
            let op = &ops[i];
            if let Some(sent) = &mut sent {
                sent.ops.push(op.clone());
            }
            let engine = match panics::catch(|| op.apply_to(&mut tx)) {
                Ok(result) => result.map_err(|error| error.to_string()),
                Err(caught) => {
                    self.panicked(caught);
                    return None;
                }
            };
            let refused = engine.clone().err();
            let event =
                RunEvent::TxOp { client, began_after, before: &ops[..accepted], op, engine };
            if !self.emit(&event) {
                return None;
            }
            match refused {
                None => {
                    ops.swap(accepted, i);
                    accepted += 1;
                }
                Some(error) if goes_on(i, rng) => {
                    self.event(format!("refused client={client} {op}: {error}; going on"));
                }
                Some(error) => {
                    self.event(format!("aborted client={client} {op}: {error}"));
                    if let Some(sent) = &mut sent {
                        sent.aborts = true;
                    }
                    return self.abandoned(client, tx);
                }
            }
        }
        ops.truncate(accepted);
        if ops.is_empty() {
            self.event(format!("aborted client={client}: nothing left to commit"));
            return self.abandoned(client, tx);
        }
        let db = self.db();
        match panics::catch(|| db.commit(tx)) {
            Ok(Ok(offset)) => {
                self.stats.txs_committed += 1;
                self.event_hashed(
                    |hasher| {
                        hasher.str("commit");
                        hasher.u64(client as u64);
                        hasher.u64(offset);
                        ops.iter().for_each(|op| op.hash_into(hasher));
                    },
                    || {
                        let ops: Vec<String> = ops.iter().map(ToString::to_string).collect();
                        format!("commit client={client} offset={offset} ops=[{}]", ops.join("; "))
                    },
                );
                let event = RunEvent::Committed { client, began_after, offset, ops: &ops };
                self.emit(&event).then_some(offset)
            }
            Ok(Err(error)) => {
                self.stats.txs_refused += 1;
                match &error {
                    CommitError::Tx(TxError::Conflict { .. }) => {
                        self.event(format!("conflict client={client} began-after={began_after}"));
                    }
                    error => self.event(format!("refused client={client}: {error}")),
                }
                if self.emit(&RunEvent::CommitRefused { client, began_after, error: &error }) {
                    self.check_no_trace(client);
                }
                None
            }
            Err(caught) => {
                self.panicked(caught);
                None
            }
        }
    }

    /// A transaction given up on: dropped, then the judge checks it left
    /// no trace. Always `None` (no offset).
    fn abandoned(&mut self, client: usize, tx: MutTx) -> Option<u64> {
        self.stats.txs_refused += 1;
        drop(tx);
        self.check_no_trace(client);
        None
    }

    /// Has the judge check that nothing of `client`'s refused request
    /// remains.
    fn check_no_trace(&mut self, client: usize) {
        let db = self.db.take().expect("a running incarnation has a database");
        self.emit(&RunEvent::Abandoned { client, db: &db });
        self.db = Some(db);
    }

    /// Whether `offset` is durable; checks nothing.
    pub(super) fn is_durable(&mut self, offset: u64) -> bool {
        self.db().durable_offset().is_some_and(|durable| durable >= offset)
    }

    /// The first part of a durability step: the commit appended and
    /// handed to the OS. `None` if nothing was queued or the run stopped
    /// (a poisoned write took the process down).
    pub(super) fn durability_write(&mut self) -> Option<DurabilityStep> {
        if !self.emit(&RunEvent::StepStarted(Step::Durability)) {
            return None;
        }
        let db = self.db();
        let durable_before = db.durable_offset();
        match panics::catch(|| db.durability_write()) {
            Ok(Some(step)) => {
                self.event(format!("written offset={}", step.last_offset()));
                self.drain();
                self.gap = Gap::WrittenNotSynced;
                Some(step)
            }
            Ok(None) => {
                self.emit(&RunEvent::DurabilityStepped { durable: None });
                None
            }
            Err(caught) if caught.is_poison() => {
                self.poisoned(Step::Durability, &caught, durable_before);
                None
            }
            Err(caught) => {
                self.panicked(caught);
                None
            }
        }
    }

    /// The second part: the commit synced. `false` if the run stopped.
    pub(super) fn durability_sync(&mut self, step: &mut DurabilityStep) -> bool {
        if self.is_stopped() || !self.emit(&RunEvent::StepResumed(Step::Durability)) {
            return false;
        }
        self.gap = Gap::Idle;
        let db = self.db();
        let durable_before = db.durable_offset();
        match panics::catch(|| db.durability_sync(step)) {
            Ok(()) => {
                self.drain();
                self.gap = Gap::SyncedNotPublished;
                true
            }
            Err(caught) if caught.is_poison() => {
                self.poisoned(Step::Durability, &caught, durable_before);
                false
            }
            Err(caught) => {
                self.panicked(caught);
                false
            }
        }
    }

    /// The last part: the durable offset published (the step's
    /// transactions acknowledged).
    pub(super) fn durability_publish(&mut self, step: DurabilityStep) {
        if self.is_stopped() || !self.emit(&RunEvent::StepResumed(Step::Durability)) {
            return;
        }
        self.gap = Gap::Idle;
        let db = self.db();
        let result = panics::catch(|| {
            let durable = db.durability_publish(step);
            db.assert_invariants();
            durable
        });
        match result {
            Ok(durable) => {
                self.stats.durability_steps += 1;
                self.event(format!("durable offset={durable}"));
                self.emit(&RunEvent::DurabilityStepped { durable: Some(durable) });
            }
            Err(caught) => self.panicked(caught),
        }
    }

    /// The engine panicked with the poison message in `step`: the judge
    /// hears of it, the process unwinds (the database is dropped while the
    /// process lives, as a panic's unwinding would) and goes down.
    pub(super) fn poisoned(&mut self, step: Step, caught: &Caught, durable_before: Option<u64>) {
        self.stats.poisonings += 1;
        self.event(format!("poisoned in {step}: {}", caught.message));
        let durable_after = self.db.as_ref().and_then(Database::durable_offset);
        let event =
            RunEvent::Poisoned { step, message: &caught.message, durable_before, durable_after };
        if !self.emit(&event) {
            return;
        }
        let db = self.db.take();
        if let Err(caught) = panics::catch(|| drop(db)) {
            self.panicked(caught);
            return;
        }
        self.drain();
        self.go_down("poison");
    }

    /// One step of a scenario's engine task.
    pub(super) fn engine_task_step(&mut self, task: &mut dyn EngineTask) {
        let name = task.name().to_owned();
        if !self.emit(&RunEvent::StepStarted(Step::Task(name.clone()))) {
            return;
        }
        let db = self.db();
        let durable_before = db.durable_offset();
        let result = panics::catch(|| task.step(db));
        match result {
            Ok(Ok(step)) => {
                if let crate::plan::TaskStep::Done(line) | crate::plan::TaskStep::Failed(line) =
                    &step
                {
                    self.event(format!("{name}: {line}"));
                }
                self.emit(&RunEvent::TaskStepped { task: &name, step: &step });
            }
            Ok(Err(violation)) => self.violated(violation),
            Err(caught) if caught.is_poison() => {
                self.poisoned(Step::Task(name), &caught, durable_before);
            }
            Err(caught) => self.panicked(caught),
        }
        if !self.alive() {
            self.crashed();
        }
    }

    /// Has the judge check `read_at` at offsets chosen by `picks`.
    pub(super) fn check_reads(&mut self, picks: &[u64]) {
        self.stats.reads_checked += picks.len() as u64;
        let db = self.db.take().expect("a running incarnation has a database");
        self.emit(&RunEvent::ReadCheck { db: &db, picks });
        self.db = Some(db);
    }
}
