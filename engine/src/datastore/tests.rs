//! The datastore against a model: schemas, rows, the repair step on replay,
//! and reads at every retained offset.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::*;

fn bootstrapped(retention: usize) -> (Datastore, Vec<Committed>) {
    let mut datastore = Datastore::new(CommittedState::seed(), retention);
    let mut tx = datastore.begin();
    for mutation in bootstrap_mutations() {
        tx.state.apply_mutation(0, &mutation).unwrap();
        tx.mutations.push(mutation);
    }
    let committed = datastore.commit(tx).unwrap();
    (datastore, vec![committed])
}

/// Replays records into a fresh seed state, as opening a database does.
fn replayed(records: &[Committed]) -> Datastore {
    let mut datastore = Datastore::new(CommittedState::seed(), 4);
    for committed in records {
        datastore.replay(committed.offset, &decode_tx(&committed.record).unwrap()).unwrap();
    }
    datastore
}

fn cols(spec: &[(&str, ColumnType)]) -> Vec<ColumnDef> {
    spec.iter().map(|(name, ty)| ColumnDef::new(name, *ty)).collect()
}

#[test]
fn bootstrap_describes_every_system_table_and_checks() {
    let (datastore, records) = bootstrapped(4);
    let state = datastore.latest();
    assert_eq!(state.offset(), Some(0));
    state.check().unwrap();
    let names: Vec<String> = state.tables().map(|t| t.schema().name.clone()).collect();
    assert_eq!(names, ["st_table", "st_column", "st_index", "st_sequence", "st_constraint"]);
    assert_eq!(state.rows("st_table").unwrap().len(), 5);
    assert_eq!(state.indexes().count(), 6);
    // The seed state alone is not a database: the check names what is missing.
    assert!(CommittedState::seed().check().unwrap_err().contains("st_index missing"));
    assert_eq!(replayed(&records).latest().dump(), state.dump());
}

#[test]
fn ddl_and_rows_survive_replay_through_the_repair_step() {
    let (mut datastore, mut records) = bootstrapped(16);
    let mut commit = |datastore: &mut Datastore, f: &dyn Fn(&mut MutTx)| {
        let mut tx = datastore.begin();
        f(&mut tx);
        records.push(datastore.commit(tx).unwrap());
    };
    commit(&mut datastore, &|tx| {
        tx.create_table(
            "accounts",
            cols(&[("id", ColumnType::U64), ("owner", ColumnType::String)]),
        )
        .unwrap();
        tx.insert("accounts", &[Value::U64(1), Value::String("ann".into())]).unwrap();
    });
    commit(&mut datastore, &|tx| {
        tx.create_table("log", cols(&[("at", ColumnType::I64), ("blob", ColumnType::Bytes)]))
            .unwrap();
        tx.insert("log", &[Value::I64(-1), Value::Bytes(vec![1, 2])]).unwrap();
        tx.insert("accounts", &[Value::U64(2), Value::String("bob".into())]).unwrap();
    });
    commit(&mut datastore, &|tx| tx.drop_table("accounts").unwrap());
    commit(&mut datastore, &|tx| {
        // Same name, another schema, a new id: rows must decode with it.
        tx.create_table("accounts", cols(&[("ok", ColumnType::Bool)])).unwrap();
        tx.insert("accounts", &[Value::Bool(true)]).unwrap();
    });

    let state = datastore.latest();
    state.check().unwrap();
    assert_eq!(state.rows("accounts").unwrap(), vec![vec![Value::Bool(true)]]);
    assert_eq!(state.table_by_name("accounts").unwrap().schema().id, TableId(4098));
    assert_eq!(state.rows("log").unwrap(), vec![vec![Value::I64(-1), Value::Bytes(vec![1, 2])]]);

    // The dump holds every table, the system tables included, with its rows.
    let dump = state.dump();
    let names: Vec<&str> = dump.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["accounts", "log", "st_column", "st_constraint", "st_index", "st_sequence", "st_table"]
    );
    assert_eq!(dump["accounts"], state.rows("accounts").unwrap());
    assert_eq!(dump["st_table"].len(), 7, "five system tables and two user tables");
    let again = replayed(&records);
    again.latest().check().unwrap();
    assert_eq!(again.latest().dump(), dump);
    // An old version still sees the dropped table.
    let before_drop = datastore.read_at(2).unwrap();
    assert_eq!(before_drop.rows("accounts").unwrap().len(), 2);
}

