//! What each fuzz target does with its input, shared by the cargo-fuzz
//! targets (nightly) and the stable test that replays the checked-in corpus
//! (`tests/tests/fuzz_corpus.rs`). Each body must never panic: decoders
//! answer untrusted bytes with errors. Each returns whether the input
//! decoded, so the corpus test can show both paths are covered.

use std::path::Path;
use std::sync::Arc;

use faultline_engine::commitlog::{self, Commit, Commitlog};
use faultline_engine::datastore::{TableId, decode_tx};
use faultline_engine::fs::Fs;
use faultline_engine::snapshot::{SnapshotStore, decode_manifest, decode_page};
use faultline_sim::{FaultConfig, Seed, SimFs};

/// One commit decoded from the front of `data`.
pub fn commit_decode(data: &[u8]) -> bool {
    match Commit::decode(data) {
        Ok((commit, len)) => {
            assert!(len as usize <= data.len(), "a decoded commit lies inside its input");
            assert!(!commit.transactions.is_empty());
            let mut again = Vec::new();
            commit.encode(&mut again);
            assert_eq!(again, data[..len as usize], "decode then encode gives the bytes back");
            true
        }
        Err(_) => false,
    }
}

/// `data` as the only segment of a log: open (recovery, torn-tail repair)
/// and read every transaction back.
pub fn segment_open(data: &[u8]) -> bool {
    let fs = SimFs::new(Seed(0), FaultConfig::none());
    let dir = Path::new("/log");
    fs.create_dir(dir).expect("a fresh SimFs takes a directory");
    let segment = fs.create(&commitlog::segment_path(dir, 0)).expect("and a file in it");
    segment.write_at(data, 0).expect("SimFs without faults writes");
    let options = commitlog::Options { max_segment_size: 1 << 20, write_buffer_size: 0 };
    let Ok(mut log) = Commitlog::open(Arc::new(fs.clone()), dir, options) else { return false };
    let read: Result<Vec<_>, _> = log.transactions_from(0).collect();
    let Ok(read) = read else { return false };
    // A log that opened goes on: the next commit appends after what it holds.
    let next = log.next_offset();
    assert_eq!(read.last().map(|t| t.tx_offset + 1).unwrap_or(next), next);
    log.append_commit(next, log.epoch(), &[b"after"]).expect("an opened log takes the next commit");
    log.sync();
    true
}

/// `data` as a snapshot manifest.
pub fn manifest_decode(data: &[u8]) -> bool {
    decode_manifest(data).is_ok()
}

/// `data` as page 0 of table 4096.
pub fn page_decode(data: &[u8]) -> bool {
    decode_page(data, TableId(4096), 0).is_ok()
}

/// `data` as a transaction record.
pub fn tx_decode(data: &[u8]) -> bool {
    decode_tx(data).is_ok()
}

/// A real snapshot (a small database's, at its offset) with `data` written
/// over one of its files: `data[0]` picks the file, `data[1..3]` the byte
/// offset, the rest is written there. Loading it must answer with an error
/// or a state that passes the engine's own consistency check, never panic.
pub fn snapshot_load(data: &[u8]) -> bool {
    let (offset, files) = base_snapshot();
    let fs = SimFs::new(Seed(0), FaultConfig::none());
    let dir =
        Path::new("/db/snapshots").join(faultline_engine::snapshot::snapshot_dir_name(*offset));
    for path in ["/db", "/db/snapshots"] {
        fs.create_dir(Path::new(path)).expect("mkdir");
    }
    fs.create_dir(&dir).expect("mkdir");
    for (index, (name, bytes)) in files.iter().enumerate() {
        let file = fs.create(&dir.join(name)).expect("create");
        file.write_at(bytes, 0).expect("write");
        if let [pick, lo, hi, patch @ ..] = data
            && usize::from(*pick) % files.len() == index
        {
            file.write_at(patch, u64::from(u16::from_le_bytes([*lo, *hi]))).expect("write");
        }
    }
    let store = SnapshotStore::open(Arc::new(fs), Path::new("/db")).expect("the store opens");
    match store.load(*offset) {
        Ok((_, state)) => {
            state.check().expect("a loaded snapshot is consistent");
            true
        }
        Err(_) => false,
    }
}

/// A snapshot's offset and its files (name, bytes).
type SnapshotFiles = (u64, Vec<(String, Vec<u8>)>);

/// The files of a small database's snapshot, built once.
fn base_snapshot() -> &'static SnapshotFiles {
    static BASE: std::sync::OnceLock<SnapshotFiles> = std::sync::OnceLock::new();
    BASE.get_or_init(|| {
        use faultline_engine::datastore::{ColumnDef, ColumnType, Value};
        let fs = SimFs::new(Seed(0), FaultConfig::none());
        fs.create_dir(Path::new("/db")).expect("mkdir");
        let mut options = faultline_engine::Options::default();
        options.snapshots.every_txs = 1;
        let (mut db, _) =
            faultline_engine::Database::open(Arc::new(fs.clone()), Path::new("/db"), options)
                .expect("a fresh database opens");
        let mut tx = db.begin();
        let columns =
            vec![ColumnDef::new("id", ColumnType::U64), ColumnDef::new("note", ColumnType::String)];
        tx.create_table("t", columns).expect("create");
        for id in 0..40 {
            tx.insert("t", &[Value::U64(id), Value::String("x".repeat(id as usize * 7))])
                .expect("insert");
        }
        db.commit(tx).expect("commit");
        db.durability_step();
        let offset = db.snapshot_step().expect("snapshot").expect("a snapshot is due");
        let dir = db.snapshots().dir().join(faultline_engine::snapshot::snapshot_dir_name(offset));
        let files = fs
            .list_dir(&dir)
            .expect("list")
            .into_iter()
            .map(|entry| {
                let bytes =
                    fs.open(&dir.join(&entry.name)).expect("open").read_to_end().expect("read");
                (entry.name, bytes)
            })
            .collect();
        (offset, files)
    })
}

/// Bytes into a whole case (engine options, transactions, a fault
/// schedule, with `arbitrary`), run on the simulated filesystem and
/// judged; a failure panics with the case and its report. Whether the
/// bytes made a case.
pub fn scenario(data: &[u8]) -> bool {
    faultline_scenarios::fuzzing::check_bytes(data)
}

/// Bytes into a hostile history (with `arbitrary`): a genuine history
/// the engine wrote, forged by the harness (checksummed, well-formed,
/// wrong in meaning), then opened; the engine must open it as FORMAT.md
/// allows or refuse naming file, offset and reason. Anything else panics
/// with the forgery. Whether the bytes made a case.
pub fn hostile_history(data: &[u8]) -> bool {
    faultline_scenarios::hostile_history::check_bytes(data)
}

/// A fuzz target's body: handles one input, says whether it decoded.
pub type Body = fn(&[u8]) -> bool;

/// Every target, by name: what the corpus test iterates.
pub const TARGETS: [(&str, Body); 8] = [
    ("commit_decode", commit_decode),
    ("segment_open", segment_open),
    ("manifest_decode", manifest_decode),
    ("page_decode", page_decode),
    ("tx_decode", tx_decode),
    ("snapshot_load", snapshot_load),
    ("scenario", scenario),
    ("hostile_history", hostile_history),
];
