//! Exhaustive crash points: every mutating filesystem operation of a
//! bounded workload is, in turn, the one the machine dies before. And
//! exhaustive strikes ([`exhaust_strikes`]): every fault class and crash
//! mode at every site of the workload, in turn.
//!
//! A clean run of the scenario's workload (one incarnation, no fault, no
//! crash) counts its mutations `M`, the first open included. Then, for each
//! `k` in `1..=M` and each crash mode, a run crashes just before mutation
//! `k` (`SimFs::crash_at_mutation`), recovers, checks the oracle, runs one
//! more incarnation of the workload and makes the final check. Runs are
//! deterministic, so the prefix before the crash is the clean run's: every
//! `k` is reached, and the report says so.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, mpsc};

use faultline_sim::{CrashMode, CrashTrigger, Decision, FaultClass, PinnedFault, Schedule, Seed};
use faultline_sim::{Site, Strike};

use crate::coverage::aimable;

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

/// What exhausting a workload's strikes found.
#[derive(Debug)]
pub struct StrikeReport {
    /// The scenario's name.
    pub scenario: String,
    /// The seed of the workload.
    pub seed: Seed,
    /// The (site, strike) pairs of the clean run: each site it called,
    /// with each strike that applies to the site's operation.
    pub pairs: Vec<(Site, Strike)>,
    /// The pairs some run struck where aimed.
    pub reached: BTreeSet<(Site, Strike)>,
    /// Runs made, the clean one excluded.
    pub runs: u64,
    /// Failing runs (the clean one, if it failed: then nothing else ran).
    pub failures: Vec<RunReport>,
}

/// Every strike at every site of `scenario`'s workload at `seed`: a clean
/// run lists its calls with their sites; then, for each (site, strike)
/// pair, runs strike the first call made at that site: a fault there, and
/// the same fault followed by a power loss at the next call (a failure
/// whose repair has not happened yet); a crash instead of it; a torn
/// write as a power loss, tearing, right after it. Each run recovers,
/// runs one more incarnation and makes the final check
/// ([`RunMode::StrikeAt`]).
pub fn exhaust_strikes(
    scenario: &dyn Scenario,
    seed: Seed,
    jobs: usize,
    progress: &mut dyn FnMut(u64, u64),
) -> StrikeReport {
    let clean_config = RunConfig { mode: RunMode::Clean, keep_calls: true, ..RunConfig::default() };
    let clean = run(scenario, seed, &clean_config);
    let mut report = StrikeReport {
        scenario: scenario.name().to_owned(),
        seed,
        pairs: Vec::new(),
        reached: BTreeSet::new(),
        runs: 0,
        failures: Vec::new(),
    };
    if clean.outcome.is_failure() {
        report.failures.push(clean);
        return report;
    }
    let mut first_call = std::collections::BTreeMap::new();
    for call in &clean.calls {
        first_call.entry(call.site).or_insert(call);
    }
    let mut schedules = Vec::new();
    for (site, call) in &first_call {
        for strike in aimable().into_iter().filter(|s| s.applies_to(site.op)) {
            report.pairs.push((*site, strike));
            for decisions in strike_decisions(strike, call.call, call.len) {
                schedules.push(((*site, strike), Schedule { decisions }));
            }
        }
    }
    let configs: Vec<RunConfig> = schedules
        .iter()
        .map(|(_, schedule)| RunConfig {
            mode: RunMode::StrikeAt(schedule.clone()),
            ..RunConfig::default()
        })
        .collect();
    let results = run_all(scenario, seed, &configs, jobs, progress);
    for ((pair, _), result) in schedules.iter().zip(results) {
        report.runs += 1;
        if result.coverage.hits(pair) > 0 {
            report.reached.insert(*pair);
        }
        if result.outcome.is_failure() {
            report.failures.push(result);
        }
    }
    report.failures.sort_by_key(|r| r.schedule.to_string());
    report
}

/// The schedules that strike call `call` (of `len` bytes) with `strike`.
fn strike_decisions(strike: Strike, call: u64, len: u64) -> Vec<Vec<Decision>> {
    let power_loss = |at: u64| Decision::Crash {
        trigger: CrashTrigger::Call(at),
        mode: CrashMode::PowerLoss,
        torn: true,
    };
    let fault = match strike {
        Strike::Crash(mode) => {
            let torn = mode == CrashMode::PowerLoss;
            return vec![vec![Decision::Crash { trigger: CrashTrigger::Call(call), mode, torn }]];
        }
        Strike::Fault(FaultClass::TornWrite) => return vec![vec![power_loss(call + 1)]],
        Strike::Fault(FaultClass::WriteError) => PinnedFault::WriteError,
        Strike::Fault(FaultClass::ShortWrite) => PinnedFault::ShortWrite { written: len / 2 },
        Strike::Fault(FaultClass::NoSpace) => PinnedFault::NoSpace,
        Strike::Fault(FaultClass::FsyncError) => PinnedFault::FsyncError,
        Strike::Fault(FaultClass::LyingFsync) => PinnedFault::LyingFsync,
        Strike::Fault(FaultClass::ReadBitFlip) => PinnedFault::ReadBitFlip { delta: 0, bit: 0 },
        Strike::Fault(FaultClass::MisdirectedWrite) => {
            PinnedFault::MisdirectedWrite { shift: faultline_sim::SECTOR_SIZE as i64 }
        }
    };
    let struck = Decision::Fault { call, fault };
    vec![vec![struck], vec![struck, power_loss(call + 1)]]
}

/// Runs `scenario` at `seed` once per config, on `jobs` threads; the
/// reports in the order of `configs`.
fn run_all(
    scenario: &dyn Scenario,
    seed: Seed,
    configs: &[RunConfig],
    jobs: usize,
    progress: &mut dyn FnMut(u64, u64),
) -> Vec<RunReport> {
    let total = configs.len() as u64;
    let next = AtomicU64::new(0);
    let (send, receive) = mpsc::channel::<(usize, RunReport)>();
    let mut reports: Vec<Option<RunReport>> = (0..configs.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            let send = send.clone();
            let next = &next;
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst) as usize;
                    let Some(config) = configs.get(i) else { return };
                    if send.send((i, run(scenario, seed, config))).is_err() {
                        return;
                    }
                }
            });
        }
        drop(send);
        let mut done = 0;
        for (i, report) in receive {
            reports[i] = Some(report);
            done += 1;
            progress(done, total);
        }
    });
    reports.into_iter().map(|r| r.expect("every config ran")).collect()
}
