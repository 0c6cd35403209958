//! Replays the regression corpus (`tests/regressions/seeds.tsv`): every
//! failing case a sweep found, on every `cargo test`.
//!
//! A `fixed` case must pass. An `open` case is a known engine failure: it
//! must fail with the failure kind recorded, or pass (then the engine was
//! fixed, and the line should be marked `fixed`); failing any other way is
//! a regression.

use std::path::Path;

use faultline_scenarios::corpus::{self, Status};
use faultline_scenarios::{Registry, RunConfig, report, run};

#[test]
fn every_corpus_case_behaves_as_recorded() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions/seeds.tsv");
    let entries = corpus::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let registry = Registry::builtin();
    let mut now_passing = Vec::new();
    for entry in &entries {
        let scenario = registry.get(&entry.scenario).unwrap_or_else(|| {
            panic!("{}:{}: unknown scenario {}", path.display(), entry.line, entry.scenario)
        });
        let result = run(scenario.as_ref(), entry.seed, &RunConfig::default());
        match (entry.status, result.outcome.failure()) {
            (Status::Fixed, None) => {}
            (Status::Fixed, Some(_)) => {
                panic!("fixed case fails again:\n{}", report::failure_text(&result))
            }
            (Status::Open, None) => now_passing.push(format!("{}\t{}", entry.scenario, entry.seed)),
            (Status::Open, Some(failure)) => assert_eq!(
                failure.kind.name(),
                entry.failure,
                "open case fails another way than recorded:\n{}",
                report::failure_text(&result)
            ),
        }
    }
    eprintln!(
        "{} corpus cases replayed; now passing (mark them fixed): {now_passing:?}",
        entries.len()
    );
}

/// Every line names a known scenario and failure kind, and no two lines
/// repeat or contradict each other about one seed.
#[test]
fn every_corpus_line_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions/seeds.tsv");
    assert!(path.exists(), "{} is missing", path.display());
    let entries = corpus::load(&path).unwrap_or_else(|e| panic!("{e}"));
    if let Err(problems) = corpus::validate(&entries, &Registry::builtin()) {
        panic!("{}:\n{}", path.display(), problems.join("\n"));
    }
}
