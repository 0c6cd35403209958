//! The oracle (DESIGN 4): a model of what the database must hold, kept
//! apart from the fault injector, which knows nothing of it.
//!
//! The model is the list of transactions the clients committed, as the
//! state after each offset, plus the highest acknowledged (durable) offset
//! and the highest submitted one:
//!
//! - **user tables** are modelled independently ([`ModelState`]: each
//!   table's columns and its set of rows);
//! - **system tables** are compared against a *reference run*: the same
//!   transactions applied, fault-free and in memory, to a fresh datastore,
//!   whose [`CommittedState::dump`] at each offset is what the recovered
//!   engine must dump (so `st_table`, `st_column`, `st_sequence`, ... are
//!   checked whole, table ids included).
//!
//! After every recovery at offset `p`: `acked <= p <= submitted`, the
//! recovered state equals the model at `p` (system tables included), and
//! `read_at(t)` equals the model at `t` for retained offsets. Which of the
//! durability rules applies is the caller's call ([`DurabilityRule`]): the
//! runner knows which faults fired.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use faultline_engine::Database;
use faultline_engine::datastore::{
    ColumnDef, CommittedState, Datastore, MutTx, ReadError, Row, TxError, check_row, encode_row,
};

/// One logical operation of a client transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxOp {
    /// Create a user table.
    CreateTable {
        /// Its name.
        name: String,
        /// Its columns.
        columns: Vec<ColumnDef>,
    },
    /// Drop a user table (and its rows).
    DropTable {
        /// Its name.
        name: String,
    },
    /// Insert a row.
    Insert {
        /// The table.
        table: String,
        /// The row.
        row: Row,
    },
    /// Delete a row.
    Delete {
        /// The table.
        table: String,
        /// The row.
        row: Row,
    },
}

impl fmt::Display for TxOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TxOp::CreateTable { name, columns } => {
                let columns: Vec<String> =
                    columns.iter().map(|c| format!("{}:{}", c.name, c.ty)).collect();
                write!(f, "create {name}({})", columns.join(","))
            }
            TxOp::DropTable { name } => write!(f, "drop {name}"),
            TxOp::Insert { table, row } => write!(f, "insert {table} {}", row_text(row)),
            TxOp::Delete { table, row } => write!(f, "delete {table} {}", row_text(row)),
        }
    }
}

fn row_text(row: &Row) -> String {
    let values: Vec<String> = row.iter().map(ToString::to_string).collect();
    format!("({})", values.join(","))
}

/// Applies `op` to a transaction of the engine (the live database or the
/// reference run).
pub fn apply_to_tx(tx: &mut MutTx, op: &TxOp) -> Result<(), TxError> {
    match op {
        TxOp::CreateTable { name, columns } => tx.create_table(name, columns.clone()).map(drop),
        TxOp::DropTable { name } => tx.drop_table(name),
        TxOp::Insert { table, row } => tx.insert(table, row.clone()),
        TxOp::Delete { table, row } => tx.delete(table, row),
    }
}

/// A user table as the model sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableModel {
    /// Its columns, in position order.
    pub columns: Vec<ColumnDef>,
    /// Its rows (tables are sets).
    pub rows: imbl::OrdSet<Row>,
}

/// The user tables after one offset. Cheap to clone (persistent maps).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModelState {
    /// Every user table, by name.
    pub tables: imbl::OrdMap<String, TableModel>,
}

