//! Writes the seed corpus of the fuzz targets: one small valid input per
//! target (plus a torn one where that is interesting), so that fuzzing
//! starts from inputs that reach deep into the decoders.
//!
//! `cargo run -p faultline-engine --example fuzz_seeds -- fuzz/corpus`
// A tool that writes files and reports on stdout.
#![allow(clippy::disallowed_methods, clippy::disallowed_types, clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use faultline_engine::commitlog::{self, Commit, Commitlog};
use faultline_engine::datastore::{
    ColumnDef, ColumnType, Mutation, Page, TableId, TableSchema, Value, encode_row, encode_tx,
};
use faultline_engine::fs::RealFs;
use faultline_engine::snapshot::{
    Manifest, PageRef, SnapshotKind, TableEntry, encode_manifest, encode_page,
};

fn write(dir: &Path, target: &str, name: &str, bytes: &[u8]) {
    let dir = dir.join(target);
    std::fs::create_dir_all(&dir).expect("create the corpus directory");
    std::fs::write(dir.join(name), bytes).expect("write a seed");
    println!("{target}/{name}: {} bytes", bytes.len());
}

fn main() {
    let out = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "fuzz/corpus".to_owned()));
    let row = encode_row(&[Value::U64(7), Value::String("seven".into())]);
    let tx = encode_tx(&[
        Mutation::Insert { table: TableId(4096), row: row.clone() },
        Mutation::Delete { table: TableId(4096), row: Arc::from(&b""[..]) },
    ]);
    write(&out, "tx_decode", "insert-delete", &tx);

    let commit =
        Commit { min_tx_offset: 0, epoch: 1, transactions: vec![tx.clone(), b"second".to_vec()] };
    let mut commit_bytes = Vec::new();
    commit.encode(&mut commit_bytes);
    write(&out, "commit_decode", "two-transactions", &commit_bytes);

    let dir = tempfile::tempdir().expect("a scratch directory");
    let log_dir = dir.path().join("log");
    let options = commitlog::Options { max_segment_size: 1 << 20, write_buffer_size: 0 };
    let mut log = Commitlog::open(Arc::new(RealFs::new()), &log_dir, options).expect("open");
    for offset in 0..3 {
        log.append_commit(offset, 1, &[&tx]).expect("append");
    }
    log.sync();
    let segment = std::fs::read(commitlog::segment_path(&log_dir, 0)).expect("read the segment");
    write(&out, "segment_open", "three-commits", &segment);
    write(&out, "segment_open", "torn-tail", &segment[..segment.len() - 5]);

    let mut page = Page::new();
    page.insert(row.clone(), 3);
    let hole = page.insert(Arc::from(&b"gone"[..]), 4);
    page.remove(hole, 5);
    page.insert(Arc::from(&row[..8]), 6);
    let page_bytes = encode_page(TableId(4096), 0, &page);
    write(&out, "page_decode", "two-rows-and-a-hole", &page_bytes);

    let schema = TableSchema::new(
        TableId(4096),
        "accounts",
        vec![ColumnDef::new("id", ColumnType::U64), ColumnDef::new("owner", ColumnType::String)],
    );
    let crc = u32::from_le_bytes(page_bytes[page_bytes.len() - 4..].try_into().expect("4 bytes"));
    let page_ref = PageRef { source: 0, len: page_bytes.len() as u32, crc };
    let manifest = Manifest {
        offset: 0,
        kind: SnapshotKind::Full,
        parent: None,
        chain_len: 0,
        log_commit_crc: 0,
        tables: vec![TableEntry { schema, pages: vec![page_ref] }],
    };
    let manifest_bytes = encode_manifest(&manifest);
    write(&out, "manifest_decode", "one-table", &manifest_bytes);
}
