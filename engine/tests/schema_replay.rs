//! Schemas come back from history: create tables, insert, drop some, create
//! others under reused names, reopen (after a clean shutdown and after a
//! power loss), and every user row decodes with its table's schema, equal to
//! a model. `read_at` matches the model at every retained offset.

mod dbtest;

use std::collections::{BTreeMap, BTreeSet};

use dbtest::{account, account_columns, open, sim_fs, small_segments};
use faultline_engine::Database;
use faultline_engine::datastore::{ColumnDef, ColumnType, ReadError, Row, Value};
use faultline_sim::CrashMode;

type Model = BTreeMap<String, BTreeSet<Row>>;

fn user_tables(db: &Database, offset: u64) -> Model {
    let state = db.read_at(offset).unwrap();
    state
        .tables()
        .filter(|t| !t.schema().id.is_system())
        .map(|t| {
            (t.schema().name.clone(), state.rows(&t.schema().name).unwrap().into_iter().collect())
        })
        .collect()
}

/// Commits a scripted history of DDL and rows; returns the model after each
/// offset.
fn scripted_history(db: &mut Database) -> Vec<(u64, Model)> {
    let mut history = Vec::new();
    let mut model = Model::new();
    let mut commit =
        |db: &mut Database,
         model: &Model,
         build: &dyn Fn(&mut faultline_engine::datastore::MutTx)| {
            let mut tx = db.begin();
            build(&mut tx);
            let offset = db.commit(tx).unwrap();
            db.durability_step();
            history.push((offset, model.clone()));
        };
    model.insert("accounts".into(), (1..=40).map(account).collect());
    commit(db, &model, &|tx| {
        tx.create_table("accounts", account_columns()).unwrap();
        for id in 1..=40 {
            tx.insert("accounts", &account(id)).unwrap();
        }
    });
    let events =
        vec![ColumnDef::new("at", ColumnType::I64), ColumnDef::new("payload", ColumnType::Bytes)];
    let event = |i: i64| vec![Value::I64(-i), Value::Bytes(vec![i as u8; 100])];
    model.insert("events".into(), (0..30).map(event).collect());
    model.get_mut("accounts").unwrap().remove(&account(7));
    commit(db, &model, &|tx| {
        tx.create_table("events", events.clone()).unwrap();
        for i in 0..30 {
            tx.insert("events", &event(i)).unwrap();
        }
        tx.delete("accounts", &account(7)).unwrap();
    });
    model.remove("accounts");
    commit(db, &model, &|tx| tx.drop_table("accounts").unwrap());
    // The name comes back with another schema and a new table id.
    let flags =
        vec![ColumnDef::new("flag", ColumnType::Bool), ColumnDef::new("id", ColumnType::U64)];
    model.insert("accounts".into(), [vec![Value::Bool(true), Value::U64(1)]].into());
    commit(db, &model, &|tx| {
        tx.create_table("accounts", flags.clone()).unwrap();
        tx.insert("accounts", &[Value::Bool(true), Value::U64(1)]).unwrap();
    });
    model.remove("events");
    model.insert("events".into(), [vec![Value::String("again".into())]].into());
    commit(db, &model, &|tx| {
        tx.drop_table("events").unwrap();
        tx.create_table("events", vec![ColumnDef::new("name", ColumnType::String)]).unwrap();
        tx.insert("events", &[Value::String("again".into())]).unwrap();
    });
    history
}

#[test]
fn schemas_and_rows_come_back_through_the_repair_step() {
    let fs = sim_fs(3);
    let (mut db, _) = open(&fs, small_segments()).unwrap();
    let history = scripted_history(&mut db);
    assert!(db.log().segments().len() > 1, "the history spans several segments");
    for (offset, model) in &history {
        assert_eq!(&user_tables(&db, *offset), model, "live read_at({offset})");
    }
    let latest = db.latest().dump();
    drop(db);

    for crash in [None, Some(CrashMode::PowerLoss), Some(CrashMode::ProcessCrash)] {
        if let Some(mode) = crash {
            fs.crash(mode);
        }
        let fs = fs.reopen();
        let (db, report) = open(&fs, small_segments()).unwrap();
        assert!(!report.bootstrapped);
        assert_eq!(report.replayed, history.len() as u64 + 1, "{crash:?}");
        assert_eq!(
            db.latest().dump(),
            latest,
            "{crash:?}: the whole state, system tables included"
        );
        for (offset, model) in &history {
            assert_eq!(
                &user_tables(&db, *offset),
                model,
                "{crash:?}: read_at({offset}) after reopen"
            );
        }
        let accounts = db.latest().table_by_name("accounts").unwrap();
        assert_eq!(accounts.schema().columns[0].ty, ColumnType::Bool, "the newest schema won");
    }
}

#[test]
fn read_at_outside_the_retention_window_is_an_error() {
    let fs = sim_fs(4);
    let mut options = small_segments();
    options.versions_retained = 3;
    let (mut db, _) = open(&fs, options.clone()).unwrap();
    let history = scripted_history(&mut db);
    let latest = history.last().unwrap().0;
    assert_eq!(
        db.read_at(latest + 1).unwrap_err(),
        ReadError::TooNew { offset: latest + 1, latest: Some(latest) }
    );
    assert_eq!(
        db.read_at(latest - 3).unwrap_err(),
        ReadError::TooOld { offset: latest - 3, oldest: latest - 2 }
    );
    for (offset, model) in &history[history.len() - 3..] {
        assert_eq!(&user_tables(&db, *offset), model);
    }
    // Reopened, the replay applies all but the last three transactions in
    // place (their versions would be dropped at once), and the window is
    // the same: the same versions, the same errors outside it.
    drop(db);
    let fs = fs.reopen();
    let (db, report) = open(&fs, options).unwrap();
    assert_eq!(report.replayed, history.len() as u64 + 1);
    assert_eq!(db.datastore().versions().versions_retained(), 3);
    assert_eq!(
        db.read_at(latest - 3).unwrap_err(),
        ReadError::TooOld { offset: latest - 3, oldest: latest - 2 }
    );
    for (offset, model) in &history[history.len() - 3..] {
        assert_eq!(&user_tables(&db, *offset), model, "read_at({offset}) after reopen");
    }
    db.latest().check().unwrap();
}