impl ModelState {
    /// Applies `op` with the engine's documented semantics; refuses what
    /// the engine must refuse.
    pub fn apply(&mut self, op: &TxOp) -> Result<(), String> {
        match op {
            TxOp::CreateTable { name, columns } => {
                if self.tables.contains_key(name) {
                    return Err(format!("table {name} exists"));
                }
                let table = TableModel { columns: columns.clone(), rows: imbl::OrdSet::new() };
                self.tables.insert(name.clone(), table);
            }
            TxOp::DropTable { name } => {
                self.tables.remove(name).ok_or_else(|| format!("no table {name}"))?;
            }
            TxOp::Insert { table, row } => {
                let model =
                    self.tables.get_mut(table).ok_or_else(|| format!("no table {table}"))?;
                let types: Vec<_> = model.columns.iter().map(|c| c.ty).collect();
                check_row(&types, row)?;
                if model.rows.insert(row.clone()).is_some() {
                    return Err(format!("duplicate row in {table}"));
                }
            }
            TxOp::Delete { table, row } => {
                let model =
                    self.tables.get_mut(table).ok_or_else(|| format!("no table {table}"))?;
                model.rows.remove(row).ok_or_else(|| format!("row not in {table}"))?;
            }
        }
        Ok(())
    }

    /// The user tables of an engine state.
    pub fn of_engine(state: &CommittedState) -> ModelState {
        let tables = state
            .tables()
            .filter(|t| !t.schema().id.is_system())
            .map(|t| {
                let name = t.schema().name.clone();
                let rows =
                    state.rows(&name).expect("a listed table has rows").into_iter().collect();
                (name, TableModel { columns: t.schema().columns.clone(), rows })
            })
            .collect();
        ModelState { tables }
    }

    /// The first difference between `self` (expected) and `actual`, if any.
    pub fn diff(&self, actual: &ModelState) -> Option<String> {
        for (name, expected) in &self.tables {
            let Some(found) = actual.tables.get(name) else {
                return Some(format!("table {name} missing"));
            };
            if found.columns != expected.columns {
                return Some(format!(
                    "table {name} columns expected={:?} actual={:?}",
                    expected.columns, found.columns
                ));
            }
            if let Some(row) = expected.rows.iter().find(|r| !found.rows.contains(*r)) {
                return Some(format!(
                    "table {name} lacks row {} (expected-rows={} actual-rows={})",
                    row_text(row),
                    expected.rows.len(),
                    found.rows.len()
                ));
            }
            if let Some(row) = found.rows.iter().find(|r| !expected.rows.contains(*r)) {
                return Some(format!("table {name} holds unexpected row {}", row_text(row)));
            }
        }
        actual
            .tables
            .keys()
            .find(|name| !self.tables.contains_key(*name))
            .map(|name| format!("unexpected table {name}"))
    }
}

/// The invariants the oracle and the runner check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Invariant {
    /// A recovery came back below the acknowledged offset.
    AckedLost,
    /// A recovery came back beyond the highest submitted offset.
    BeyondSubmitted,
    /// The recovered (or live) user tables differ from the model.
    StateMismatch,
    /// The recovered system tables differ from the reference run.
    SystemTablesMismatch,
    /// `read_at(t)` differs from the model at `t`.
    ReadAtMismatch,
    /// `read_at` refused a retained offset or served one outside the window.
    ReadAtWindow,
    /// The engine's own consistency check failed on a state it serves.
    StateCheck,
    /// Open refused a history that no fault damaged.
    RefusedHealthyHistory,
    /// Open refused damaged bytes without naming where.
    CorruptionUnnamed,
    /// A commit got an offset other than the next one.
    OffsetOrder,
    /// The engine refused a transaction the model accepts.
    TxRefused,
    /// The engine accepted a transaction the model refuses.
    TxAcceptedInvalid,
    /// A conflict was reported without a concurrent commit, or missed.
    ConflictMismatch,
    /// The durable offset passed the last submitted one.
    DurableBeyondSubmitted,
    /// The durable offset went backwards.
    DurableRegressed,
    /// A write or sync failed during a durability step and the step
    /// returned normally instead of poisoning.
    ErrorSwallowed,
    /// The engine touched the filesystem again after a failed write or sync
    /// in the same durability step (a retry).
    RetriedAfterError,
    /// The durable offset moved in a durability step that poisoned.
    AckedAfterPoison,
    /// Restoring a snapshot and replaying the suffix gave another state
    /// than replaying the whole log.
    SnapshotReplayMismatch,
    /// An interrupted snapshot (`*.tmp`) survived a recovery.
    SnapshotLeftover,
    /// Open set a snapshot aside although no fault damaged durable bytes
    /// or voided durability: the engine wrote a snapshot it cannot read.
    SnapshotRejected,
    /// A background engine job (a snapshot) failed although no fault fired
    /// and no crash struck during it.
    FailedWithoutFault,
}