#[test]
fn pages_know_which_transactions_changed_them() {
    let (mut datastore, _) = bootstrapped(4);
    let mut tx = datastore.begin();
    tx.create_table("t", cols(&[("blob", ColumnType::Bytes)])).unwrap();
    for i in 0..12u8 {
        tx.insert("t", &[Value::Bytes(vec![i; 1000])]).unwrap(); // about 4 rows a page
    }
    let created = datastore.commit(tx).unwrap().offset;
    let pages = |d: &Datastore, since| -> Vec<u32> {
        d.latest().table_by_name("t").unwrap().pages_changed_since(since).collect()
    };
    assert_eq!(pages(&datastore, None), vec![0, 1, 2], "4 rows of 1008 bytes fill a page");
    assert_eq!(pages(&datastore, Some(created)), Vec::<u32>::new());
    let mut tx = datastore.begin();
    tx.delete("t", &[Value::Bytes(vec![5; 1000])]).unwrap();
    let changed = datastore.commit(tx).unwrap().offset;
    assert_eq!(pages(&datastore, Some(created)), vec![1], "only the page that held the row");
    assert_eq!(pages(&datastore, Some(changed)), Vec::<u32>::new());
    // The version before the delete still has the page as it was.
    let before = datastore.read_at(created).unwrap().table_by_name("t").unwrap();
    assert_eq!(before.pages()[1].rows().count(), 4);
    assert_eq!(datastore.latest().table_by_name("t").unwrap().pages()[1].rows().count(), 3);
}

#[test]
fn invalid_transactions_are_refused_and_change_nothing() {
    let (mut datastore, _) = bootstrapped(4);
    let mut tx = datastore.begin();
    tx.create_table("t", cols(&[("a", ColumnType::U64)])).unwrap();
    assert_eq!(
        tx.create_table("t", cols(&[("a", ColumnType::U64)])),
        Err(TxError::TableExists("t".into()))
    );
    assert!(matches!(tx.create_table("u", vec![]), Err(TxError::BadDefinition { .. })));
    assert!(matches!(
        tx.create_table("u", cols(&[("a", ColumnType::U64), ("a", ColumnType::Bool)])),
        Err(TxError::BadDefinition { .. })
    ));
    assert!(matches!(tx.insert("t", &[Value::Bool(true)]), Err(TxError::SchemaMismatch { .. })));
    tx.insert("t", &[Value::U64(1)]).unwrap();
    assert_eq!(tx.insert("t", &[Value::U64(1)]), Err(TxError::DuplicateRow("t".into())));
    assert_eq!(tx.delete("t", &[Value::U64(2)]), Err(TxError::RowNotFound("t".into())));
    assert_eq!(tx.insert("st_table", &[]), Err(TxError::SystemTable("st_table".into())));
    assert_eq!(tx.drop_table("st_index"), Err(TxError::SystemTable("st_index".into())));
    assert_eq!(tx.insert("nope", &[]), Err(TxError::NoSuchTable("nope".into())));
    assert!(matches!(
        tx.create_table("big", cols(&[("b", ColumnType::Bytes)]))
            .and_then(|_| tx.insert("big", &[Value::Bytes(vec![0; PAGE_SIZE])])),
        Err(TxError::RowTooLarge { .. })
    ));
    let stale = datastore.begin();
    datastore.commit(tx).unwrap();
    assert!(matches!(datastore.commit(stale), Err(TxError::Conflict { .. })));
    assert_eq!(datastore.commit(datastore.begin()), Err(TxError::Empty));
    assert_eq!(datastore.latest().offset(), Some(1));
}

#[test]
fn replay_of_a_hostile_record_is_an_error_naming_the_offset() {
    let (mut datastore, _) = bootstrapped(4);
    let unknown = Mutation::Insert { table: TableId(9999), row: Arc::from(&b"x"[..]) };
    let err = datastore.replay(1, &[unknown]).unwrap_err();
    assert_eq!(err.to_string(), "transaction does not apply: tx-offset=1 unknown table-id=9999");
    let bad_row = Mutation::Insert { table: system::ST_TABLE, row: Arc::from(&b"short"[..]) };
    assert!(matches!(datastore.replay(1, &[bad_row]), Err(ApplyError::Row { offset: 1, .. })));
    let missing = Mutation::Delete { table: system::ST_INDEX, row: Arc::from(&b""[..]) };
    assert!(datastore.replay(1, &[missing]).unwrap_err().to_string().contains("missing row"));
    assert_eq!(datastore.latest().offset(), Some(0), "failed replays change nothing");
}

