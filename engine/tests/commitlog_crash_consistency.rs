//! Power loss at every filesystem mutation of a rotation, of the first
//! commit of a new log and of an open that repairs a torn tail: the log
//! always reopens, never loses a synced commit and never replays one that
//! was not appended.

mod commitlog_support;

use std::panic::{self, AssertUnwindSafe};

use commitlog_support::*;
use faultline_engine::commitlog::{Commit, Options, segment_path};
use faultline_engine::fs::Fs;
use faultline_sim::{CrashMode, FaultClass, FaultConfig, SimFs};

/// Power-loss choices (which pending writes survive, which tear) drawn per
/// crash point.
const CRASH_SEEDS: u64 = 24;

/// Half the seeds tear every write that persists at the power loss, the
/// other half one in three.
fn torn_writes(seed: u64) -> FaultConfig {
    let probability = if seed.is_multiple_of(2) { 1.0 } else { 0.3 };
    FaultConfig::none().with(FaultClass::TornWrite, probability)
}

/// Runs `commits[..synced]` fault-free (each synced), then the rest with a
/// power loss before mutation `crash_at` (torn writes on); restarts and
/// checks the log, then finishes the workload and checks again.
fn crash_run(
    seed: u64,
    options: &Options,
    commits: &[Commit],
    synced: usize,
    crash_at: u64,
) -> (SimFs, bool) {
    let fs = sim(seed);
    let mut log = open(&fs, options).unwrap();
    append_synced(&mut log, &commits[..synced]);
    fs.set_fault_config(torn_writes(seed));
    fs.crash_at_mutation(crash_at, CrashMode::PowerLoss);
    let mut durable = log.durable_offset();
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        for commit in &commits[synced..] {
            append(&mut log, commit);
            log.sync();
            durable = log.durable_offset();
        }
    }));
    let crashed = fs.stats().power_losses == 1;
    assert_eq!(outcome.is_err(), crashed, "crash point {crash_at}: only the crash poisons");
    drop(log);
    if !crashed {
        fs.clear_crash_point();
        fs.crash(CrashMode::PowerLoss);
    }
    let fs = fs.reopen();
    fs.set_faults_enabled(false);
    check_and_finish(
        &fs,
        options,
        commits,
        durable,
        &format!("seed {seed} crash point {crash_at}"),
    );
    (fs, crashed)
}

/// Reopens (which must work), checks the durable prefix, appends the rest
/// of the workload and checks a second reopen holds all of it.
fn check_and_finish(
    fs: &SimFs,
    options: &Options,
    commits: &[Commit],
    durable: Option<u64>,
    context: &str,
) {
    let mut log =
        open(fs, options).unwrap_or_else(|error| panic!("{context}: reopen failed: {error}"));
    let read = read_all(&log).unwrap_or_else(|error| panic!("{context}: read failed: {error}"));
    assert_durable_prefix(&read, commits, durable);
    append_synced(&mut log, &commits[read.len()..]);
    drop(log);
    let log = open(fs, options).unwrap();
    assert_eq!(read_all(&log).unwrap(), commits, "{context}");
}

/// How many commits can be synced before the next one rotates, and the
/// mutation counter before and after that rotating commit is synced.
fn first_rotation(options: &Options, commits: &[Commit]) -> (usize, u64, u64) {
    let fs = sim(0);
    let mut log = open(&fs, options).unwrap();
    for (index, commit) in commits.iter().enumerate() {
        let segments = log.segments().len();
        let before = fs.stats().mutations;
        append(&mut log, commit);
        log.sync();
        if segments > 0 && log.segments().len() > segments {
            return (index, before, fs.stats().mutations);
        }
    }
    panic!("the workload never rotates");
}

#[test]
fn power_loss_at_every_mutation_of_a_rotation_keeps_every_synced_commit() {
    quiet_poison_panics();
    let options = small(200);
    let commits = workload(0x707, 16, 3, 16);
    let (rotating, before, after) = first_rotation(&options, &commits);
    // flush (nothing buffered) and sync (nothing new) are no-ops; then create,
    // header write, header sync, dir sync, commit write, commit sync.
    assert_eq!(after - before, 6, "the mutations of a rotation");
    let mut crashes = 0;
    let mut torn = 0;
    // One mutation past the rotating commit's: the next commit's write.
    for crash_at in before + 1..=after + 1 {
        for seed in 0..CRASH_SEEDS {
            let (fs, crashed) = crash_run(seed, &options, &commits, rotating, crash_at);
            assert!(crashed, "crash point {crash_at} lies inside the run");
            crashes += 1;
            torn += fs.fault_counts().get(FaultClass::TornWrite);
        }
    }
    assert_eq!(crashes, 7 * CRASH_SEEDS);
    assert!(torn >= 4, "the power losses tore only {torn} writes");
}

#[test]
fn power_loss_at_every_mutation_of_a_new_log_keeps_every_synced_commit() {
    quiet_poison_panics();
    let options = small(200);
    let commits = workload(0x1e7, 3, 2, 16);
    for crash_at in 1..=16 {
        for seed in 0..CRASH_SEEDS {
            let fs = sim(seed);
            let base = fs.stats().mutations;
            fs.crash_at_mutation(base + crash_at, CrashMode::PowerLoss);
            let mut durable = None;
            let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
                // Opening creates the log directory: a crash there is an
                // open error, not a poison.
                let Ok(mut log) = open(&fs, &options) else { return };
                for commit in &commits {
                    append(&mut log, commit);
                    log.sync();
                    durable = log.durable_offset();
                }
            }));
            assert!(outcome.is_ok() || fs.stats().power_losses == 1);
            if fs.stats().power_losses == 0 {
                fs.clear_crash_point();
                fs.crash(CrashMode::PowerLoss);
            }
            let fs = fs.reopen();
            fs.set_faults_enabled(false);
            let context = format!("seed {seed} crash point {crash_at}");
            check_and_finish(&fs, &options, &commits, durable, &context);
        }
    }
}

