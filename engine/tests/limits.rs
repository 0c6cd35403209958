//! Size limits hold exactly at their boundaries: the largest transaction a
//! commit can take commits and one byte more is refused; a segment size
//! that cannot hold the bootstrap transaction is refused at open, and the
//! smallest one that can opens; durability bounds outside what the log
//! takes, and snapshot settings that cannot work, are refused.

mod dbtest;

use dbtest::{open, sim_fs};
use faultline_engine::datastore::{ColumnDef, ColumnType, Value, bootstrap_mutations, encoded_len};
use faultline_engine::db::CommitError;
use faultline_engine::{OpenError, Options};

/// Segment header (16) + commit header (22) + record length (4) + crc (4).
const OVERHEAD: u64 = 16 + 22 + 4 + 4;

#[test]
fn the_largest_record_commits_and_one_byte_more_is_refused() {
    let fs = sim_fs(1);
    let mut options = Options::default();
    options.log.max_segment_size = 4096;
    let (mut db, _) = open(&fs, options.clone()).unwrap();
    let mut tx = db.begin();
    tx.create_table("blobs", vec![ColumnDef::new("b", ColumnType::Bytes)]).unwrap();
    db.commit(tx).unwrap();
    db.durability_step();
    let max = options.log.max_segment_size - OVERHEAD;
    // A record: mutation count (4) + kind, table, row length (9) + the row,
    // which is the bytes' length prefix (4) and the bytes.
    let payload = |record: u64| vec![7u8; (record - 4 - 9 - 4) as usize];
    let mut tx = db.begin();
    tx.insert("blobs", &[Value::Bytes(payload(max))]).unwrap();
    assert_eq!(tx.record_len() as u64, max);
    let offset = db.commit(tx).unwrap();
    assert_eq!(db.durability_step(), Some(offset), "the largest record fits a segment alone");

    let mut tx = db.begin();
    tx.insert("blobs", &[Value::Bytes(payload(max + 1))]).unwrap();
    assert_eq!(db.commit(tx), Err(CommitError::TooLarge { bytes: max + 1, max }));
    assert_eq!(db.latest().offset(), Some(offset), "a refused transaction changes nothing");
}

#[test]
fn open_refuses_segments_too_small_for_the_bootstrap_transaction() {
    let bootstrap = encoded_len(&bootstrap_mutations()) as u64;
    let mut options = Options::default();
    options.log.max_segment_size = bootstrap + OVERHEAD - 1;
    match open(&sim_fs(2), options.clone()) {
        Err(OpenError::Options(message)) => assert!(message.contains("bootstrap"), "{message}"),
        other => panic!("expected an options error, got {other:?}"),
    }
    options.log.max_segment_size = bootstrap + OVERHEAD;
    let (db, report) = open(&sim_fs(3), options).unwrap();
    assert!(report.bootstrapped);
    assert_eq!(db.durable_offset(), Some(0));
}

#[test]
fn durability_bounds_the_log_cannot_honour_are_refused_at_open() {
    let max = faultline_engine::commitlog::TRANSACTIONS_PER_COMMIT_MAX;
    let refused = [(0, 1), (max + 1, 1), (1, 0)];
    for (commit_txs_max, commit_bytes_max) in refused {
        let mut options = Options::default();
        options.durability.commit_txs_max = commit_txs_max;
        options.durability.commit_bytes_max = commit_bytes_max;
        match open(&sim_fs(4), options) {
            Err(OpenError::Options(message)) => {
                assert!(message.starts_with("commit-"), "{message}")
            }
            other => panic!("txs={commit_txs_max} bytes={commit_bytes_max}: {other:?}"),
        }
    }
    let mut options = Options::default();
    options.durability.commit_txs_max = max;
    options.durability.commit_bytes_max = 1;
    assert!(open(&sim_fs(5), options).is_ok(), "the widest bounds the log takes");
}

#[test]
fn snapshot_options_that_cannot_work_are_refused_at_open() {
    let mut never = Options::default();
    never.snapshots.every_txs = 0;
    let mut keep_none = Options::default();
    keep_none.snapshots.retain = 0;
    for (options, expected) in [
        (never, "snapshots.every-txs must be at least 1"),
        (keep_none, "snapshots.retain must be at least 1"),
    ] {
        match open(&sim_fs(6), options) {
            Err(OpenError::Options(message)) => assert_eq!(message, expected),
            other => panic!("{expected}: {other:?}"),
        }
    }
    let mut smallest = Options::default();
    smallest.snapshots.every_txs = 1;
    smallest.snapshots.retain = 1;
    assert!(open(&sim_fs(7), smallest).is_ok());
}
