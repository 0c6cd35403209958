//! The committed state: every table, the registries derived from the system
//! tables, and the one path that applies a transaction to it (live commits
//! and replay alike).
//!
//! The repair step: whenever a transaction touches `st_table`, `st_column`
//! or `st_index`, the schemas, page layouts and registries are rebuilt from
//! the current system rows before the transaction touches any other table
//! and again at its end. That is how a replayed history teaches the state
//! the schemas of the user rows that follow.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::error::ApplyError;
use super::schema::{
    ColumnDef, IndexDef, TableId, TableSchema, seed_schemas, system::*, system_schemas,
};
use super::table::Table;
use super::tx::Mutation;
use super::value::{ColumnType, Row, Value, decode_row};

/// A consistent state of the database as of one transaction offset. Cheap to
/// clone: every collection inside is persistent.
#[derive(Clone, Debug)]
pub struct CommittedState {
    tables: imbl::OrdMap<TableId, Table>,
    /// The table registry: name -> id, from `st_table`.
    by_name: imbl::OrdMap<String, TableId>,
    /// The index registry: index id -> definition, from `st_index`.
    indexes: imbl::OrdMap<u64, IndexDef>,
    /// The offset of the last transaction applied, `None` before any.
    offset: Option<u64>,
    /// A schema-describing system table changed since the last repair.
    schema_dirty: bool,
}

fn inconsistent(offset: u64, reason: impl Into<String>) -> ApplyError {
    ApplyError::Inconsistent { offset, reason: reason.into() }
}

impl CommittedState {
    /// The state before any history: just the seed tables, empty, with their
    /// compiled-in schemas.
    pub fn seed() -> Self {
        let mut state = CommittedState {
            tables: imbl::OrdMap::new(),
            by_name: imbl::OrdMap::new(),
            indexes: imbl::OrdMap::new(),
            offset: None,
            schema_dirty: false,
        };
        for schema in seed_schemas() {
            state.by_name.insert(schema.name.clone(), schema.id);
            state.tables.insert(schema.id, Table::new(schema));
        }
        state
    }

    /// A state rebuilt from restored tables (a snapshot), as of `offset`.
    /// Runs the repair step and the consistency check.
    pub fn restore(tables: Vec<Table>, offset: u64) -> Result<Self, ApplyError> {
        let mut state = CommittedState::seed();
        let seeds = seed_schemas();
        for table in tables {
            let schema = table.schema();
            if let Some(seed) = seeds.iter().find(|seed| seed.id == schema.id)
                && **seed != **schema
            {
                return Err(inconsistent(
                    offset,
                    format!("seed table {} restored with another schema", seed.name),
                ));
            }
            for row in table.rows() {
                decode_row(schema.types(), row).map_err(|source| ApplyError::Row {
                    offset,
                    table: schema.id,
                    source,
                })?;
            }
            state.tables.insert(schema.id, table);
        }
        state.offset = Some(offset);
        state.repair(offset)?;
        state.check().map_err(|reason| inconsistent(offset, reason))?;
        Ok(state)
    }

    /// The offset of the last transaction applied.
    pub fn offset(&self) -> Option<u64> {
        self.offset
    }

    /// The offset the next transaction gets.
    pub fn next_offset(&self) -> u64 {
        self.offset.map_or(0, |offset| offset + 1)
    }

    /// The table with `id`.
    pub fn table(&self, id: TableId) -> Option<&Table> {
        self.tables.get(&id)
    }

    /// The table named `name`.
    pub fn table_by_name(&self, name: &str) -> Option<&Table> {
        self.by_name.get(name).and_then(|id| self.tables.get(id))
    }

    /// Every table, by id.
    pub fn tables(&self) -> impl Iterator<Item = &Table> {
        self.tables.values()
    }

    /// The index registry.
    pub fn indexes(&self) -> impl Iterator<Item = &IndexDef> {
        self.indexes.values()
    }

    /// The decoded rows of table `name`, in encoded-byte order.
    pub fn rows(&self, name: &str) -> Option<Vec<Row>> {
        let table = self.table_by_name(name)?;
        let types = table.schema().types();
        let rows = table.rows().map(|row| decode_row(types, row).expect("stored rows decode"));
        Some(rows.collect())
    }

    /// Every table's name and decoded rows: the state an oracle compares.
    pub fn dump(&self) -> BTreeMap<String, Vec<Row>> {
        self.tables
            .values()
            .map(|t| (t.schema().name.clone(), self.rows(&t.schema().name).expect("registered")))
            .collect()
    }

