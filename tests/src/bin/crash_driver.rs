//! The crash driver: runs the kill test's workload (`faultline_tests::kill`)
//! against a database on the real filesystem until it is killed, printing
//! a line before each durability step (with the commit's length and where
//! it is written), one for each acknowledged (durable) offset, and one
//! around each snapshot persist.
//!
//! `crash_driver <dir> <seed> [paced]`: paced, it waits after each step's
//! line for a line on stdin before the commit (and exits at EOF), so that
//! a parent can arm a fault for that commit's write.
// A process that talks to its parent on stdout.
#![allow(clippy::print_stdout)]

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::Arc;

use faultline_engine::Database;
use faultline_engine::fs::RealFs;
use faultline_tests::kill::{CREATE_OFFSET, TABLE, columns, mutations, options};

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().expect("usage: crash_driver <dir> <seed>"));
    let seed: u64 = args.next().expect("usage: crash_driver <dir> <seed>").parse().expect("a seed");
    let paced = args.next().is_some_and(|arg| arg == "paced");
    let mut stdin = std::io::stdin().lock();
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
            tx.insert(TABLE, &insert).expect("insert");
            if let Some(delete) = delete {
                tx.delete(TABLE, &delete).expect("delete");
            }
        }
        // Whether this step's commit will start a new segment.
        let commit_len = 22 + 4 + tx.record_len() as u64 + 4;
        let head = db.log().head_len();
        let rotate = head > 16 && head + commit_len > options.log.max_segment_size;
        writeln!(out, "step rotate={rotate} offset={offset} len={commit_len} head={head}")
            .and_then(|()| out.flush())
            .expect("stdout");
        let mut go = String::new();
        if paced && stdin.read_line(&mut go).expect("stdin") == 0 {
            return;
        }
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
