//! Committed transactions waiting to become durable, and the step that makes
//! them so: one commit of the log per step, bounded by a count and a byte
//! budget, flushed and synced before the durable offset moves.

use std::collections::VecDeque;

use crate::commitlog::{COMMIT_HEADER_LEN, Commitlog, TRANSACTIONS_PER_COMMIT_MAX};
use crate::datastore::Committed;

/// Bytes a commit adds around its records: header and checksum.
pub(super) const COMMIT_OVERHEAD: u64 = COMMIT_HEADER_LEN as u64 + /* crc */ 4;
/// Bytes a record adds to a commit: its length prefix.
pub(super) const RECORD_OVERHEAD: u64 = /* length */ 4;

/// Bounds on one durability step's commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DurabilityOptions {
    /// The most transactions one commit holds. Default: 1024. At most
    /// `TRANSACTIONS_PER_COMMIT_MAX`.
    pub commit_txs_max: usize,
    /// The most record bytes one commit holds (a single larger transaction
    /// still goes, alone). Default: 4 MiB.
    pub commit_bytes_max: u64,
}

impl Default for DurabilityOptions {
    fn default() -> Self {
        DurabilityOptions { commit_txs_max: 1024, commit_bytes_max: 4 << 20 }
    }
}

impl DurabilityOptions {
    /// Refuses bounds the log cannot honour.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=TRANSACTIONS_PER_COMMIT_MAX).contains(&self.commit_txs_max) {
            return Err(format!(
                "commit-txs-max={} not in 1..={TRANSACTIONS_PER_COMMIT_MAX}",
                self.commit_txs_max
            ));
        }
        if self.commit_bytes_max == 0 {
            return Err("commit-bytes-max must be positive".to_owned());
        }
        Ok(())
    }
}

/// The queue of committed, not yet durable, transactions.
#[derive(Debug, Default)]
pub(super) struct DurabilityQueue {
    pending: VecDeque<Committed>,
}

impl DurabilityQueue {
    pub(super) fn push(&mut self, committed: Committed) {
        if let Some(last) = self.pending.back() {
            assert_eq!(committed.offset, last.offset + 1, "queued offsets are contiguous");
        }
        self.pending.push_back(committed);
    }

    pub(super) fn len(&self) -> usize {
        self.pending.len()
    }

    /// The last queued offset.
    pub(super) fn last_offset(&self) -> Option<u64> {
        self.pending.back().map(|c| c.offset)
    }

    /// Appends the next batch to `log` as one commit and hands it to the
    /// OS. Returns the batch's last offset, or `None` if nothing was queued.
    /// The caller then syncs it ([`Commitlog::sync_unpublished`]) and
    /// publishes it ([`Commitlog::publish`]).
    ///
    /// Panics with `commitlog poisoned: ...` if the log fails to write: the
    /// batch is then not durable, and nothing says it is.
    pub(super) fn write(
        &mut self,
        log: &mut Commitlog,
        epoch: u64,
        options: &DurabilityOptions,
        commit_size_max: u64,
    ) -> Option<u64> {
        let first = self.pending.front()?.offset;
        let mut n = 0;
        let mut bytes = 0u64;
        let mut size = COMMIT_OVERHEAD;
        for committed in self.pending.iter().take(options.commit_txs_max) {
            let record = committed.record.len() as u64;
            let fits_budget = bytes + record <= options.commit_bytes_max;
            let fits_segment = size + RECORD_OVERHEAD + record <= commit_size_max;
            if n > 0 && !(fits_budget && fits_segment) {
                break;
            }
            n += 1;
            bytes += record;
            size += RECORD_OVERHEAD + record;
        }
        assert!(n >= 1 && size <= commit_size_max, "every queued record fits a commit alone");
        let batch: Vec<Committed> = self.pending.drain(..n).collect();
        let records: Vec<&[u8]> = batch.iter().map(|c| c.record.as_slice()).collect();
        log.append_commit(first, epoch, &records)
            .expect("the datastore hands the log contiguous offsets and fitting commits");
        log.flush();
        let last = first + n as u64 - 1;
        assert_eq!(log.flushed_offset(), Some(last), "the whole batch reached the OS");
        Some(last)
    }
}
