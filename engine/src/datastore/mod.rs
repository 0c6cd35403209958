//! The transactional table store: typed tables in pages, system tables that
//! describe every schema, transactions numbered by the datastore, and an
//! MVCC snapshot manager for reads at an offset.
//!
//! The datastore is the authority on transaction offsets: each committed
//! transaction gets the next one. It holds no I/O: [`crate::Database`] adds
//! the commitlog, durability and bootstrap around it.

mod error;
mod mvcc;
mod page;
mod row_index;
mod schema;
mod state;
mod table;
mod tx;
mod value;

use std::sync::Arc;

pub use error::{ApplyError, DecodeError, ReadError, TxError};
pub use mvcc::SnapshotManager;
pub use page::{PAGE_SIZE, Page, ROW_SIZE_MAX, RowLoc, SLOT_OVERHEAD};
pub use schema::{
    ColumnDef, FIRST_USER_INDEX_ID, FIRST_USER_TABLE_ID, IndexDef, TableId, TableSchema,
    st_column_rows, st_sequence_row, st_table_row, system, system_index_rows, system_schemas,
};
pub use state::CommittedState;
pub use table::{Table, TableSummary};
pub use tx::{Mutation, decode_tx, encode_tx, encoded_len};
pub use value::{
    ColumnType, Row, Value, ValueRef, check_encoded_row, check_row, decode_field, decode_fields,
    decode_row, encode_row, encoded_row_len,
};

use schema::system::*;

/// The most columns a user table may have.
pub const COLUMNS_MAX: usize = 64;

/// The committed versions and the offset authority.
#[derive(Debug)]
pub struct Datastore {
    versions: SnapshotManager,
}

/// A transaction being built. Reads see its own writes; nothing is visible
/// to anyone else until [`Datastore::commit`].
#[derive(Debug)]
pub struct MutTx {
    state: CommittedState,
    began_after: Option<u64>,
    offset: u64,
    mutations: Vec<Mutation>,
}

/// A committed transaction: its offset and the record the commitlog stores.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Committed {
    /// The offset the datastore gave it.
    pub offset: u64,
    /// The encoded record (see [`encode_tx`]).
    pub record: Vec<u8>,
}

impl Datastore {
    /// A datastore whose latest version is `state`, keeping `retention`
    /// versions for [`Datastore::read_at`].
    pub fn new(state: CommittedState, retention: usize) -> Self {
        Datastore { versions: SnapshotManager::new(state, retention) }
    }

    /// The latest committed state.
    pub fn latest(&self) -> &CommittedState {
        self.versions.latest()
    }

    /// The state that sees exactly the commits `<= offset`.
    pub fn read_at(&self, offset: u64) -> Result<&CommittedState, ReadError> {
        self.versions.read_at(offset)
    }

    /// The snapshot manager.
    pub fn versions(&self) -> &SnapshotManager {
        &self.versions
    }

    /// Starts a transaction on the latest state.
    pub fn begin(&self) -> MutTx {
        let state = self.latest().clone();
        MutTx {
            began_after: state.offset(),
            offset: state.next_offset(),
            state,
            mutations: Vec::new(),
        }
    }

    /// Commits `tx` at the next offset and publishes its version.
    pub fn commit(&mut self, tx: MutTx) -> Result<Committed, TxError> {
        let latest = self.latest().offset();
        if tx.began_after != latest {
            return Err(TxError::Conflict { began_after: tx.began_after, latest });
        }
        if tx.mutations.is_empty() {
            return Err(TxError::Empty);
        }
        let MutTx { mut state, offset, mutations, .. } = tx;
        state.finish_tx(offset).expect("a validated transaction applies");
        self.versions.publish(state);
        Ok(Committed { offset, record: encode_tx(&mutations) })
    }

    /// Commits the bootstrap transaction ([`bootstrap_mutations`]) at
    /// offset 0. Only on an empty history.
    pub fn commit_bootstrap(&mut self) -> Committed {
        assert_eq!(self.latest().offset(), None, "bootstrap only on an empty history");
        let mutations = bootstrap_mutations();
        let mut state = self.latest().clone();
        state.apply_tx(0, &mutations).expect("the bootstrap transaction applies to the seed state");
        self.versions.publish(state);
        Committed { offset: 0, record: encode_tx(&mutations) }
    }

    /// Applies a transaction read back from history (replay) as a new
    /// version. On error the datastore is unchanged.
    pub fn replay(&mut self, offset: u64, mutations: &[Mutation]) -> Result<(), ApplyError> {
        let mut state = self.latest().clone();
        state.apply_tx(offset, mutations)?;
        self.versions.publish(state);
        Ok(())
    }

