//! The workload: the operation language clients speak to the engine, the
//! shape of a workload (how many clients, how big their transactions, how
//! they pace themselves), and the transaction generators that write in the
//! language.
//!
//! A generator draws a transaction from the seed's workload stream against
//! the model's present state. The built-in one ([`RandomTransactions`])
//! only ever writes valid transactions; a scenario may bring its own
//! ([`TxGenerator`]), valid or not: the judge checks that the engine
//! refuses exactly the operations the model refuses.

use std::fmt;
use std::sync::Arc;

use faultline_engine::datastore::{
    ColumnDef, ColumnType, MutTx, ROW_SIZE_MAX, Row, TxError, Value,
};
use faultline_sim::{SimRng, TraceHasher};
use rand::RngExt;

use crate::model::ModelState;
use crate::model::catalog::type_tag;

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
            TxOp::Insert { table, row } => write!(f, "insert {table} {}", RowText(row)),
            TxOp::Delete { table, row } => write!(f, "delete {table} {}", RowText(row)),
        }
    }
}

impl TxOp {
    /// Applies the operation to a transaction of the engine, through its
    /// public API.
    pub fn apply_to(&self, tx: &mut MutTx) -> Result<(), TxError> {
        match self {
            TxOp::CreateTable { name, columns } => tx.create_table(name, columns.clone()).map(drop),
            TxOp::DropTable { name } => tx.drop_table(name),
            TxOp::Insert { table, row } => tx.insert(table, row),
            TxOp::Delete { table, row } => tx.delete(table, row),
        }
    }

    /// Mixes everything the operation holds into a trace hash (values
    /// longer than a few bytes by their CRC32C): what identifies it, without
    /// writing its text.
    pub fn hash_into(&self, hasher: &mut TraceHasher) {
        match self {
            TxOp::CreateTable { name, columns } => {
                hasher.u64(0);
                hasher.str(name);
                hasher.u64(columns.len() as u64);
                for column in columns {
                    hasher.str(&column.name);
                    hasher.u64(type_tag(column.ty));
                }
            }
            TxOp::DropTable { name } => {
                hasher.u64(1);
                hasher.str(name);
            }
            TxOp::Insert { table, row } | TxOp::Delete { table, row } => {
                hasher.u64(if matches!(self, TxOp::Insert { .. }) { 2 } else { 3 });
                hasher.str(table);
                hasher.u64(row.len() as u64);
                row.iter().for_each(|value| hash_value(hasher, value));
            }
        }
    }
}

fn hash_value(hasher: &mut TraceHasher, value: &Value) {
    let mut variable = |tag: u64, bytes: &[u8]| {
        hasher.u64(tag);
        hasher.u64(bytes.len() as u64);
        if bytes.len() <= 8 {
            hasher.bytes(bytes);
        } else {
            hasher.u64(u64::from(crc32c::crc32c(bytes)));
        }
    };
    match value {
        Value::U64(v) => variable(0, &v.to_le_bytes()),
        Value::I64(v) => variable(1, &v.to_le_bytes()),
        Value::Bool(v) => variable(2, &[u8::from(*v)]),
        Value::String(text) => variable(3, text.as_bytes()),
        Value::Bytes(bytes) => variable(4, bytes),
    }
}

/// Strings longer than this many bytes are shown shortened, to their
/// first `STRING_SHOWN_PREFIX` bytes and their length.
const STRING_SHOWN_MAX: usize = 22;
const STRING_SHOWN_PREFIX: usize = 14;
/// Byte values longer than this are shown shortened the same way.
const BYTES_SHOWN_MAX: usize = 11;
const BYTES_SHOWN_PREFIX: usize = 7;

/// A row as `(v1,v2,...)`, long values shortened.
pub fn row_text(row: &[Value]) -> String {
    RowText(row).to_string()
}

/// Displays a row as [`row_text`] does, formatting no more of a long value
/// than it shows: every transaction's commit line goes through it.
struct RowText<'a>(&'a [Value]);

