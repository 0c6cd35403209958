//! The judge: every check of a run, fed typed events by the runner, split
//! by concern (TigerBeetle's state, storage and journal checkers are the
//! model):
//!
//! - [`durability`]: acknowledgements, commit offsets, what a recovery may
//!   come back to, and that the engine refuses exactly what the model
//!   refuses;
//! - [`reads`]: what the engine serves (the recovered state, `read_at`
//!   over the MVCC window) equals the model;
//! - [`recovery`]: when an open may refuse a history, and when it may set
//!   a snapshot aside;
//! - [`snapshots`]: snapshot + suffix and the whole log open to the same
//!   state (registered with the snapshot task);
//! - [`layout`]: the storage layout on the device after every durable
//!   step and every recovery;
//! - [`io`]: I/O discipline around failures and poisoned writes;
//! - [`refusals`]: a refused request leaves no trace (no offset, no row,
//!   nothing queued).
//!
//! Checkers never run the code they judge: the model ([`crate::model`])
//! computes what to expect from the workload alone, the layout checker
//! reads the disk image with its own reader of the formats
//! ([`disk_format`]), and the engine is only asked through its public read
//! API. They read the events, the model and the disk image, never the
//! injector's counters. A scenario adds checks of its own by implementing
//! [`Checker`] (with invariants of its own, [`Invariant::new`]).

pub mod disk_format;
mod durability;
mod invariant;
mod io;
mod layout;
mod reads;
mod recovery;
mod refusals;
mod snapshots;
#[cfg(test)]
mod test_disk;

use std::fmt;

use faultline_engine::db::CommitError;
use faultline_engine::{Database, OpenError, OpenReport};
use faultline_sim::{CrashMode, DiskImage, Fault, FsRecord, Happening, SimFs, View};

pub use invariant::{Invariant, Violation};
pub use snapshots::SnapshotChecker;

use crate::model::Model;
use crate::plan::{Plan, TaskStep};
use crate::workload::TxOp;

/// What the engine was doing when an event happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// `Database::open`.
    Open,
    /// A durability step.
    Durability,
    /// A step of the named engine task.
    Task(String),
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Open => f.write_str("open"),
            Step::Durability => f.write_str("durability step"),
            Step::Task(name) => write!(f, "task {name}"),
        }
    }
}

/// What happened in a run, as the runner tells the judge.
#[derive(Debug)]
pub enum RunEvent<'a> {
    /// A filesystem call ended, or a fault, crash or damage happened.
    Fs(&'a FsRecord),
    /// Incarnation `index` of the process starts.
    Incarnation(usize),
    /// An open is about to start.
    OpenStarting {
        /// Which try in this incarnation (0-based).
        attempt: usize,
    },
    /// The open returned a database.
    Opened {
        /// The database.
        db: &'a Database,
        /// What the open reported.
        report: &'a OpenReport,
    },
    /// The open returned an error.
    OpenFailed {
        /// The error.
        error: &'a OpenError,
    },
    /// A client began a transaction on the engine's latest state.
    Began {
        /// The client.
        client: usize,
        /// The engine's latest offset then.
        latest: Option<u64>,
    },
    /// A client applied one operation to its transaction.
    TxOp {
        /// The client.
        client: usize,
        /// The offset the transaction began after.
        began_after: u64,
        /// The operations applied before it (all accepted).
        before: &'a [TxOp],
        /// The operation.
        op: &'a TxOp,
        /// What the engine said.
        engine: Result<(), String>,
    },
    /// A client's transaction committed.
    Committed {
        /// The client.
        client: usize,
        /// The offset it began after.
        began_after: u64,
        /// The offset it got.
        offset: u64,
        /// Its operations.
        ops: &'a [TxOp],
    },
    /// A client's transaction ended without a commit: it gave up after a
    /// refused operation, or the engine refused the commit. Nothing of it
    /// may remain.
    Abandoned {
        /// The client.
        client: usize,
        /// The database.
        db: &'a Database,
    },
    /// The engine refused a client's commit.
    CommitRefused {
        /// The client.
        client: usize,
        /// The offset it began after.
        began_after: u64,
        /// Why.
        error: &'a CommitError,
    },
    /// A durability step or an engine task's step starts.
    StepStarted(Step),
    /// A step started earlier goes on after a wait (a durability step's
    /// sync, then its publication): its calls are the step's again.
    StepResumed(Step),
    /// A durability step returned the durable offset it published.
    DurabilityStepped {
        /// `None` if nothing was queued.
        durable: Option<u64>,
    },
    /// An engine task's step returned.
    TaskStepped {
        /// The task's name.
        task: &'a str,
        /// What it did.
        step: &'a TaskStep,
    },
    /// The engine panicked with the poison message.
    Poisoned {
        /// In what.
        step: Step,
        /// The panic message.
        message: &'a str,
        /// The durable offset before the step.
        durable_before: Option<u64>,
        /// And after (`None` if the database went with the panic).
        durable_after: Option<u64>,
    },
    /// Check `read_at` at offsets chosen by `picks`.
    ReadCheck {
        /// The database.
        db: &'a Database,
        /// Random numbers; each picks an offset of the window.
        picks: &'a [u64],
    },
    /// The process went down (the crash itself is a filesystem event).
    WentDown {
        /// How.
        mode: CrashMode,
        /// Why: `timer`, `poison`, `open-failed`, `final`.
        cause: &'a str,
    },
}

/// What faults did so far, as the filesystem's events told the judge.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FaultRecord {
    /// Faults that fired.
    pub faults: u64,
    /// Crashes.
    pub crashes: u64,
    /// Calls that reported an earlier fault (an fsync error recorded on
    /// the file, a filesystem shut down by one).
    pub reported: u64,
    /// Whether a fault damaged bytes on the device (a misdirected write
    /// reached it, a sector went bad).
    pub damaged: bool,
    /// Whether a fault voided durability (a lying fsync, or a failed one
    /// that returned `Ok` on ext4-journal).
    pub voided: bool,
}

