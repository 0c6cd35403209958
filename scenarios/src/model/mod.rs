//! The oracle (DESIGN 4): a model of what the database must hold, computed
//! from the workload's operations alone. It never runs engine code: it
//! applies each operation with the engine's documented semantics to plain
//! persistent maps, numbers tables from its own copy of the table-id
//! sequence, and writes out the system tables from the catalogue
//! ([`catalog`]). The judge compares it with what the engine serves
//! through its public read API (`dump`, `read_at`).
//!
//! The model is the state after each offset (0 is the bootstrap
//! transaction) plus the highest acknowledged (durable) offset and the
//! highest submitted one.

pub mod catalog;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use faultline_engine::datastore::{ColumnDef, ColumnType, ROW_SIZE_MAX, Row, Value};

use crate::judge::{Invariant, Violation};
use crate::workload::{TxOp, row_text};

/// The most columns a user table may have.
const COLUMNS_MAX: usize = 64;
/// The longest table name, in bytes.
const TABLE_NAME_LEN_MAX: usize = 256;

/// A user table as the model sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableModel {
    /// Its id, from the table-id sequence.
    pub id: u32,
    /// Its columns, in position order.
    pub columns: Arc<[ColumnDef]>,
    /// Its rows (tables are sets). Shared, as everything here is: a state
    /// is kept per offset, and a change copies a persistent map's node,
    /// which should cost reference counts, not rows.
    pub rows: imbl::OrdSet<Arc<Row>>,
    /// The same rows encoded (see [`encode_row`]), for comparing with what
    /// the engine stores without decoding it.
    pub encoded: imbl::OrdSet<Arc<[u8]>>,
    /// Its `st_table` row and `st_column` rows, encoded.
    pub catalog: Arc<catalog::CatalogRows>,
}

/// The state after one offset. Cheap to clone (persistent maps).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelState {
    /// Every user table, by name.
    /// A handful of them: a plain map behind an `Arc`, copied on the
    /// first change (a persistent map's node costs more to copy).
    pub tables: Arc<BTreeMap<Arc<str>, TableModel>>,
    /// The next value of the table-id sequence.
    pub next_table_id: u32,
}

impl Default for ModelState {
    /// The state after the bootstrap transaction: no user table.
    fn default() -> Self {
        ModelState { tables: Arc::default(), next_table_id: catalog::FIRST_USER_TABLE_ID }
    }
}

/// A row encoded as FORMAT.md specifies (the model's own encoder): column
/// by column, `u64`/`i64` as 8 little-endian bytes, `bool` as one byte 0 or
/// 1, `string`/`bytes` as a little-endian `u32` length and the bytes.
///
/// Written straight into a shared buffer of its exact length, which is
/// what the model keeps: one allocation and one copy of each value.
pub fn encode_row(row: &[Value]) -> Arc<[u8]> {
    // An exact-length iterator collects into one allocation of its length.
    let mut bytes: Arc<[u8]> = std::iter::repeat_n(0, encoded_row_len(row)).collect();
    let mut out = Arc::get_mut(&mut bytes).expect("a new buffer has one owner");
    for value in row {
        match value {
            Value::U64(v) => put(&mut out, &v.to_le_bytes()),
            Value::I64(v) => put(&mut out, &v.to_le_bytes()),
            Value::Bool(v) => put(&mut out, &[u8::from(*v)]),
            Value::String(v) => {
                put(&mut out, &(v.len() as u32).to_le_bytes());
                put(&mut out, v.as_bytes());
            }
            Value::Bytes(v) => {
                put(&mut out, &(v.len() as u32).to_le_bytes());
                put(&mut out, v);
            }
        }
    }
    assert!(out.is_empty(), "encoded_row_len counts every byte");
    bytes
}

/// Copies `bytes` to the front of `out` and moves `out` past them.
fn put(out: &mut &mut [u8], bytes: &[u8]) {
    let (head, tail) = std::mem::take(out).split_at_mut(bytes.len());
    head.copy_from_slice(bytes);
    *out = tail;
}

