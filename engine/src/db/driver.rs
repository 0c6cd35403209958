//! The production driver: a thread that runs durability steps while clients
//! commit and wait for their offsets to become durable.
//!
//! The engine owns no threads; this module is the one opt-out, because
//! production needs someone to call [`Database::durability_step`]. The
//! simulation does not use it: it drives the step from simulated tasks.
//!
//! Group commit: a step takes everything queued (within the bounds), so the
//! more clients commit while a sync is in flight, the more the next commit
//! carries. After a step the thread also takes a snapshot when one is due,
//! writing it with the database unlocked (it captures an MVCC version).
#![allow(clippy::disallowed_methods)] // std::thread::spawn: see above.

use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::thread::JoinHandle;

use parking_lot::{Condvar, Mutex, MutexGuard};
use thiserror::Error;

use super::{CommitError, Database};
use crate::datastore::{MutTx, TxError};

/// The durability thread died: the commitlog was poisoned. Nothing past
/// the last durable offset will become durable in this process.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("durability failed: {reason}")]
pub struct DurabilityFailed {
    /// The poison message.
    pub reason: String,
}

/// A [`Database`] with a durability thread.
pub struct DurableDatabase {
    shared: Arc<Shared>,
    worker: Option<JoinHandle<()>>,
}

struct Shared {
    inner: Mutex<Inner>,
    /// Signalled when a transaction is queued or shutdown is asked for.
    work: Condvar,
    /// Signalled when the durable offset moves or durability fails.
    durable: Condvar,
}

struct Inner {
    db: Database,
    stopping: bool,
    failed: Option<String>,
}

impl DurableDatabase {
    /// Starts the durability thread for `db`.
    pub fn start(db: Database) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner { db, stopping: false, failed: None }),
            work: Condvar::new(),
            durable: Condvar::new(),
        });
        let worker_shared = Arc::clone(&shared);
        let worker = std::thread::Builder::new()
            .name("faultline-durability".to_owned())
            .spawn(move || durability_loop(&worker_shared))?;
        Ok(DurableDatabase { shared, worker: Some(worker) })
    }

    /// Builds a transaction with `build` and commits it; returns its offset
    /// and what `build` returned. Does not wait for durability.
    pub fn commit<R>(
        &self,
        build: impl FnOnce(&mut MutTx) -> Result<R, TxError>,
    ) -> Result<(u64, R), CommitError> {
        let mut inner = self.shared.inner.lock();
        let mut tx = inner.db.begin();
        let value = build(&mut tx)?;
        let offset = inner.db.commit(tx)?;
        self.shared.work.notify_one();
        Ok((offset, value))
    }

    /// Waits until `offset` is durable (acknowledged).
    pub fn wait_durable(&self, offset: u64) -> Result<(), DurabilityFailed> {
        let mut inner = self.shared.inner.lock();
        loop {
            if inner.db.durable_offset().is_some_and(|durable| durable >= offset) {
                return Ok(());
            }
            if let Some(reason) = &inner.failed {
                return Err(DurabilityFailed { reason: reason.clone() });
            }
            self.shared.durable.wait(&mut inner);
        }
    }

    /// Runs `read` on the database (under its lock).
    pub fn read<R>(&self, read: impl FnOnce(&Database) -> R) -> R {
        read(&self.shared.inner.lock().db)
    }

    /// Makes everything committed durable, stops the thread and returns the
    /// database.
    pub fn shutdown(mut self) -> Result<Database, DurabilityFailed> {
        self.stop();
        let shared = Arc::clone(&self.shared);
        drop(self);
        let Ok(shared) = Arc::try_unwrap(shared) else {
            unreachable!("the worker exited and the handle is dropped: this is the last reference")
        };
        let inner = shared.inner.into_inner();
        match inner.failed {
            Some(reason) => Err(DurabilityFailed { reason }),
            None => Ok(inner.db),
        }
    }

    fn stop(&mut self) {
        self.shared.inner.lock().stopping = true;
        self.shared.work.notify_all();
        if let Some(worker) = self.worker.take() {
            // The worker's panic (a poisoned log) is recorded in `failed`.
            let _ = worker.join();
        }
    }
}

impl Drop for DurableDatabase {
    fn drop(&mut self) {
        if self.worker.is_some() {
            self.stop();
        }
    }
}

/// Takes a snapshot if one is due. The job runs with the lock released, so
/// clients commit (and the next sync waits) only for the short prepare and
/// finish. A failed snapshot is logged; the next step tries again.
fn snapshot_if_due(inner: &mut MutexGuard<'_, Inner>) {
    let Some(job) = inner.db.prepare_snapshot() else { return };
    let rotations = inner.db.rotations();
    let written = MutexGuard::unlocked(inner, || job.run());
    if let Err(error) = written.and_then(|manifest| inner.db.finish_snapshot(manifest, rotations)) {
        tracing::warn!(%error, "snapshot failed");
    }
}

fn durability_loop(shared: &Shared) {
    let mut inner = shared.inner.lock();
    loop {
        while inner.db.queued() == 0 && !inner.stopping {
            shared.work.wait(&mut inner);
        }
        if inner.db.queued() == 0 {
            return; // stopping, and everything committed is durable
        }
        match panic::catch_unwind(AssertUnwindSafe(|| inner.db.durability_step())) {
            Ok(_) => {
                shared.durable.notify_all();
                snapshot_if_due(&mut inner);
            }
            Err(payload) => {
                let reason = payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_else(|| "durability step panicked".to_owned());
                inner.failed = Some(reason);
                shared.durable.notify_all();
                drop(inner);
                panic::resume_unwind(payload);
            }
        }
    }
}