impl FaultRecord {
    /// Faults, crashes and calls that reported an earlier fault: a step
    /// during which this stays put met none.
    pub fn marks(&self) -> u64 {
        self.faults + self.crashes + self.reported
    }

    fn observe(&mut self, record: &FsRecord) {
        let FsRecord::Event(event) = record else { return };
        match &event.happening {
            Happening::Fault(fault) => {
                self.faults += 1;
                match fault {
                    Fault::ReadBitFlip { .. } => self.damaged = true,
                    // ext4-journal's failed sync returned Ok: as a lying
                    // fsync, its promise was broken by the filesystem.
                    Fault::LyingFsync | Fault::FsyncError { reported_later: true, .. } => {
                        self.voided = true;
                    }
                    _ => {}
                }
            }
            // The consequence of a fault already counted, met by this call.
            Happening::ErrorReported { .. } => self.reported += 1,
            Happening::Damage { .. } => self.damaged = true,
            Happening::PowerLoss(_) | Happening::ProcessCrash => self.crashes += 1,
        }
    }
}

/// The judge's read-only view of the simulated disk: images and forks,
/// never calls, never controls.
#[derive(Clone, Debug)]
pub struct Inspector {
    sim: SimFs,
}

impl Inspector {
    /// The disk as `view` shows it.
    pub fn image(&self, view: View) -> DiskImage {
        self.sim.image(view)
    }

    /// A second, fault-free machine holding what the page cache holds.
    pub fn fork(&self) -> SimFs {
        self.sim.fork()
    }
}

/// What every checker may consult besides the event.
#[derive(Clone, Copy, Debug)]
pub struct Facts<'a> {
    /// The model, as it stands before the event (its transactions in
    /// progress aside: see `op_verdict`).
    pub model: &'a Model,
    /// For a [`RunEvent::TxOp`]: whether the model accepts the operation
    /// on the client's transaction, and if not, why. The model applies it
    /// once, before the checkers see the event ([`Model::apply_op`]).
    pub op_verdict: Option<&'a Result<(), String>>,
    /// The plan.
    pub plan: &'a Plan,
    /// What faults did so far.
    pub faults: &'a FaultRecord,
    /// The disk, if simulated.
    pub disk: Option<&'a Inspector>,
}

/// One concern of the judge.
pub trait Checker: Send {
    /// A short name, for reports.
    fn name(&self) -> &str;

    /// Checks `event`; `facts` are as they stand before it.
    fn observe(&mut self, event: &RunEvent<'_>, facts: &Facts<'_>) -> Result<(), Violation>;
}

/// The judge of one run: the model, what faults did, and the checkers.
pub struct Judge {
    model: Model,
    faults: FaultRecord,
    plan: Plan,
    disk: Option<Inspector>,
    checkers: Vec<Box<dyn Checker>>,
}

impl fmt::Debug for Judge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.checkers.iter().map(|c| c.name()).collect();
        f.debug_struct("Judge").field("checkers", &names).finish_non_exhaustive()
    }
}

impl Judge {
    /// The judge of a run of `plan` on `sim` (if simulated): the built-in
    /// checkers, those the plan's engine tasks bring, and the plan's own.
    pub fn new(plan: &Plan, sim: Option<SimFs>) -> Self {
        let mut checkers: Vec<Box<dyn Checker>> = vec![
            Box::new(durability::DurabilityChecker),
            Box::new(reads::ReadsChecker::default()),
            Box::new(recovery::RecoveryChecker::default()),
            Box::new(io::IoChecker::default()),
            Box::new(layout::LayoutChecker::default()),
            Box::new(refusals::RefusalChecker),
        ];
        checkers.extend(plan.checkers());
        Judge {
            model: Model::new(),
            faults: FaultRecord::default(),
            plan: plan.clone(),
            disk: sim.map(|sim| Inspector { sim }),
            checkers,
        }
    }

    /// Judges `event`, then lets it change the model; the first broken
    /// invariant is returned.
    pub fn observe(&mut self, event: &RunEvent<'_>) -> Result<(), Violation> {
        let op_verdict = match event {
            RunEvent::TxOp { client, began_after, before, op, .. } => {
                Some(self.model.apply_op(*client, *began_after, before, op))
            }
            _ => None,
        };
        let facts = Facts {
            model: &self.model,
            op_verdict: op_verdict.as_ref(),
            plan: &self.plan,
            faults: &self.faults,
            disk: self.disk.as_ref(),
        };
        for checker in &mut self.checkers {
            checker.observe(event, &facts)?;
        }
        self.update(event)
    }

    fn update(&mut self, event: &RunEvent<'_>) -> Result<(), Violation> {
        match event {
            RunEvent::Fs(record) => self.faults.observe(record),
            RunEvent::Committed { client, began_after, offset, ops } => {
                self.model.commit_tx(Some((*client, *began_after)), *offset, ops)?;
            }
            RunEvent::CommitRefused { client, .. } | RunEvent::Abandoned { client, .. } => {
                self.model.end_tx(*client);
            }
            RunEvent::DurabilityStepped { durable: Some(durable) } => {
                self.model.acknowledge(*durable)?;
            }
            RunEvent::Opened { db, .. } => {
                let recovered = db.latest().offset().expect("an opened database holds offset 0");
                self.model.recover(recovered);
            }
            _ => {}
        }
        Ok(())
    }

    /// The model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// What faults did so far.
    pub fn faults(&self) -> &FaultRecord {
        &self.faults
    }
}
