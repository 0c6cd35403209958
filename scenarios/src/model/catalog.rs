//! The system catalogue as the engine's design specifies it, written out by
//! hand (DESIGN 2.3; the type tags of FORMAT.md's manifest), never derived
//! from engine code: the system tables and their columns, the indexes and
//! constraints the bootstrap transaction declares, and the sequences. The
//! oracle builds the expected rows of `st_table`, `st_column`, `st_index`,
//! `st_sequence` and `st_constraint` from this and the workload alone.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use faultline_engine::datastore::{ColumnDef, ColumnType, Row, Value};

use super::{ModelState, encode_row};

/// The id of the first user table: ids below are reserved for system
/// tables, and the table-id sequence starts here.
pub const FIRST_USER_TABLE_ID: u32 = 4096;

/// The first value the index-id and constraint-id sequences hand out.
const FIRST_USER_INDEX_ID: u64 = 1024;

/// One system table: its id, name and columns in position order.
struct SystemTable {
    id: u32,
    name: &'static str,
    columns: &'static [(&'static str, ColumnType)],
}

use ColumnType::{Bool, Bytes, String as Text, U64};

/// Every system table, seed tables (`st_table`, `st_column`) first.
const SYSTEM_TABLES: [SystemTable; 5] = [
    SystemTable {
        id: 1,
        name: "st_table",
        columns: &[("table_id", U64), ("table_name", Text), ("is_system", Bool)],
    },
    SystemTable {
        id: 2,
        name: "st_column",
        columns: &[("table_id", U64), ("col_pos", U64), ("col_name", Text), ("col_type", U64)],
    },
    SystemTable {
        id: 3,
        name: "st_index",
        columns: &[
            ("index_id", U64),
            ("table_id", U64),
            ("index_name", Text),
            ("columns", Bytes),
            ("is_unique", Bool),
        ],
    },
    SystemTable {
        id: 4,
        name: "st_sequence",
        columns: &[("sequence_id", U64), ("sequence_name", Text), ("next_value", U64)],
    },
    SystemTable {
        id: 5,
        name: "st_constraint",
        columns: &[
            ("constraint_id", U64),
            ("table_id", U64),
            ("constraint_name", Text),
            ("kind", Text),
            ("columns", Bytes),
        ],
    },
];

/// The unique indexes the bootstrap declares: (id, table id, name, column
/// positions). Each has a unique constraint of the same id.
const SYSTEM_INDEXES: [(u64, u32, &str, &[u16]); 6] = [
    (1, 1, "st_table_table_id", &[0]),
    (2, 1, "st_table_table_name", &[1]),
    (3, 2, "st_column_table_id_col_pos", &[0, 1]),
    (4, 3, "st_index_index_id", &[0]),
    (5, 4, "st_sequence_sequence_id", &[0]),
    (6, 5, "st_constraint_constraint_id", &[0]),
];

/// The stable tag of a column type in `st_column.col_type` (FORMAT.md: 1
/// u64, 2 i64, 3 bool, 4 string, 5 bytes).
pub fn type_tag(ty: ColumnType) -> u64 {
    match ty {
        ColumnType::U64 => 1,
        ColumnType::I64 => 2,
        ColumnType::Bool => 3,
        ColumnType::String => 4,
        ColumnType::Bytes => 5,
    }
}

/// The system tables' names, in id order.
pub fn system_table_names() -> Vec<&'static str> {
    SYSTEM_TABLES.iter().map(|table| table.name).collect()
}

/// Whether `name` is a system table's.
pub fn is_system_table(name: &str) -> bool {
    SYSTEM_TABLES.iter().any(|table| table.name == name)
}

/// Column positions as `st_index.columns` holds them: little-endian u16s.
fn positions(columns: &[u16]) -> Vec<u8> {
    columns.iter().flat_map(|p| p.to_le_bytes()).collect()
}

/// The `st_table` row of a table.
fn table_row(id: u32, name: &str) -> Row {
    vec![
        Value::U64(u64::from(id)),
        Value::String(name.to_owned()),
        Value::Bool(id < FIRST_USER_TABLE_ID),
    ]
}

/// The `st_column` rows of a table.
fn column_rows<'a>(id: u32, columns: impl Iterator<Item = (&'a str, ColumnType)>) -> Vec<Row> {
    columns
        .enumerate()
        .map(|(pos, (name, ty))| {
            vec![
                Value::U64(u64::from(id)),
                Value::U64(pos as u64),
                Value::String(name.to_owned()),
                Value::U64(type_tag(ty)),
            ]
        })
        .collect()
}