impl fmt::Display for RowText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(")?;
        for (i, value) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write_value(f, value)?;
        }
        f.write_str(")")
    }
}

/// A value as the trace shows it: integers as numbers (`i` marks an i64),
/// strings quoted and escaped, bytes in hex.
fn write_value(f: &mut fmt::Formatter<'_>, value: &Value) -> fmt::Result {
    match value {
        Value::U64(v) => write!(f, "{v}"),
        Value::I64(v) => write!(f, "{v}i"),
        Value::Bool(v) => write!(f, "{v}"),
        Value::String(text) if text.len() <= STRING_SHOWN_MAX => write!(f, "{text:?}"),
        Value::String(text) => {
            let mut cut = STRING_SHOWN_PREFIX;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            write!(f, "{:?}..({} bytes)", &text[..cut], text.len())
        }
        Value::Bytes(bytes) => {
            let shown =
                if bytes.len() <= BYTES_SHOWN_MAX { bytes } else { &bytes[..BYTES_SHOWN_PREFIX] };
            f.write_str("0x")?;
            shown.iter().try_for_each(|byte| write!(f, "{byte:02x}"))?;
            if shown.len() < bytes.len() {
                write!(f, "..({} bytes)", bytes.len())?;
            }
            Ok(())
        }
    }
}

/// Writes transactions in the operation language. Must be a pure function
/// of `base` and what it draws from `rng`.
pub trait TxGenerator: Send + Sync + fmt::Debug {
    /// A short name, for the plan's log.
    fn name(&self) -> &str;

    /// A transaction of at least one operation on `base`: the state after
    /// the offset the transaction begins after.
    fn generate(&self, base: &ModelState, shape: &WorkloadShape, rng: &mut SimRng) -> Vec<TxOp>;
}

/// The shape of a workload: how many clients, how big their transactions,
/// how they pace themselves. Drawn by a scenario from the seed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkloadShape {
    /// Concurrent client tasks. At least 1. Default: 2.
    pub clients: usize,
    /// Transactions each client commits per incarnation. Default: 20.
    pub txs_per_client: usize,
    /// The most operations in one transaction (at least 1). Default: 6.
    pub ops_per_tx_max: usize,
    /// Percent of operations that create or drop a table. Default: 8.
    pub ddl_percent: u32,
    /// The most user tables at once. Default: 3.
    pub tables_max: usize,
    /// Above this many rows a table is only deleted from. Default: 64.
    pub rows_per_table_max: usize,
    /// The longest string or bytes value. Default: 64.
    pub value_len_max: usize,
    /// A client waits up to this long (simulated) between transactions.
    /// Default: 5 ms.
    pub think_ms_max: u64,
    /// Percent of transactions held open across a wait before committing
    /// (they conflict if another client commits meanwhile). Default: 10.
    pub hold_percent: u32,
    /// Percent of transactions whose client waits for the acknowledgement.
    /// Default: 30.
    pub wait_ack_percent: u32,
    /// Reader tasks checking `read_at` against the model while clients run.
    /// Default: 0.
    pub readers: usize,
    /// `read_at` checks each reader makes per incarnation. Default: 0.
    pub reads_per_reader: usize,
    /// The durability task waits between 1 and this many ms between steps.
    /// Default: 4.
    pub durability_interval_ms_max: u64,
    /// Percent of transactions that carry one request a careless client
    /// sends ([`hostile_op`]): the engine must refuse it and keep nothing
    /// of it. Default: 0.
    pub hostile_percent: u32,
}

impl Default for WorkloadShape {
    fn default() -> Self {
        WorkloadShape {
            clients: 2,
            txs_per_client: 20,
            ops_per_tx_max: 6,
            ddl_percent: 8,
            tables_max: 3,
            rows_per_table_max: 64,
            value_len_max: 64,
            think_ms_max: 5,
            hold_percent: 10,
            wait_ack_percent: 30,
            readers: 0,
            reads_per_reader: 0,
            durability_interval_ms_max: 4,
            hostile_percent: 0,
        }
    }
}

