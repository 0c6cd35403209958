//! Every registered scenario over a fixed set of seeds: each run passes, or
//! refuses to open a history a fault damaged, as DESIGN 4 allows. The list
//! of scenarios is the registry's: a scenario added by the README's recipe
//! (one file, one line) is run here without editing anything. A failure is
//! an engine finding (or a harness bug): the message is the failure report
//! with its repro command.

use faultline_scenarios::{Registry, RunConfig, report, run};
use faultline_sim::Seed;

/// The fixed seeds (a few seconds per scenario in a debug build).
const SEEDS: std::ops::Range<u64> = 0..10;

#[test]
fn every_registered_scenario_passes_its_fixed_seeds() {
    let registry = Registry::builtin();
    assert!(!registry.all().is_empty());
    for scenario in registry.all() {
        let name = scenario.name();
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
}

#[test]
fn the_registry_selects_by_name_and_refuses_what_matches_nothing() {
    let registry = Registry::builtin();
    let names: Vec<&str> = registry.all().iter().map(|s| s.name()).collect();
    let mut unique = names.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), names.len(), "names are unique: {names:?}");
    assert_eq!(registry.select("torn,mvcc").unwrap().len(), 2);
    assert_eq!(registry.select("all").unwrap().len(), names.len());
    assert!(registry.select("nope").unwrap_err().contains("no scenario matches"));
}
