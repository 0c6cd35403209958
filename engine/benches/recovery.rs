//! Opening a 1,000,000-transaction history: snapshot + suffix against full
//! replay of the same log, on RealFs (warm page cache), in one run.
//!
//! `cargo bench -p faultline-engine --bench recovery`. The history is built
//! once (1,000 transactions per commit, a snapshot every 250,000 durable
//! transactions, then a suffix of 10,000); each way of opening is then
//! timed `RUNS` times and the medians are compared.
// A bench reports on stdout.
#![allow(clippy::print_stdout)]

mod support;

use std::sync::Arc;

use faultline_engine::datastore::{ColumnDef, ColumnType, Value};
use faultline_engine::fs::RealFs;
use faultline_engine::{Database, Options};

const RUNS: usize = 5;
const HISTORY: u64 = 1_000_000;
const SUFFIX: u64 = 10_000;

fn options(restore: bool) -> Options {
    let mut options = Options::default();
    options.durability.commit_txs_max = 1000;
    options.snapshots.every_txs = 250_000;
    options.snapshots.on_rotation = false;
    options.snapshots.remove_old_segments = false; // full replay must stay possible
    options.snapshots.restore_on_open = restore;
    options
}

fn build(dir: &std::path::Path) {
    let (mut db, _) = Database::open(Arc::new(RealFs::new()), dir, options(true)).unwrap();
    let mut tx = db.begin();
    let columns =
        vec![ColumnDef::new("id", ColumnType::U64), ColumnDef::new("note", ColumnType::String)];
    tx.create_table("events", columns).unwrap();
    db.commit(tx).unwrap();
    // Offsets 0 and 1 are bootstrap and the table; then one insert each.
    for i in 0..HISTORY + SUFFIX - 2 {
        let mut tx = db.begin();
        tx.insert("events", &[Value::U64(i), Value::String(format!("event-{i}"))]).unwrap();
        db.commit(tx).unwrap();
        if db.queued() >= 1000 {
            db.durability_step();
            db.snapshot_step().unwrap();
        }
    }
    while db.durability_step().is_some() {}
    db.snapshot_step().unwrap();
    assert_eq!(db.latest().offset(), Some(HISTORY + SUFFIX - 1));
}

fn main() {
    let dir = support::bench_dir("recovery");
    println!("recovery  {}  runs={RUNS} (median, warm page cache)", support::machine(dir.path()));
    let built = support::time(|| build(dir.path()));
    println!("built {} transactions in {:.1} s", HISTORY + SUFFIX, built.as_secs_f64());
    let mut restored_from = None;
    // Each time is the open alone: the database is dropped (a million
    // rows freed) after the clock stops.
    let snapshot = support::median_of(RUNS, || {
        let ((db, report), took) = support::timed(|| {
            Database::open(Arc::new(RealFs::new()), dir.path(), options(true)).unwrap()
        });
        assert_eq!(db.latest().offset(), Some(HISTORY + SUFFIX - 1));
        restored_from = Some((report.restored_from, report.replayed));
        took
    });
    let full = support::median_of(RUNS, || {
        let ((db, report), took) = support::timed(|| {
            Database::open(Arc::new(RealFs::new()), dir.path(), options(false)).unwrap()
        });
        assert_eq!(db.latest().offset(), Some(HISTORY + SUFFIX - 1));
        assert_eq!(report.replayed, HISTORY + SUFFIX);
        took
    });
    let (from, replayed) = restored_from.unwrap();
    println!("{:<34} {:>10} {:>14}", "open by", "median", "vs full replay");
    println!(
        "{:<34} {:>8.0} ms {:>13.1}x",
        format!("snapshot {from:?} + {replayed} tx suffix"),
        snapshot.as_secs_f64() * 1e3,
        full.as_secs_f64() / snapshot.as_secs_f64()
    );
    println!(
        "{:<34} {:>8.0} ms {:>13.1}x",
        format!("full replay of {} tx", HISTORY + SUFFIX),
        full.as_secs_f64() * 1e3,
        1.0
    );
    println!(
        "full replay: {:.0} tx/s (the whole open: commitlog verified, every transaction applied, the state checked)",
        (HISTORY + SUFFIX) as f64 / full.as_secs_f64()
    );
}
