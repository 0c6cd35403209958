//! The database: the datastore made durable by the commitlog, and the open
//! sequence that bootstraps it from its own history (DESIGN 2.4, 2.5).
//!
//! Opening:
//! 1. open the commitlog (which verifies it and cuts a torn tail);
//! 2. start from the seed tables (`st_table`, `st_column`, compiled in) and
//!    replay the whole history; whenever a transaction touches a system
//!    table, the repair step rebuilds schemas and page layouts from the
//!    system rows, so that later user rows decode with the right schema;
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

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use durability::DurabilityOptions;
pub use error::{CommitError, OpenError};

use crate::commitlog::{self, Commitlog};
use crate::datastore::{CommittedState, Datastore, MutTx, ReadError, decode_tx};
use crate::fs::Fs;
use durability::{COMMIT_OVERHEAD, DurabilityQueue, RECORD_OVERHEAD};

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
}

impl Default for Options {
    fn default() -> Self {
        Options {
            log: commitlog::Options::default(),
            durability: DurabilityOptions::default(),
            versions_retained: 1024,
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
}

/// What opening found and did, for the caller's logs and the harness.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// Transactions replayed from the log.
    pub replayed: u64,
    /// Whether the history was empty and the bootstrap transaction written.
    pub bootstrapped: bool,
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
        if options.versions_retained == 0 {
            return Err(OpenError::Options("versions-retained must be at least 1".to_owned()));
        }
        let log_dir = root.join(LOG_DIR);
        let log = Commitlog::open(fs, &log_dir, options.log.clone())?;
        let epoch = log.epoch() + 1;
        let datastore = Datastore::new(CommittedState::seed(), options.versions_retained);
        let mut db = Database {
            root: root.to_owned(),
            options,
            datastore,
            log,
            queue: DurabilityQueue::default(),
            epoch,
        };
        let mut report = OpenReport { replayed: db.replay_history()?, bootstrapped: false };
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
        tracing::info!(root = %db.root.display(), replayed = report.replayed, bootstrapped = report.bootstrapped, epoch = db.epoch, "database open");
        Ok((db, report))
    }

    /// Replays every transaction of the log; returns how many.
    fn replay_history(&mut self) -> Result<u64, OpenError> {
        let log_dir = self.root.join(LOG_DIR);
        let mut replayed = 0;
        let mut transactions = self.log.transactions_from(0).peekable();
        if let Some(Ok(first)) = transactions.peek()
            && first.tx_offset != 0
        {
            return Err(OpenError::HistoryGap { log: log_dir, first_offset: first.tx_offset });
        }
        for transaction in transactions {
            let transaction = match transaction {
                Ok(transaction) => transaction,
                // An empty log that expects a later offset has no history to
                // connect to without a snapshot.
                Err(commitlog::ReadError::OffsetNotInLog { first, .. }) => {
                    return Err(OpenError::HistoryGap { log: log_dir, first_offset: first });
                }
                Err(error) => return Err(error.into()),
            };
            let offset = transaction.tx_offset;
            let mutations = decode_tx(&transaction.bytes).map_err(|source| OpenError::Replay {
                log: log_dir.clone(),
                source: crate::datastore::ApplyError::Record { offset, source },
            })?;
            self.datastore
                .replay(offset, &mutations)
                .map_err(|source| OpenError::Replay { log: log_dir.clone(), source })?;
            replayed += 1;
        }
        if self.datastore.latest().offset().is_none() && self.log.next_offset() != 0 {
            return Err(OpenError::HistoryGap {
                log: log_dir,
                first_offset: self.log.next_offset(),
            });
        }
        Ok(replayed)
    }

    /// Commits the bootstrap transaction at offset 0 and makes it durable.
    fn bootstrap(&mut self) {
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
        let max =
            self.options.log.commit_size_max().saturating_sub(COMMIT_OVERHEAD + RECORD_OVERHEAD);
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
        let commit_size_max = self.options.log.commit_size_max();
        let durable = self.queue.step(
            &mut self.log,
            self.epoch,
            &self.options.durability,
            commit_size_max,
        )?;
        assert!(
            Some(durable) <= self.datastore.latest().offset(),
            "nothing is durable before it committed"
        );
        Some(durable)
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
