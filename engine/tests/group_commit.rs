//! Group commit: a durability step takes what is queued, in order, up to
//! the count budget, the byte budget and what one commit of the log holds
//! (each bound met exactly still fits); a transaction larger than the byte
//! budget still goes, alone. The queue and the log agree after every step.

mod dbtest;

use dbtest::{open, sim_fs};
use faultline_engine::datastore::{ColumnDef, ColumnType, Value, bootstrap_mutations, encoded_len};
use faultline_engine::{Database, Options};

/// A database with an empty `blobs (b bytes)` table, durable.
fn with_blobs(options: &Options) -> Database {
    let (mut db, _) = open(&sim_fs(1), options.clone()).unwrap();
    let mut tx = db.begin();
    tx.create_table("blobs", vec![ColumnDef::new("b", ColumnType::Bytes)]).unwrap();
    db.commit(tx).unwrap();
    assert_eq!(db.durability_step(), Some(1));
    db
}

/// Commits one transaction per entry of `sizes` (a blob of that many
/// bytes, distinct per transaction) without making any durable; returns
/// the record length of each.
fn commit_blobs(db: &mut Database, sizes: &[usize]) -> Vec<u64> {
    sizes
        .iter()
        .enumerate()
        .map(|(i, size)| {
            let mut tx = db.begin();
            let mut blob = vec![0u8; *size];
            blob[0] = i as u8;
            tx.insert("blobs", &[Value::Bytes(blob)]).unwrap();
            let record = tx.record_len() as u64;
            db.commit(tx).unwrap();
            db.assert_invariants();
            record
        })
        .collect()
}

/// Runs durability steps until the queue is empty; returns how many
/// transactions each step's commit held, checking the durable offset and
/// the queue against the log after each.
fn drain(db: &mut Database) -> Vec<usize> {
    let mut batches = Vec::new();
    while db.queued() > 0 {
        let before = db.durable_offset().unwrap();
        let durable = db.durability_step().expect("something was queued");
        db.assert_invariants();
        let commit = db.log().commits_from(before + 1).next().unwrap().unwrap();
        assert_eq!(commit.min_tx_offset, before + 1, "the batch starts after the durable offset");
        assert_eq!(
            durable,
            before + commit.transactions.len() as u64,
            "the whole batch is durable"
        );
        batches.push(commit.transactions.len());
    }
    assert_eq!(db.durable_offset(), db.latest().offset());
    batches
}

#[test]
fn a_step_takes_at_most_commit_txs_max_transactions() {
    let mut options = Options::default();
    options.durability.commit_txs_max = 3;
    let mut db = with_blobs(&options);
    commit_blobs(&mut db, &[8; 8]);
    assert_eq!(db.queued(), 8);
    assert_eq!(drain(&mut db), [3, 3, 2]);
}

#[test]
fn a_step_fills_the_byte_budget_exactly_and_a_larger_transaction_goes_alone() {
    let mut options = Options::default();
    let mut db = with_blobs(&options);
    let records = commit_blobs(&mut db, &[40]);
    let record = records[0];
    assert_eq!(drain(&mut db), [1]);
    // Room for exactly two such records; the fourth is three times larger.
    options.durability.commit_bytes_max = 2 * record;
    drop(db);
    let mut db = with_blobs(&options);
    let records = commit_blobs(&mut db, &[40, 40, 40, 40 + 2 * record as usize, 40]);
    assert_eq!(records[..3], [record; 3]);
    assert!(records[3] > options.durability.commit_bytes_max);
    assert_eq!(drain(&mut db), [2, 1, 1, 1]);
}

#[test]
fn a_step_stops_where_one_more_record_would_not_fit_a_commit() {
    // Blobs as large as the bootstrap transaction, so that a segment for
    // two of them also takes the bootstrap.
    let blob = encoded_len(&bootstrap_mutations());
    let mut probe = with_blobs(&Options::default());
    let record = commit_blobs(&mut probe, &[blob])[0];
    // Segments whose commits hold two such records, exactly or with room
    // for all but one byte of a third: segment header (16), commit header
    // and checksum (26), and per record its length (4).
    for slack in [0, 4 + record - 1] {
        let mut options = Options::default();
        options.log.max_segment_size = 16 + 26 + 2 * (4 + record) + slack;
        let mut db = with_blobs(&options);
        commit_blobs(&mut db, &[blob; 5]);
        assert_eq!(drain(&mut db), [2, 2, 1], "slack={slack}");
    }
}