/// Why a workload shape cannot be driven.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    /// A count that must be at least 1 is 0.
    #[error("workload.{0} must be at least 1")]
    Zero(&'static str),
    /// A percentage above 100.
    #[error("workload.{name}={value} is not a percentage (0..=100)")]
    Percent {
        /// The setting.
        name: &'static str,
        /// Its value.
        value: u32,
    },
    /// More tasks than the runner drives.
    #[error("workload.{name}={value} exceeds the limit of {max}")]
    TooMany {
        /// The setting.
        name: &'static str,
        /// Its value.
        value: usize,
        /// The limit.
        max: usize,
    },
}

/// The most client tasks one incarnation runs.
pub const CLIENTS_MAX: usize = 32;
/// The most reader tasks one incarnation runs.
pub const READERS_MAX: usize = 8;

impl WorkloadShape {
    /// Draws a shape: the swarm's workload dimension.
    pub fn draw(rng: &mut SimRng) -> Self {
        WorkloadShape {
            clients: rng.random_range(1..=4),
            txs_per_client: rng.random_range(5..=30),
            ops_per_tx_max: rng.random_range(1..=10),
            ddl_percent: rng.random_range(0..=20),
            tables_max: rng.random_range(1..=5),
            rows_per_table_max: rng.random_range(8..=128),
            value_len_max: *crate::plan::pick(rng, &[8, 64, 300, 900]),
            think_ms_max: rng.random_range(1..=20),
            hold_percent: rng.random_range(0..=30),
            wait_ack_percent: rng.random_range(0..=100),
            readers: rng.random_range(0..=2),
            reads_per_reader: rng.random_range(0..=10),
            durability_interval_ms_max: rng.random_range(1..=25),
            hostile_percent: if rng.random_bool(0.5) { 0 } else { rng.random_range(1..=20) },
        }
    }

    /// Refuses shapes the runner cannot drive.
    pub fn validate(&self) -> Result<(), ShapeError> {
        let at_least_one: [(&'static str, u64); 5] = [
            ("clients", self.clients as u64),
            ("ops-per-tx-max", self.ops_per_tx_max as u64),
            ("tables-max", self.tables_max as u64),
            ("think-ms-max", self.think_ms_max),
            ("durability-interval-ms-max", self.durability_interval_ms_max),
        ];
        if let Some((name, _)) = at_least_one.iter().find(|(_, value)| *value == 0) {
            return Err(ShapeError::Zero(name));
        }
        for (name, value) in [
            ("ddl-percent", self.ddl_percent),
            ("hold-percent", self.hold_percent),
            ("wait-ack-percent", self.wait_ack_percent),
            ("hostile-percent", self.hostile_percent),
        ] {
            if value > 100 {
                return Err(ShapeError::Percent { name, value });
            }
        }
        for (name, value, max) in
            [("clients", self.clients, CLIENTS_MAX), ("readers", self.readers, READERS_MAX)]
        {
            if value > max {
                return Err(ShapeError::TooMany { name, value, max });
            }
        }
        Ok(())
    }
}

impl fmt::Display for WorkloadShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "clients={} txs-per-client={} ops-per-tx-max={} ddl-percent={} tables-max={} \
             rows-per-table-max={} value-len-max={} think-ms-max={} hold-percent={} \
             wait-ack-percent={} readers={} reads-per-reader={} durability-interval-ms-max={} \
             hostile-percent={}",
            self.clients,
            self.txs_per_client,
            self.ops_per_tx_max,
            self.ddl_percent,
            self.tables_max,
            self.rows_per_table_max,
            self.value_len_max,
            self.think_ms_max,
            self.hold_percent,
            self.wait_ack_percent,
            self.readers,
            self.reads_per_reader,
            self.durability_interval_ms_max,
            self.hostile_percent
        )
    }
}

