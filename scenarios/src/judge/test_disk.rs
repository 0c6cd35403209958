//! A real database on the simulated filesystem, for the judge's unit tests:
//! several segments, snapshots, the whole log kept.

use std::path::Path;
use std::sync::Arc;

use faultline_engine::datastore::{ColumnDef, ColumnType, Value};
use faultline_engine::fs::Fs;
use faultline_engine::{Database, Options};
use faultline_sim::{DiskImage, FaultConfig, Seed, SimFs, View};

use crate::runner::ROOT;

/// The options of the test database: 4 KiB segments, a snapshot every 10
/// transactions (and on rotation), three retained, the whole log kept.
pub(super) fn options() -> Options {
    let mut options = Options::default();
    options.log.max_segment_size = 4 << 10;
    options.snapshots.every_txs = 10;
    options.snapshots.retain = 3;
    options.snapshots.remove_old_segments = false;
    options
}

/// A database that committed `n` inserts of 200-byte rows, each made
/// durable, with a snapshot step after each; its disk (page cache) image
/// and its durable offset.
pub(super) fn disk(n: u64) -> (SimFs, DiskImage, u64) {
    let fs = SimFs::new(Seed(7), FaultConfig::none());
    fs.create_dir(Path::new(ROOT)).unwrap();
    fs.sync_dir(Path::new("/")).unwrap();
    let (mut db, _) = Database::open(Arc::new(fs.clone()), Path::new(ROOT), options()).unwrap();
    let mut tx = db.begin();
    let columns =
        vec![ColumnDef::new("id", ColumnType::U64), ColumnDef::new("v", ColumnType::Bytes)];
    tx.create_table("t", columns).unwrap();
    db.commit(tx).unwrap();
    for id in 0..n {
        let mut tx = db.begin();
        tx.insert("t", &[Value::U64(id), Value::Bytes(vec![id as u8; 200])]).unwrap();
        db.commit(tx).unwrap();
        db.durability_step();
        db.snapshot_step().unwrap();
    }
    let durable = db.durable_offset().unwrap();
    drop(db);
    let image = fs.image(View::Volatile);
    (fs, image, durable)
}
