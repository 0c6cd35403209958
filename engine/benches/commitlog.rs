//! Commitlog benchmarks (DESIGN 6), on the real filesystem:
//!
//! - group commit: transactions per second and MB/s with 1, 8 and 64
//!   transactions of 128 bytes per commit and a sync after every commit,
//!   side by side with a raw `write_at` + `fdatasync` loop writing the same
//!   bytes in the same batches (the physical limit);
//! - traversal: opening the log (which verifies every commit) and reading
//!   every transaction back, against a plain sequential read of the same
//!   files, and against the least any open that keeps FORMAT.md's rules
//!   can do: that read, plus a CRC32C of every byte (every commit is
//!   verified), plus writing the last segment again and syncing it
//!   (recovery's durable rewrite), each timed alone with std calls.
//!
//! Every measurement runs `FAULTLINE_BENCH_RUNS` times (default 9); the
//! medians are reported. The files go under `FAULTLINE_BENCH_DIR` if set,
//! else under Cargo's target tmpdir (on the disk the build is on, not a
//! tmpfs). Run: `cargo bench -p faultline-engine --bench commitlog`.

// A benchmark reads the clock, talks to std::fs directly (the raw loop is
// the baseline the seam is measured against) and prints its results: the
// engine's rules against those do not apply here.
#![allow(clippy::disallowed_methods, clippy::disallowed_types, clippy::print_stdout)]

