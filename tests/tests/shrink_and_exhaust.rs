//! The shrinker and the exhaustive crash-point search, on deliberately
//! broken engines registered only here:
//!
//! - `retrying_fsync`: the engine's filesystem layer retries a failed
//!   `fsync`, which then "succeeds" although the data was dropped
//!   (PostgreSQL's fsyncgate). Shrinking a failing seed must keep a
//!   schedule with fewer fault decisions that still fails;
//! - exhausting `bootstrap_from_history` and `snapshot_suffix_replay`
//!   visits every crash point.

use std::io;
use std::sync::Arc;

use faultline_engine::fs::{File, Fs};
use faultline_scenarios::{
    Decision, PinnedFault, Plan, PlanError, Registry, RunConfig, RunMode, Scenario, draw_crashes,
    draw_options, exhaust, run, shrink,
};
use faultline_sim::{CrashMode, FaultClass, FaultConfig, FsProfile, Seed, Stream};
use faultline_tests::broken_fs::{Breakage, BrokenFs};

/// Files that retry a failed `sync_data` once.
#[derive(Debug)]
struct RetryFsync;

impl Breakage for RetryFsync {
    fn sync_data(&self, file: &dyn File) -> io::Result<()> {
        file.sync_data().or_else(|_| file.sync_data())
    }
}

/// The broken engine: a fault mix with fsync errors, write errors and torn
/// writes, crashes, and the retrying layer. On ext4-ordered, where a
/// retried fsync succeeds without writing what the failed one dropped (on
/// FreeBSD the retry would be right, and on ext4-journal the failure is
/// reported a sync later).
struct RetryingFsync;

impl Scenario for RetryingFsync {
    fn name(&self) -> &str {
        "retrying_fsync"
    }

    fn summary(&self) -> &str {
        "test only: a broken engine that retries a failed fsync"
    }

    fn plan(&self, seed: Seed) -> Result<Plan, PlanError> {
        let mut rng = seed.rng(Stream::Workload);
        let mut crash_rng = seed.rng(Stream::CrashPoints);
        let mut faults = FaultConfig::none()
            .with(FaultClass::FsyncError, 0.03)
            .with(FaultClass::WriteError, 0.02);
        faults.torn_write = 0.5;
        Plan::builder(seed)
            .options(draw_options(&mut rng))
            .faults(faults)
            .fs_profile(FsProfile::Ext4Ordered)
            .crashes(draw_crashes(&mut crash_rng, 4, 120, 100, 0.7))
            .build()
    }

    fn wrap_fs(&self, fs: Arc<dyn Fs>) -> Arc<dyn Fs> {
        Arc::new(BrokenFs::new(fs, RetryFsync))
    }
}

#[test]
fn shrinking_a_broken_engine_keeps_fewer_decisions_that_still_fail() {
    let scenario = RetryingFsync;
    let (seed, original) = (0..40)
        .map(Seed)
        .map(|seed| (seed, run(&scenario, seed, &RunConfig::default())))
        .find(|(_, r)| r.outcome.is_failure() && r.schedule.len() >= 3)
        .expect("the broken engine fails some seed with several decisions");
    let kind = original.outcome.failure().unwrap().kind;
    let shrunk = shrink(&scenario, seed, None, None, 300).unwrap();
    assert!(shrunk.reproduced, "the pinned schedule reproduces the failure");
    assert!(
        shrunk.minimal.len() < original.schedule.len(),
        "{} decisions shrunk to {}",
        original.schedule.len(),
        shrunk.minimal.len()
    );
    assert!(
        shrunk
            .minimal
            .decisions
            .iter()
            .any(|d| matches!(d, Decision::Fault { fault: PinnedFault::FsyncError, .. })),
        "an fsync error is what breaks this engine: {}",
        shrunk.minimal
    );
    // The workload shrank too, and the case is no longer than the original.
    let (before, after) = (shrunk.before, shrunk.after);
    assert!(after.script.txs < before.script.txs, "{before} -> {after}");
    assert!(after.script.ops < before.script.ops, "{before} -> {after}");
    // Decisions are keyed by call index: transactions before the fault's
    // call stay (removing one moves every later call), the rest go.
    assert!(after.script.txs * 4 <= before.script.txs, "{before} -> {after}");
    assert!(after.decisions <= 2, "{before} -> {after}");
    assert!(after.sim_time_ns < before.sim_time_ns, "{before} -> {after}");
    assert_eq!(after.script, shrunk.minimal_script.size());
    // The minimal case, replayed pinned with its workload, still fails the
    // same way.
    let config = RunConfig {
        mode: RunMode::Pinned(shrunk.minimal.clone()),
        script: Some(std::sync::Arc::new(shrunk.minimal_script.clone())),
        ..RunConfig::default()
    };
    let replayed = run(&scenario, seed, &config);
    assert_eq!(replayed.outcome.failure().map(|f| f.kind), Some(kind));
    eprintln!(
        "seed={seed}: {before} -> {after} in {} runs: {}\n{}",
        shrunk.runs,
        shrunk.minimal,
        shrunk.minimal_script.to_text().unwrap()
    );
}

