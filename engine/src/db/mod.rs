//! The database: the datastore made durable by the commitlog, and the open
//! sequence that bootstraps it from its own history (DESIGN 2.4, 2.5).
//!
//! Opening:
//! 1. recover the snapshot store (delete interrupted snapshots, sync what is
//!    left) and open the commitlog (which verifies it from the newest
//!    snapshot on and cuts a torn tail; the log below, which that snapshot
//!    makes unnecessary, is verified only if replay has to read it);
//! 2. restore the newest snapshot that validates and connects to the log
//!    and replay the log suffix after it; if there is none, start from the
//!    seed tables (`st_table`, `st_column`, compiled in) and replay the
//!    whole history. Whenever a transaction touches a system table, the
//!    repair step rebuilds schemas and page layouts from the system rows,
//!    so that later user rows decode with the right schema;
//! 3. if the history is empty, commit the bootstrap transaction (the other
//!    system tables, the sequences, the system indexes) at offset 0 and sync
//!    it before serving anyone;
//! 4. check that the system tables match their static definitions and that
//!    registries and summaries agree with the rows.
//!
//! The engine owns no threads: [`Database::durability_step`] is driven by
//! the caller (the simulation's tasks, or [`driver::DurableDatabase`]'s
//! thread in production).

pub mod driver;
mod durability;
mod error;
mod snapshots;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use durability::DurabilityOptions;
pub use error::{CommitError, OpenError};
pub use snapshots::{SnapshotJob, SnapshotOptions};

use crate::commitlog::{self, Commitlog};
use crate::datastore::{
    ApplyError, CommittedState, Datastore, MutTx, ReadError, bootstrap_mutations, decode_tx,
    encoded_len,
};
use crate::fs::Fs;
use crate::fs::phase::{self, Phase};
use crate::snapshot::{Manifest, SnapshotError, SnapshotStore};
use durability::{COMMIT_OVERHEAD, DurabilityQueue, RECORD_OVERHEAD};
use snapshots::{RotationCounter, choose_snapshot};

/// The name of the commitlog's directory inside the database directory.
pub const LOG_DIR: &str = "log";

/// How a database runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// The commitlog's settings.
    pub log: commitlog::Options,
    /// Bounds on each durability step's commit.
    pub durability: DurabilityOptions,
    /// How many committed versions `read_at` can reach back. Default: 1024.
    pub versions_retained: usize,
    /// When snapshots are taken and kept.
    pub snapshots: SnapshotOptions,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            log: commitlog::Options::default(),
            durability: DurabilityOptions::default(),
            versions_retained: 1024,
            snapshots: SnapshotOptions::default(),
        }
    }
}

/// An open database.
#[derive(Debug)]
pub struct Database {
    root: PathBuf,
    options: Options,
    datastore: Datastore,
    log: Commitlog,
    queue: DurabilityQueue,
    /// This incarnation's epoch: one more than the log's last.
    epoch: u64,
    store: SnapshotStore,
    /// The newest snapshot this database wrote or restored.
    last_snapshot: Option<Manifest>,
    rotations: RotationCounter,
    /// The rotation count the last snapshot covered.
    rotations_snapshotted: u64,
    /// The last offset of the durability step between its parts, if one is.
    step_in_flight: Option<u64>,
}

/// A durability step between its parts: written, then synced, not yet
/// published. Hand it back to [`Database::durability_sync`], then to
/// [`Database::durability_publish`].
#[derive(Debug, PartialEq, Eq)]
#[must_use = "a written step is durable only once synced and published"]
pub struct DurabilityStep {
    last: u64,
    synced: bool,
}

impl DurabilityStep {
    /// The last offset the step's commit holds.
    pub fn last_offset(&self) -> u64 {
        self.last
    }
}

/// What opening found and did, for the caller's logs and the harness.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// The snapshot restored, if any.
    pub restored_from: Option<u64>,
    /// Snapshots set aside, newest first, each with its reason.
    pub snapshots_rejected: Vec<String>,
    /// Transactions replayed from the log.
    pub replayed: u64,
    /// Whether the history was empty and the bootstrap transaction written.
    pub bootstrapped: bool,
    /// What recovering the log did to its tail, in order.
    pub log_repairs: Vec<crate::commitlog::LogRepair>,
}

/// The largest transaction record one commit of the log can take.
fn record_len_max(options: &Options) -> u64 {
    options.log.commit_size_max().saturating_sub(COMMIT_OVERHEAD + RECORD_OVERHEAD)
}

