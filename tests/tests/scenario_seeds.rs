//! Every built-in scenario over a fixed set of seeds: each run passes, or
//! refuses to open a history a fault damaged, as DESIGN 4 allows. A
//! failure here is an engine finding (or a harness bug): the message is the
//! failure report with its repro command.

use faultline_scenarios::{Registry, RunConfig, report, run};
use faultline_sim::Seed;

/// The fixed seeds (a few seconds per scenario in a debug build).
const SEEDS: std::ops::Range<u64> = 0..10;

fn check(name: &str) {
    let registry = Registry::builtin();
    let scenario = registry.get(name).unwrap_or_else(|| panic!("no scenario {name}"));
    let mut outcomes = std::collections::BTreeMap::new();
    for seed in SEEDS {
        let result = run(scenario.as_ref(), Seed(seed), &RunConfig::default());
        assert!(!result.outcome.is_failure(), "\n{}", report::failure_text(&result));
        assert!(
            result.stats.txs_committed > 0,
            "{name} seed={seed}: the workload committed nothing"
        );
        *outcomes.entry(result.outcome.label()).or_insert(0) += 1;
    }
    eprintln!("{name}: {outcomes:?}");
}

#[test]
fn bootstrap_from_history() {
    check("bootstrap_from_history");
}

#[test]
fn poisoned_writes() {
    check("poisoned_writes");
}

#[test]
fn torn_tail() {
    check("torn_tail");
}

#[test]
fn snapshot_suffix_replay() {
    check("snapshot_suffix_replay");
}

#[test]
fn rotation_snapshots() {
    check("rotation_snapshots");
}

#[test]
fn crash_during_snapshot() {
    check("crash_during_snapshot");
}

#[test]
fn incremental_snapshots() {
    check("incremental_snapshots");
}

#[test]
fn mvcc_reads() {
    check("mvcc_reads");
}

#[test]
fn swarm() {
    check("swarm");
}

#[test]
fn the_registry_holds_every_built_in_scenario_once() {
    let registry = Registry::builtin();
    let names: Vec<&str> = registry.all().iter().map(|s| s.name()).collect();
    assert_eq!(
        names,
        [
            "bootstrap_from_history",
            "poisoned_writes",
            "torn_tail",
            "snapshot_suffix_replay",
            "rotation_snapshots",
            "crash_during_snapshot",
            "incremental_snapshots",
            "mvcc_reads",
            "swarm"
        ]
    );
    assert_eq!(registry.select("torn,mvcc").unwrap().len(), 2);
    assert_eq!(registry.select("all").unwrap().len(), 9);
    assert!(registry.select("nope").unwrap_err().contains("no scenario matches"));
}