/// A run's recorded workload, sent instead of the generator's, gives the
/// same run: the same trace hash (what the shrinker and an emitted case
/// start from).
#[test]
fn a_recorded_workload_replays_to_the_same_run() {
    for (scenario, seed) in [("swarm", 3), ("hostile_requests", 5), ("torn_tail", 7)] {
        let registry = faultline_scenarios::Registry::builtin();
        let scenario = registry.get(scenario).unwrap();
        let config = RunConfig { record_script: true, ..RunConfig::default() };
        let original = run(scenario.as_ref(), Seed(seed), &config);
        let script = original.script.clone().expect("recorded");
        assert!(script.size().txs > 0, "{}: {}", scenario.name(), script.size());
        let config =
            RunConfig { script: Some(std::sync::Arc::new(script)), ..RunConfig::default() };
        let replayed = run(scenario.as_ref(), Seed(seed), &config);
        assert_eq!(replayed.trace_hash, original.trace_hash, "{}", scenario.name());
    }
}

/// The events of a run other than the filesystem's own lines, and with the
/// io error inside a poison message cut off: a pinned fault says so in its
/// message.
fn workload_events(report: &faultline_scenarios::RunReport) -> Vec<String> {
    report
        .trace
        .events()
        .iter()
        .filter(|e| !e.text.starts_with("fs "))
        .map(|e| {
            let text = e.to_string();
            match text.find(" error=") {
                Some(cut) if text.contains("poisoned") => text[..cut].to_owned(),
                _ => text,
            }
        })
        .collect()
}

#[test]
fn a_recorded_schedule_replays_pinned_to_the_same_run() {
    let scenario = RetryingFsync;
    let mut failed = 0;
    for seed in (0..12).map(Seed) {
        let config = RunConfig { keep_trace: true, ..RunConfig::default() };
        let original = run(&scenario, seed, &config);
        let pinned_config =
            RunConfig { mode: RunMode::Pinned(original.schedule.clone()), ..config };
        let pinned = run(&scenario, seed, &pinned_config);
        assert_eq!(pinned.outcome, original.outcome, "seed={seed}");
        assert_eq!(workload_events(&pinned), workload_events(&original), "seed={seed}");
        failed += usize::from(original.outcome.is_failure());
    }
    assert!(failed > 0, "some seed fails");
}

#[test]
fn the_built_in_fault_scenarios_replay_pinned_to_the_same_run() {
    let registry = Registry::builtin();
    for name in ["poisoned_writes", "torn_tail", "swarm"] {
        let scenario = registry.get(name).unwrap();
        for seed in (0..4).map(Seed) {
            let config = RunConfig { keep_trace: true, ..RunConfig::default() };
            let original = run(scenario.as_ref(), seed, &config);
            let pinned_config =
                RunConfig { mode: RunMode::Pinned(original.schedule.clone()), ..config };
            let pinned = run(scenario.as_ref(), seed, &pinned_config);
            assert_eq!(pinned.outcome, original.outcome, "{name} seed={seed}");
            assert_eq!(workload_events(&pinned), workload_events(&original), "{name} seed={seed}");
        }
    }
}

#[test]
fn exhaust_visits_every_crash_point_of_the_bootstrap_scenario() {
    let registry = Registry::builtin();
    let scenario = registry.get("bootstrap_from_history").unwrap();
    let mut calls = 0;
    let result =
        exhaust(scenario.as_ref(), Seed(3), &[CrashMode::PowerLoss], 2, &mut |_, _| calls += 1);
    assert!(result.crash_points > 10, "a workload has many crash points: {}", result.crash_points);
    assert_eq!(result.runs, result.crash_points, "one run per crash point");
    assert_eq!(result.visited, result.crash_points, "every crash point was reached");
    assert_eq!(calls, result.runs);
    let failures: Vec<String> =
        result.failures.iter().map(faultline_scenarios::report::failure_text).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    eprintln!("bootstrap_from_history seed=3: {} crash points, all visited", result.crash_points);
}

#[test]
fn exhaust_visits_every_crash_point_of_a_snapshot_scenario() {
    let registry = Registry::builtin();
    let scenario = registry.get("snapshot_suffix_replay").unwrap();
    let result = exhaust(scenario.as_ref(), Seed(3), &[CrashMode::PowerLoss], 2, &mut |_, _| {});
    assert!(result.crash_points > 20, "snapshots add crash points: {}", result.crash_points);
    assert_eq!(result.visited, result.crash_points, "every crash point was reached");
    let failures: Vec<String> =
        result.failures.iter().map(faultline_scenarios::report::failure_text).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    eprintln!("snapshot_suffix_replay seed=3: {} crash points, all visited", result.crash_points);
}
