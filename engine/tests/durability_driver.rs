//! The production durability driver: concurrent clients commit and wait for
//! durability while one thread group-commits and takes snapshots; a
//! poisoned log fails the waiters instead of hanging them.
// Clients are real threads here: that is what this driver is for.
#![allow(clippy::disallowed_methods)]

mod dbtest;

use std::path::Path;
use std::sync::Arc;

use dbtest::{account, account_columns, sim_fs};
use faultline_engine::db::driver::DurableDatabase;
use faultline_engine::fs::RealFs;
use faultline_engine::{Database, Options};
use faultline_sim::{FaultClass, FaultConfig};

#[test]
fn concurrent_clients_get_every_commit_acknowledged_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = Options::default();
    options.snapshots.every_txs = 50;
    let (db, _) = Database::open(Arc::new(RealFs::new()), dir.path(), options.clone()).unwrap();
    let db = Arc::new(DurableDatabase::start(db).unwrap());
    let (offset, _) = db.commit(|tx| tx.create_table("accounts", account_columns())).unwrap();
    db.wait_durable(offset).unwrap();

    let clients: Vec<_> = (0..4u64)
        .map(|client| {
            let db = Arc::clone(&db);
            std::thread::spawn(move || {
                for i in 0..50 {
                    let (offset, _) =
                        db.commit(|tx| tx.insert("accounts", &account(client * 1000 + i))).unwrap();
                    db.wait_durable(offset).unwrap();
                }
            })
        })
        .collect();
    clients.into_iter().for_each(|c| c.join().unwrap());
    let db = Arc::try_unwrap(db).ok().unwrap().shutdown().unwrap();
    assert_eq!(db.durable_offset(), Some(201));
    let commits = db.log().commits_from(0).count();
    drop(db);

    let (db, report) = Database::open(Arc::new(RealFs::new()), dir.path(), options).unwrap();
    let restored = report.restored_from.expect("the driver took snapshots on its thread");
    assert!(restored >= 150, "snapshots every 50 durable transactions: {restored}");
    assert_eq!(report.replayed, 201 - restored);
    assert_eq!(db.latest().rows("accounts").unwrap().len(), 200);
    eprintln!("202 transactions in {commits} commits");
}

#[test]
fn a_poisoned_log_fails_the_waiters() {
    let fs = sim_fs(1);
    let (db, _) =
        Database::open(Arc::new(fs.clone()), Path::new(dbtest::ROOT), Options::default()).unwrap();
    let db = DurableDatabase::start(db).unwrap();
    fs.set_fault_config(FaultConfig::none().with(FaultClass::FsyncError, 1.0));
    let (offset, _) = db.commit(|tx| tx.create_table("accounts", account_columns())).unwrap();
    let failed = db.wait_durable(offset).unwrap_err();
    assert!(failed.reason.starts_with("commitlog poisoned:"), "{failed}");
    assert_eq!(fs.fault_counts().get(FaultClass::FsyncError), 1);
    assert!(db.shutdown().is_err());
}

#[test]
fn dropping_the_driver_stops_its_thread_and_releases_the_database() {
    let fs: Arc<dyn faultline_engine::fs::Fs> = Arc::new(sim_fs(2));
    let (db, _) =
        Database::open(Arc::clone(&fs), Path::new(dbtest::ROOT), Options::default()).unwrap();
    let db = DurableDatabase::start(db).unwrap();
    let (offset, _) = db.commit(|tx| tx.create_table("accounts", account_columns())).unwrap();
    db.wait_durable(offset).unwrap();
    assert!(Arc::strong_count(&fs) > 1, "the database holds the filesystem");
    drop(db);
    assert_eq!(Arc::strong_count(&fs), 1, "the thread exited and dropped the database");
}