impl Database {
    /// Opens (or creates) the database in `root`, which must exist.
    pub fn open(
        fs: Arc<dyn Fs>,
        root: &Path,
        options: Options,
    ) -> Result<(Database, OpenReport), OpenError> {
        options.log.validate().map_err(|e| OpenError::Options(e.to_string()))?;
        options.durability.validate().map_err(OpenError::Options)?;
        options.snapshots.validate().map_err(OpenError::Options)?;
        if options.versions_retained == 0 {
            return Err(OpenError::Options("versions-retained must be at least 1".to_owned()));
        }
        let bootstrap_len = encoded_len(&bootstrap_mutations()) as u64;
        if bootstrap_len > record_len_max(&options) {
            return Err(OpenError::Options(format!(
                "log.max-segment-size={} cannot hold the bootstrap transaction of {bootstrap_len} bytes",
                options.log.max_segment_size
            )));
        }
        let store = {
            let _phase = phase::enter(Phase::OpenSnapshots);
            SnapshotStore::open(Arc::clone(&fs), root)?
        };
        let log_dir = root.join(LOG_DIR);
        // The newest snapshot makes the log below it unnecessary: an open
        // that damage there would stop verifies it only if it falls back
        // to an older snapshot (or the whole log) and reads it.
        let newest = {
            let _phase = phase::enter(Phase::OpenRestore);
            store.list()?.last().copied().filter(|_| options.snapshots.restore_on_open)
        };
        let verify_from = newest.map_or(0, |offset| offset.saturating_add(1));
        let mut log = {
            let _phase = phase::enter(Phase::OpenLog);
            Commitlog::open_from(fs, &log_dir, options.log.clone(), verify_from)?
        };
        let rotations = RotationCounter::default();
        rotations.subscribe(&mut log);
        let epoch = log.epoch() + 1;
        let mut report =
            OpenReport { log_repairs: log.repairs_at_open().to_vec(), ..OpenReport::default() };
        let restored = if options.snapshots.restore_on_open {
            let _phase = phase::enter(Phase::OpenRestore);
            choose_snapshot(&store, &log, &mut report.snapshots_rejected)?
        } else {
            None
        };
        let (state, last_snapshot) = match restored {
            Some(restored) => {
                report.restored_from = Some(restored.manifest.offset);
                (restored.state, Some(restored.manifest))
            }
            None => (CommittedState::seed(), None),
        };
        let datastore = Datastore::new(state, options.versions_retained);
        let mut db = Database {
            root: root.to_owned(),
            options,
            datastore,
            log,
            queue: DurabilityQueue::default(),
            epoch,
            store,
            last_snapshot,
            rotations,
            rotations_snapshotted: 0,
            step_in_flight: None,
        };
        report.replayed = {
            let _phase = phase::enter(Phase::OpenReplay);
            db.replay_history()?
        };
        if db.datastore.latest().offset().is_none() {
            db.bootstrap();
            report.bootstrapped = true;
        }
        db.datastore.latest().check().map_err(|reason| OpenError::Inconsistent {
            log: log_dir,
            offset: db.datastore.latest().offset(),
            reason,
        })?;
        assert_eq!(
            db.durable_offset(),
            db.datastore.latest().offset(),
            "an opened database is wholly durable"
        );
        tracing::info!(
            root = %db.root.display(),
            restored_from = ?report.restored_from,
            replayed = report.replayed,
            bootstrapped = report.bootstrapped,
            epoch = db.epoch,
            "database open"
        );
        Ok((db, report))
    }

    /// Replays the log after the restored state (all of it if none);
    /// returns how many transactions.
    fn replay_history(&mut self) -> Result<u64, OpenError> {
        let log_dir = self.root.join(LOG_DIR);
        let from = self.datastore.latest().next_offset();
        let gap = |first_offset| OpenError::HistoryGap { log: log_dir.clone(), first_offset };
        let mut replayed = 0;
        // Versions older than the last `retention` are dropped as soon as
        // they are published: apply those transactions in place.
        let log_end = self.log.next_offset();
        let retention = self.datastore.retention() as u64;
        for transaction in self.log.transactions_from(from) {
            let transaction = match transaction {
                Ok(transaction) => transaction,
                // The log starts after the state: no snapshot connects.
                Err(commitlog::ReadError::OffsetNotInLog { first, .. }) => return Err(gap(first)),
                Err(error) => return Err(error.into()),
            };
            let offset = transaction.tx_offset;
            if offset != self.datastore.latest().next_offset() {
                return Err(gap(offset));
            }
            let mutations = decode_tx(&transaction.bytes).map_err(|source| OpenError::Replay {
                log: log_dir.clone(),
                source: ApplyError::Record { offset, source },
            })?;
            let retained = offset.saturating_add(retention) >= log_end;
            if retained {
                self.datastore.replay(offset, &mutations)
            } else {
                self.datastore.replay_in_place(offset, &mutations)
            }
            .map_err(|source| OpenError::Replay { log: log_dir.clone(), source })?;
            replayed += 1;
        }
        let next = self.datastore.latest().next_offset();
        if self.log.next_offset() != next {
            // An empty log that expects a later offset than the state's.
            return Err(gap(self.log.next_offset()));
        }
        Ok(replayed)
    }