/// The encoded length of a row: 8 bytes per integer, 1 per bool, a 4-byte
/// length plus the bytes per string or bytes value.
pub fn encoded_row_len(row: &[Value]) -> usize {
    row.iter()
        .map(|value| match value {
            Value::U64(_) | Value::I64(_) => 8,
            Value::Bool(_) => 1,
            Value::String(s) => 4 + s.len(),
            Value::Bytes(b) => 4 + b.len(),
        })
        .sum()
}

fn type_of(value: &Value) -> ColumnType {
    match value {
        Value::U64(_) => ColumnType::U64,
        Value::I64(_) => ColumnType::I64,
        Value::Bool(_) => ColumnType::Bool,
        Value::String(_) => ColumnType::String,
        Value::Bytes(_) => ColumnType::Bytes,
    }
}

impl ModelState {
    /// Applies `op` with the engine's documented semantics; refuses what
    /// the engine must refuse, saying why.
    pub fn apply(&mut self, op: &TxOp) -> Result<(), String> {
        match op {
            TxOp::CreateTable { name, columns } => self.create(name, columns),
            TxOp::DropTable { name } => {
                if catalog::is_system_table(name) {
                    return Err(format!("{name} is a system table"));
                }
                Arc::make_mut(&mut self.tables)
                    .remove(name.as_str())
                    .map(drop)
                    .ok_or_else(|| format!("no table {name}"))
            }
            TxOp::Insert { table, row } => {
                let model = self.user_table(table, row)?;
                if model.rows.insert(Arc::new(row.clone())).is_some() {
                    return Err(format!("duplicate row in {table}"));
                }
                model.encoded.insert(encode_row(row));
                Ok(())
            }
            TxOp::Delete { table, row } => {
                let model = self.user_table(table, row)?;
                model.rows.remove(row).ok_or_else(|| format!("row not in {table}"))?;
                model.encoded.remove(&encode_row(row));
                Ok(())
            }
        }
    }

    fn create(&mut self, name: &str, columns: &[ColumnDef]) -> Result<(), String> {
        if name.is_empty() || name.len() > TABLE_NAME_LEN_MAX {
            return Err(format!("table name of {} bytes", name.len()));
        }
        if self.tables.contains_key(name) || catalog::is_system_table(name) {
            return Err(format!("table {name} exists"));
        }
        if columns.is_empty() || columns.len() > COLUMNS_MAX {
            return Err(format!("{} columns", columns.len()));
        }
        let names: BTreeSet<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        if names.len() != columns.len() {
            return Err("column names repeat".to_owned());
        }
        let id = self.next_table_id;
        self.next_table_id += 1;
        let catalog = Arc::new(catalog::encoded_catalog_rows(id, name, columns));
        let table = TableModel {
            id,
            columns: Arc::from(columns),
            rows: imbl::OrdSet::new(),
            encoded: imbl::OrdSet::new(),
            catalog,
        };
        Arc::make_mut(&mut self.tables).insert(Arc::from(name), table);
        Ok(())
    }

    /// The user table `name`, if `row` is a row it can hold.
    fn user_table(&mut self, name: &str, row: &[Value]) -> Result<&mut TableModel, String> {
        if catalog::is_system_table(name) {
            return Err(format!("{name} is a system table"));
        }
        let table = Arc::make_mut(&mut self.tables)
            .get_mut(name)
            .ok_or_else(|| format!("no table {name}"))?;
        let matches = row.len() == table.columns.len()
            && row
                .iter()
                .zip(table.columns.iter())
                .all(|(value, column)| type_of(value) == column.ty);
        if !matches {
            let types: Vec<ColumnType> = row.iter().map(type_of).collect();
            let expected: Vec<ColumnType> = table.columns.iter().map(|c| c.ty).collect();
            return Err(format!("row types {types:?} for columns {expected:?}"));
        }
        let len = encoded_row_len(row);
        if len > ROW_SIZE_MAX {
            return Err(format!("row of {len} bytes, max {ROW_SIZE_MAX}"));
        }
        Ok(table)
    }

