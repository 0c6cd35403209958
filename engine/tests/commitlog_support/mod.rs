//! Helpers shared by the `commitlog_*` integration tests: a SimFs with the
//! log's parent directory, seeded workloads, and the reference model (a
//! `Vec` of the commits appended) the tests judge the log against.
#![allow(dead_code)] // Each test crate uses its own subset.

use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use faultline_engine::commitlog::{Commit, Commitlog, OpenError, Options, ReadError};
use faultline_engine::fs::Fs;
use faultline_sim::{FaultConfig, Seed, SimFs, SimRng, Stream};
use rand::RngExt;

/// Where the tests keep the log on a SimFs.
pub(crate) const LOG_DIR: &str = "/db/log";

pub(crate) fn log_dir() -> PathBuf {
    PathBuf::from(LOG_DIR)
}

/// A fault-free SimFs holding a durable `/db`.
pub(crate) fn sim(seed: u64) -> SimFs {
    let fs = SimFs::new(Seed(seed), FaultConfig::none());
    fs.create_dir(Path::new("/db")).unwrap();
    fs.sync_dir(Path::new("/")).unwrap();
    fs
}

/// Options with small segments, so that a few commits rotate.
pub(crate) fn small(max_segment_size: u64) -> Options {
    Options { max_segment_size, write_buffer_size: 128 }
}

pub(crate) fn open(fs: &SimFs, options: &Options) -> Result<Commitlog, OpenError> {
    Commitlog::open(Arc::new(fs.clone()), &log_dir(), options.clone())
}

/// A seeded workload: `n_commits` commits of 1..=`txs_max` transactions of
/// 0..`tx_len_max` bytes, epochs that sometimes step up.
pub(crate) fn workload(
    seed: u64,
    n_commits: usize,
    txs_max: usize,
    tx_len_max: usize,
) -> Vec<Commit> {
    let mut rng = Seed(seed).rng(Stream::Workload);
    let mut commits = Vec::new();
    let mut offset = 0;
    let mut epoch = 0;
    for _ in 0..n_commits {
        let n = rng.random_range(1..=txs_max);
        let transactions: Vec<Vec<u8>> = (0..n).map(|_| tx(&mut rng, tx_len_max)).collect();
        epoch += u64::from(rng.random_bool(0.2));
        commits.push(Commit { min_tx_offset: offset, epoch, transactions });
        offset += n as u64;
    }
    commits
}

fn tx(rng: &mut SimRng, len_max: usize) -> Vec<u8> {
    let len = rng.random_range(0..len_max);
    (0..len).map(|_| rng.random()).collect()
}

/// Appends `commit` (which must continue the log).
pub(crate) fn append(log: &mut Commitlog, commit: &Commit) {
    let records: Vec<&[u8]> = commit.transactions.iter().map(Vec::as_slice).collect();
    log.append_commit(commit.min_tx_offset, commit.epoch, &records).unwrap();
}

/// Appends and syncs every commit, one sync per commit (as the datastore's
/// durability step does).
pub(crate) fn append_synced(log: &mut Commitlog, commits: &[Commit]) {
    for commit in commits {
        append(log, commit);
        log.sync();
    }
}

pub(crate) fn read_all(log: &Commitlog) -> Result<Vec<Commit>, ReadError> {
    log.commits_from(0).collect()
}

/// Asserts that `read` is a prefix of `model` that holds every offset up to
/// `durable` (an acknowledged commit is never lost, nothing is invented).
pub(crate) fn assert_durable_prefix(read: &[Commit], model: &[Commit], durable: Option<u64>) {
    assert!(
        read.len() <= model.len(),
        "read {} commits, only {} appended",
        read.len(),
        model.len()
    );
    for (index, (got, want)) in read.iter().zip(model).enumerate() {
        assert_eq!(got, want, "commit {index} differs from what was appended");
    }
    if let Some(durable) = durable {
        let end = read.last().map_or(0, |commit| commit.tx_offsets().end);
        assert!(end > durable, "durable offset {durable} lost: log ends before {end}");
    }
}

/// Runs `f`, which must panic with the poison message; returns the message.
pub(crate) fn expect_poison(f: impl FnOnce()) -> String {
    let payload = panic::catch_unwind(AssertUnwindSafe(f)).expect_err("expected a poison panic");
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default();
    assert!(message.starts_with("commitlog poisoned:"), "not a poison panic: {message:?}");
    message
}

/// Silences the default panic hook's output for the expected poison panics
/// (other panics still print).
pub(crate) fn quiet_poison_panics() {
    let default = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        let poison = info
            .payload()
            .downcast_ref::<String>()
            .is_some_and(|m| m.starts_with("commitlog poisoned:"));
        if !poison {
            default(info);
        }
    }));
}

/// The segment files of the log, by name.
pub(crate) fn segment_files(fs: &SimFs) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs
        .list_dir(&log_dir())
        .unwrap()
        .into_iter()
        .map(|entry| log_dir().join(entry.name))
        .collect();
    files.sort();
    files
}

pub(crate) fn file_bytes(fs: &SimFs, path: &Path) -> Vec<u8> {
    fs.open(path).unwrap().read_to_end().unwrap()
}

/// Flips one bit of a file through the Fs, durably.
pub(crate) fn flip_bit(fs: &SimFs, path: &Path, byte: u64, bit: u8) {
    let file = fs.open(path).unwrap();
    let mut buf = [0u8; 1];
    file.read_exact_at(&mut buf, byte).unwrap();
    buf[0] ^= 1 << bit;
    file.write_at(&buf, byte).unwrap();
    file.sync_data().unwrap();
}

/// Cuts a file to `len`, durably.
pub(crate) fn cut(fs: &SimFs, path: &Path, len: u64) {
    let file = fs.open(path).unwrap();
    file.set_len(len).unwrap();
    file.sync_data().unwrap();
}

/// Appends bytes to a file, durably.
pub(crate) fn append_bytes(fs: &SimFs, path: &Path, bytes: &[u8]) {
    let file = fs.open(path).unwrap();
    let len = file.len().unwrap();
    file.write_at(bytes, len).unwrap();
    file.sync_data().unwrap();
}