/// The built-in generator: random valid transactions shaped by the
/// workload (inserts and deletes, and DDL at `ddl_percent`), table names
/// from a small pool so that names are dropped and created again with
/// other schemas (the repair step's hard case); `hostile_percent` of them
/// carry one request the engine must refuse ([`hostile_op`]), or are too
/// large to commit at all ([`oversized_transaction`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct RandomTransactions;

impl TxGenerator for RandomTransactions {
    fn name(&self) -> &str {
        "random"
    }

    fn generate(&self, base: &ModelState, shape: &WorkloadShape, rng: &mut SimRng) -> Vec<TxOp> {
        let mut view = base.clone();
        let n = rng.random_range(1..=shape.ops_per_tx_max);
        let mut ops = Vec::with_capacity(n);
        // A bounded number of tries: an operation that cannot be made (no
        // row to delete, a duplicate drawn) is skipped, not retried forever.
        for _ in 0..n * 4 {
            if ops.len() == n {
                break;
            }
            if let Some(op) = random_op(&view, shape, rng) {
                view.apply(&op).expect("generated operations are valid on the view");
                ops.push(op);
            }
        }
        if ops.is_empty() {
            let op = create_table(&view, shape, rng)
                .or_else(|| drop_table(&view, rng))
                .expect("a table can always be created or dropped");
            ops.push(op);
        }
        if rng.random_range(0..100) < shape.hostile_percent {
            if rng.random_range(0..10) == 0 {
                return oversized_transaction(base, rng);
            }
            // Refused, so it changes nothing the operations after it see.
            let at = rng.random_range(0..=ops.len());
            let mut before = base.clone();
            ops[..at].iter().for_each(|op| before.apply(op).expect("valid on the view"));
            if let Some(op) = hostile_op(&before, shape, rng) {
                ops.insert(at, op);
            }
        }
        ops
    }
}

/// What a careless client sends: a request the engine must refuse with a
/// clear error, leaving no trace. One of a row over the page limit, a
/// value of the wrong type or a row of the wrong width, a write to a
/// table that does not exist (never created, or dropped), a second table
/// with a live name, a malformed table, a drop of or a write to a system
/// table, a delete of a row that is not there, a second insert of a row.
/// `None` if the draw made nothing invalid on `view` (it is checked).
pub fn hostile_op(view: &ModelState, shape: &WorkloadShape, rng: &mut SimRng) -> Option<TxOp> {
    let live: Vec<&Arc<str>> = view.tables.keys().collect();
    let some_live =
        |rng: &mut SimRng| (!live.is_empty()).then(|| crate::plan::pick(rng, &live).to_string());
    let op = match rng.random_range(0..9) {
        0 => {
            let name = some_live(rng)?;
            let columns = &view.tables[name.as_str()].columns;
            let mut row = random_row(columns, shape, rng);
            let wide = columns
                .iter()
                .position(|c| matches!(c.ty, ColumnType::String | ColumnType::Bytes))?;
            row[wide] = match columns[wide].ty {
                ColumnType::String => Value::String("x".repeat(ROW_SIZE_MAX + 1)),
                _ => Value::Bytes(vec![0xab; ROW_SIZE_MAX + 1]),
            };
            TxOp::Insert { table: name, row }
        }
        1 => {
            let name = some_live(rng)?;
            let columns = &view.tables[name.as_str()].columns;
            let mut row = random_row(columns, shape, rng);
            let at = rng.random_range(0..row.len());
            row[at] = match row[at] {
                Value::U64(_) => Value::String("not a number".to_owned()),
                _ => Value::U64(rng.random()),
            };
            TxOp::Insert { table: name, row }
        }
        2 => {
            let name = some_live(rng)?;
            let mut row = random_row(&view.tables[name.as_str()].columns, shape, rng);
            row.push(Value::Bool(true));
            TxOp::Insert { table: name, row }
        }
        3 => {
            let name =
                (0..64).map(|i| format!("t{i}")).find(|n| !view.tables.contains_key(n.as_str()))?;
            let row = vec![Value::U64(rng.random())];
            if rng.random_bool(0.5) {
                TxOp::Insert { table: name, row }
            } else {
                TxOp::DropTable { name }
            }
        }
        4 => {
            let name = some_live(rng)?;
            TxOp::CreateTable { name, columns: vec![ColumnDef::new("c0", ColumnType::U64)] }
        }
        5 => {
            let columns = if rng.random_bool(0.5) {
                Vec::new()
            } else {
                vec![ColumnDef::new("c0", ColumnType::U64), ColumnDef::new("c0", ColumnType::Bool)]
            };
            TxOp::CreateTable { name: format!("bad{}", rng.random_range(0..4)), columns }
        }
        6 => {
            let system = *crate::plan::pick(rng, &crate::model::catalog::system_table_names());
            if rng.random_bool(0.5) {
                TxOp::DropTable { name: system.to_owned() }
            } else {
                TxOp::Insert { table: system.to_owned(), row: vec![Value::U64(rng.random())] }
            }
        }
        7 => {
            let name = some_live(rng)?;
            let row = random_row(&view.tables[name.as_str()].columns, shape, rng);
            TxOp::Delete { table: name, row }
        }
        _ => {
            let name = some_live(rng)?;
            let table = &view.tables[name.as_str()];
            let index = (!table.rows.is_empty()).then(|| rng.random_range(0..table.rows.len()))?;
            let row = table.rows.iter().nth(index).expect("index in range").to_vec();
            TxOp::Insert { table: name, row }
        }
    };
    view.clone().apply(&op).is_err().then_some(op)
}

