//! The committed state: every table, the registries derived from the system
//! tables, and the one path that applies a transaction to it (live commits
//! and replay alike).
//!
//! The repair step: whenever a transaction touches `st_table`, `st_column`
//! or `st_index`, the schemas, page layouts and registries are rebuilt from
//! the current system rows before the transaction touches any other table
//! and again at its end. That is how a replayed history teaches the state
//! the schemas of the user rows that follow.
//!
//! The repair is incremental: a table's schema is a function of its own
//! `st_table` and `st_column` rows, so only the tables whose rows changed
//! since the last repair are derived again, and the registries are rebuilt
//! only when what they derive from changed. Debug builds check after every
//! repair that a full derivation from all system rows agrees.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::error::ApplyError;
use super::schema::{
    ColumnDef, IndexDef, TableId, TableSchema, seed_schema, seed_schemas, static_system_schemas,
    system::*,
};
use super::table::Table;
use super::tx::Mutation;
use super::value::{ColumnType, Row, ValueRef, check_encoded_row, decode_fields, decode_row};

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
    /// What the schema-describing system tables changed since the last
    /// repair (empty between transactions).
    changes: SchemaChanges,
}

/// Changes to `st_table`, `st_column` and `st_index` not yet repaired.
#[derive(Clone, Debug, Default)]
struct SchemaChanges {
    /// The `table_id` of every `st_table` and `st_column` row inserted or
    /// deleted, as stored (a row may hold an id the repair refuses).
    tables: BTreeSet<u64>,
    /// An `st_index` row was inserted or deleted.
    indexes: bool,
    /// The tables were restored, not repaired: the name registry does not
    /// describe them yet and is built whole.
    restored: bool,
}