#[test]
fn replay_of_a_row_the_table_holds_is_refused_and_changes_nothing() {
    let (mut datastore, schema) = with_table_t(true);
    let before = datastore.latest().table_by_name("t").unwrap().clone();
    let again = Mutation::Insert { table: schema.id, row: encode_row(&[Value::U64(7)]) };
    let err = datastore.replay(3, &[again]).unwrap_err().to_string();
    assert!(err.contains("tx-offset=3 duplicate row"), "{err}");
    let after = datastore.latest().table_by_name("t").unwrap();
    assert_eq!(after.summary(), before.summary());
    assert_eq!(after.rows().collect::<Vec<_>>(), before.rows().collect::<Vec<_>>());
    assert_eq!(datastore.latest().offset(), Some(2), "a failed replay changes nothing");
}

/// A datastore after bootstrap with table `t (a u64)` at offset 1 and,
/// if `with_row`, one row in it at offset 2.
fn with_table_t(with_row: bool) -> (Datastore, TableSchema) {
    let (mut datastore, _) = bootstrapped(4);
    let mut tx = datastore.begin();
    tx.create_table("t", cols(&[("a", ColumnType::U64)])).unwrap();
    datastore.commit(tx).unwrap();
    if with_row {
        let mut tx = datastore.begin();
        tx.insert("t", &[Value::U64(7)]).unwrap();
        datastore.commit(tx).unwrap();
    }
    let schema = (**datastore.latest().table_by_name("t").unwrap().schema()).clone();
    (datastore, schema)
}

fn insert_system_row(table: TableId, row: &Row) -> Mutation {
    Mutation::Insert { table, row: encode_row(row) }
}

// A history may hold a transaction that writes to one system table only
// (another version of the engine, or a tool, wrote it): replay must run the
// repair step for it as for any DDL, and refuse what cannot be repaired.

#[test]
fn replaying_an_index_declared_alone_updates_the_index_registry() {
    let (mut datastore, schema) = with_table_t(false);
    let index = IndexDef {
        id: FIRST_USER_INDEX_ID + 100,
        table: schema.id,
        name: "t_a".to_owned(),
        columns: schema::encode_positions(&[0]),
        is_unique: false,
    };
    let offset = datastore.latest().next_offset();
    datastore.replay(offset, &[insert_system_row(system::ST_INDEX, &index.to_row())]).unwrap();
    assert!(datastore.latest().indexes().any(|i| *i == index), "the registry has it");
    datastore.latest().check().unwrap();
}

#[test]
fn replaying_a_column_added_alone_changes_an_empty_table_and_is_refused_for_one_with_rows() {
    for with_row in [false, true] {
        let (mut datastore, schema) = with_table_t(with_row);
        let mut columns = schema.columns.clone();
        columns.push(ColumnDef::new("b", ColumnType::Bool));
        let wider = TableSchema::new(schema.id, &schema.name, columns);
        let added = st_column_rows(&wider).pop().unwrap();
        let offset = datastore.latest().next_offset();
        let result = datastore.replay(offset, &[insert_system_row(system::ST_COLUMN, &added)]);
        if with_row {
            let error = result.unwrap_err().to_string();
            assert!(error.contains("changed while it holds rows"), "{error}");
            assert_eq!(datastore.latest().offset(), Some(offset - 1), "nothing applied");
        } else {
            result.unwrap();
            let state = datastore.latest();
            assert_eq!(**state.table_by_name("t").unwrap().schema(), wider);
            state.check().unwrap();
        }
    }
}

#[test]
fn replaying_a_table_row_deleted_alone_never_leaves_registries_behind_the_rows() {
    let (mut datastore, schema) = with_table_t(false);
    let offset = datastore.latest().next_offset();
    let delete =
        Mutation::Delete { table: system::ST_TABLE, row: encode_row(&st_table_row(&schema)) };
    match datastore.replay(offset, &[delete]) {
        // Refused (its st_column rows describe a table that is gone) ...
        Err(error) => assert_eq!(datastore.latest().offset(), Some(offset - 1), "{error}"),
        // ... or applied, with the table gone from every registry.
        Ok(()) => {
            let state = datastore.latest();
            assert!(state.table_by_name("t").is_none());
            state.check().unwrap();
        }
    }
}

#[test]
fn read_at_outside_the_window_is_an_error() {
    let (mut datastore, _) = bootstrapped(3);
    assert_eq!(datastore.versions().versions_retained(), 2, "the empty state and offset 0");
    for i in 0..5u64 {
        let mut tx = datastore.begin();
        tx.create_table(&format!("t{i}"), cols(&[("a", ColumnType::U64)])).unwrap();
        datastore.commit(tx).unwrap();
        assert_eq!(datastore.versions().versions_retained(), 3.min(i as usize + 3));
    }
    assert_eq!(datastore.latest().offset(), Some(5));
    assert_eq!(datastore.read_at(2).unwrap_err(), ReadError::TooOld { offset: 2, oldest: 3 });
    assert_eq!(datastore.read_at(6).unwrap_err(), ReadError::TooNew { offset: 6, latest: Some(5) });
    assert_eq!(datastore.read_at(3).unwrap().offset(), Some(3));
    let fresh = Datastore::new(CommittedState::seed(), 3);
    assert_eq!(fresh.read_at(0).unwrap_err(), ReadError::TooNew { offset: 0, latest: None });
}