    /// Applies a transaction read back from history to the latest version
    /// in place, keeping no version before it: for the part of a replay
    /// older than the versions the open will retain, which no reader can
    /// ask for. Nothing is copied that only this version holds. On error
    /// the latest version is left half-applied: the caller must drop the
    /// datastore (the open fails).
    pub fn replay_in_place(
        &mut self,
        offset: u64,
        mutations: &[Mutation],
    ) -> Result<(), ApplyError> {
        self.versions.latest_alone().apply_tx(offset, mutations)
    }

    /// How many versions [`Datastore::read_at`] keeps.
    pub fn retention(&self) -> usize {
        self.versions.retention()
    }
}

impl MutTx {
    /// The state as this transaction sees it (its own writes included).
    pub fn state(&self) -> &CommittedState {
        &self.state
    }

    /// The offset this transaction will get if it commits.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The size of the record this transaction would commit.
    pub fn record_len(&self) -> usize {
        encoded_len(&self.mutations)
    }

    /// The mutations so far.
    pub fn mutations(&self) -> &[Mutation] {
        &self.mutations
    }

    /// Inserts `row` into the user table `table`.
    pub fn insert(&mut self, table: &str, row: &[Value]) -> Result<(), TxError> {
        let (id, bytes) = self.user_row(table, row)?;
        if self.state.table(id).expect("resolved").contains(&bytes) {
            return Err(TxError::DuplicateRow(table.to_owned()));
        }
        self.push(Mutation::Insert { table: id, row: bytes });
        Ok(())
    }

    /// Deletes `row` from the user table `table`.
    pub fn delete(&mut self, table: &str, row: &[Value]) -> Result<(), TxError> {
        let (id, bytes) = self.user_row(table, row)?;
        if !self.state.table(id).expect("resolved").contains(&bytes) {
            return Err(TxError::RowNotFound(table.to_owned()));
        }
        self.push(Mutation::Delete { table: id, row: bytes });
        Ok(())
    }

    /// Creates a user table: its `st_table` and `st_column` rows, and the
    /// next value of the table-id sequence.
    pub fn create_table(
        &mut self,
        name: &str,
        columns: Vec<ColumnDef>,
    ) -> Result<TableId, TxError> {
        let bad = |reason: &str| TxError::BadDefinition {
            name: name.to_owned(),
            reason: reason.to_owned(),
        };
        if name.is_empty() || name.len() > 256 {
            return Err(bad("the name must be 1 to 256 bytes"));
        }
        if self.state.table_by_name(name).is_some() {
            return Err(TxError::TableExists(name.to_owned()));
        }
        if columns.is_empty() || columns.len() > COLUMNS_MAX {
            return Err(bad(&format!("a table has 1 to {COLUMNS_MAX} columns")));
        }
        let mut names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        names.sort_unstable();
        if names.windows(2).any(|pair| pair[0] == pair[1]) {
            return Err(bad("column names must be unique"));
        }
        let next = self.sequence_next(SEQ_TABLE_ID);
        let id = TableId(u32::try_from(next).expect("table ids stay below 2^32"));
        assert!(!id.is_system(), "the table-id sequence starts above the system range");
        let schema = TableSchema::new(id, name, columns);
        self.push_system(
            ST_TABLE,
            Mutation::Insert { table: ST_TABLE, row: encode_row(&st_table_row(&schema)) },
        );
        for row in st_column_rows(&schema) {
            self.push_system(
                ST_COLUMN,
                Mutation::Insert { table: ST_COLUMN, row: encode_row(&row) },
            );
        }
        self.bump_sequence(SEQ_TABLE_ID, next);
        self.state.settle(self.offset).expect("a validated definition repairs");
        assert!(
            self.state.table(id).is_some_and(|t| **t.schema() == schema),
            "the repair step created the table"
        );
        Ok(id)
    }

    /// Drops a user table: deletes its rows from every system table; the
    /// repair step drops its pages.
    pub fn drop_table(&mut self, name: &str) -> Result<(), TxError> {
        let table =
            self.state.table_by_name(name).ok_or_else(|| TxError::NoSuchTable(name.to_owned()))?;
        let id = table.schema().id;
        if id.is_system() {
            return Err(TxError::SystemTable(name.to_owned()));
        }
        let id_value = ValueRef::U64(u64::from(id.0));
        let mut deletes = Vec::new();
        // Column rows first, the table row next, then what refers to it, so
        // that the system tables are consistent whenever the repair runs.
        for (system_table, column) in
            [(ST_COLUMN, 0), (ST_TABLE, 0), (ST_INDEX, 1), (ST_CONSTRAINT, 1)]
        {
            let table = self.state.table(system_table).expect("system tables exist");
            let types = table.schema().types();
            // A `u64` first column begins the row: the rows holding the id
            // there are adjacent, and only they are read.
            let rows: Box<dyn Iterator<Item = &Arc<[u8]>>> = if column == 0 {
                assert_eq!(types[0], ColumnType::U64, "a table_id column");
                Box::new(table.rows_starting_with(u64::from(id.0).to_le_bytes()))
            } else {
                Box::new(table.rows())
            };
            for row in rows {
                let field = decode_field(types, row, column).expect("stored rows decode");
                if field == id_value {
                    deletes.push(Mutation::Delete { table: system_table, row: Arc::clone(row) });
                } else {
                    assert_ne!(column, 0, "rows_starting_with reads the id's rows only");
                }
            }
        }
        for delete in deletes {
            self.push_system(delete.table(), delete);
        }
        self.state.settle(self.offset).expect("a validated drop repairs");
        assert!(self.state.table(id).is_none(), "the repair step dropped the table");
        Ok(())
    }

