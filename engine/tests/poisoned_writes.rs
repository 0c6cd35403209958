//! Poisoned writes end to end: a write, short write or fsync error during a
//! durability step makes the engine panic with the poison message; it
//! neither retries nor reports anything more durable; after a power loss a
//! reopen recovers everything that was durable, and the state equals the
//! model at the recovered offset.

mod dbtest;

use std::collections::BTreeSet;

use dbtest::{Outcome, account, account_columns, catch_poison, open, sim_fs};
use faultline_engine::{Database, Options};
use faultline_sim::{CrashMode, FaultClass, FaultConfig, Happening};

fn accounts(db: &Database) -> BTreeSet<Vec<faultline_engine::datastore::Value>> {
    db.latest().rows("accounts").unwrap_or_default().into_iter().collect()
}

#[test]
fn a_failed_write_or_sync_poisons_and_nothing_acknowledged_is_lost() {
    for class in [FaultClass::WriteError, FaultClass::ShortWrite, FaultClass::FsyncError] {
        for seed in 0..8 {
            check_poisoning(class, seed);
        }
    }
}

fn check_poisoning(class: FaultClass, seed: u64) {
    let fs = sim_fs(seed);
    let mut options = Options::default();
    options.log.write_buffer_size = 0; // every append writes: the fault strikes the write
    let (mut db, _) = open(&fs, options.clone()).unwrap();
    // The model: the user rows after each offset.
    let mut models = vec![(0u64, BTreeSet::new())];
    let mut tx = db.begin();
    tx.create_table("accounts", account_columns()).unwrap();
    models.push((db.commit(tx).unwrap(), BTreeSet::new()));
    let mut rows = BTreeSet::new();
    for id in 0..6 {
        let mut tx = db.begin();
        tx.insert("accounts", &account(id)).unwrap();
        rows.insert(account(id));
        models.push((db.commit(tx).unwrap(), rows.clone()));
        if id % 2 == 1 {
            db.durability_step();
        }
    }
    let acked = db.durable_offset().unwrap();
    let submitted = db.latest().offset().unwrap();
    assert!(acked < submitted || db.queued() == 0);

    // Two more transactions, then the fault during their durability step.
    for id in 6..8 {
        let mut tx = db.begin();
        tx.insert("accounts", &account(id)).unwrap();
        rows.insert(account(id));
        models.push((db.commit(tx).unwrap(), rows.clone()));
    }
    let submitted = db.latest().offset().unwrap();
    fs.set_fault_config(FaultConfig::none().with(class, 1.0));
    let Outcome::Poisoned(message) = catch_poison(|| db.durability_step()) else {
        panic!("{class} seed={seed}: the durability step must panic with the poison message")
    };
    assert!(message.contains("simulated"), "the message names the cause: {message}");
    assert_eq!(fs.fault_counts().get(class), 1, "{class}: the fault fired once");
    let fault =
        fs.events().into_iter().find(|e| matches!(e.happening, Happening::Fault(_))).unwrap();
    assert_eq!(
        fs.stats().ops,
        fault.op_index,
        "{class}: nothing was tried after the fault (no retry)"
    );
    assert_eq!(db.durable_offset(), Some(acked), "{class}: nothing more is reported durable");
    drop(db);

    fs.set_fault_config(FaultConfig::none());
    fs.crash(CrashMode::PowerLoss);
    let fs = fs.reopen();
    let (db, _) = open(&fs, options).unwrap_or_else(|e| panic!("{class} seed={seed}: reopen: {e}"));
    let recovered = db.latest().offset().unwrap();
    assert!(
        acked <= recovered && recovered <= submitted,
        "{class} seed={seed}: {acked} <= {recovered} <= {submitted}"
    );
    let (_, expected) = models.iter().find(|(offset, _)| *offset == recovered).unwrap();
    assert_eq!(&accounts(&db), expected, "{class} seed={seed}: state at offset {recovered}");
}

#[test]
fn a_poisoned_log_refuses_to_go_on() {
    let fs = sim_fs(9);
    let (mut db, _) = open(&fs, Options::default()).unwrap();
    let mut tx = db.begin();
    tx.create_table("accounts", account_columns()).unwrap();
    db.commit(tx).unwrap();
    fs.set_fault_config(FaultConfig::none().with(FaultClass::FsyncError, 1.0));
    assert!(matches!(catch_poison(|| db.durability_step()), Outcome::Poisoned(_)));
    fs.set_fault_config(FaultConfig::none());
    // Even with the disk healthy again, the writer does not carry on.
    let mut tx = db.begin();
    tx.insert("accounts", &account(1)).unwrap();
    db.commit(tx).unwrap();
    let Outcome::Poisoned(message) = catch_poison(|| db.durability_step()) else {
        panic!("a poisoned writer must panic again, not write")
    };
    assert!(message.starts_with("commitlog poisoned:"), "{message}");
    assert_eq!(fs.fault_counts().get(FaultClass::FsyncError), 1);
    assert_eq!(db.durable_offset(), Some(0));
    // The step took offset 2 off the queue but the log never got it: the
    // database's own invariant check says so (it must be opened again).
    let broken = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| db.assert_invariants()))
        .expect_err("a poisoned database fails its invariant check");
    let broken = broken.downcast_ref::<String>().expect("an assert message");
    assert!(broken.contains("with nothing queued, the log holds every commit"), "{broken}");
}
