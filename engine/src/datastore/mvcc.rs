//! The snapshot manager: one immutable version of the committed state per
//! committed offset, inside a retention window.
//!
//! Versions share structure (see [`super::table::Table`]), so keeping a
//! thousand of them costs what the changes between them cost, not a
//! thousand copies.

use std::collections::VecDeque;

use super::error::ReadError;
use super::state::CommittedState;

/// The versions of the committed state, oldest first, consecutive offsets.
#[derive(Debug)]
pub struct SnapshotManager {
    versions: VecDeque<CommittedState>,
    retention: usize,
}

impl SnapshotManager {
    /// A manager whose only version is `state`, keeping at most `retention`
    /// versions (at least one).
    pub fn new(state: CommittedState, retention: usize) -> Self {
        assert!(retention >= 1, "the latest version is always retained");
        SnapshotManager { versions: VecDeque::from([state]), retention }
    }

    /// The latest version.
    pub fn latest(&self) -> &CommittedState {
        self.versions.back().expect("at least one version")
    }

    /// Publishes the state of the next offset and drops versions that fall
    /// out of the window.
    pub fn publish(&mut self, state: CommittedState) {
        let expected = self.latest().next_offset();
        assert_eq!(state.offset(), Some(expected), "versions are published in offset order");
        self.versions.push_back(state);
        while self.versions.len() > self.retention {
            self.versions.pop_front();
        }
        assert!(self.versions.len() <= self.retention);
    }

    /// The latest version, to change in place, after dropping every older
    /// one (they would no longer be consecutive with it).
    pub fn latest_alone(&mut self) -> &mut CommittedState {
        let older = self.versions.len() - 1;
        self.versions.drain(..older);
        assert_eq!(self.versions.len(), 1);
        self.versions.back_mut().expect("the latest version")
    }

    /// How many versions are kept.
    pub fn retention(&self) -> usize {
        self.retention
    }

    /// The state that sees exactly the commits `<= offset`.
    pub fn read_at(&self, offset: u64) -> Result<&CommittedState, ReadError> {
        let latest = self.latest().offset();
        if latest.is_none_or(|latest| offset > latest) {
            return Err(ReadError::TooNew { offset, latest });
        }
        let oldest = self.oldest_offset().expect("a committed version exists");
        if offset < oldest {
            return Err(ReadError::TooOld { offset, oldest });
        }
        // Offsets are consecutive, except that the oldest version may be the
        // empty state before any commit (offset None), which only ever sits
        // at the front.
        let front_is_empty = self.versions.front().is_some_and(|v| v.offset().is_none());
        let index = (offset - oldest) as usize + usize::from(front_is_empty);
        let version = &self.versions[index];
        assert_eq!(version.offset(), Some(offset), "versions are consecutive");
        Ok(version)
    }

    /// The oldest committed offset still readable.
    pub fn oldest_offset(&self) -> Option<u64> {
        self.versions.iter().find_map(CommittedState::offset)
    }

    /// How many versions are kept (at least one, at most the retention).
    pub fn versions_retained(&self) -> usize {
        self.versions.len()
    }
}
