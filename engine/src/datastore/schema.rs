//! Table schemas and the system tables that describe them.
//!
//! Table ids below [`FIRST_USER_TABLE_ID`] are reserved for system tables.
//! `st_table` and `st_column` are the *seed tables*: their schemas are
//! compiled in, because every other schema is read from their rows. The
//! other system tables (`st_index`, `st_sequence`, `st_constraint`) are
//! created by the bootstrap transaction, and every system table, seed tables
//! included, is described by rows in `st_table` and `st_column`.

use std::fmt;
use std::sync::{Arc, LazyLock};

use super::value::{ColumnType, Row, Value};

/// The id of a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TableId(pub u32);

impl fmt::Display for TableId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The first id a user table can have; ids below are system tables'.
pub const FIRST_USER_TABLE_ID: u32 = 4096;

impl TableId {
    /// Whether this id is in the reserved system range.
    pub fn is_system(self) -> bool {
        self.0 < FIRST_USER_TABLE_ID
    }
}

/// One column of a schema.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ColumnDef {
    /// The column's name, unique in its table.
    pub name: String,
    /// The column's type.
    pub ty: ColumnType,
}

impl ColumnDef {
    /// A column named `name` of type `ty`.
    pub fn new(name: &str, ty: ColumnType) -> Self {
        ColumnDef { name: name.to_owned(), ty }
    }
}

/// The schema of one table.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TableSchema {
    /// The table's id.
    pub id: TableId,
    /// The table's name, unique in the database.
    pub name: String,
    /// The columns, in position order.
    pub columns: Vec<ColumnDef>,
    /// The column types, in position order (the row codec's input).
    types: Vec<ColumnType>,
}

impl TableSchema {
    /// A schema; the column types are derived from `columns`.
    pub fn new(id: TableId, name: &str, columns: Vec<ColumnDef>) -> Self {
        let types = columns.iter().map(|c| c.ty).collect();
        TableSchema { id, name: name.to_owned(), columns, types }
    }

    /// The column types in position order.
    pub fn types(&self) -> &[ColumnType] {
        &self.types
    }
}

/// The system tables' ids.
pub mod system {
    use super::TableId;

    /// `st_table`: one row per table (seed table).
    pub const ST_TABLE: TableId = TableId(1);
    /// `st_column`: one row per column of every table (seed table).
    pub const ST_COLUMN: TableId = TableId(2);
    /// `st_index`: one row per index definition.
    pub const ST_INDEX: TableId = TableId(3);
    /// `st_sequence`: id generators (table ids, index ids, constraint ids).
    pub const ST_SEQUENCE: TableId = TableId(4);
    /// `st_constraint`: one row per constraint definition.
    pub const ST_CONSTRAINT: TableId = TableId(5);

    /// `st_sequence` id of the table-id generator.
    pub const SEQ_TABLE_ID: u64 = 1;
    /// `st_sequence` id of the index-id generator.
    pub const SEQ_INDEX_ID: u64 = 2;
    /// `st_sequence` id of the constraint-id generator.
    pub const SEQ_CONSTRAINT_ID: u64 = 3;
}

use system::*;

/// The static definition of every system table, seed tables first.
pub fn system_schemas() -> Vec<Arc<TableSchema>> {
    static_system_schemas().to_vec()
}

/// The system schemas, built once: the repair step compares against them
/// on every schema change.
pub(super) fn static_system_schemas() -> &'static [Arc<TableSchema>] {
    static SCHEMAS: LazyLock<Vec<Arc<TableSchema>>> = LazyLock::new(build_system_schemas);
    &SCHEMAS
}

fn build_system_schemas() -> Vec<Arc<TableSchema>> {
    use ColumnType::*;
    let table = |id, name: &str, columns: &[(&str, ColumnType)]| {
        let columns = columns.iter().map(|(n, ty)| ColumnDef::new(n, *ty)).collect();
        Arc::new(TableSchema::new(id, name, columns))
    };
    vec![
        table(
            ST_TABLE,
            "st_table",
            &[("table_id", U64), ("table_name", String), ("is_system", Bool)],
        ),
        table(
            ST_COLUMN,
            "st_column",
            &[("table_id", U64), ("col_pos", U64), ("col_name", String), ("col_type", U64)],
        ),
        table(
            ST_INDEX,
            "st_index",
            &[
                ("index_id", U64),
                ("table_id", U64),
                ("index_name", String),
                ("columns", Bytes),
                ("is_unique", Bool),
            ],
        ),
        table(
            ST_SEQUENCE,
            "st_sequence",
            &[("sequence_id", U64), ("sequence_name", String), ("next_value", U64)],
        ),
        table(
            ST_CONSTRAINT,
            "st_constraint",
            &[
                ("constraint_id", U64),
                ("table_id", U64),
                ("constraint_name", String),
                ("kind", String),
                ("columns", Bytes),
            ],
        ),
    ]
}

