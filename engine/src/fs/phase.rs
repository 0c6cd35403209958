//! I/O phases: the engine names the step each of its filesystem calls
//! belongs to, so that whoever serves the calls (a log line, a metric, a
//! simulator counting which fault struck where) can tell a segment's
//! header sync from a commit's sync without guessing from paths.
//!
//! A phase is entered with [`enter`], which returns a guard; phases nest
//! (a rotation inside a durability write), and [`current`] reads the
//! stack. It costs a thread-local store per phase, nothing per call. The
//! engine's calls are synchronous, so the stack of the calling thread is
//! exactly the stack of the call.

use std::cell::Cell;
use std::fmt;

/// A step of the engine that does I/O.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// Open: the snapshot store's recovery (interrupted snapshots removed,
    /// directories synced).
    OpenSnapshots,
    /// Open: the commitlog's directory listed, segments verified, a torn
    /// tail cut.
    OpenLog,
    /// Open: the last segment rewritten durably (copy, sync, rename, then
    /// the log directory synced).
    OpenRewrite,
    /// Open: the newest usable snapshot read and restored.
    OpenRestore,
    /// Open: the log after the restored state read and replayed.
    OpenReplay,
    /// Open of an empty history: the bootstrap transaction made durable.
    Bootstrap,
    /// A durability step's first part: the commit appended and handed to
    /// the OS.
    DurabilityWrite,
    /// A durability step's second part: the commit synced.
    DurabilitySync,
    /// The log's first segment created (file, header, header sync, dir
    /// sync).
    FirstSegment,
    /// A rotation's first part: the full segment flushed and synced.
    RotationSeal,
    /// A rotation's second part: the next segment created durably.
    RotationCreate,
    /// A snapshot written under its staging name (directory, pages,
    /// manifest, the staging directory synced).
    SnapshotWrite,
    /// A snapshot published: renamed to its name, the parent synced.
    SnapshotPublish,
    /// An unfinished snapshot at the same offset moved aside and removed.
    SnapshotReplace,
    /// An incremental chain folded into one snapshot.
    SnapshotCompact,
    /// Snapshots beyond the retention removed.
    SnapshotPrune,
    /// A snapshot that cannot be restored moved aside.
    SnapshotSetAside,
    /// Log segments below the oldest snapshot removed.
    Retention,
}

impl Phase {
    /// Every phase, in a fixed order.
    pub const ALL: [Phase; 18] = [
        Phase::OpenSnapshots,
        Phase::OpenLog,
        Phase::OpenRewrite,
        Phase::OpenRestore,
        Phase::OpenReplay,
        Phase::Bootstrap,
        Phase::DurabilityWrite,
        Phase::DurabilitySync,
        Phase::FirstSegment,
        Phase::RotationSeal,
        Phase::RotationCreate,
        Phase::SnapshotWrite,
        Phase::SnapshotPublish,
        Phase::SnapshotReplace,
        Phase::SnapshotCompact,
        Phase::SnapshotPrune,
        Phase::SnapshotSetAside,
        Phase::Retention,
    ];