/// One step of a random workload.
#[derive(Clone, Debug)]
enum Step {
    Create { name: u8, types: Vec<ColumnType> },
    Drop { name: u8 },
    Insert { name: u8, seed: u64 },
    Delete { name: u8, pick: usize },
}

fn step() -> impl Strategy<Value = Step> {
    let ty = prop::sample::select(ColumnType::ALL.to_vec());
    prop_oneof![
        1 => (0..4u8, prop::collection::vec(ty, 1..4)).prop_map(|(name, types)| Step::Create { name, types }),
        1 => (0..4u8).prop_map(|name| Step::Drop { name }),
        6 => (0..4u8, any::<u64>()).prop_map(|(name, seed)| Step::Insert { name, seed }),
        3 => (0..4u8, any::<usize>()).prop_map(|(name, pick)| Step::Delete { name, pick }),
    ]
}

fn value_of(ty: ColumnType, seed: u64) -> Value {
    match ty {
        ColumnType::U64 => Value::U64(seed % 7),
        ColumnType::I64 => Value::I64((seed % 13) as i64 - 6),
        ColumnType::Bool => Value::Bool(seed.is_multiple_of(2)),
        ColumnType::String => Value::String("s".repeat((seed % 300) as usize)),
        ColumnType::Bytes => Value::Bytes(vec![seed as u8; (seed % 900) as usize]),
    }
}

type Model = BTreeMap<String, (Vec<ColumnType>, BTreeSet<Row>)>;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn the_datastore_matches_a_model_live_on_replay_and_at_every_offset(
        txs in prop::collection::vec(prop::collection::vec(step(), 1..6), 1..25),
    ) {
        let (mut datastore, mut records) = bootstrapped(64);
        let mut model: Model = BTreeMap::new();
        let mut history: Vec<(u64, Model)> = Vec::new();
        for steps in &txs {
            let mut tx = datastore.begin();
            let mut next = model.clone();
            for step in steps {
                match step {
                    Step::Create { name, types } => {
                        let name = format!("t{name}");
                        let columns = types.iter().enumerate().map(|(i, ty)| ColumnDef::new(&format!("c{i}"), *ty)).collect();
                        let result = tx.create_table(&name, columns);
                        prop_assert_eq!(result.is_ok(), !next.contains_key(&name));
                        next.entry(name).or_insert((types.clone(), BTreeSet::new()));
                    }
                    Step::Drop { name } => {
                        let name = format!("t{name}");
                        prop_assert_eq!(tx.drop_table(&name).is_ok(), next.remove(&name).is_some());
                    }
                    Step::Insert { name, seed } => {
                        let name = format!("t{name}");
                        let Some((types, rows)) = next.get_mut(&name) else { continue };
                        let row: Row = types.iter().enumerate().map(|(i, ty)| value_of(*ty, seed.wrapping_add(i as u64 * 31))).collect();
                        prop_assert_eq!(tx.insert(&name, &row).is_ok(), rows.insert(row));
                    }
                    Step::Delete { name, pick } => {
                        let name = format!("t{name}");
                        let Some((_, rows)) = next.get_mut(&name) else { continue };
                        let Some(row) = rows.iter().nth(pick % rows.len().max(1)).cloned() else { continue };
                        tx.delete(&name, &row).unwrap();
                        rows.remove(&row);
                    }
                }
            }
            if tx.mutations().is_empty() {
                continue;
            }
            let committed = datastore.commit(tx).unwrap();
            model = next;
            history.push((committed.offset, model.clone()));
            records.push(committed);
        }
        let user_tables = |state: &CommittedState| -> Model {
            state.tables().filter(|t| !t.schema().id.is_system()).map(|t| {
                let rows = state.rows(&t.schema().name).unwrap().into_iter().collect();
                (t.schema().name.clone(), (t.schema().types().to_vec(), rows))
            }).collect()
        };
        datastore.latest().check().map_err(TestCaseError::fail)?;
        for (offset, expected) in &history {
            let state = datastore.read_at(*offset).unwrap();
            prop_assert_eq!(&user_tables(state), expected, "read_at({})", offset);
        }
        let again = replayed(&records);
        again.latest().check().map_err(TestCaseError::fail)?;
        prop_assert_eq!(again.latest().dump(), datastore.latest().dump());
    }
}