#[test]
fn power_loss_at_every_mutation_of_a_repairing_open_keeps_every_synced_commit() {
    let options = small(200);
    let commits = workload(0x4e9, 10, 2, 16);
    // Two kinds of damage for open to repair: a torn last commit (cut), and
    // a header-only last segment (removed).
    for damage in ["cut", "empty segment"] {
        // Damages a synced log; returns the commits and durable offset a
        // repairing open must keep.
        let damaged = |seed: u64| {
            let fs = sim(seed);
            let mut log = open(&fs, &options).unwrap();
            append_synced(&mut log, &commits);
            let durable_all = log.durable_offset().unwrap();
            let last = log.segments().last().unwrap().path.clone();
            drop(log);
            let (model_len, durable) = match damage {
                "cut" => {
                    let len = file_bytes(&fs, &last).len() as u64;
                    cut(&fs, &last, len - 3);
                    (commits.len() - 1, commits[commits.len() - 1].min_tx_offset - 1)
                }
                _ => {
                    let next = segment_path(&log_dir(), durable_all + 1);
                    let header = file_bytes(&fs, &last)[..16].to_vec();
                    let file = fs.create(&next).unwrap();
                    file.write_at(&header, 0).unwrap();
                    file.sync_data().unwrap();
                    fs.sync_dir(&log_dir()).unwrap();
                    (commits.len(), durable_all)
                }
            };
            (fs, model_len, durable)
        };
        let open_mutations = {
            let (fs, _, _) = damaged(0);
            let base = fs.stats().mutations;
            open(&fs, &options).unwrap();
            fs.stats().mutations - base
        };
        assert!(open_mutations >= 6, "{damage}: repair, rewrite the tail, sync: {open_mutations}");
        for crash_at in 1..=open_mutations + 2 {
            for seed in 0..CRASH_SEEDS {
                let (fs, model_len, durable) = damaged(seed);
                let base = fs.stats().mutations;
                fs.set_fault_config(torn_writes(seed));
                fs.crash_at_mutation(base + crash_at, CrashMode::PowerLoss);
                let crashed = match open(&fs, &options) {
                    Ok(log) => {
                        drop(log);
                        fs.clear_crash_point();
                        fs.crash(CrashMode::PowerLoss);
                        false
                    }
                    Err(error) => {
                        assert!(error.to_string().starts_with("io error: "), "{error}");
                        true
                    }
                };
                assert_eq!(crashed, crash_at <= open_mutations, "{damage}: crash point {crash_at}");
                let fs = fs.reopen();
                fs.set_faults_enabled(false);
                let context = format!("{damage}: seed {seed} crash point {crash_at}");
                let log = open(&fs, &options).unwrap_or_else(|e| panic!("{context}: {e}"));
                assert_eq!(read_all(&log).unwrap(), commits[..model_len], "{context}");
                drop(log);
                check_and_finish(&fs, &options, &commits, Some(durable), &context);
            }
        }
    }
}

/// Power loss at a seeded point of a longer workload with several
/// rotations, one sync per commit (the datastore's durability step).
#[test]
fn power_loss_anywhere_in_a_rotating_workload_keeps_every_synced_commit() {
    quiet_poison_panics();
    let options = small(300);
    let commits = workload(0xa11, 40, 4, 24);
    let fs = sim(0);
    let mut log = open(&fs, &options).unwrap();
    let opened = fs.stats().mutations;
    append_synced(&mut log, &commits);
    let total = fs.stats().mutations;
    assert!(log.segments().len() >= 4);
    drop(log);
    for seed in 0..64u64 {
        let crash_at = opened + 1 + seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) % (total - opened);
        let (_, crashed) = crash_run(seed, &options, &commits, 0, crash_at);
        assert!(crashed);
    }
}

/// Several commits per sync (not what the datastore does): a power loss can
/// persist a later unsynced commit without an earlier one, which recovery
/// cannot tell from a corrupt commit followed by a good one. The log then
/// refuses to open, loudly, naming the place; it never drops a synced
/// commit or replays a torn one.
#[test]
fn power_loss_with_several_commits_per_sync_recovers_or_refuses_loudly() {
    let mut refused = 0;
    for seed in 0..200u64 {
        let options = Options { max_segment_size: 600, write_buffer_size: 0 };
        let fs = sim(seed);
        let commits = workload(seed, 30, 3, 24);
        let mut log = open(&fs, &options).unwrap();
        fs.set_fault_config(torn_writes(seed));
        let mut durable = None;
        let n_appended = 20 + (seed % 10) as usize;
        for (index, commit) in commits[..n_appended].iter().enumerate() {
            append(&mut log, commit);
            if index % 4 == 3 {
                log.sync();
                durable = log.durable_offset();
            }
        }
        drop(log);
        fs.crash(CrashMode::PowerLoss);
        let fs = fs.reopen();
        fs.set_faults_enabled(false);
        match open(&fs, &options) {
            Ok(log) => assert_durable_prefix(&read_all(&log).unwrap(), &commits, durable),
            Err(faultline_engine::commitlog::OpenError::Corrupt(corruption)) => {
                assert!(
                    matches!(
                        corruption.reason,
                        faultline_engine::commitlog::CorruptionReason::ValidCommitAfter { .. }
                    ),
                    "seed {seed}: {corruption}"
                );
                refused += 1;
            }
            Err(error) => panic!("seed {seed}: {error}"),
        }
    }
    eprintln!("several commits per sync: {refused} of 200 power losses refused to open");
}