use std::fs::{self, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use faultline_engine::commitlog::{Commit, Commitlog, Options, segment_file_name};
use faultline_engine::fs::RealFs;

const TX_LEN: usize = 128;
const TXS_PER_COMMIT: [usize; 3] = [1, 8, 64];
/// The segment header the raw loop writes too, so both write the same bytes.
const SEGMENT_HEADER: &[u8; 16] = b"FLTLOG\0\0\x01\0\x01\0\0\0\0\0";

fn main() {
    let runs = env_usize("FAULTLINE_BENCH_RUNS", 9);
    let n_commits = env_usize("FAULTLINE_BENCH_COMMITS", 2000);
    let base = bench_dir();
    println!(
        "commitlog benchmark: dir={} fs={} runs={runs} (medians)",
        base.display(),
        fs_type(&base)
    );
    println!();
    group_commit(&base, runs, n_commits);
    println!();
    traversal(&base, runs);
}

/// One group-commit configuration's numbers.
struct Throughput {
    elapsed: Duration,
    txs: usize,
    bytes: u64,
}

impl Throughput {
    fn txs_per_second(&self) -> f64 {
        self.txs as f64 / self.elapsed.as_secs_f64()
    }

    fn mb_per_second(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.elapsed.as_secs_f64()
    }
}

fn group_commit(base: &Path, runs: usize, n_commits: usize) {
    println!("group commit: {n_commits} commits, {TX_LEN}-byte transactions, one sync per commit");
    println!(
        "{:>8} {:>14} {:>10} {:>14} {:>10} {:>8} {:>12}",
        "txs/cmt", "log tx/s", "log MB/s", "raw tx/s", "raw MB/s", "ratio", "sync µs"
    );
    for txs_per_commit in TXS_PER_COMMIT {
        let commits = make_commits(n_commits, txs_per_commit);
        let encoded: Vec<Vec<u8>> = commits
            .iter()
            .map(|commit| {
                let mut bytes = Vec::new();
                commit.encode(&mut bytes);
                bytes
            })
            .collect();
        let log = median(runs, || commitlog_run(base, &commits));
        let raw = median(runs, || raw_run(base, &encoded));
        assert_eq!(log.bytes, raw.bytes, "both write the same bytes");
        println!(
            "{:>8} {:>14.0} {:>10.2} {:>14.0} {:>10.2} {:>8.2} {:>12.0}",
            txs_per_commit,
            log.txs_per_second(),
            log.mb_per_second(),
            raw.txs_per_second(),
            raw.mb_per_second(),
            log.txs_per_second() / raw.txs_per_second(),
            raw.elapsed.as_secs_f64() * 1e6 / n_commits as f64,
        );
    }
    println!("(ratio = log / raw throughput; sync µs = raw time per commit)");
}

fn make_commits(n_commits: usize, txs_per_commit: usize) -> Vec<Commit> {
    (0..n_commits)
        .map(|index| {
            let min_tx_offset = (index * txs_per_commit) as u64;
            let transactions = (0..txs_per_commit)
                .map(|tx| {
                    let seed = min_tx_offset as usize + tx;
                    (0..TX_LEN).map(|i| (seed.wrapping_mul(31) ^ i) as u8).collect()
                })
                .collect();
            Commit { min_tx_offset, epoch: 1, transactions }
        })
        .collect()
}

/// Appends and syncs every commit through the commitlog.
fn commitlog_run(base: &Path, commits: &[Commit]) -> Throughput {
    let dir = tempfile::tempdir_in(base).unwrap();
    let log_dir = dir.path().join("log");
    let mut log = Commitlog::open(Arc::new(RealFs::new()), &log_dir, Options::default()).unwrap();
    let records: Vec<Vec<&[u8]>> = commits
        .iter()
        .map(|commit| commit.transactions.iter().map(Vec::as_slice).collect())
        .collect();
    let start = Instant::now();
    for (commit, records) in commits.iter().zip(&records) {
        log.append_commit(commit.min_tx_offset, commit.epoch, records).unwrap();
        log.sync();
    }
    let elapsed = start.elapsed();
    let bytes = segment_bytes(&log_dir);
    let txs = commits.iter().map(|commit| commit.transactions.len()).sum();
    Throughput { elapsed, txs, bytes }
}

/// Writes the same bytes with `write_at` + `fdatasync` per commit, after a
/// synced header, as the commitlog does.
fn raw_run(base: &Path, encoded: &[Vec<u8>]) -> Throughput {
    let dir = tempfile::tempdir_in(base).unwrap();
    let path = dir.path().join(segment_file_name(0));
    let file = OpenOptions::new().read(true).write(true).create_new(true).open(&path).unwrap();
    file.write_all_at(SEGMENT_HEADER, 0).unwrap();
    file.sync_data().unwrap();
    let mut offset = SEGMENT_HEADER.len() as u64;
    let start = Instant::now();
    for bytes in encoded {
        file.write_all_at(bytes, offset).unwrap();
        file.sync_data().unwrap();
        offset += bytes.len() as u64;
    }
    let elapsed = start.elapsed();
    let txs = count_txs(encoded);
    Throughput { elapsed, txs, bytes: offset }
}

/// The transactions in encoded commits (the `n` field at bytes 16..18).
fn count_txs(encoded: &[Vec<u8>]) -> usize {
    encoded.iter().map(|bytes| usize::from(u16::from_le_bytes([bytes[16], bytes[17]]))).sum()
}

fn segment_bytes(dir: &Path) -> u64 {
    fs::read_dir(dir).unwrap().map(|entry| entry.unwrap().metadata().unwrap().len()).sum()
}

fn traversal(base: &Path, runs: usize) {
    let n_txs = 200_000;
    let options = Options { max_segment_size: 8 << 20, ..Options::default() };
    let dir = tempfile::tempdir_in(base).unwrap();
    let log_dir = dir.path().join("log");
    let mut log = Commitlog::open(Arc::new(RealFs::new()), &log_dir, options.clone()).unwrap();
    for commit in make_commits(n_txs / 8, 8) {
        let records: Vec<&[u8]> = commit.transactions.iter().map(Vec::as_slice).collect();
        log.append_commit(commit.min_tx_offset, commit.epoch, &records).unwrap();
    }
    log.sync();
    let n_segments = log.segments().len();
    drop(log);
    let bytes = segment_bytes(&log_dir);
    println!(
        "traversal: {n_txs} transactions of {TX_LEN} bytes, {:.1} MB in {n_segments} segments (warm page cache)",
        bytes as f64 / 1e6
    );

    let open = median_duration(runs, || {
        let start = Instant::now();
        let log = Commitlog::open(Arc::new(RealFs::new()), &log_dir, options.clone()).unwrap();
        let elapsed = start.elapsed();
        drop(log);
        elapsed
    });
    let log = Commitlog::open(Arc::new(RealFs::new()), &log_dir, options.clone()).unwrap();
    let read = median_duration(runs, || {
        let start = Instant::now();
        let mut n = 0usize;
        let mut checksum = 0u64;
        for tx in log.transactions_from(0) {
            let tx = tx.unwrap();
            checksum = checksum.wrapping_add(u64::from(tx.bytes[0]));
            n += 1;
        }
        let elapsed = start.elapsed();
        assert_eq!(n, n_txs);
        std::hint::black_box(checksum);
        elapsed
    });
    let mut paths: Vec<PathBuf> =
        fs::read_dir(&log_dir).unwrap().map(|entry| entry.unwrap().path()).collect();
    paths.sort();
    let plain = median_duration(runs, || {
        let start = Instant::now();
        let mut total = 0usize;
        for path in &paths {
            total += std::hint::black_box(fs::read(path).unwrap()).len();
        }
        let elapsed = start.elapsed();
        assert_eq!(total as u64, bytes);
        elapsed
    });
    // The floor's two other parts, each alone: what the open cannot skip
    // without verifying less or making less durable.
    let contents: Vec<Vec<u8>> = paths.iter().map(|path| fs::read(path).unwrap()).collect();
    let crc = median_duration(runs, || {
        let start = Instant::now();
        let mut crc = 0u32;
        for bytes in &contents {
            crc ^= crc32c::crc32c(bytes);
        }
        let elapsed = start.elapsed();
        std::hint::black_box(crc);
        elapsed
    });
    let last = contents.last().expect("the log has a segment");
    let rewrite = median_duration(runs, || {
        let copy = dir.path().join("rewrite-floor");
        let target = dir.path().join("rewrite-floor-target");
        let start = Instant::now();
        let file = OpenOptions::new().write(true).create(true).truncate(true).open(&copy).unwrap();
        file.write_all_at(last, 0).unwrap();
        file.sync_data().unwrap();
        fs::rename(&copy, &target).unwrap();
        fs::File::open(dir.path()).unwrap().sync_all().unwrap();
        start.elapsed()
    });
    let mb = bytes as f64 / 1e6;
    let row = |name: &str, elapsed: Duration| {
        println!(
            "{name:>28} {:>10.2} ms {:>10.0} MB/s {:>12.0} tx/s {:>8.2}x plain",
            elapsed.as_secs_f64() * 1e3,
            mb / elapsed.as_secs_f64(),
            n_txs as f64 / elapsed.as_secs_f64(),
            elapsed.as_secs_f64() / plain.as_secs_f64(),
        );
    };
    row("open (verifies every CRC)", open);
    row("read every tx (verifies)", read);
    row("open + read every tx", open + read);
    row("plain sequential read", plain);
    println!("the floor of an open, each part timed alone:");
    row("CRC32C of every byte", crc);
    // Only the last segment is rewritten: the whole log's MB/s and tx/s
    // would not describe this part, so its row gives the time alone.
    println!(
        "{:>28} {:>10.2} ms {:>37.2}x plain",
        format!("rewrite last ({:.1} MB) + sync", last.len() as f64 / 1e6),
        rewrite.as_secs_f64() * 1e3,
        rewrite.as_secs_f64() / plain.as_secs_f64(),
    );
    row("floor: read + CRC + rewrite", plain + crc + rewrite);
}

fn median(runs: usize, mut run: impl FnMut() -> Throughput) -> Throughput {
    let mut results: Vec<Throughput> = (0..runs).map(|_| run()).collect();
    results.sort_by_key(|result| result.elapsed);
    results.swap_remove(results.len() / 2)
}

fn median_duration(runs: usize, mut run: impl FnMut() -> Duration) -> Duration {
    let mut results: Vec<Duration> = (0..runs).map(|_| run()).collect();
    results.sort();
    results[results.len() / 2]
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|value| value.parse().ok()).unwrap_or(default).max(1)
}

fn bench_dir() -> PathBuf {
    let dir = std::env::var_os("FAULTLINE_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("commitlog-bench"));
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// The type of the filesystem `dir` is on, from /proc/mounts (the longest
/// mount point that is a prefix of it).
fn fs_type(dir: &Path) -> String {
    let dir = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned());
    let mounts = fs::read_to_string("/proc/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (_device, mount, kind) = (fields.next()?, fields.next()?, fields.next()?);
            dir.starts_with(mount).then(|| (mount.len(), kind.to_owned()))
        })
        .max()
        .map_or_else(|| "unknown".to_owned(), |(_, kind)| kind)
}
