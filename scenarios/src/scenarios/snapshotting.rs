//! What the snapshot scenarios share: the engine task that takes snapshots
//! while clients commit, and the recovery checks every one of them runs.

use std::time::Duration;

use faultline_engine::Database;
use faultline_engine::datastore::{CommittedState, Datastore, decode_tx};
use faultline_engine::fs::EntryKind;
use faultline_engine::snapshot::SNAPSHOTS_DIR;
use faultline_sim::SimRng;
use rand::RngExt;

use crate::model::{Invariant, Violation};
use crate::scenario::{EngineTask, RecoveryContext, TaskStep};

/// Calls `Database::snapshot_step` every few simulated milliseconds. A
/// snapshot that fails is reported as such: the runner accepts it only if
/// a fault fired or a crash struck during the step, and the recovery checks
/// judge what it left behind.
#[derive(Debug)]
pub(crate) struct SnapshotTask {
    pub(crate) interval_ms_max: u64,
}

impl EngineTask for SnapshotTask {
    fn name(&self) -> &str {
        "snapshot"
    }

    fn interval(&mut self, rng: &mut SimRng) -> Duration {
        Duration::from_millis(rng.random_range(1..=self.interval_ms_max))
    }

    fn step(&mut self, db: &mut Database) -> Result<TaskStep, Violation> {
        Ok(match db.snapshot_step() {
            Ok(Some(offset)) => {
                let kind = db.last_snapshot().map(|m| format!("{:?}", m.kind)).unwrap_or_default();
                TaskStep::Done(format!("snapshot offset={offset} kind={kind}"))
            }
            Ok(None) => TaskStep::Idle,
            Err(error) => TaskStep::Failed(format!("snapshot failed: {error}")),
        })
    }
}

/// The checks after every recovery of a snapshot scenario:
/// - no interrupted snapshot (`*.tmp`) is left behind;
/// - where both are possible (the log still starts at offset 0), the state
///   the open restored (snapshot + suffix, or full replay) equals a replay
///   of the whole log from the seed tables, system tables included.
pub(crate) fn check_recovery(context: &RecoveryContext<'_>) -> Result<(), Violation> {
    let snapshots = context.root.join(SNAPSHOTS_DIR);
    let entries = context.fs.list_dir(&snapshots).map_err(|e| {
        Violation::new(Invariant::StateCheck, format!("list {}: {e}", snapshots.display()))
    })?;
    if let Some(tmp) = entries.iter().find(|e| e.kind == EntryKind::Dir && e.name.ends_with(".tmp"))
    {
        return Err(Violation::new(
            Invariant::SnapshotLeftover,
            format!("snapshot={} after recovery", tmp.name),
        ));
    }
    let Some(replayed) = replay_whole_log(context.db)? else { return Ok(()) };
    let served = context.db.latest();
    if replayed.dump() != served.dump() {
        return Err(Violation::new(
            Invariant::SnapshotReplayMismatch,
            format!(
                "restored-from={:?} offset={:?}: the served state differs from a full replay of the log",
                context.report.restored_from,
                served.offset()
            ),
        ));
    }
    Ok(())
}

/// Replays the whole log from the seed tables, if it still starts at 0 and
/// reads back whole.
fn replay_whole_log(db: &Database) -> Result<Option<CommittedState>, Violation> {
    let starts_at_zero = db.log().segments().first().is_none_or(|s| s.min_tx_offset == 0);
    if !starts_at_zero {
        return Ok(None);
    }
    let broken = |what: String| Violation::new(Invariant::StateCheck, what);
    let mut datastore = Datastore::new(CommittedState::seed(), 1);
    for transaction in db.log().transactions_from(0) {
        // The open verified the log; a read that fails now met a fault the
        // scenario injects on reads (a flipped bit): no comparison then.
        let Ok(transaction) = transaction else { return Ok(None) };
        let mutations = decode_tx(&transaction.bytes)
            .map_err(|e| broken(format!("offset={}: {e}", transaction.tx_offset)))?;
        datastore
            .replay(transaction.tx_offset, &mutations)
            .map_err(|e| broken(format!("full replay: {e}")))?;
    }
    Ok(Some(datastore.latest().clone()))
}