impl Invariant {
    /// Every invariant.
    pub const ALL: [Invariant; 22] = [
        Invariant::AckedLost,
        Invariant::BeyondSubmitted,
        Invariant::StateMismatch,
        Invariant::SystemTablesMismatch,
        Invariant::ReadAtMismatch,
        Invariant::ReadAtWindow,
        Invariant::StateCheck,
        Invariant::RefusedHealthyHistory,
        Invariant::CorruptionUnnamed,
        Invariant::OffsetOrder,
        Invariant::TxRefused,
        Invariant::TxAcceptedInvalid,
        Invariant::ConflictMismatch,
        Invariant::DurableBeyondSubmitted,
        Invariant::DurableRegressed,
        Invariant::ErrorSwallowed,
        Invariant::RetriedAfterError,
        Invariant::AckedAfterPoison,
        Invariant::SnapshotReplayMismatch,
        Invariant::SnapshotLeftover,
        Invariant::SnapshotRejected,
        Invariant::FailedWithoutFault,
    ];

    /// A short, stable, kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            Invariant::AckedLost => "acked-lost",
            Invariant::BeyondSubmitted => "beyond-submitted",
            Invariant::StateMismatch => "state-mismatch",
            Invariant::SystemTablesMismatch => "system-tables-mismatch",
            Invariant::ReadAtMismatch => "read-at-mismatch",
            Invariant::ReadAtWindow => "read-at-window",
            Invariant::StateCheck => "state-check",
            Invariant::RefusedHealthyHistory => "refused-healthy-history",
            Invariant::CorruptionUnnamed => "corruption-unnamed",
            Invariant::OffsetOrder => "offset-order",
            Invariant::TxRefused => "tx-refused",
            Invariant::TxAcceptedInvalid => "tx-accepted-invalid",
            Invariant::ConflictMismatch => "conflict-mismatch",
            Invariant::DurableBeyondSubmitted => "durable-beyond-submitted",
            Invariant::DurableRegressed => "durable-regressed",
            Invariant::ErrorSwallowed => "error-swallowed",
            Invariant::RetriedAfterError => "retried-after-error",
            Invariant::AckedAfterPoison => "acked-after-poison",
            Invariant::SnapshotReplayMismatch => "snapshot-replay-mismatch",
            Invariant::SnapshotLeftover => "snapshot-leftover",
            Invariant::SnapshotRejected => "snapshot-rejected",
            Invariant::FailedWithoutFault => "failed-without-fault",
        }
    }

    /// The invariant named `name`.
    pub fn from_name(name: &str) -> Option<Invariant> {
        Invariant::ALL.into_iter().find(|i| i.name() == name)
    }
}

impl fmt::Display for Invariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
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

/// Which promise a recovery is held to (DESIGN 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DurabilityRule {
    /// Every acknowledged transaction survives: `acked <= p <= submitted`.
    Durable,
    /// A lying fsync fired: durability is void, only consistency is
    /// checked (the state equals the model at some `p <= submitted`).
    ConsistencyOnly,
}

/// The model: every committed transaction's resulting state, the reference
/// run, the acknowledged and the submitted offsets.
#[derive(Debug)]
pub struct Model {
    /// The user tables after each offset, from 0 (the bootstrap) up.
    states: BTreeMap<u64, ModelState>,
    /// The reference run's state after each offset.
    reference: BTreeMap<u64, CommittedState>,
    /// The highest offset known durable.
    acked: Option<u64>,
    /// The highest offset committed.
    submitted: u64,
}