/// A transaction larger than any commit of the log can hold (the largest
/// segment a plan draws is 1 MiB): a new table and rows of nearly a page
/// each, valid one by one. The engine must refuse the commit
/// (`CommitError::TooLarge`), using no offset.
pub fn oversized_transaction(view: &ModelState, rng: &mut SimRng) -> Vec<TxOp> {
    let name = (0..64)
        .map(|i| format!("big{i}"))
        .find(|n| !view.tables.contains_key(n.as_str()))
        .expect("a free name");
    let columns = vec![ColumnDef::new("c0", ColumnType::Bytes)];
    let mut ops = vec![TxOp::CreateTable { name: name.clone(), columns }];
    let value_len = ROW_SIZE_MAX - 64;
    let rows = (OVERSIZED_TX_BYTES / value_len as u64) as usize + 1;
    for _ in 0..rows {
        let mut value: Vec<u8> = (0..16).map(|_| rng.random()).collect();
        value.resize(value_len, 0x5a);
        ops.push(TxOp::Insert { table: name.clone(), row: vec![Value::Bytes(value)] });
    }
    ops
}

/// The size of [`oversized_transaction`]'s rows together: past the
/// largest segment any plan draws.
const OVERSIZED_TX_BYTES: u64 = (1 << 20) + (64 << 10);

fn random_op(view: &ModelState, shape: &WorkloadShape, rng: &mut SimRng) -> Option<TxOp> {
    if view.tables.is_empty() || rng.random_range(0..100) < shape.ddl_percent {
        return if rng.random_bool(0.6) || view.tables.is_empty() {
            create_table(view, shape, rng).or_else(|| drop_table(view, rng))
        } else {
            drop_table(view, rng)
        };
    }
    let names: Vec<&Arc<str>> = view.tables.keys().collect();
    let name = *crate::plan::pick(rng, &names);
    let table = &view.tables[name];
    let name = name.to_string();
    let delete = !table.rows.is_empty()
        && (table.rows.len() >= shape.rows_per_table_max || rng.random_bool(0.3));
    if delete {
        let index = rng.random_range(0..table.rows.len());
        let row = table.rows.iter().nth(index).expect("index in range").to_vec();
        return Some(TxOp::Delete { table: name, row });
    }
    let row = random_row(&table.columns, shape, rng);
    (!table.rows.contains(&row)).then_some(TxOp::Insert { table: name, row })
}