/// The rows every table of `state` must hold, by table name: the system
/// tables (describing themselves and the user tables) and the user tables.
pub fn expected_rows(state: &ModelState) -> Vec<(String, Vec<Row>)> {
    let mut st_table = Vec::new();
    let mut st_column = Vec::new();
    for table in &SYSTEM_TABLES {
        st_table.push(table_row(table.id, table.name));
        st_column.extend(column_rows(table.id, table.columns.iter().map(|(n, t)| (*n, *t))));
    }
    for (name, table) in state.tables.iter() {
        st_table.push(table_row(table.id, name));
        let columns = table.columns.iter().map(|c| (c.name.as_str(), c.ty));
        st_column.extend(column_rows(table.id, columns));
    }
    let st_index = SYSTEM_INDEXES
        .iter()
        .map(|(id, table, name, columns)| {
            vec![
                Value::U64(*id),
                Value::U64(u64::from(*table)),
                Value::String((*name).to_owned()),
                Value::Bytes(positions(columns)),
                Value::Bool(true),
            ]
        })
        .collect();
    let st_constraint = SYSTEM_INDEXES
        .iter()
        .map(|(id, table, name, columns)| {
            vec![
                Value::U64(*id),
                Value::U64(u64::from(*table)),
                Value::String(format!("{name}_unique")),
                Value::String("unique".to_owned()),
                Value::Bytes(positions(columns)),
            ]
        })
        .collect();
    let sequence = |id: u64, name: &str, next: u64| {
        vec![Value::U64(id), Value::String(name.to_owned()), Value::U64(next)]
    };
    let st_sequence = vec![
        sequence(1, "st_table.table_id", u64::from(state.next_table_id)),
        sequence(2, "st_index.index_id", FIRST_USER_INDEX_ID),
        sequence(3, "st_constraint.constraint_id", FIRST_USER_INDEX_ID),
    ];
    let mut rows = vec![
        ("st_table".to_owned(), st_table),
        ("st_column".to_owned(), st_column),
        ("st_index".to_owned(), st_index),
        ("st_sequence".to_owned(), st_sequence),
        ("st_constraint".to_owned(), st_constraint),
    ];
    for (name, table) in state.tables.iter() {
        rows.push((name.to_string(), table.rows.iter().map(|row| row.to_vec()).collect()));
    }
    rows
}

/// A user table's encoded `st_table` row and its `st_column` rows.
pub type CatalogRows = (Arc<[u8]>, Vec<Arc<[u8]>>);

/// The encoded `st_table` row and `st_column` rows of user table `id`.
pub fn encoded_catalog_rows(id: u32, name: &str, columns: &[ColumnDef]) -> CatalogRows {
    let table = encode_row(&table_row(id, name));
    let columns = column_rows(id, columns.iter().map(|c| (c.name.as_str(), c.ty)))
        .iter()
        .map(|row| encode_row(row))
        .collect();
    (table, columns)
}

/// The system tables' rows that depend on nothing the workload does, by
/// table, encoded (once per process).
fn constant_system_rows() -> &'static BTreeMap<&'static str, Vec<Arc<[u8]>>> {
    static ROWS: OnceLock<BTreeMap<&'static str, Vec<Arc<[u8]>>>> = OnceLock::new();
    ROWS.get_or_init(|| {
        let empty = ModelState::default();
        expected_rows(&empty)
            .into_iter()
            .filter(|(name, _)| name != "st_sequence")
            .map(|(name, rows)| {
                let name =
                    SYSTEM_TABLES.iter().find(|t| t.name == name).expect("a system table").name;
                let mut rows: Vec<Arc<[u8]>> = rows.iter().map(|row| encode_row(row)).collect();
                sort_as_set(name, &mut rows);
                (name, rows)
            })
            .collect()
    })
}

/// Sorts a system table's encoded rows into byte order; no row may be
/// listed twice (each names its own table id, column position, index or
/// sequence id).
fn sort_as_set(name: &str, rows: &mut [Arc<[u8]>]) {
    rows.sort_unstable();
    assert!(rows.windows(2).all(|pair| pair[0] != pair[1]), "{name} lists a row twice");
}

/// Every system table's rows in `state`, encoded, by table name, each
/// table's in byte order (as a set: no row twice).
///
/// Sorted vectors, not sets: this runs at every comparison with the engine,
/// and a few dozen rows sort faster than a tree of them is built.
pub fn encoded_system_rows(state: &ModelState) -> BTreeMap<&'static str, Vec<Arc<[u8]>>> {
    let mut rows: BTreeMap<&'static str, Vec<Arc<[u8]>>> = constant_system_rows().clone();
    for table in state.tables.values() {
        let (st_table, st_column) = &*table.catalog;
        rows.get_mut("st_table").expect("st_table").push(Arc::clone(st_table));
        rows.get_mut("st_column").expect("st_column").extend(st_column.iter().cloned());
    }
    let sequence = |id: u64, name: &str, next: u64| -> Arc<[u8]> {
        encode_row(&[Value::U64(id), Value::String(name.to_owned()), Value::U64(next)])
    };
    let st_sequence = [
        sequence(1, "st_table.table_id", u64::from(state.next_table_id)),
        sequence(2, "st_index.index_id", FIRST_USER_INDEX_ID),
        sequence(3, "st_constraint.constraint_id", FIRST_USER_INDEX_ID),
    ];
    rows.insert("st_sequence", st_sequence.into());
    // The constant tables were sorted once; these gained rows here.
    for name in ["st_table", "st_column", "st_sequence"] {
        sort_as_set(name, rows.get_mut(name).expect("a system table"));
    }
    rows
}