/// The seed tables' static schemas (`st_table`, `st_column`).
pub(super) fn seed_schemas() -> &'static [Arc<TableSchema>] {
    let seeds = &static_system_schemas()[..2];
    assert!(seeds[0].id == ST_TABLE && seeds[1].id == ST_COLUMN, "seed tables come first");
    seeds
}

/// The static schema of seed table `id`, if it is one.
pub(super) fn seed_schema(id: TableId) -> Option<&'static Arc<TableSchema>> {
    seed_schemas().iter().find(|seed| seed.id == id)
}

/// The `st_table` row describing `schema`.
pub fn st_table_row(schema: &TableSchema) -> Row {
    vec![
        Value::U64(u64::from(schema.id.0)),
        Value::String(schema.name.clone()),
        Value::Bool(schema.id.is_system()),
    ]
}

/// The `st_column` rows describing `schema`.
pub fn st_column_rows(schema: &TableSchema) -> Vec<Row> {
    schema
        .columns
        .iter()
        .enumerate()
        .map(|(pos, column)| {
            vec![
                Value::U64(u64::from(schema.id.0)),
                Value::U64(pos as u64),
                Value::String(column.name.clone()),
                Value::U64(column.ty.tag()),
            ]
        })
        .collect()
}

/// An `st_sequence` row.
pub fn st_sequence_row(sequence_id: u64, name: &str, next_value: u64) -> Row {
    vec![Value::U64(sequence_id), Value::String(name.to_owned()), Value::U64(next_value)]
}

/// Encodes column positions for `st_index.columns`/`st_constraint.columns`.
pub(super) fn encode_positions(positions: &[u16]) -> Vec<u8> {
    positions.iter().flat_map(|p| p.to_le_bytes()).collect()
}

/// An index definition (a row of `st_index`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IndexDef {
    /// The index's id.
    pub id: u64,
    /// The indexed table.
    pub table: TableId,
    /// The index's name.
    pub name: String,
    /// The indexed column positions (little-endian `u16`s on disk).
    pub columns: Vec<u8>,
    /// Whether the index is unique.
    pub is_unique: bool,
}

impl IndexDef {
    /// The `st_index` row for this definition.
    pub fn to_row(&self) -> Row {
        vec![
            Value::U64(self.id),
            Value::U64(u64::from(self.table.0)),
            Value::String(self.name.clone()),
            Value::Bytes(self.columns.clone()),
            Value::Bool(self.is_unique),
        ]
    }

    /// Reads a definition back from an `st_index` row.
    pub fn from_row(row: &[Value]) -> Option<IndexDef> {
        let [id, table, name, columns, is_unique] = row else { return None };
        Some(IndexDef {
            id: id.as_u64()?,
            table: TableId(u32::try_from(table.as_u64()?).ok()?),
            name: name.as_str()?.to_owned(),
            columns: columns.as_bytes()?.to_vec(),
            is_unique: is_unique.as_bool()?,
        })
    }
}

/// The indexes and constraints the bootstrap transaction declares on the
/// system tables, as `(st_index rows, st_constraint rows)`.
pub fn system_index_rows() -> (Vec<Row>, Vec<Row>) {
    let index = |id, table: TableId, name: &str, columns: &[u16]| IndexDef {
        id,
        table,
        name: name.to_owned(),
        columns: encode_positions(columns),
        is_unique: true,
    };
    let indexes = [
        index(1, ST_TABLE, "st_table_table_id", &[0]),
        index(2, ST_TABLE, "st_table_table_name", &[1]),
        index(3, ST_COLUMN, "st_column_table_id_col_pos", &[0, 1]),
        index(4, ST_INDEX, "st_index_index_id", &[0]),
        index(5, ST_SEQUENCE, "st_sequence_sequence_id", &[0]),
        index(6, ST_CONSTRAINT, "st_constraint_constraint_id", &[0]),
    ];
    let constraints = indexes
        .iter()
        .map(|index| {
            vec![
                Value::U64(index.id),
                Value::U64(u64::from(index.table.0)),
                Value::String(format!("{}_unique", index.name)),
                Value::String("unique".to_owned()),
                Value::Bytes(index.columns.clone()),
            ]
        })
        .collect();
    (indexes.iter().map(IndexDef::to_row).collect(), constraints)
}

/// The first id the index and constraint sequences hand out after bootstrap.
pub const FIRST_USER_INDEX_ID: u64 = 1024;