    fn user_row(&self, table: &str, row: &[Value]) -> Result<(TableId, Arc<[u8]>), TxError> {
        let resolved = self
            .state
            .table_by_name(table)
            .ok_or_else(|| TxError::NoSuchTable(table.to_owned()))?;
        let schema = resolved.schema();
        if schema.id.is_system() {
            return Err(TxError::SystemTable(table.to_owned()));
        }
        check_row(schema.types(), row)
            .map_err(|reason| TxError::SchemaMismatch { table: table.to_owned(), reason })?;
        // Measured before it is encoded: a row too large is refused
        // without copying it.
        let bytes = encoded_row_len(row);
        if bytes > ROW_SIZE_MAX {
            return Err(TxError::RowTooLarge { table: table.to_owned(), bytes, max: ROW_SIZE_MAX });
        }
        let encoded = encode_row(row);
        assert_eq!(encoded.len(), bytes);
        Ok((schema.id, encoded))
    }

    fn push(&mut self, mutation: Mutation) {
        self.state.apply_mutation(self.offset, &mutation).expect("a validated mutation applies");
        self.mutations.push(mutation);
    }

    fn push_system(&mut self, table: TableId, mutation: Mutation) {
        assert!(table.is_system() && mutation.table() == table);
        self.push(mutation);
    }

    /// The next value of sequence `sequence_id`.
    fn sequence_next(&self, sequence_id: u64) -> u64 {
        self.sequence_row(sequence_id).2
    }

    fn sequence_row(&self, sequence_id: u64) -> (Arc<[u8]>, String, u64) {
        let table = self.state.table(ST_SEQUENCE).expect("bootstrap created st_sequence");
        let types = table.schema().types();
        table
            .rows()
            .find_map(|row| match &decode_row(types, row).expect("stored rows decode")[..] {
                [Value::U64(id), Value::String(name), Value::U64(next)] if *id == sequence_id => {
                    Some((Arc::clone(row), name.clone(), *next))
                }
                _ => None,
            })
            .expect("bootstrap created every sequence")
    }

    fn bump_sequence(&mut self, sequence_id: u64, used: u64) {
        let (row, name, next) = self.sequence_row(sequence_id);
        assert_eq!(next, used);
        self.push_system(ST_SEQUENCE, Mutation::Delete { table: ST_SEQUENCE, row });
        let bumped = encode_row(&st_sequence_row(sequence_id, &name, next + 1));
        self.push_system(ST_SEQUENCE, Mutation::Insert { table: ST_SEQUENCE, row: bumped });
    }
}

/// The bootstrap transaction (offset 0): describes every system table in
/// `st_table`/`st_column` (the seed tables too), creates the sequences, and
/// declares the system indexes and constraints.
pub fn bootstrap_mutations() -> Vec<Mutation> {
    let mut mutations = Vec::new();
    let schemas = system_schemas();
    for schema in &schemas {
        mutations
            .push(Mutation::Insert { table: ST_TABLE, row: encode_row(&st_table_row(schema)) });
        for row in st_column_rows(schema) {
            mutations.push(Mutation::Insert { table: ST_COLUMN, row: encode_row(&row) });
        }
    }
    let sequences = [
        (SEQ_TABLE_ID, "st_table.table_id", u64::from(FIRST_USER_TABLE_ID)),
        (SEQ_INDEX_ID, "st_index.index_id", FIRST_USER_INDEX_ID),
        (SEQ_CONSTRAINT_ID, "st_constraint.constraint_id", FIRST_USER_INDEX_ID),
    ];
    for (id, name, next) in sequences {
        mutations.push(Mutation::Insert {
            table: ST_SEQUENCE,
            row: encode_row(&st_sequence_row(id, name, next)),
        });
    }
    let (indexes, constraints) = system_index_rows();
    for row in indexes {
        mutations.push(Mutation::Insert { table: ST_INDEX, row: encode_row(&row) });
    }
    for row in constraints {
        mutations.push(Mutation::Insert { table: ST_CONSTRAINT, row: encode_row(&row) });
    }
    mutations
}

#[cfg(test)]
mod tests;
