//! A failed write, short write, fsync or ENOSPC poisons the writer: it
//! panics with `commitlog poisoned:`, never retries, never reports more
//! durable, writes nothing more (not even on drop), and after a crash the
//! reopened log holds every commit synced before the fault and nothing torn.

mod commitlog_support;

use std::panic::{self, AssertUnwindSafe};

use commitlog_support::*;
use faultline_engine::commitlog::{Commit, Commitlog, Options};
use faultline_sim::{CrashMode, FaultClass, FaultConfig, SimFs};

const N_COMMITS: usize = 12;

/// A log with the first half of the workload synced.
fn half_synced(seed: u64, options: &Options) -> (SimFs, Commitlog, Vec<Commit>) {
    quiet_poison_panics();
    let fs = sim(seed);
    let commits = workload(seed, N_COMMITS, 3, 20);
    let mut log = open(&fs, options).unwrap();
    append_synced(&mut log, &commits[..N_COMMITS / 2]);
    (fs, log, commits)
}

/// Every later call that would write panics with the poison message and
/// writes nothing; neither does drop.
fn assert_stays_poisoned(fs: &SimFs, mut log: Commitlog, durable: Option<u64>, next: &Commit) {
    assert!(log.is_poisoned());
    assert_eq!(log.durable_offset(), durable, "a poisoned log never reports more durable");
    let mutations = fs.stats().mutations;
    let message = expect_poison(|| log.sync());
    assert!(message.contains("refusing to write after an earlier failure"), "{message}");
    expect_poison(|| log.flush());
    expect_poison(|| append(&mut log, next));
    assert_eq!(log.durable_offset(), durable);
    drop(log);
    assert_eq!(fs.stats().mutations, mutations, "a poisoned log writes nothing, not even on drop");
}

/// Crashes, restarts with faults off, and checks the log against the model.
fn crash_and_check(
    fs: &SimFs,
    mode: CrashMode,
    options: &Options,
    model: &[Commit],
    durable: Option<u64>,
) -> Vec<Commit> {
    fs.crash(mode);
    let fs = fs.reopen();
    fs.set_faults_enabled(false);
    let log = open(&fs, options).unwrap();
    let read = read_all(&log).unwrap();
    assert_durable_prefix(&read, model, durable);
    assert_eq!(log.durable_offset(), read.last().map(|c| c.tx_offsets().end - 1));
    read
}

fn poisoned_by(class: FaultClass, expected_cause: &str, mode: CrashMode) {
    // Segments large enough that the commit that meets the fault does not
    // rotate (rotation failures have their own test).
    let options = small(4096);
    let (fs, mut log, commits) = half_synced(0x5011 + class as u64, &options);
    let durable = log.durable_offset();
    assert!(durable.is_some());
    fs.set_fault_config(FaultConfig::none().with(class, 1.0));
    let next = &commits[N_COMMITS / 2];
    let message = expect_poison(|| {
        append(&mut log, next);
        log.sync();
    });
    let segment = log.segments().last().unwrap().path.clone();
    assert!(
        message.starts_with(&format!(
            "commitlog poisoned: {expected_cause}: segment={}",
            segment.display()
        )),
        "{message}"
    );
    assert!(message.contains("error="), "the message names the io error: {message}");
    assert_eq!(fs.fault_counts().get(class), 1, "the fault fired once: no retry");
    assert_stays_poisoned(&fs, log, durable, &commits[N_COMMITS / 2 + 1]);
    crash_and_check(&fs, mode, &options, &commits[..=N_COMMITS / 2], durable);
}

#[test]
fn a_write_error_poisons() {
    poisoned_by(FaultClass::WriteError, "write failed", CrashMode::PowerLoss);
    poisoned_by(FaultClass::WriteError, "write failed", CrashMode::ProcessCrash);
}

#[test]
fn a_short_write_poisons() {
    poisoned_by(FaultClass::ShortWrite, "write failed", CrashMode::PowerLoss);
    poisoned_by(FaultClass::ShortWrite, "write failed", CrashMode::ProcessCrash);
}

#[test]
fn an_fsync_error_poisons() {
    poisoned_by(FaultClass::FsyncError, "sync failed", CrashMode::PowerLoss);
    poisoned_by(FaultClass::FsyncError, "sync failed", CrashMode::ProcessCrash);
}

#[test]
fn a_short_write_left_in_the_page_cache_is_cut_at_reopen() {
    let options = small(400);
    let (fs, mut log, commits) = half_synced(0x5407, &options);
    let durable = log.durable_offset();
    fs.set_fault_config(FaultConfig::none().with(FaultClass::ShortWrite, 1.0));
    expect_poison(|| {
        append(&mut log, &commits[N_COMMITS / 2]);
        log.flush();
    });
    drop(log);
    // A process crash keeps the page cache: the partial commit is there.
    let read = crash_and_check(&fs, CrashMode::ProcessCrash, &options, &commits, durable);
    assert_eq!(read, commits[..N_COMMITS / 2], "the partial commit is cut, nothing else");
}

#[test]
fn running_out_of_space_poisons() {
    let options = small(400);
    let (fs, mut log, commits) = half_synced(0x5e0, &options);
    let durable = log.durable_offset();
    let used: u64 = segment_files(&fs).iter().map(|path| file_bytes(&fs, path).len() as u64).sum();
    fs.set_fault_config(FaultConfig::none().with_no_space_quota(used + 10));
    let message = expect_poison(|| {
        for commit in &commits[N_COMMITS / 2..] {
            append(&mut log, commit);
            log.sync();
        }
    });
    assert!(message.contains("ENOSPC"), "{message}");
    assert_eq!(fs.fault_counts().get(FaultClass::NoSpace), 1);
    assert_stays_poisoned(&fs, log, durable, &commits[N_COMMITS - 1]);
    crash_and_check(&fs, CrashMode::PowerLoss, &options, &commits, durable);
}

