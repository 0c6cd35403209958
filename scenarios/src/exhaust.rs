//! Exhaustive crash points: every mutating filesystem operation of a
//! bounded workload is, in turn, the one the machine dies before.
//!
//! A clean run of the scenario's workload (one incarnation, no fault, no
//! crash) counts its mutations `M`, the first open included. Then, for each
//! `k` in `1..=M` and each crash mode, a run crashes just before mutation
//! `k` (`SimFs::crash_at_mutation`), recovers, checks the oracle, runs one
//! more incarnation of the workload and makes the final check. Runs are
//! deterministic, so the prefix before the crash is the clean run's: every
//! `k` is reached, and the report says so.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, mpsc};

use faultline_sim::{CrashMode, Decision, Seed};

use crate::outcome::RunReport;
use crate::runner::{RunConfig, RunMode, run};
use crate::scenario::Scenario;

/// What exhausting a workload's crash points found.
#[derive(Debug)]
pub struct ExhaustReport {
    /// The scenario's name.
    pub scenario: String,
    /// The seed of the workload.
    pub seed: Seed,
    /// Mutating operations of the clean run: its crash points.
    pub crash_points: u64,
    /// The crash modes tried at each point.
    pub modes: Vec<CrashMode>,
    /// Runs whose crash struck where planned (should be every run).
    pub visited: u64,
    /// Runs made, the clean one excluded.
    pub runs: u64,
    /// Failing runs (the clean one, if it failed: then nothing else ran).
    pub failures: Vec<RunReport>,
}

/// Exhausts the crash points of `scenario`'s workload at `seed`, on `jobs`
/// threads; `progress(done, total)` is called after each run.
pub fn exhaust(
    scenario: &dyn Scenario,
    seed: Seed,
    modes: &[CrashMode],
    jobs: usize,
    progress: &mut dyn FnMut(u64, u64),
) -> ExhaustReport {
    let clean = run(scenario, seed, &RunConfig { mode: RunMode::Clean, ..RunConfig::default() });
    let mut report = ExhaustReport {
        scenario: scenario.name().to_owned(),
        seed,
        crash_points: clean.stats.fs_mutations_workload,
        modes: modes.to_vec(),
        visited: 0,
        runs: 0,
        failures: Vec::new(),
    };
    if clean.outcome.is_failure() {
        report.failures.push(clean);
        return report;
    }
    let points: Vec<(u64, CrashMode)> =
        modes.iter().flat_map(|&mode| (1..=report.crash_points).map(move |k| (k, mode))).collect();
    let total = points.len() as u64;
    let next = AtomicU64::new(0);
    let (send, receive) = mpsc::channel::<RunReport>();
    let points = Mutex::new(points);
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            let send = send.clone();
            let (next, points) = (&next, &points);
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst) as usize;
                    let Some((mutation, mode)) =
                        points.lock().expect("not poisoned").get(i).copied()
                    else {
                        return;
                    };
                    let config = RunConfig {
                        mode: RunMode::CrashAt { mutation, mode },
                        ..RunConfig::default()
                    };
                    if send.send(run(scenario, seed, &config)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(send);
        for result in receive {
            report.runs += 1;
            if result.schedule.decisions.iter().any(|d| matches!(d, Decision::Crash { .. })) {
                report.visited += 1;
            }
            if result.outcome.is_failure() {
                report.failures.push(result);
            }
            progress(report.runs, total);
        }
    });
    report.failures.sort_by_key(|r| r.schedule.to_string());
    report
}