impl Default for Model {
    fn default() -> Self {
        Model::new()
    }
}

impl Model {
    /// The model of a fresh database: the bootstrap transaction at offset 0
    /// (submitted by the first open, acknowledged by none yet).
    pub fn new() -> Self {
        let mut datastore = Datastore::new(CommittedState::seed(), 1);
        datastore.commit_bootstrap();
        Model {
            states: BTreeMap::from([(0, ModelState::default())]),
            reference: BTreeMap::from([(0, datastore.latest().clone())]),
            acked: None,
            submitted: 0,
        }
    }

    /// The highest acknowledged offset.
    pub fn acked(&self) -> Option<u64> {
        self.acked
    }

    /// The highest submitted offset.
    pub fn submitted(&self) -> u64 {
        self.submitted
    }

    /// The model after the last submitted transaction.
    pub fn latest(&self) -> &ModelState {
        &self.states[&self.submitted]
    }

    /// The model after `offset`, if it was submitted.
    pub fn state_at(&self, offset: u64) -> Option<&ModelState> {
        self.states.get(&offset)
    }

    /// Records a transaction the engine committed at `offset`.
    pub fn commit(&mut self, offset: u64, ops: &[TxOp]) -> Result<(), Violation> {
        if offset != self.submitted + 1 {
            return Err(Violation::new(
                Invariant::OffsetOrder,
                format!("expected-offset={} actual-offset={offset}", self.submitted + 1),
            ));
        }
        let mut state = self.latest().clone();
        for op in ops {
            state.apply(op).map_err(|reason| {
                Violation::new(
                    Invariant::TxAcceptedInvalid,
                    format!("offset={offset} {op}: {reason}"),
                )
            })?;
        }
        let reference = self.reference_commit(ops).map_err(|error| {
            Violation::new(
                Invariant::TxAcceptedInvalid,
                format!("offset={offset}: the reference run refused it: {error}"),
            )
        })?;
        assert_eq!(reference.offset(), Some(offset), "the reference run keeps in step");
        self.states.insert(offset, state);
        self.reference.insert(offset, reference);
        self.submitted = offset;
        Ok(())
    }

    fn reference_commit(&self, ops: &[TxOp]) -> Result<CommittedState, TxError> {
        let mut datastore = Datastore::new(self.reference[&self.submitted].clone(), 1);
        let mut tx = datastore.begin();
        for op in ops {
            apply_to_tx(&mut tx, op)?;
        }
        datastore.commit(tx)?;
        Ok(datastore.latest().clone())
    }

    /// Records that the engine reported `durable` as its durable offset.
    pub fn acknowledge(&mut self, durable: u64) -> Result<(), Violation> {
        if durable > self.submitted {
            return Err(Violation::new(
                Invariant::DurableBeyondSubmitted,
                format!("durable={durable} submitted={}", self.submitted),
            ));
        }
        if self.acked.is_some_and(|acked| durable < acked) {
            return Err(Violation::new(
                Invariant::DurableRegressed,
                format!("durable={durable} acked={:?}", self.acked),
            ));
        }
        self.acked = Some(durable);
        Ok(())
    }

    /// Checks a freshly opened database against the model, then makes its
    /// offset the model's present: later offsets are forgotten (they were
    /// lost), and everything up to it is durable. Returns the offset.
    pub fn recover(&mut self, db: &Database, rule: DurabilityRule) -> Result<u64, Violation> {
        let latest = db.latest();
        let recovered = latest.offset().expect("an opened database holds the bootstrap");
        if recovered > self.submitted {
            return Err(Violation::new(
                Invariant::BeyondSubmitted,
                format!("recovered={recovered} submitted={}", self.submitted),
            ));
        }
        if rule == DurabilityRule::Durable
            && let Some(acked) = self.acked.filter(|acked| recovered < *acked)
        {
            return Err(Violation::new(
                Invariant::AckedLost,
                format!("recovered={recovered} acked={acked} submitted={}", self.submitted),
            ));
        }
        self.check_state("recovered", recovered, latest, true)?;
        self.states.retain(|offset, _| *offset <= recovered);
        self.reference.retain(|offset, _| *offset <= recovered);
        self.submitted = recovered;
        self.acked = Some(recovered);
        Ok(recovered)
    }