    /// Every table's rows, system tables included: what the engine's dump
    /// at this offset must be.
    pub fn expected_dump(&self) -> Dump {
        catalog::expected_rows(self)
            .into_iter()
            .map(|(name, rows)| (name, rows.into_iter().collect()))
            .collect()
    }
}

/// Whether `state` (what the engine serves) holds exactly the tables and
/// rows of `expected`, system tables included, compared in their encoded
/// form: the engine's stored rows, in the byte order it lists them in,
/// against the model's own encoding, with nothing of the engine decoded.
/// [`diff`] explains a difference.
pub fn serves(expected: &ModelState, state: &faultline_engine::datastore::CommittedState) -> bool {
    let system = catalog::encoded_system_rows(expected);
    let mut tables = 0;
    for table in state.tables() {
        tables += 1;
        let name = &table.schema().name;
        // Both sides list their rows in byte order (the engine documents
        // `rows` so), so one walk in step compares them: no search per row.
        let holds_exactly = |want: &mut dyn Iterator<Item = &Arc<[u8]>>, count: usize| {
            table.summary().row_count == count as u64
                && table.rows().map(|row| &row[..]).eq(want.map(|row| &row[..]))
        };
        let matches = match system.get(name.as_str()) {
            Some(rows) => holds_exactly(&mut rows.iter(), rows.len()),
            None => match expected.tables.get(name.as_str()) {
                Some(model) => holds_exactly(&mut model.encoded.iter(), model.encoded.len()),
                None => false,
            },
        };
        if !matches {
            return false;
        }
    }
    tables == system.len() + expected.tables.len()
}

/// Every table's rows by name, as a set per table.
pub type Dump = BTreeMap<String, BTreeSet<Row>>;

/// The engine's dump (`CommittedState::dump`) as a [`Dump`]; a table that
/// lists a row twice is an error (tables are sets).
pub fn dump_of(engine: BTreeMap<String, Vec<Row>>) -> Result<Dump, String> {
    let mut dump = Dump::new();
    for (name, rows) in engine {
        let n = rows.len();
        let set: BTreeSet<Row> = rows.into_iter().collect();
        if set.len() != n {
            return Err(format!(
                "table {name} lists a row twice ({n} rows, {} distinct)",
                set.len()
            ));
        }
        dump.insert(name, set);
    }
    Ok(dump)
}

/// The first difference between two dumps: which table, whether it is a
/// system table, and a readable account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DumpDiff {
    /// The table.
    pub table: String,
    /// Whether it is a system table.
    pub system: bool,
    /// What differs.
    pub text: String,
}

/// How many rows a difference shows of each side.
const ROWS_SHOWN: usize = 3;

fn some_rows<'a>(rows: impl Iterator<Item = &'a Row>) -> String {
    let rows: Vec<&Row> = rows.collect();
    let mut shown: Vec<String> = rows.iter().take(ROWS_SHOWN).map(|r| row_text(r)).collect();
    if rows.len() > ROWS_SHOWN {
        shown.push(format!("... {} more", rows.len() - ROWS_SHOWN));
    }
    format!("[{}]", shown.join(" "))
}

/// Where two different tables first differ, rows in order: the row the
/// model expects there against the row the engine serves.
fn first_differing_row(want: &BTreeSet<Row>, got: &BTreeSet<Row>) -> String {
    let index = want.iter().zip(got).take_while(|(a, b)| a == b).count();
    let (expected, actual) = (want.iter().nth(index), got.iter().nth(index));
    assert!(expected != actual, "different tables differ at some row");
    let text =
        |row: Option<&Row>| row.map_or_else(|| "none (the table ends)".to_owned(), |r| row_text(r));
    format!("first differing row #{index}: expected {} actual {}", text(expected), text(actual))
}

