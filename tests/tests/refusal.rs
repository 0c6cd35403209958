//! When an open may refuse a damaged history (DESIGN 4, the damage rule):
//! only if no undamaged way to the acknowledged state was left (the judge's
//! rule is unit-tested in `scenarios/src/judge/recovery.rs`). Here, end to
//! end: the engine's open reads only the log the newest snapshot needs, so
//! damage below it cannot stop the open; a latent read error in what every
//! way needs may be refused (or, in the last segment, repaired) and the
//! judge allows it; an engine told not to restore snapshots has only the
//! whole log, and refusing on damage there is allowed too.

use faultline_engine::Options;
use faultline_scenarios::{
    Plan, PlanError, PlannedCrash, RunConfig, RunMode, RunReport, Scenario, SnapshotTask,
    WorkloadShape, run,
};
use faultline_sim::{CallOutcome, CrashMode, Decision, Op, PinnedFault, Schedule, Seed};

/// Small segments, a snapshot on every rotation, the whole log kept,
/// faults on during recovery (only pinned ones fire: none is drawn).
struct Rotating;

impl Scenario for Rotating {
    fn name(&self) -> &str {
        "rotating"
    }

    fn summary(&self) -> &str {
        "test only: snapshots on rotation over a log kept whole"
    }

    fn plan(&self, seed: Seed) -> Result<Plan, PlanError> {
        let mut options = Options::default();
        options.log.max_segment_size = 4 << 10;
        options.snapshots.every_txs = 1_000_000;
        options.snapshots.retain = 2;
        options.snapshots.remove_old_segments = false;
        let workload = WorkloadShape { clients: 2, txs_per_client: 40, ..WorkloadShape::default() };
        Plan::builder(seed)
            .options(options)
            .workload(workload)
            .recovery_faults(true)
            .crash(PlannedCrash::AtTime { ms: 150, mode: CrashMode::ProcessCrash })
            .engine_task("snapshot", || Box::new(SnapshotTask::new(2)), None)
            .build()
    }
}

/// The reads of the final recovery's open, by segment, in call order.
fn final_segment_reads(report: &RunReport) -> Vec<(u64, String)> {
    let last = report.calls.iter().map(|c| c.generation).max().unwrap();
    report
        .calls
        .iter()
        .filter(|c| c.generation == last && c.op == Op::Read && c.path.contains("/log/"))
        .filter(|c| c.outcome == CallOutcome::Ok && c.len > 600)
        .map(|c| (c.call, c.path.clone()))
        .collect()
}

/// The run with a latent bit flip pinned on call `call` (byte 500 of it).
fn with_flip(report: &RunReport, call: u64) -> RunReport {
    let mut decisions = report.schedule.decisions.clone();
    decisions
        .push(Decision::Fault { call, fault: PinnedFault::ReadBitFlip { delta: 500, bit: 2 } });
    let config =
        RunConfig { mode: RunMode::Pinned(Schedule { decisions }), ..RunConfig::default() };
    run(&Rotating, report.seed, &config)
}

#[test]
fn the_final_open_reads_only_the_log_the_newest_snapshot_needs() {
    let config = RunConfig { keep_calls: true, keep_trace: true, ..RunConfig::default() };
    let drawn = run(&Rotating, Seed(3), &config);
    assert!(!drawn.outcome.is_failure(), "{:?}", drawn.outcome);
    let opened = drawn.trace.events().iter().rev().find(|e| e.text.starts_with("opened "));
    let opened = opened.map(|e| e.text.clone()).unwrap_or_default();
    assert!(opened.contains("restored-from=Some("), "the final open restores a snapshot: {opened}");
    let reads = final_segment_reads(&drawn);
    assert!(!reads.is_empty(), "it reads the suffix");
    assert!(
        reads.iter().all(|(_, path)| !path.ends_with("/00000000000000000000.log")),
        "the first segment lies below the snapshot and is not read: {reads:?}"
    );
}

#[test]
fn damage_in_what_every_way_needs_may_be_refused_or_repaired_never_misjudged() {
    let config = RunConfig { keep_calls: true, ..RunConfig::default() };
    for seed in (0..6).map(Seed) {
        let drawn = run(&Rotating, seed, &config);
        for (call, path) in final_segment_reads(&drawn) {
            let flipped = with_flip(&drawn, call);
            assert_eq!(flipped.stats.faults.total(), 1, "seed={seed} {path}: the flip fired");
            // A sealed segment the suffix needs: the open refuses, naming
            // it; the last one: one flipped bit is repaired. Either way no
            // undamaged way was left, and the judge agrees.
            assert!(!flipped.outcome.is_failure(), "seed={seed} {path}: {:?}", flipped.outcome);
        }
    }
}

/// The same scenario, its engine told never to restore snapshots.
struct WholeLogOnly;

impl Scenario for WholeLogOnly {
    fn name(&self) -> &str {
        "whole_log_only"
    }

    fn summary(&self) -> &str {
        "test only: snapshots taken but never restored"
    }

    fn plan(&self, seed: Seed) -> Result<Plan, PlanError> {
        let mut plan = Rotating.plan(seed)?;
        plan.options.snapshots.restore_on_open = false;
        Ok(plan)
    }
}

#[test]
fn a_snapshot_is_no_way_out_for_an_engine_told_not_to_restore_one() {
    let config = RunConfig { keep_calls: true, ..RunConfig::default() };
    let drawn = run(&WholeLogOnly, Seed(3), &config);
    assert!(!drawn.outcome.is_failure(), "{:?}", drawn.outcome);
    let reads = final_segment_reads(&drawn);
    let (call, path) = &reads[0];
    assert!(path.ends_with("/00000000000000000000.log"), "the whole log is read: {path}");
    let mut decisions = drawn.schedule.decisions.clone();
    decisions.push(Decision::Fault {
        call: *call,
        fault: PinnedFault::ReadBitFlip { delta: 500, bit: 2 },
    });
    let pinned =
        RunConfig { mode: RunMode::Pinned(Schedule { decisions }), ..RunConfig::default() };
    let flipped = run(&WholeLogOnly, Seed(3), &pinned);
    assert_eq!(flipped.outcome.label(), "refused", "{:?}", flipped.outcome);
}