    /// Applies one mutation of the transaction at `offset`. A failure leaves
    /// the state half-changed: callers apply to a clone.
    pub fn apply_mutation(&mut self, offset: u64, mutation: &Mutation) -> Result<(), ApplyError> {
        assert_eq!(offset, self.next_offset(), "transactions apply in offset order");
        let id = mutation.table();
        if self.schema_dirty && id != ST_TABLE && id != ST_COLUMN {
            self.repair(offset)?;
        }
        let table = self
            .tables
            .get_mut(&id)
            .ok_or_else(|| inconsistent(offset, format!("unknown table-id={id}")))?;
        match mutation {
            Mutation::Insert { row, .. } => {
                decode_row(table.schema().types(), row).map_err(|source| ApplyError::Row {
                    offset,
                    table: id,
                    source,
                })?;
                if table.contains(row) {
                    return Err(inconsistent(offset, format!("duplicate row: table-id={id}")));
                }
                table.insert(Arc::clone(row), offset);
            }
            Mutation::Delete { row, .. } => {
                if !table.delete(row, offset) {
                    return Err(inconsistent(
                        offset,
                        format!("delete of a missing row: table-id={id}"),
                    ));
                }
            }
        }
        if id == ST_TABLE || id == ST_COLUMN || id == ST_INDEX {
            self.schema_dirty = true;
        }
        Ok(())
    }

    /// Ends the transaction at `offset`: repairs if it changed schemas, and
    /// makes `offset` the state's offset.
    pub fn finish_tx(&mut self, offset: u64) -> Result<(), ApplyError> {
        assert_eq!(offset, self.next_offset(), "transactions finish in offset order");
        if self.schema_dirty {
            self.repair(offset)?;
        }
        self.offset = Some(offset);
        Ok(())
    }

    /// Runs the repair step now if a schema-describing system table changed
    /// since the last one. A transaction being built calls this after each
    /// schema change so that it sees its own DDL; repair is a pure function
    /// of the system rows, so when it runs does not change the result.
    pub fn settle(&mut self, offset: u64) -> Result<(), ApplyError> {
        if self.schema_dirty { self.repair(offset) } else { Ok(()) }
    }

    /// Applies a whole transaction.
    pub fn apply_tx(&mut self, offset: u64, mutations: &[Mutation]) -> Result<(), ApplyError> {
        for mutation in mutations {
            self.apply_mutation(offset, mutation)?;
        }
        self.finish_tx(offset)
    }

    /// The repair step: rebuild schemas, layouts and registries from the
    /// system rows.
    fn repair(&mut self, offset: u64) -> Result<(), ApplyError> {
        let described = self.described_schemas().map_err(|reason| inconsistent(offset, reason))?;
        let seeds: BTreeMap<TableId, Arc<TableSchema>> =
            seed_schemas().into_iter().map(|s| (s.id, s)).collect();
        let gone: Vec<TableId> = self
            .tables
            .keys()
            .filter(|id| !described.contains_key(id) && !seeds.contains_key(id))
            .copied()
            .collect();
        for id in gone {
            self.tables.remove(&id);
        }
        for (id, schema) in &described {
            if let Some(seed) = seeds.get(id)
                && **seed != *schema
            {
                return Err(inconsistent(
                    offset,
                    format!("seed table-id={id} described unlike its static schema"),
                ));
            }
            match self.tables.get(id) {
                Some(table) if **table.schema() == *schema => {}
                Some(table) if table.summary().row_count > 0 => {
                    return Err(inconsistent(
                        offset,
                        format!("schema of table-id={id} changed while it holds rows"),
                    ));
                }
                _ => {
                    self.tables.insert(*id, Table::new(Arc::new(schema.clone())));
                }
            }
        }
        self.by_name =
            self.tables.values().map(|t| (t.schema().name.clone(), t.schema().id)).collect();
        if self.by_name.len() != self.tables.len() {
            return Err(inconsistent(offset, "two tables share a name"));
        }
        self.indexes = self.described_indexes().map_err(|reason| inconsistent(offset, reason))?;
        self.schema_dirty = false;
        Ok(())
    }