/// The first difference between `expected` and `actual`, system tables
/// first, if any.
pub fn diff(expected: &Dump, actual: &Dump) -> Option<DumpDiff> {
    let names: BTreeSet<&String> = expected.keys().chain(actual.keys()).collect();
    let (system, user): (Vec<&String>, Vec<&String>) =
        names.into_iter().partition(|name| catalog::is_system_table(name));
    let tables = |dump: &Dump| dump.keys().cloned().collect::<Vec<_>>().join(",");
    system.into_iter().chain(user).find_map(|name| {
        let text = match (expected.get(name), actual.get(name)) {
            (Some(rows), None) | (None, Some(rows)) => format!(
                "{} {} rows {} (expected tables {}; actual {})",
                if expected.contains_key(name) {
                    format!("table {name} missing, expected holding")
                } else {
                    format!("unexpected table {name} holding")
                },
                rows.len(),
                some_rows(rows.iter()),
                tables(expected),
                tables(actual)
            ),
            (Some(want), Some(got)) if want != got => format!(
                "table {name}: {}; expected-rows={} actual-rows={} missing={} unexpected={}",
                first_differing_row(want, got),
                want.len(),
                got.len(),
                some_rows(want.difference(got)),
                some_rows(got.difference(want))
            ),
            _ => return None,
        };
        Some(DumpDiff { table: name.clone(), system: catalog::is_system_table(name), text })
    })
}

/// The model: every submitted transaction's resulting state, each
/// client's transaction in progress, the acknowledged and the submitted
/// offsets.
#[derive(Debug)]
pub struct Model {
    /// The state after each offset, from 0 (the bootstrap) up.
    states: BTreeMap<u64, ModelState>,
    /// Each client's transaction in progress, by client.
    pending: BTreeMap<usize, PendingTx>,
    /// The highest offset known durable.
    acked: Option<u64>,
    /// The highest offset committed.
    submitted: u64,
}

