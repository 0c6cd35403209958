//! Golden traces: for fixed seeds of every scenario, a readable summary of
//! the run (outcome, trace hash, counters, the faults and crashes that
//! fired, every open and what it recovered) is snapshotted with insta. Any
//! change to determinism or behaviour shows up as a readable diff in
//! review; accept an intended one with `cargo insta review`.

use std::fmt::Write;

use faultline_scenarios::{Registry, RunConfig, RunReport, run};
use faultline_sim::Seed;

/// The seeds each scenario is pinned at.
const SEEDS: [u64; 2] = [1, 2];

fn summary(report: &RunReport) -> String {
    let s = &report.stats;
    let mut text = String::new();
    let _ = writeln!(text, "scenario: {} seed: {}", report.scenario, report.seed);
    let _ = writeln!(text, "outcome: {}", report.outcome.label());
    let _ = writeln!(text, "trace hash: {:#018x}", report.trace_hash);
    let _ = writeln!(
        text,
        "counters: txs={} refused-txs={} durability-steps={} fs-calls={} crashes={} recoveries={} poisonings={} incarnations={} reads-checked={}",
        s.txs_committed,
        s.txs_refused,
        s.durability_steps,
        s.fs_calls,
        s.crashes,
        s.recoveries,
        s.poisonings,
        s.incarnations,
        s.reads_checked
    );
    let faults: Vec<String> = s.faults.nonzero().map(|(class, n)| format!("{class}={n}")).collect();
    let _ = writeln!(
        text,
        "faults by class: {}",
        if faults.is_empty() { "none".to_owned() } else { faults.join(" ") }
    );
    let _ = writeln!(text, "fired:");
    for line in &report.fired {
        let _ = writeln!(text, "  {line}");
    }
    let _ = writeln!(text, "opens and recoveries:");
    for event in report.trace.events() {
        let keep = ["open", "opened", "crash", "refused", "recovered", "FAILED", "snapshot offset"];
        if keep.iter().any(|k| event.text.starts_with(k)) {
            let _ = writeln!(text, "  {event}");
        }
    }
    text
}

#[test]
fn golden_traces_of_every_scenario() {
    let registry = Registry::builtin();
    let config = RunConfig { keep_trace: true, ..RunConfig::default() };
    for scenario in registry.all() {
        for seed in SEEDS {
            let report = run(scenario.as_ref(), Seed(seed), &config);
            insta::assert_snapshot!(format!("{}-seed-{seed}", scenario.name()), summary(&report));
        }
    }
}