#[test]
fn a_failure_while_creating_the_next_segment_poisons() {
    for (class, cause) in [
        (FaultClass::WriteError, "write segment header failed"),
        (FaultClass::FsyncError, "sync segment header failed"),
    ] {
        quiet_poison_panics();
        let options = small(200);
        let fs = sim(0x7e57);
        let commits = workload(0x7e57, 20, 3, 16);
        let mut log = open(&fs, &options).unwrap();
        // Sync commit by commit until the next one would rotate.
        let mut index = 0;
        loop {
            let commit = &commits[index];
            if let Some(head) = log.segments().last() {
                let head_len = file_bytes(&fs, &head.path).len() as u64;
                if head_len + commit.encoded_len() > options.max_segment_size {
                    break;
                }
            }
            append(&mut log, commit);
            log.sync();
            index += 1;
        }
        let durable = log.durable_offset();
        let segments_before = log.segments();
        fs.set_fault_config(FaultConfig::none().with(class, 1.0));
        let message = expect_poison(|| append(&mut log, &commits[index]));
        let new_segment =
            faultline_engine::commitlog::segment_path(&log_dir(), commits[index].min_tx_offset);
        assert_eq!(
            message.split(" error=").next().unwrap(),
            format!("commitlog poisoned: {cause}: segment={} offset=0", new_segment.display())
        );
        assert_eq!(log.segments(), segments_before, "the failed segment never became the head");
        assert_stays_poisoned(&fs, log, durable, &commits[index]);
        let read = crash_and_check(&fs, CrashMode::PowerLoss, &options, &commits, durable);
        assert_eq!(read, commits[..index]);
    }
}

/// Seeded fault mixes over a rotating workload: whatever fires and however
/// the machine goes down, the reopened log holds every synced commit and
/// nothing it was not given.
#[test]
fn seeded_fault_mixes_never_lose_a_synced_commit() {
    quiet_poison_panics();
    let mut poisoned = 0;
    let mut fired = 0;
    for seed in 0..96u64 {
        let options = small(250 + seed % 200);
        let fs = sim(seed);
        let commits = workload(seed, 40, 4, 24);
        let mut log = open(&fs, &options).unwrap();
        let rate = [0.0, 0.01, 0.03, 0.1][(seed % 4) as usize];
        let config = FaultConfig::none()
            .with(FaultClass::WriteError, rate)
            .with(FaultClass::ShortWrite, rate)
            .with(FaultClass::FsyncError, rate)
            .with(FaultClass::TornWrite, 0.5);
        fs.set_fault_config(config);
        let mut durable = None;
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
            for commit in &commits {
                append(&mut log, commit);
                log.sync();
                durable = log.durable_offset();
            }
        }));
        if let Err(payload) = outcome {
            let message = payload.downcast_ref::<String>().cloned().unwrap_or_default();
            assert!(message.starts_with("commitlog poisoned:"), "seed {seed}: {message}");
            assert_eq!(log.durable_offset(), durable, "seed {seed}");
            poisoned += 1;
        }
        fired += fs.fault_counts().total();
        drop(log);
        let mode =
            if seed.is_multiple_of(3) { CrashMode::ProcessCrash } else { CrashMode::PowerLoss };
        crash_and_check(&fs, mode, &options, &commits, durable);
    }
    assert!(poisoned >= 30, "only {poisoned} seeds poisoned the log");
    assert!(fired >= poisoned);
}

/// fsyncgate: after a failed fsync, Linux (and SimFs) marks the dirty pages
/// clean but keeps serving them. A process that restarts without a power
/// loss reads the unsynced commit back, and no later fsync would write it,
/// so a power loss afterwards would leave a hole under commits synced
/// later. Open therefore rewrites the last segment (copy, sync, rename):
/// what the reopened log holds is then really durable.
#[test]
fn fsync_error_then_restart_then_power_loss_keeps_every_commit_the_reopen_served() {
    quiet_poison_panics();
    for seed in 0..16u64 {
        let options = small(4096);
        let (fs, mut log, commits) = half_synced(0xf5 + seed, &options);
        fs.set_fault_config(FaultConfig::none().with(FaultClass::FsyncError, 1.0));
        expect_poison(|| {
            append(&mut log, &commits[N_COMMITS / 2]);
            log.sync();
        });
        assert_eq!(fs.fault_counts().get(FaultClass::FsyncError), 1);
        drop(log);
        fs.crash(CrashMode::ProcessCrash);
        let fs = fs.reopen();
        fs.set_faults_enabled(false);
        let mut log = open(&fs, &options).unwrap();
        let read = read_all(&log).unwrap();
        assert_eq!(read, commits[..=N_COMMITS / 2], "the page cache still holds the commit");
        assert_eq!(log.durable_offset(), Some(commits[N_COMMITS / 2].tx_offsets().end - 1));
        append_synced(&mut log, &commits[N_COMMITS / 2 + 1..]);
        drop(log);
        fs.crash(CrashMode::PowerLoss);
        let fs = fs.reopen();
        let log = open(&fs, &options).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert_eq!(read_all(&log).unwrap(), commits, "seed {seed}: every commit the reopen served");
    }
}