    /// A short, stable, dotted name.
    pub fn name(self) -> &'static str {
        match self {
            Phase::OpenSnapshots => "open.snapshots",
            Phase::OpenLog => "open.log",
            Phase::OpenRewrite => "open.rewrite-last-segment",
            Phase::OpenRestore => "open.restore",
            Phase::OpenReplay => "open.replay",
            Phase::Bootstrap => "bootstrap",
            Phase::DurabilityWrite => "durability.write",
            Phase::DurabilitySync => "durability.sync",
            Phase::FirstSegment => "segment.first",
            Phase::RotationSeal => "rotation.seal",
            Phase::RotationCreate => "rotation.new-segment",
            Phase::SnapshotWrite => "snapshot.write",
            Phase::SnapshotPublish => "snapshot.publish",
            Phase::SnapshotReplace => "snapshot.replace",
            Phase::SnapshotCompact => "snapshot.compact",
            Phase::SnapshotPrune => "snapshot.prune",
            Phase::SnapshotSetAside => "snapshot.set-aside",
            Phase::Retention => "retention.segment-remove",
        }
    }

    /// Whether the phase is part of `Database::open`.
    pub fn during_open(self) -> bool {
        matches!(
            self,
            Phase::OpenSnapshots
                | Phase::OpenLog
                | Phase::OpenRewrite
                | Phase::OpenRestore
                | Phase::OpenReplay
                | Phase::Bootstrap
        )
    }

    /// The phase named `name` ([`Phase::name`]).
    pub fn from_name(name: &str) -> Option<Phase> {
        Phase::ALL.into_iter().find(|phase| phase.name() == name)
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How deep phases nest (a bootstrap's durability write's first segment
/// is three).
pub const DEPTH_MAX: usize = 4;

/// The phases a call is inside, outermost first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PhaseStack {
    phases: [Option<Phase>; DEPTH_MAX],
    len: u8,
}

impl PhaseStack {
    /// The stack of `phases`, outermost first.
    ///
    /// # Panics
    ///
    /// If there are more than [`DEPTH_MAX`].
    pub fn of(phases: &[Phase]) -> PhaseStack {
        let mut stack = PhaseStack::default();
        phases.iter().for_each(|phase| stack.push(*phase));
        stack
    }

    /// The phases, outermost first.
    pub fn phases(&self) -> impl Iterator<Item = Phase> + '_ {
        self.phases[..usize::from(self.len)].iter().map(|p| p.expect("below len"))
    }

    /// The innermost phase, if any.
    pub fn innermost(&self) -> Option<Phase> {
        self.len.checked_sub(1).and_then(|top| self.phases[usize::from(top)])
    }

    /// Whether `phase` is on the stack.
    pub fn contains(&self, phase: Phase) -> bool {
        self.phases().any(|p| p == phase)
    }

    /// Whether no phase is entered.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn push(&mut self, phase: Phase) {
        let len = usize::from(self.len);
        assert!(len < DEPTH_MAX, "phases nest at most {DEPTH_MAX} deep: {self} then {phase}");
        self.phases[len] = Some(phase);
        self.len += 1;
    }

    fn pop(&mut self, phase: Phase) {
        assert_eq!(self.innermost(), Some(phase), "phases are left in the order entered");
        self.len -= 1;
        self.phases[usize::from(self.len)] = None;
    }
}

impl fmt::Display for PhaseStack {
    /// `outer/inner`, or `-` outside every phase.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("-");
        }
        for (i, phase) in self.phases().enumerate() {
            if i > 0 {
                f.write_str("/")?;
            }
            f.write_str(phase.name())?;
        }
        Ok(())
    }
}

thread_local! {
    static STACK: Cell<PhaseStack> = const { Cell::new(PhaseStack { phases: [None; DEPTH_MAX], len: 0 }) };
}

/// The phases the calling thread is inside.
pub fn current() -> PhaseStack {
    STACK.with(Cell::get)
}

/// Enters `phase` until the guard is dropped.
#[must_use = "the phase ends when the guard is dropped"]
pub fn enter(phase: Phase) -> PhaseGuard {
    STACK.with(|stack| {
        let mut phases = stack.get();
        phases.push(phase);
        stack.set(phases);
    });
    PhaseGuard { phase }
}

/// Leaves its phase when dropped (also while a panic unwinds).
#[derive(Debug)]
pub struct PhaseGuard {
    phase: Phase,
}

impl Drop for PhaseGuard {
    fn drop(&mut self) {
        STACK.with(|stack| {
            let mut phases = stack.get();
            phases.pop(self.phase);
            stack.set(phases);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_nest_and_unwind() {
        assert!(current().is_empty());
        {
            let _outer = enter(Phase::DurabilityWrite);
            {
                let _inner = enter(Phase::RotationCreate);
                assert_eq!(current().to_string(), "durability.write/rotation.new-segment");
                assert_eq!(current().innermost(), Some(Phase::RotationCreate));
            }
            assert_eq!(current(), PhaseStack::of(&[Phase::DurabilityWrite]));
        }
        let unwound = std::panic::catch_unwind(|| {
            let _guard = enter(Phase::SnapshotWrite);
            panic!("a poisoned write");
        });
        assert!(unwound.is_err());
        assert!(current().is_empty(), "a panic leaves its phases");
        for phase in Phase::ALL {
            assert_eq!(Phase::from_name(phase.name()), Some(phase));
        }
    }
}