    /// Checks `state` (what the engine serves as of `offset`) against the
    /// model and the reference run at `offset`; with `deep`, also runs the
    /// engine's own consistency check on it.
    ///
    /// Rows are compared in their encoded form (a row's encoding is its
    /// identity), and decoded only to explain a difference.
    pub fn check_state(
        &self,
        what: &str,
        offset: u64,
        state: &CommittedState,
        deep: bool,
    ) -> Result<(), Violation> {
        if deep {
            state.check().map_err(|reason| {
                Violation::new(Invariant::StateCheck, format!("{what} offset={offset}: {reason}"))
            })?;
        }
        let expected = self.states.get(&offset).ok_or_else(|| {
            Violation::new(Invariant::BeyondSubmitted, format!("{what} offset={offset} unknown"))
        })?;
        if !matches_model(expected, state)
            && let Some(diff) = expected.diff(&ModelState::of_engine(state))
        {
            return Err(Violation::new(
                Invariant::StateMismatch,
                format!("{what} offset={offset}: {diff}"),
            ));
        }
        if let Some(table) = first_different_table(&self.reference[&offset], state) {
            return Err(Violation::new(
                Invariant::SystemTablesMismatch,
                format!("{what} offset={offset}: table {table} differs from the reference run"),
            ));
        }
        Ok(())
    }

    /// Checks `read_at(t)` for each of `offsets` inside the window the
    /// engine retains, and that the offsets just outside it are refused.
    pub fn check_reads(&self, db: &Database, offsets: &[u64]) -> Result<(), Violation> {
        let latest = db.latest().offset().expect("a database holds the bootstrap");
        let oldest = db.datastore().versions().oldest_offset().ok_or_else(|| {
            Violation::new(Invariant::ReadAtWindow, "no committed version retained")
        })?;
        if oldest > latest {
            return Err(Violation::new(
                Invariant::ReadAtWindow,
                format!("oldest={oldest} latest={latest}"),
            ));
        }
        for &t in offsets {
            let t = oldest + t % (latest - oldest + 1);
            let state = db.read_at(t).map_err(|error| {
                Violation::new(Invariant::ReadAtWindow, format!("read-at={t} refused: {error}"))
            })?;
            if state.offset() != Some(t) {
                return Err(Violation::new(
                    Invariant::ReadAtMismatch,
                    format!("read-at={t} served offset={:?}", state.offset()),
                ));
            }
            self.check_state("read-at", t, state, false).map_err(|v| Violation {
                invariant: match v.invariant {
                    Invariant::StateMismatch | Invariant::SystemTablesMismatch => {
                        Invariant::ReadAtMismatch
                    }
                    other => other,
                },
                detail: v.detail,
            })?;
        }
        check_refused(db.read_at(latest + 1), latest + 1, |e| {
            matches!(e, ReadError::TooNew { .. })
        })?;
        if oldest > 0 {
            check_refused(db.read_at(oldest - 1), oldest - 1, |e| {
                matches!(e, ReadError::TooOld { .. })
            })?;
        }
        Ok(())
    }
}

/// Whether the user tables of `state` are exactly `expected` (names,
/// columns, rows), compared without decoding.
fn matches_model(expected: &ModelState, state: &CommittedState) -> bool {
    let user: Vec<_> = state.tables().filter(|t| !t.schema().id.is_system()).collect();
    user.len() == expected.tables.len()
        && user.iter().all(|table| {
            let Some(model) = expected.tables.get(&table.schema().name) else { return false };
            if table.schema().columns != model.columns
                || table.summary().row_count != model.rows.len() as u64
            {
                return false;
            }
            let rows: BTreeSet<&[u8]> = table.rows().map(|row| &row[..]).collect();
            rows.len() == model.rows.len()
                && model.rows.iter().all(|row| rows.contains(&encode_row(row)[..]))
        })
}