/// A client's transaction in progress as the model sees it: each
/// operation is applied once, as the client sends it, and a commit on the
/// state it began on takes the result as it is.
#[derive(Debug)]
struct PendingTx {
    /// The offset it began after.
    began_after: u64,
    /// How many operations it holds (all accepted).
    ops: usize,
    /// The state after `began_after` with them applied.
    state: ModelState,
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
        Model {
            states: BTreeMap::from([(0, ModelState::default())]),
            pending: BTreeMap::new(),
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

    /// The state after `offset`, if it was submitted (and not lost since).
    pub fn state_at(&self, offset: u64) -> Option<&ModelState> {
        self.states.get(&offset)
    }

    /// Applies `op`, which `client` sends to its transaction begun after
    /// `began_after` with the accepted operations `before`, and says
    /// whether the model accepts it. The transaction is kept only while
    /// every operation is accepted; after a refusal, the next operation
    /// starts again from `began_after` and `before`.
    pub fn apply_op(
        &mut self,
        client: usize,
        began_after: u64,
        before: &[TxOp],
        op: &TxOp,
    ) -> Result<(), String> {
        let mut state = match self.pending.remove(&client) {
            Some(tx) if tx.began_after == began_after && tx.ops == before.len() => tx.state,
            _ => {
                let mut state = self
                    .state_at(began_after)
                    .expect("transactions begin on a submitted offset")
                    .clone();
                for earlier in before {
                    state.apply(earlier).expect("the operations before it were accepted");
                }
                state
            }
        };
        state.apply(op)?;
        self.pending.insert(client, PendingTx { began_after, ops: before.len() + 1, state });
        Ok(())
    }

    /// Forgets `client`'s transaction in progress (it committed, was
    /// refused or was abandoned).
    pub fn end_tx(&mut self, client: usize) {
        self.pending.remove(&client);
    }

    /// Records a transaction the engine committed at `offset`.
    pub fn commit(&mut self, offset: u64, ops: &[TxOp]) -> Result<(), Violation> {
        self.commit_tx(None, offset, ops)
    }

    /// Records a transaction `client` (if any) began after `began_after`
    /// and the engine committed at `offset`. If the client's transaction in
    /// progress began on the state the commit lands on and holds as many
    /// operations, it is the result (each operation was applied as it was
    /// sent, to exactly these operations: the runner sends only accepted
    /// ones); otherwise the operations are applied again here.
    pub fn commit_tx(
        &mut self,
        client: Option<(usize, u64)>,
        offset: u64,
        ops: &[TxOp],
    ) -> Result<(), Violation> {
        if offset != self.submitted + 1 {
            return Err(Violation::new(
                Invariant::OFFSET_ORDER,
                format!("expected-offset={} actual-offset={offset}", self.submitted + 1),
            ));
        }
        let pending = client.and_then(|(client, began_after)| {
            let tx = self.pending.remove(&client)?;
            (tx.began_after == began_after && began_after == self.submitted && tx.ops == ops.len())
                .then_some(tx.state)
        });
        let state = match pending {
            Some(state) => state,
            None => {
                let mut state = self.states[&self.submitted].clone();
                for op in ops {
                    state.apply(op).map_err(|reason| {
                        Violation::new(
                            Invariant::TX_ACCEPTED_INVALID,
                            format!("offset={offset} {op}: {reason}"),
                        )
                    })?;
                }
                state
            }
        };
        self.states.insert(offset, state);
        self.submitted = offset;
        Ok(())
    }

    /// Records that the engine reported `durable` as its durable offset.
    pub fn acknowledge(&mut self, durable: u64) -> Result<(), Violation> {
        if durable > self.submitted {
            return Err(Violation::new(
                Invariant::DURABLE_BEYOND_SUBMITTED,
                format!("durable={durable} submitted={}", self.submitted),
            ));
        }
        if self.acked.is_some_and(|acked| durable < acked) {
            return Err(Violation::new(
                Invariant::DURABLE_REGRESSED,
                format!("durable={durable} acked={:?}", self.acked),
            ));
        }
        self.acked = Some(durable);
        Ok(())
    }

    /// Makes `recovered` the present after an open that came back there:
    /// later offsets are forgotten (they were lost), everything up to it is
    /// durable (an open makes its whole history durable).
    pub fn recover(&mut self, recovered: u64) {
        assert!(recovered <= self.submitted, "the judge checked the recovered offset first");
        self.states.retain(|offset, _| *offset <= recovered);
        // A crash or an open ends every transaction in progress.
        self.pending.clear();
        self.submitted = recovered;
        self.acked = Some(recovered);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(name: &str) -> TxOp {
        TxOp::CreateTable {
            name: name.into(),
            columns: vec![ColumnDef::new("id", ColumnType::U64)],
        }
    }

    fn insert(id: u64) -> TxOp {
        TxOp::Insert { table: "t".into(), row: vec![Value::U64(id)] }
    }

    #[test]
    fn the_model_refuses_what_the_engine_must_refuse() {
        let mut state = ModelState::default();
        state.apply(&create("t")).unwrap();
        assert!(state.apply(&create("t")).is_err());
        assert!(state.apply(&create("st_table")).unwrap_err().contains("exists"));
        assert!(state.apply(&create("")).is_err());
        assert!(state.apply(&TxOp::DropTable { name: "st_index".into() }).is_err());
        state.apply(&insert(1)).unwrap();
        assert!(state.apply(&insert(1)).unwrap_err().contains("duplicate"));
        let wrong_type = TxOp::Insert { table: "t".into(), row: vec![Value::Bool(true)] };
        assert!(state.apply(&wrong_type).is_err());
        let into_system = TxOp::Insert { table: "st_table".into(), row: vec![Value::U64(1)] };
        assert!(state.apply(&into_system).unwrap_err().contains("system"));
        assert!(state.apply(&TxOp::DropTable { name: "u".into() }).is_err());
        let repeated = TxOp::CreateTable {
            name: "r".into(),
            columns: vec![
                ColumnDef::new("a", ColumnType::U64),
                ColumnDef::new("a", ColumnType::Bool),
            ],
        };
        assert!(state.apply(&repeated).is_err());
    }

    #[test]
    fn table_ids_come_from_the_sequence_and_are_never_reused() {
        let mut state = ModelState::default();
        state.apply(&create("a")).unwrap();
        state.apply(&TxOp::DropTable { name: "a".into() }).unwrap();
        state.apply(&create("a")).unwrap();
        assert_eq!(state.tables["a"].id, catalog::FIRST_USER_TABLE_ID + 1);
        let dump = state.expected_dump();
        let sequence = dump["st_sequence"].iter().find(|row| row[0] == Value::U64(1)).unwrap();
        assert_eq!(sequence[2], Value::U64(u64::from(catalog::FIRST_USER_TABLE_ID) + 2));
        let described: Vec<&Row> =
            dump["st_table"].iter().filter(|row| row[1] == Value::String("a".into())).collect();
        assert_eq!(described.len(), 1, "the dropped table's row is gone");
    }

    #[test]
    fn commits_must_be_contiguous_and_valid() {
        let mut model = Model::new();
        model.commit(1, &[create("t"), insert(1)]).unwrap();
        let gap = model.commit(3, &[insert(2)]).unwrap_err();
        assert_eq!(gap.invariant, Invariant::OFFSET_ORDER);
        let invalid = model.commit(2, &[insert(1)]).unwrap_err();
        assert_eq!(invalid.invariant, Invariant::TX_ACCEPTED_INVALID);
        assert_eq!(model.submitted(), 1);
        model.acknowledge(1).unwrap();
        assert_eq!(model.acknowledge(0).unwrap_err().invariant, Invariant::DURABLE_REGRESSED);
        assert_eq!(
            model.acknowledge(2).unwrap_err().invariant,
            Invariant::DURABLE_BEYOND_SUBMITTED
        );
    }

    #[test]
    fn a_transaction_in_progress_is_applied_once_and_committed_as_it_stands() {
        let mut model = Model::new();
        // Client 1 sends three operations; the second is refused (a
        // duplicate) and the client goes on without it.
        let ops = [create("t"), insert(1), insert(1), insert(2)];
        assert_eq!(model.apply_op(1, 0, &[], &ops[0]), Ok(()));
        assert_eq!(model.apply_op(1, 0, &ops[..1], &ops[1]), Ok(()));
        assert!(model.apply_op(1, 0, &ops[..2], &ops[2]).unwrap_err().contains("duplicate"));
        // After the refusal the transaction is rebuilt from its accepted
        // operations.
        assert_eq!(model.apply_op(1, 0, &ops[..2], &ops[3]), Ok(()));
        let accepted = [ops[0].clone(), ops[1].clone(), ops[3].clone()];
        model.commit_tx(Some((1, 0)), 1, &accepted).unwrap();
        let mut expected = ModelState::default();
        accepted.iter().for_each(|op| expected.apply(op).unwrap());
        assert_eq!(model.state_at(1), Some(&expected));

        // A transaction begun before another commit is applied again on
        // the state it lands on: here a duplicate, refused as invalid.
        assert_eq!(model.apply_op(2, 0, &[], &create("u")), Ok(()));
        assert_eq!(model.apply_op(3, 1, &[], &insert(3)), Ok(()));
        model.commit_tx(Some((3, 1)), 2, &[insert(3)]).unwrap();
        let stale = model.commit_tx(Some((2, 0)), 3, &[insert(3)]).unwrap_err();
        assert_eq!(stale.invariant, Invariant::TX_ACCEPTED_INVALID);
        // One whose operations are not those it was sent is applied again.
        assert_eq!(model.apply_op(4, 2, &[], &insert(4)), Ok(()));
        model.commit_tx(Some((4, 2)), 3, &[insert(4), insert(5)]).unwrap();
        let rows = |offset: u64| model.state_at(offset).unwrap().tables["t"].rows.len();
        assert_eq!((rows(1), rows(2), rows(3)), (2, 3, 5));
        // An open ends every transaction in progress.
        assert_eq!(model.apply_op(5, 3, &[], &insert(6)), Ok(()));
        model.recover(3);
        assert!(model.pending.is_empty());
    }

    #[test]
    fn diff_names_the_first_difference_system_tables_first() {
        let mut expected = ModelState::default();
        expected.apply(&create("t")).unwrap();
        let mut actual = expected.clone();
        expected.apply(&insert(7)).unwrap();
        let diff = super::diff(&expected.expected_dump(), &actual.expected_dump()).unwrap();
        assert_eq!(diff.table, "t");
        assert!(!diff.system);
        assert_eq!(
            diff.text,
            "table t: first differing row #0: expected (7) actual none (the table ends); \
             expected-rows=1 actual-rows=0 missing=[(7)] unexpected=[]"
        );
        actual.apply(&insert(7)).unwrap();
        assert_eq!(super::diff(&expected.expected_dump(), &actual.expected_dump()), None);
        // A row changed in the middle: that row, expected against actual.
        let (mut want, mut got) = (expected.clone(), actual.clone());
        for op in [insert(1), insert(9)] {
            want.apply(&op).unwrap();
            got.apply(&op).unwrap();
        }
        want.apply(&insert(5)).unwrap();
        got.apply(&insert(6)).unwrap();
        let diff = super::diff(&want.expected_dump(), &got.expected_dump()).unwrap();
        assert!(
            diff.text.starts_with("table t: first differing row #1: expected (5) actual (6);"),
            "{}",
            diff.text
        );
        // A table the model does not have: its rows, and both sides' tables.
        let row = |n: u64| vec![Value::U64(n)];
        let want = Dump::from([("t".to_owned(), BTreeSet::from([row(1)]))]);
        let mut got = want.clone();
        got.insert("u".to_owned(), BTreeSet::from([row(2)]));
        let diff = super::diff(&want, &got).unwrap();
        assert_eq!(
            diff.text,
            "unexpected table u holding 1 rows [(2)] (expected tables t; actual t,u)"
        );
        let diff = super::diff(&got, &want).unwrap();
        assert_eq!(
            diff.text,
            "table u missing, expected holding 1 rows [(2)] (expected tables t,u; actual t)"
        );
        actual.next_table_id += 1;
        let diff = super::diff(&expected.expected_dump(), &actual.expected_dump()).unwrap();
        assert_eq!((diff.table.as_str(), diff.system), ("st_sequence", true));
    }

    /// An engine state holding table `t` with rows 1, 5 and 9, built through
    /// the engine's public transaction API.
    fn engine_with_rows() -> faultline_engine::datastore::CommittedState {
        use faultline_engine::datastore::{CommittedState, Datastore};
        let mut store = Datastore::new(CommittedState::seed(), 4);
        store.commit_bootstrap();
        let mut tx = store.begin();
        for op in [create("t"), insert(1), insert(5), insert(9)] {
            op.apply_to(&mut tx).unwrap();
        }
        store.commit(tx).unwrap();
        store.latest().clone()
    }

    #[test]
    fn serves_holds_only_for_exactly_the_model_rows_and_tables() {
        let engine = engine_with_rows();
        let mut model = ModelState::default();
        for op in [create("t"), insert(1), insert(5), insert(9)] {
            model.apply(&op).unwrap();
        }
        assert!(serves(&model, &engine));
        // A row missing, a row extra, a row of other bytes at the same count,
        // a table extra, a table missing, a system row differing.
        let apply = |ops: &[TxOp]| {
            let mut state = model.clone();
            ops.iter().for_each(|op| state.apply(op).unwrap());
            state
        };
        let delete = |id: u64| TxOp::Delete { table: "t".into(), row: vec![Value::U64(id)] };
        assert!(!serves(&apply(&[delete(5)]), &engine));
        assert!(!serves(&apply(&[insert(7)]), &engine));
        assert!(!serves(&apply(&[delete(9), insert(10)]), &engine));
        assert!(!serves(&apply(&[delete(1), insert(0)]), &engine));
        assert!(!serves(&apply(&[create("u")]), &engine));
        assert!(!serves(&apply(&[TxOp::DropTable { name: "t".into() }]), &engine));
        let mut sequence = model.clone();
        sequence.next_table_id += 1;
        assert!(!serves(&sequence, &engine));
    }

    #[test]
    fn a_dump_listing_a_row_twice_is_refused() {
        let rows = vec![vec![Value::U64(1)], vec![Value::U64(1)]];
        let error = dump_of(BTreeMap::from([("t".to_owned(), rows)])).unwrap_err();
        assert!(error.contains("twice"), "{error}");
    }
}
