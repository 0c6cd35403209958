//! The crash driver: runs the kill test's workload (`faultline_tests::kill`)
//! against a database on the real filesystem until it is killed, printing
//! a line before each durability step, one for each acknowledged (durable)
//! offset, and one around each snapshot persist.
//!
//! `crash_driver <dir> <seed>`
// A process that talks to its parent on stdout.
#![allow(clippy::print_stdout)]

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use faultline_engine::Database;
use faultline_engine::fs::RealFs;
use faultline_tests::kill::{CREATE_OFFSET, TABLE, columns, mutations, options};

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().expect("usage: crash_driver <dir> <seed>"));
    let seed: u64 = args.next().expect("usage: crash_driver <dir> <seed>").parse().expect("a seed");
    let options = options();
    let (mut db, _) = Database::open(Arc::new(RealFs::new()), &dir, options.clone()).expect("open");
    let mut out = std::io::stdout().lock();
    loop {
        let offset = db.latest().next_offset();
        let mut tx = db.begin();
        if offset == CREATE_OFFSET {
            tx.create_table(TABLE, columns()).expect("create the table");
        } else {
            let (insert, delete) = mutations(seed, offset);
            tx.insert(TABLE, insert).expect("insert");
            if let Some(delete) = delete {
                tx.delete(TABLE, &delete).expect("delete");
            }
        }
        // Whether this step's commit will start a new segment.
        let commit_len = 22 + 4 + tx.record_len() as u64 + 4;
        let head = db.log().head_len();
        let rotate = head > 16 && head + commit_len > options.log.max_segment_size;
        writeln!(out, "step rotate={rotate} offset={offset}")
            .and_then(|()| out.flush())
            .expect("stdout");
        db.commit(tx).expect("commit");
        let durable = db.durability_step().expect("a step after a commit makes it durable");
        writeln!(out, "acked {durable}").and_then(|()| out.flush()).expect("stdout");
        if let Some(job) = db.prepare_snapshot() {
            writeln!(out, "snapshot-begin {}", job.offset())
                .and_then(|()| out.flush())
                .expect("stdout");
            let rotations = db.rotations();
            let manifest = job.run().expect("snapshot");
            db.finish_snapshot(manifest, rotations).expect("finish the snapshot");
            writeln!(out, "snapshot-end").and_then(|()| out.flush()).expect("stdout");
        }
    }
}