fn create_table(view: &ModelState, shape: &WorkloadShape, rng: &mut SimRng) -> Option<TxOp> {
    if view.tables.len() >= shape.tables_max {
        return None;
    }
    let free: Vec<String> = (0..shape.tables_max * 2)
        .map(|i| format!("t{i}"))
        .filter(|name| !view.tables.contains_key(name.as_str()))
        .collect();
    let name = crate::plan::pick(rng, &free).clone();
    let n_columns = rng.random_range(1..=5);
    let columns = (0..n_columns)
        .map(|i| ColumnDef::new(&format!("c{i}"), *crate::plan::pick(rng, &ColumnType::ALL)))
        .collect();
    Some(TxOp::CreateTable { name, columns })
}

fn drop_table(view: &ModelState, rng: &mut SimRng) -> Option<TxOp> {
    let names: Vec<&Arc<str>> = view.tables.keys().collect();
    (!names.is_empty())
        .then(|| TxOp::DropTable { name: crate::plan::pick(rng, &names).to_string() })
}

/// A random row for `columns` that fits a page.
pub fn random_row(columns: &[ColumnDef], shape: &WorkloadShape, rng: &mut SimRng) -> Row {
    // Every row must fit a page: the variable-length values share half of
    // one, whatever `value_len_max` says.
    let len_max = shape.value_len_max.min(ROW_SIZE_MAX / 2 / columns.len().max(1));
    columns
        .iter()
        .map(|column| match column.ty {
            ColumnType::U64 => Value::U64(rng.random()),
            ColumnType::I64 => Value::I64(rng.random()),
            ColumnType::Bool => Value::Bool(rng.random()),
            ColumnType::String => {
                let len = rng.random_range(0..=len_max);
                Value::String((0..len).map(|_| rng.random_range(b'a'..=b'z') as char).collect())
            }
            ColumnType::Bytes => {
                let len = rng.random_range(0..=len_max);
                Value::Bytes((0..len).map(|_| rng.random()).collect())
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use faultline_sim::{Seed, Stream};

    use super::*;

    #[test]
    fn generated_transactions_apply_to_the_model_and_repeat_per_seed() {
        let shape = WorkloadShape { ddl_percent: 20, ..WorkloadShape::default() };
        let run = |seed| {
            let mut rng = Seed(seed).rng(Stream::Workload);
            let mut state = ModelState::default();
            let mut all = Vec::new();
            for _ in 0..200 {
                let ops = RandomTransactions.generate(&state, &shape, &mut rng);
                assert!(!ops.is_empty());
                for op in &ops {
                    state.apply(op).unwrap();
                }
                all.push(ops);
            }
            all
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3), run(4));
        let drops =
            run(5).iter().flatten().filter(|op| matches!(op, TxOp::DropTable { .. })).count();
        assert!(drops > 0, "the workload drops tables");
    }

    #[test]
    fn every_generated_row_fits_a_page() {
        let shape = WorkloadShape { value_len_max: 100_000, ..WorkloadShape::default() };
        let mut rng = Seed(9).rng(Stream::Workload);
        for n_columns in 1..=5 {
            let columns: Vec<ColumnDef> = (0..n_columns)
                .map(|i| ColumnDef::new(&format!("c{i}"), ColumnType::Bytes))
                .collect();
            for _ in 0..50 {
                let row = random_row(&columns, &shape, &mut rng);
                assert!(crate::model::encoded_row_len(&row) <= ROW_SIZE_MAX, "columns={n_columns}");
            }
        }
    }

    #[test]
    fn shapes_that_cannot_run_are_refused_with_the_setting_named() {
        let zero = WorkloadShape { clients: 0, ..WorkloadShape::default() };
        assert_eq!(zero.validate(), Err(ShapeError::Zero("clients")));
        let percent = WorkloadShape { hold_percent: 101, ..WorkloadShape::default() };
        assert_eq!(
            percent.validate().unwrap_err().to_string(),
            "workload.hold-percent=101 is not a percentage (0..=100)"
        );
        assert!(WorkloadShape::default().validate().is_ok());
    }
}
