//! Commit throughput through the whole engine (datastore + durability on
//! RealFs), at several transactions per durability step (group commit).
//!
//! `cargo bench -p faultline-engine --bench engine`. Each configuration
//! commits the same workload `RUNS` times into a fresh database; the median
//! is reported. Every step syncs, so batch 1 is one fdatasync per
//! transaction.
// A bench reports on stdout.
#![allow(clippy::print_stdout)]

mod support;

use std::sync::Arc;

use faultline_engine::datastore::{ColumnDef, ColumnType, Value};
use faultline_engine::fs::RealFs;
use faultline_engine::{Database, Options};

const RUNS: usize = 5;
const ROW_PAYLOAD: usize = 100;

fn run(batch: usize, transactions: usize) -> std::time::Duration {
    let dir = support::bench_dir("engine");
    let mut options = Options::default();
    options.durability.commit_txs_max = batch;
    let (mut db, _) = Database::open(Arc::new(RealFs::new()), dir.path(), options).unwrap();
    let mut tx = db.begin();
    let columns =
        vec![ColumnDef::new("id", ColumnType::U64), ColumnDef::new("payload", ColumnType::Bytes)];
    tx.create_table("bench", columns).unwrap();
    db.commit(tx).unwrap();
    db.durability_step();
    support::time(|| {
        for i in 0..transactions {
            let mut tx = db.begin();
            tx.insert("bench", &[Value::U64(i as u64), Value::Bytes(vec![7; ROW_PAYLOAD])])
                .unwrap();
            db.commit(tx).unwrap();
            if (i + 1) % batch == 0 {
                db.durability_step();
            }
        }
        while db.durability_step().is_some() {}
    })
}

fn main() {
    let probe = support::bench_dir("engine-probe");

    println!("engine commit throughput  {}  runs={RUNS} (median)", support::machine(probe.path()));
    println!("{:>6} {:>8} {:>12} {:>12} {:>12}", "batch", "txs", "tx/s", "us/tx", "syncs/s");
    for (batch, transactions) in [(1, 1000), (8, 4000), (64, 20_000)] {
        let median = support::median_of(RUNS, || run(batch, transactions));
        let secs = median.as_secs_f64();
        let syncs = transactions.div_ceil(batch) as f64;
        println!(
            "{batch:>6} {transactions:>8} {:>12.0} {:>12.1} {:>12.0}",
            transactions as f64 / secs,
            secs * 1e6 / transactions as f64,
            syncs / secs
        );
    }
}