impl SchemaChanges {
    fn is_empty(&self) -> bool {
        self.tables.is_empty() && !self.indexes
    }
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
            changes: SchemaChanges::default(),
        };
        for schema in seed_schemas() {
            state.by_name.insert(schema.name.clone(), schema.id);
            state.tables.insert(schema.id, Table::new(Arc::clone(schema)));
        }
        state
    }

    /// A state rebuilt from restored tables (a snapshot), as of `offset`.
    /// Runs the repair step and the consistency check.
    pub fn restore(tables: Vec<Table>, offset: u64) -> Result<Self, ApplyError> {
        let mut state = CommittedState::seed();
        for table in tables {
            let schema = table.schema();
            if let Some(seed) = seed_schema(schema.id)
                && **seed != **schema
            {
                return Err(inconsistent(
                    offset,
                    format!("seed table {} restored with another schema", seed.name),
                ));
            }
            for row in table.rows() {
                check_encoded_row(schema.types(), row).map_err(|source| ApplyError::Row {
                    offset,
                    table: schema.id,
                    source,
                })?;
            }
            state.tables.insert(schema.id, table);
        }
        state.offset = Some(offset);
        // Nothing restored has been repaired yet: every table present and
        // every table the system rows name is derived again.
        let mut every_table: BTreeSet<u64> =
            state.tables.keys().map(|id| u64::from(id.0)).collect();
        for seed in [ST_TABLE, ST_COLUMN] {
            every_table.extend(state.tables[&seed].rows().map(|row| described_table_id(row)));
        }
        state.changes = SchemaChanges { tables: every_table, indexes: true, restored: true };
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
        if !self.changes.is_empty() && id != ST_TABLE && id != ST_COLUMN {
            self.repair(offset)?;
        }
        let table = self
            .tables
            .get_mut(&id)
            .ok_or_else(|| inconsistent(offset, format!("unknown table-id={id}")))?;
        let row = match mutation {
            Mutation::Insert { row, .. } => {
                check_encoded_row(table.schema().types(), row)
                    .map_err(|source| ApplyError::Row { offset, table: id, source })?;
                if !table.insert(Arc::clone(row), offset) {
                    return Err(inconsistent(offset, format!("duplicate row: table-id={id}")));
                }
                row
            }
            Mutation::Delete { row, .. } => {
                if !table.delete(row, offset) {
                    return Err(inconsistent(
                        offset,
                        format!("delete of a missing row: table-id={id}"),
                    ));
                }
                row
            }
        };
        // The row decoded with its table's schema (inserted now, or present
        // since it was): a system row's fields can be read.
        if id == ST_TABLE || id == ST_COLUMN {
            self.changes.tables.insert(described_table_id(row));
        } else if id == ST_INDEX {
            self.changes.indexes = true;
        }
        Ok(())
    }

    /// Ends the transaction at `offset`: repairs if it changed schemas, and
    /// makes `offset` the state's offset.
    pub fn finish_tx(&mut self, offset: u64) -> Result<(), ApplyError> {
        assert_eq!(offset, self.next_offset(), "transactions finish in offset order");
        if !self.changes.is_empty() {
            self.repair(offset)?;
        }
        assert!(self.changes.is_empty(), "a transaction ends repaired");
        self.offset = Some(offset);
        Ok(())
    }

    /// Runs the repair step now if a schema-describing system table changed
    /// since the last one. A transaction being built calls this after each
    /// schema change so that it sees its own DDL; repair is a pure function
    /// of the system rows, so when it runs does not change the result.
    pub fn settle(&mut self, offset: u64) -> Result<(), ApplyError> {
        if self.changes.is_empty() { Ok(()) } else { self.repair(offset) }
    }

    /// Applies a whole transaction.
    pub fn apply_tx(&mut self, offset: u64, mutations: &[Mutation]) -> Result<(), ApplyError> {
        for mutation in mutations {
            self.apply_mutation(offset, mutation)?;
        }
        self.finish_tx(offset)
    }

    /// The repair step: rebuild the schemas, layouts and registries that the
    /// system rows changed since the last repair describe.
    fn repair(&mut self, offset: u64) -> Result<(), ApplyError> {
        let changes = std::mem::take(&mut self.changes);
        if !changes.tables.is_empty() {
            // A restore names every table the system rows describe: that is
            // the whole walk. Otherwise only the changed tables' rows are read.
            let wanted = (!changes.restored).then_some(&changes.tables);
            let described = self.describe(wanted).map_err(|reason| inconsistent(offset, reason))?;
            // Ids out of range have no row left: `describe` refused any.
            let changed: Vec<TableId> = changes
                .tables
                .iter()
                .filter_map(|id| u32::try_from(*id).ok())
                .map(TableId)
                .collect();
            // The registry loses the changed tables' names first, so that
            // two tables trading names in one transaction do not collide.
            for id in changed.iter().filter(|_| !changes.restored) {
                if let Some(table) = self.tables.get(id) {
                    let removed = self.by_name.remove(table.schema().name.as_str());
                    assert_eq!(removed, Some(*id), "the registry names every table");
                }
            }
            for &id in &changed {
                let Some(schema) = described.get(&id) else {
                    // No longer described: dropped, unless a seed table.
                    if seed_schema(id).is_none() {
                        self.tables.remove(&id);
                    }
                    continue;
                };
                if let Some(seed) = seed_schema(id)
                    && **seed != *schema
                {
                    return Err(inconsistent(
                        offset,
                        format!("seed table-id={id} described unlike its static schema"),
                    ));
                }
                match self.tables.get(&id) {
                    Some(table) if **table.schema() == *schema => {}
                    Some(table) if table.summary().row_count > 0 => {
                        return Err(inconsistent(
                            offset,
                            format!("schema of table-id={id} changed while it holds rows"),
                        ));
                    }
                    _ => {
                        self.tables.insert(id, Table::new(Arc::new(schema.clone())));
                    }
                }
            }
            if changes.restored {
                self.by_name = self
                    .tables
                    .values()
                    .map(|t| (t.schema().name.clone(), t.schema().id))
                    .collect();
                if self.by_name.len() != self.tables.len() {
                    return Err(inconsistent(offset, "two tables share a name"));
                }
            }
            for id in changed.iter().filter(|_| !changes.restored) {
                if let Some(table) = self.tables.get(id)
                    && self.by_name.insert(table.schema().name.clone(), *id).is_some()
                {
                    return Err(inconsistent(offset, "two tables share a name"));
                }
            }
            assert_eq!(self.by_name.len(), self.tables.len(), "one name per table");
        }
        if changes.indexes {
            self.indexes =
                self.described_indexes().map_err(|reason| inconsistent(offset, reason))?;
        } else if let Some(index) = self.indexes.values().find(|index| {
            changes.tables.contains(&u64::from(index.table.0))
                && !self.tables.contains_key(&index.table)
        }) {
            // The registry still describes `st_index` (it did not change);
            // what can have broken is an index whose table is now gone.
            return Err(inconsistent(
                offset,
                format!("index_id={} on missing table_id={}", index.id, index.table),
            ));
        }
        debug_assert_eq!(
            self.check_derived(false),
            Ok(()),
            "the incremental repair derived what a full derivation does"
        );
        Ok(())
    }

    /// The schemas `st_table` and `st_column` describe.
    fn described_schemas(&self) -> Result<BTreeMap<TableId, TableSchema>, String> {
        self.describe(None)
    }

    /// The schemas `st_table` and `st_column` describe for the tables whose
    /// stored `table_id` is in `wanted` (every table if `None`), with every
    /// check of their rows.
    fn describe(
        &self,
        wanted: Option<&BTreeSet<u64>>,
    ) -> Result<BTreeMap<TableId, TableSchema>, String> {
        let is_wanted = |id: u64| wanted.is_none_or(|wanted| wanted.contains(&id));
        let mut names: BTreeMap<TableId, &str> = BTreeMap::new();
        let st_table = &self.tables[&ST_TABLE];
        for row in described_rows(st_table, wanted) {
            let [ValueRef::U64(id), ValueRef::String(name), ValueRef::Bool(is_system)] =
                decode_fields(st_table.schema().types(), row).expect("stored rows decode")
            else {
                unreachable!("st_table rows decode with the static schema")
            };
            assert!(is_wanted(id), "described_rows reads the wanted tables' rows");
            let id = TableId(
                u32::try_from(id).map_err(|_| format!("st_table table_id={id} out of range"))?,
            );
            if is_system != id.is_system() {
                return Err(format!(
                    "st_table table_id={id} is_system={is_system} disagrees with its id"
                ));
            }
            names.insert(id, name);
        }
        let mut columns: BTreeMap<TableId, BTreeMap<u64, ColumnDef>> = BTreeMap::new();
        let st_column = &self.tables[&ST_COLUMN];
        for row in described_rows(st_column, wanted) {
            let [ValueRef::U64(id), ValueRef::U64(pos), ValueRef::String(name), ValueRef::U64(tag)] =
                decode_fields(st_column.schema().types(), row).expect("stored rows decode")
            else {
                unreachable!("st_column rows decode with the static schema")
            };
            assert!(is_wanted(id), "described_rows reads the wanted tables' rows");
            let id = TableId(
                u32::try_from(id).map_err(|_| format!("st_column table_id={id} out of range"))?,
            );
            if !names.contains_key(&id) {
                return Err(format!("st_column row for table_id={id} without an st_table row"));
            }
            let ty = ColumnType::from_tag(tag)
                .ok_or_else(|| format!("st_column table_id={id} col_type={tag} unknown"))?;
            columns.entry(id).or_default().insert(pos, ColumnDef { name: name.to_owned(), ty });
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
            schemas.insert(id, TableSchema::new(id, name, columns.into_values().collect()));
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
        self.check_derived(true)
    }

    /// [`CommittedState::check`], with or without each table's own check of
    /// its pages (the part that reads every row).
    fn check_derived(&self, check_tables: bool) -> Result<(), String> {
        for schema in static_system_schemas() {
            let table = self
                .tables
                .get(&schema.id)
                .ok_or_else(|| format!("system table {} missing", schema.name))?;
            if **table.schema() != **schema {
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
            if check_tables {
                table.check()?;
            }
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

/// The rows of `st_table` or `st_column` (`table`) that describe the
/// tables in `wanted` (every row if `None`), in byte order, as a walk of
/// every row filtered by `wanted` gives them. Both tables begin with the
/// `table_id` as a little-endian `u64`, so one id's rows are adjacent.
fn described_rows<'a>(
    table: &'a Table,
    wanted: Option<&BTreeSet<u64>>,
) -> Box<dyn Iterator<Item = &'a Arc<[u8]>> + 'a> {
    let Some(wanted) = wanted else { return Box::new(table.rows()) };
    // In the order of their encoded bytes, which is not the ids' order.
    let mut firsts: Vec<[u8; 8]> = wanted.iter().map(|id| id.to_le_bytes()).collect();
    firsts.sort_unstable();
    Box::new(firsts.into_iter().flat_map(|first| table.rows_starting_with(first)))
}

/// The `table_id` a row of `st_table` or `st_column` describes: both begin
/// with it, as a `u64` (their static schemas), and the row has decoded.
fn described_table_id(row: &[u8]) -> u64 {
    debug_assert!(seed_schemas().iter().all(|seed| seed.types()[0] == ColumnType::U64));
    u64::from_le_bytes(row[..8].try_into().expect("a decoded st_table/st_column row"))
}
