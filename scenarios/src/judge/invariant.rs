//! The catalogue of invariants: every property the judge checks, by a
//! stable kebab-case name. A scenario extends it with invariants of its own
//! ([`Invariant::new`] in a `const`, returned by
//! [`crate::Scenario::invariants`]) checked by its own checkers.

use std::fmt;

/// A property the judge checks. Two invariants are the same if their names
/// are.
#[derive(Clone, Copy, Debug)]
pub struct Invariant {
    name: &'static str,
    summary: &'static str,
}

impl PartialEq for Invariant {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for Invariant {}

impl PartialOrd for Invariant {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Invariant {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.name.cmp(other.name)
    }
}

impl std::hash::Hash for Invariant {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

macro_rules! invariants {
    ($($(#[$doc:meta])* $konst:ident = $name:literal: $summary:literal;)*) => {
        impl Invariant {
            $($(#[$doc])* pub const $konst: Invariant = Invariant::new($name, $summary);)*

            /// Every built-in invariant.
            pub const BUILTIN: &'static [Invariant] = &[$(Invariant::$konst),*];
        }
    };
}

invariants! {
    // Durability and acknowledgement (judge/durability.rs).
    /// A recovery came back below the acknowledged offset.
    ACKED_LOST = "acked-lost": "a recovery came back below the acknowledged offset";
    /// A recovery came back beyond the highest submitted offset.
    BEYOND_SUBMITTED = "beyond-submitted": "a recovery came back beyond the highest submitted offset";
    /// A commit got an offset other than the next one.
    OFFSET_ORDER = "offset-order": "a commit got an offset other than the next one";
    /// The engine refused an operation or transaction the model accepts.
    TX_REFUSED = "tx-refused": "the engine refused an operation the model accepts";
    /// The engine accepted an operation the model refuses.
    TX_ACCEPTED_INVALID = "tx-accepted-invalid": "the engine accepted an operation the model refuses";
    /// A conflict was reported without a concurrent commit, or missed.
    CONFLICT_MISMATCH = "conflict-mismatch": "a conflict was reported without a concurrent commit, or missed";
    /// A refused request left a trace: an offset used, a row or table
    /// visible, a version served, something queued for durability.
    REFUSAL_LEFT_TRACE = "refusal-left-trace": "a refused request left a trace (an offset, a row, a version, a queued commit)";
    /// The durable offset passed the last submitted one.
    DURABLE_BEYOND_SUBMITTED = "durable-beyond-submitted": "the durable offset passed the last submitted one";
    /// The durable offset went backwards.
    DURABLE_REGRESSED = "durable-regressed": "the durable offset went backwards";
    /// An offset the engine reported durable is not on the device.
    ACKED_NOT_ON_DISK = "acked-not-on-disk": "an offset reported durable is not in the log on the device";

    // What the engine serves (judge/reads.rs).
    /// The recovered (or live) user tables differ from the model.
    STATE_MISMATCH = "state-mismatch": "the served user tables differ from the model";
    /// The recovered system tables differ from the model's catalogue.
    SYSTEM_TABLES_MISMATCH = "system-tables-mismatch": "the served system tables differ from the model";
    /// `read_at(t)` differs from the model at `t`.
    READ_AT_MISMATCH = "read-at-mismatch": "read_at(t) differs from the model at t";
    /// `read_at` refused an offset of its window or served one outside it.
    READ_AT_WINDOW = "read-at-window": "read_at refused an offset of its window or served one outside it";

    // Recovery and refusal (judge/recovery.rs).
    /// Open refused a history that no fault damaged.
    REFUSED_HEALTHY_HISTORY = "refused-healthy-history": "open refused a history that no fault damaged";
    /// Open refused although an undamaged way to the acknowledged state was
    /// left (a snapshot and a log suffix, or a whole log).
    REFUSED_INTACT_HISTORY = "refused-intact-history": "open refused though an undamaged way to the acknowledged state was left";
    /// Open refused damaged bytes without naming where.
    CORRUPTION_UNNAMED = "corruption-unnamed": "open refused damaged bytes without naming where";
    /// A forged history (checksummed, well-formed, wrong in meaning) was
    /// opened otherwise than FORMAT.md allows, or refused without naming
    /// the file, the offset and the reason, or a wrong state served.
    HOSTILE_HISTORY_MISREAD = "hostile-history-misread": "a forged history was opened otherwise than FORMAT.md allows, or refused without naming file, offset and reason";
    /// Open set aside a snapshot that no fault damaged.
    SNAPSHOT_REJECTED = "snapshot-rejected": "open set aside a snapshot that no fault damaged";

    // Snapshots (judge/snapshots.rs).
    /// Restoring a snapshot and replaying the suffix gave another state
    /// than opening from the whole log.
    SNAPSHOT_REPLAY_MISMATCH = "snapshot-replay-mismatch": "snapshot + suffix and the whole log open to different states";

    // Storage layout on the device (judge/layout.rs).
    /// An interrupted snapshot or rewrite (`*.tmp`, `*.rewrite`) survived a
    /// recovery.
    SNAPSHOT_LEFTOVER = "snapshot-leftover": "a *.tmp or *.rewrite survived a recovery";
    /// A retained snapshot no longer connects to the log on the device.
    SNAPSHOT_DISCONNECTED = "snapshot-disconnected": "a retained snapshot no longer connects to the log on the device";
    /// A page file a retained manifest refers to is missing on the device.
    PAGE_FILE_MISSING = "page-file-missing": "a page file a retained manifest refers to is missing on the device";
    /// Log segments on the device are not contiguous, misnamed, or hold
    /// bytes after their commits.
    SEGMENTS_BROKEN = "segments-broken": "log segments on the device are not contiguous and named by their first offset";

    // I/O discipline (judge/io.rs).
    /// A call failed during a durability step that returned normally.
    ERROR_SWALLOWED = "error-swallowed": "a call failed during a durability step that returned normally";
    /// The engine touched the filesystem again after a failed call in a
    /// step that poisoned (a retry).
    RETRIED_AFTER_ERROR = "retried-after-error": "the engine called the filesystem again after the failure that poisoned it";
    /// A mutating call after the writer poisoned, before the restart.
    IO_AFTER_POISON = "io-after-poison": "a mutating filesystem call after the writer poisoned";
    /// The durable offset moved in a step that poisoned.
    ACKED_AFTER_POISON = "acked-after-poison": "the durable offset moved in a step that poisoned";
    /// The poison panic without a failed filesystem call.
    POISONED_WITHOUT_FAILURE = "poisoned-without-failure": "the writer poisoned though no filesystem call failed";
    /// An engine task failed although no fault fired and no crash struck.
    FAILED_WITHOUT_FAULT = "failed-without-fault": "an engine task failed though no fault fired and no crash struck";
}

impl Invariant {
    /// An invariant named `name` (kebab-case, unique in the catalogue).
    pub const fn new(name: &'static str, summary: &'static str) -> Self {
        Invariant { name, summary }
    }

    /// Its short, stable, kebab-case name.
    pub fn name(self) -> &'static str {
        self.name
    }

    /// One line on what it means.
    pub fn summary(self) -> &'static str {
        self.summary
    }

    /// The built-in invariant named `name`.
    pub fn builtin(name: &str) -> Option<Invariant> {
        Invariant::BUILTIN.iter().copied().find(|i| i.name == name)
    }
}

impl fmt::Display for Invariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// A broken invariant, with what broke it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// Which invariant.
    pub invariant: Invariant,
    /// What was seen, `key=value` style.
    pub detail: String,
}

impl Violation {
    /// A violation of `invariant`.
    pub fn new(invariant: Invariant, detail: impl Into<String>) -> Self {
        Violation { invariant, detail: detail.into() }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.invariant, self.detail)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn names_are_unique_kebab_case_and_found_by_name() {
        let names: BTreeSet<&str> = Invariant::BUILTIN.iter().map(|i| i.name()).collect();
        assert_eq!(names.len(), Invariant::BUILTIN.len(), "a name appears twice");
        for invariant in Invariant::BUILTIN {
            let name = invariant.name();
            assert!(name.chars().all(|c| c.is_ascii_lowercase() || c == '-'), "{name}");
            assert_eq!(Invariant::builtin(name), Some(*invariant));
            assert!(!invariant.summary().is_empty());
        }
        assert_eq!(Invariant::builtin("nope"), None);
    }
}