    /// Commits the bootstrap transaction at offset 0 and makes it durable.
    fn bootstrap(&mut self) {
        let _phase = phase::enter(Phase::Bootstrap);
        let committed = self.datastore.commit_bootstrap();
        assert_eq!(committed.offset, 0);
        self.queue.push(committed);
        let durable = self.durability_step();
        assert_eq!(
            durable,
            Some(0),
            "the bootstrap transaction is durable before anyone is served"
        );
    }

    /// Starts a transaction on the latest committed state.
    pub fn begin(&self) -> MutTx {
        self.datastore.begin()
    }

    /// Commits `tx`: it gets the next offset, becomes visible to readers,
    /// and is queued for durability. It is acknowledged once
    /// [`Database::durable_offset`] reaches its offset.
    pub fn commit(&mut self, tx: MutTx) -> Result<u64, CommitError> {
        let max = record_len_max(&self.options);
        let bytes = tx.record_len() as u64;
        if bytes > max {
            return Err(CommitError::TooLarge { bytes, max });
        }
        let committed = self.datastore.commit(tx)?;
        let offset = committed.offset;
        self.queue.push(committed);
        Ok(offset)
    }

    /// Appends everything queued (up to the step's bounds) as one commit,
    /// syncs it, and publishes the new durable offset, which it returns
    /// (`None` if nothing was queued).
    ///
    /// # Panics
    ///
    /// With `commitlog poisoned: ...` if the log fails to write or sync.
    /// The database must then be dropped and opened again.
    pub fn durability_step(&mut self) -> Option<u64> {
        let mut step = self.durability_write()?;
        self.durability_sync(&mut step);
        Some(self.durability_publish(step))
    }

    /// The first part of a durability step: appends everything queued (up
    /// to the step's bounds) as one commit and hands it to the OS. `None`
    /// if nothing was queued. One step at a time: the next starts after
    /// this one is published.
    ///
    /// # Panics
    ///
    /// With `commitlog poisoned: ...` if the write fails; also if a step
    /// is already in flight (a caller's bug).
    pub fn durability_write(&mut self) -> Option<DurabilityStep> {
        // A step whose sync poisoned the log stays in flight: the log
        // refuses the next write with the poison panic below.
        assert!(
            self.step_in_flight.is_none() || self.log.is_poisoned(),
            "one durability step at a time"
        );
        let _phase = phase::enter(Phase::DurabilityWrite);
        let commit_size_max = self.options.log.commit_size_max();
        let last = self.queue.write(
            &mut self.log,
            self.epoch,
            &self.options.durability,
            commit_size_max,
        )?;
        assert!(
            Some(last) <= self.datastore.latest().offset(),
            "nothing is written before it committed"
        );
        self.step_in_flight = Some(last);
        Some(DurabilityStep { last, synced: false })
    }

    /// The second part: syncs the step's commit. Nothing is acknowledged
    /// yet.
    ///
    /// # Panics
    ///
    /// With `commitlog poisoned: ...` if the sync fails; also if `step` is
    /// not the one in flight or was synced already.
    pub fn durability_sync(&mut self, step: &mut DurabilityStep) {
        assert_eq!(self.step_in_flight, Some(step.last), "the step in flight");
        assert!(!step.synced, "a step is synced once");
        let _phase = phase::enter(Phase::DurabilitySync);
        self.log.sync_unpublished();
        step.synced = true;
    }

    /// The last part: publishes the new durable offset (acknowledging the
    /// step's transactions) and returns it.
    ///
    /// # Panics
    ///
    /// If `step` is not the one in flight or was not synced.
    pub fn durability_publish(&mut self, step: DurabilityStep) -> u64 {
        assert_eq!(self.step_in_flight, Some(step.last), "the step in flight");
        assert!(step.synced, "a step is published after its sync");
        self.log.publish();
        self.step_in_flight = None;
        let durable = self.log.durable_offset();
        assert_eq!(durable, Some(step.last), "the sync made the whole batch durable");
        step.last
    }

    /// Takes a snapshot if one is due (see [`Database::prepare_snapshot`]),
    /// writes it, then prunes old snapshots and log segments. Returns the
    /// snapshot's offset. A failed snapshot changes nothing the database
    /// relies on: the error is returned and the next step tries again.
    pub fn snapshot_step(&mut self) -> Result<Option<u64>, SnapshotError> {
        let Some(job) = self.prepare_snapshot() else { return Ok(None) };
        let rotations = self.rotations.count();
        let manifest = job.run()?;
        let offset = manifest.offset;
        self.finish_snapshot(manifest, rotations)?;
        Ok(Some(offset))
    }