/// The name of the first table whose schema or rows differ between the
/// reference run's state and `state`, if any.
fn first_different_table(reference: &CommittedState, state: &CommittedState) -> Option<String> {
    let names = |s: &CommittedState| -> BTreeSet<String> {
        s.tables().map(|t| t.schema().name.clone()).collect()
    };
    let (expected, actual) = (names(reference), names(state));
    if let Some(name) = expected.symmetric_difference(&actual).next() {
        return Some(name.clone());
    }
    expected.into_iter().find(|name| {
        let (a, b) = (reference.table_by_name(name), state.table_by_name(name));
        match (a, b) {
            (Some(a), Some(b)) => a.schema() != b.schema() || a.rows().ne(b.rows()),
            _ => true,
        }
    })
}

fn check_refused(
    result: Result<&CommittedState, ReadError>,
    offset: u64,
    expected: impl Fn(&ReadError) -> bool,
) -> Result<(), Violation> {
    match result {
        Err(error) if expected(&error) => Ok(()),
        Err(error) => Err(Violation::new(
            Invariant::ReadAtWindow,
            format!("read-at={offset} refused with the wrong error: {error}"),
        )),
        Ok(state) => Err(Violation::new(
            Invariant::ReadAtWindow,
            format!("read-at={offset} outside the window served offset={:?}", state.offset()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use faultline_engine::datastore::{ColumnType, Value};

    use super::*;

    fn create() -> TxOp {
        TxOp::CreateTable { name: "t".into(), columns: vec![ColumnDef::new("id", ColumnType::U64)] }
    }

    fn insert(id: u64) -> TxOp {
        TxOp::Insert { table: "t".into(), row: vec![Value::U64(id)] }
    }

    #[test]
    fn the_model_refuses_what_the_engine_must_refuse() {
        let mut state = ModelState::default();
        state.apply(&create()).unwrap();
        assert!(state.apply(&create()).is_err());
        state.apply(&insert(1)).unwrap();
        assert!(state.apply(&insert(1)).unwrap_err().contains("duplicate"));
        let wrong_type = TxOp::Insert { table: "t".into(), row: vec![Value::Bool(true)] };
        assert!(state.apply(&wrong_type).is_err());
        assert!(state.apply(&TxOp::DropTable { name: "u".into() }).is_err());
    }

    #[test]
    fn commits_must_be_contiguous_and_valid() {
        let mut model = Model::new();
        model.commit(1, &[create(), insert(1)]).unwrap();
        let gap = model.commit(3, &[insert(2)]).unwrap_err();
        assert_eq!(gap.invariant, Invariant::OffsetOrder);
        let invalid = model.commit(2, &[insert(1)]).unwrap_err();
        assert_eq!(invalid.invariant, Invariant::TxAcceptedInvalid);
        assert_eq!(model.submitted(), 1);
        model.acknowledge(1).unwrap();
        assert_eq!(model.acknowledge(0).unwrap_err().invariant, Invariant::DurableRegressed);
        assert_eq!(model.acknowledge(2).unwrap_err().invariant, Invariant::DurableBeyondSubmitted);
    }

    #[test]
    fn diff_names_the_first_difference() {
        let mut expected = ModelState::default();
        expected.apply(&create()).unwrap();
        let mut actual = expected.clone();
        expected.apply(&insert(7)).unwrap();
        assert_eq!(
            expected.diff(&actual).unwrap(),
            "table t lacks row (7) (expected-rows=1 actual-rows=0)"
        );
        actual.apply(&insert(7)).unwrap();
        assert_eq!(expected.diff(&actual), None);
        let names: Vec<&str> = Invariant::ALL.iter().map(|i| i.name()).collect();
        for name in names {
            assert_eq!(Invariant::from_name(name).unwrap().name(), name);
        }
    }
}
