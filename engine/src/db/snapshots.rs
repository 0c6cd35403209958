//! The database's side of snapshots: when to take one, how a job runs off
//! the database lock, and which snapshot an open restores.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::commitlog::{CommitStamp, Commitlog};
use crate::datastore::CommittedState;
use crate::snapshot::{Manifest, SnapshotError, SnapshotStore};

/// When snapshots are taken and how many are kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotOptions {
    /// Take a snapshot whenever the durable offset crosses a multiple of
    /// this. Default: 1,000,000. At least 1.
    pub every_txs: u64,
    /// Also take one after every commitlog segment rotation. Default: on.
    pub on_rotation: bool,
    /// How many snapshots to keep (plus those they refer to). Default: 2.
    pub retain: usize,
    /// How many incrementals may follow a full snapshot before the next one
    /// is full again (0: every snapshot is full). Default: 8.
    pub chain_max: u32,
    /// Remove log segments wholly below the oldest retained snapshot.
    /// Default: on.
    pub remove_old_segments: bool,
    /// Restore from the newest valid snapshot on open (off: always replay
    /// the whole log, which must then start at offset 0). Default: on.
    pub restore_on_open: bool,
}

impl Default for SnapshotOptions {
    fn default() -> Self {
        SnapshotOptions {
            every_txs: 1_000_000,
            on_rotation: true,
            retain: 2,
            chain_max: 8,
            remove_old_segments: true,
            restore_on_open: true,
        }
    }
}

impl SnapshotOptions {
    /// Refuses contradictory settings.
    pub fn validate(&self) -> Result<(), String> {
        if self.every_txs == 0 {
            return Err("snapshots.every-txs must be at least 1".to_owned());
        }
        if self.retain == 0 {
            return Err("snapshots.retain must be at least 1".to_owned());
        }
        Ok(())
    }
}

/// A snapshot to write: an MVCC version and the parent it may build on.
/// Runs without the database: committing goes on meanwhile.
#[derive(Debug)]
pub struct SnapshotJob {
    pub(super) store: SnapshotStore,
    pub(super) state: CommittedState,
    /// The log's commit that ends at the state's offset.
    pub(super) log_commit: CommitStamp,
    pub(super) parent: Option<Manifest>,
    pub(super) chain_max: u32,
}

impl SnapshotJob {
    /// The offset the snapshot captures.
    pub fn offset(&self) -> u64 {
        self.state.offset().expect("jobs capture a committed version")
    }

    /// Writes the snapshot (see [`SnapshotStore::persist`]).
    pub fn run(self) -> Result<Manifest, SnapshotError> {
        self.store.persist(&self.state, self.log_commit, self.parent.as_ref(), self.chain_max)
    }
}

/// How many rotations the log made; counted by its rotation hook.
#[derive(Clone, Debug, Default)]
pub(super) struct RotationCounter(Arc<AtomicU64>);

impl RotationCounter {
    pub(super) fn subscribe(&self, log: &mut Commitlog) {
        let counter = Arc::clone(&self.0);
        log.on_rotate(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
        });
    }

    pub(super) fn count(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// What [`choose_snapshot`] found.
pub(super) struct Restored {
    pub(super) manifest: Manifest,
    pub(super) state: CommittedState,
}

/// Whether the snapshot `manifest` is of this log's history: the log's
/// commit that ends at its offset has the stamp it records. A log that
/// starts after the offset (everything up to it went after a snapshot
/// covered it) has nothing to compare, and neither has a commit that
/// cannot be read (damage below what the open needs must not stop it):
/// both are taken as bound.
fn bound_to_log(manifest: &Manifest, log: &Commitlog, log_first: u64) -> Result<(), String> {
    let offset = manifest.offset;
    if offset < log_first {
        return Ok(());
    }
    match log.commit_ending_at(offset) {
        Ok(Some(stamp)) if stamp.crc == manifest.log_commit_crc => Ok(()),
        Ok(found) => Err(format!(
            "of another history: bound to a commit ending at {offset} with crc={:#010x}, the log's is {}",
            manifest.log_commit_crc,
            found.map_or("none (no commit ends there)".to_owned(), |s| format!(
                "crc={:#010x}",
                s.crc
            ))
        )),
        Err(error) => {
            tracing::warn!(snapshot = offset, %error, "snapshot's commit unreadable: taken as bound");
            Ok(())
        }
    }
}

/// The newest snapshot that validates end to end, is bound to this log
/// ([`bound_to_log`]) and connects to it: not newer than the log's end
/// (the log is the truth), and with the log holding the offset after it.
/// Every snapshot passed over is reported with its reason; those newer
/// than the log, failing validation or of another history are also set
/// aside ([`SnapshotStore::set_aside`]) so that they are never restored.
pub(super) fn choose_snapshot(
    store: &SnapshotStore,
    log: &Commitlog,
    rejected: &mut Vec<String>,
) -> Result<Option<Restored>, SnapshotError> {
    let log_first = log.segments().first().map(|s| s.min_tx_offset).unwrap_or(log.next_offset());
    let log_last = log.last_offset();
    for offset in store.list()?.into_iter().rev() {
        let mut reject = |reason: String| {
            tracing::warn!(snapshot = offset, %reason, "snapshot set aside");
            rejected.push(format!("snapshot={offset} {reason}"));
        };
        if log_last.is_none_or(|last| offset > last) {
            reject(format!("newer than the durable log end={log_last:?}"));
            store.set_aside(offset)?;
            continue;
        }
        if offset + 1 < log_first {
            reject(format!("the log starts at offset={log_first}, after it"));
            continue;
        }
        match store.load(offset) {
            Ok((manifest, state)) => match bound_to_log(&manifest, log, log_first) {
                Ok(()) => return Ok(Some(Restored { manifest, state })),
                Err(reason) => {
                    reject(reason);
                    store.set_aside(offset)?;
                }
            },
            Err(error) => {
                reject(error.to_string());
                store.set_aside(offset)?;
            }
        }
    }
    Ok(None)
}