    /// A snapshot job, if one is due: the durable offset crossed a multiple
    /// of `every_txs`, or the log rotated since the last snapshot. It
    /// captures the MVCC version at the durable offset (a snapshot is never
    /// ahead of the log). Run it without holding the database, then hand the
    /// result to [`Database::finish_snapshot`] with the rotation count read
    /// when the job was prepared ([`Database::rotations`]).
    pub fn prepare_snapshot(&self) -> Option<SnapshotJob> {
        let durable = self.durable_offset()?;
        // None in a log that holds no commit yet (it goes on after a
        // snapshot at `durable`, which is then the last one already).
        let log_commit = self.log.durable_commit()?;
        assert_eq!(
            log_commit.last_offset, durable,
            "the durable commit ends at the durable offset"
        );
        let last = self.last_snapshot.as_ref().map(|m| m.offset);
        if last.is_some_and(|last| last >= durable) {
            return None;
        }
        let every = self.options.snapshots.every_txs;
        let crossed = durable / every > last.map_or(0, |last| last / every);
        let rotated = self.options.snapshots.on_rotation
            && self.rotations.count() > self.rotations_snapshotted;
        if !(crossed || rotated) {
            return None;
        }
        let state = match self.datastore.read_at(durable) {
            Ok(state) => state.clone(),
            Err(error) => {
                tracing::warn!(%error, "snapshot skipped: the durable version is out of the window");
                return None;
            }
        };
        Some(SnapshotJob {
            store: self.store.clone(),
            state,
            log_commit,
            parent: self.last_snapshot.clone(),
            chain_max: self.options.snapshots.chain_max,
        })
    }

    /// How many times the log has rotated in this incarnation.
    pub fn rotations(&self) -> u64 {
        self.rotations.count()
    }

    /// Records a snapshot written by a job: compacts the chain when it
    /// reached `chain_max`, prunes beyond `retain`, and removes log
    /// segments wholly below the oldest retained snapshot (which is
    /// durable: persist synced it).
    ///
    /// The snapshot is recorded before the compaction: if that fails, the
    /// (uncompacted) snapshot still stands, so the next job neither writes
    /// the same offset again nor builds on an older parent.
    pub fn finish_snapshot(
        &mut self,
        manifest: Manifest,
        rotations: u64,
    ) -> Result<(), SnapshotError> {
        self.rotations_snapshotted = self.rotations_snapshotted.max(rotations);
        let chain_max = self.options.snapshots.chain_max;
        let compact = chain_max > 0 && manifest.chain_len >= chain_max;
        let offset = manifest.offset;
        self.last_snapshot = Some(manifest);
        if compact {
            self.last_snapshot = Some(self.store.compact(offset)?);
        }
        let oldest = self.store.prune(self.options.snapshots.retain)?;
        if let (true, Some(oldest)) = (self.options.snapshots.remove_old_segments, oldest) {
            let log_dir = self.log.dir().to_owned();
            self.log.remove_segments_below(oldest + 1).map_err(|source| SnapshotError::Io {
                op: "remove-segments",
                path: log_dir,
                source,
            })?;
        }
        Ok(())
    }

    /// The newest snapshot this database wrote or restored.
    pub fn last_snapshot(&self) -> Option<&Manifest> {
        self.last_snapshot.as_ref()
    }

    /// The snapshot store.
    pub fn snapshots(&self) -> &SnapshotStore {
        &self.store
    }

    /// The last offset known durable (acknowledged).
    pub fn durable_offset(&self) -> Option<u64> {
        self.log.durable_offset()
    }

    /// Transactions committed but not yet durable.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// The latest committed state.
    pub fn latest(&self) -> &CommittedState {
        self.datastore.latest()
    }

    /// The committed state that sees exactly the commits `<= offset`.
    pub fn read_at(&self, offset: u64) -> Result<&CommittedState, ReadError> {
        self.datastore.read_at(offset)
    }

    /// The datastore.
    pub fn datastore(&self) -> &Datastore {
        &self.datastore
    }

    /// The commitlog.
    pub fn log(&self) -> &Commitlog {
        &self.log
    }

    /// This incarnation's epoch.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The database directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Asserts the queue and the log agree: everything committed is either
    /// durable or queued, in order.
    pub fn assert_invariants(&self) {
        let latest = self.datastore.latest().offset();
        match self.queue.last_offset() {
            Some(last) => assert_eq!(Some(last), latest, "the queue ends at the latest commit"),
            None => assert_eq!(
                self.log.last_offset(),
                latest,
                "with nothing queued, the log holds every commit"
            ),
        }
    }
}