    /// The schemas `st_table` and `st_column` describe.
    fn described_schemas(&self) -> Result<BTreeMap<TableId, TableSchema>, String> {
        let mut names: BTreeMap<TableId, String> = BTreeMap::new();
        for row in self.rows_of(ST_TABLE) {
            let [Value::U64(id), Value::String(name), Value::Bool(is_system)] = &row[..] else {
                unreachable!("st_table rows decode with the static schema")
            };
            let id = TableId(
                u32::try_from(*id).map_err(|_| format!("st_table table_id={id} out of range"))?,
            );
            if *is_system != id.is_system() {
                return Err(format!(
                    "st_table table_id={id} is_system={is_system} disagrees with its id"
                ));
            }
            names.insert(id, name.clone());
        }
        let mut columns: BTreeMap<TableId, BTreeMap<u64, ColumnDef>> = BTreeMap::new();
        for row in self.rows_of(ST_COLUMN) {
            let [Value::U64(id), Value::U64(pos), Value::String(name), Value::U64(tag)] = &row[..]
            else {
                unreachable!("st_column rows decode with the static schema")
            };
            let id = TableId(
                u32::try_from(*id).map_err(|_| format!("st_column table_id={id} out of range"))?,
            );
            if !names.contains_key(&id) {
                return Err(format!("st_column row for table_id={id} without an st_table row"));
            }
            let ty = ColumnType::from_tag(*tag)
                .ok_or_else(|| format!("st_column table_id={id} col_type={tag} unknown"))?;
            columns.entry(id).or_default().insert(*pos, ColumnDef { name: name.clone(), ty });
        }
        let mut schemas = BTreeMap::new();
        for (id, name) in names {
            let columns = columns.remove(&id).unwrap_or_default();
            if columns.is_empty() {
                return Err(format!("table_id={id} name={name} has no columns"));
            }
            if columns.keys().copied().ne(0..columns.len() as u64) {
                return Err(format!(
                    "table_id={id} name={name} column positions are not 0..{}",
                    columns.len()
                ));
            }
            schemas.insert(id, TableSchema::new(id, &name, columns.into_values().collect()));
        }
        Ok(schemas)
    }

    /// The index definitions `st_index` holds.
    fn described_indexes(&self) -> Result<imbl::OrdMap<u64, IndexDef>, String> {
        let mut indexes = imbl::OrdMap::new();
        for row in self.rows_of(ST_INDEX) {
            let index = IndexDef::from_row(&row).ok_or("st_index row out of range")?;
            if !self.tables.contains_key(&index.table) {
                return Err(format!("index_id={} on missing table_id={}", index.id, index.table));
            }
            if indexes.insert(index.id, index.clone()).is_some() {
                return Err(format!("index_id={} defined twice", index.id));
            }
        }
        Ok(indexes)
    }

    /// The decoded rows of a system table (none if it does not exist yet).
    fn rows_of(&self, id: TableId) -> Vec<Row> {
        let Some(table) = self.tables.get(&id) else { return Vec::new() };
        let types = table.schema().types();
        table.rows().map(|row| decode_row(types, row).expect("stored rows decode")).collect()
    }

    /// Checks everything derived against what it derives from: the system
    /// tables describe exactly the tables present, seed and system tables
    /// have their static schemas, registries match the rows, and every
    /// table's index and summary match its pages. Returns the first
    /// disagreement.
    pub fn check(&self) -> Result<(), String> {
        for schema in system_schemas() {
            let table = self
                .tables
                .get(&schema.id)
                .ok_or_else(|| format!("system table {} missing", schema.name))?;
            if **table.schema() != *schema {
                return Err(format!(
                    "system table {} differs from its static definition",
                    schema.name
                ));
            }
        }
        let described = self.described_schemas()?;
        if described.len() != self.tables.len() {
            return Err(format!(
                "st_table describes {} tables, the state has {}",
                described.len(),
                self.tables.len()
            ));
        }
        for (id, table) in &self.tables {
            if described.get(id) != Some(&**table.schema()) {
                return Err(format!("table-id={id} is not described by the system tables"));
            }
            table.check()?;
        }
        let by_name: imbl::OrdMap<String, TableId> =
            self.tables.values().map(|t| (t.schema().name.clone(), t.schema().id)).collect();
        if by_name != self.by_name {
            return Err("table registry disagrees with st_table".to_owned());
        }
        if self.described_indexes()? != self.indexes {
            return Err("index registry disagrees with st_index".to_owned());
        }
        Ok(())
    }
}
