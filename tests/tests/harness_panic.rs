//! A case whose harness code panics (here: a scenario that runs itself and
//! panics at one seed) is that case's failure, with its seed and kind; the
//! rest of the sweep completes and its results are kept.

use std::sync::Arc;

use faultline_scenarios::plan::{Plan, PlanError};

use faultline_scenarios::{
    FailureKind, RunConfig, RunReport, Scenario, Shard, SweepConfig, cases, sweep,
};
use faultline_sim::Seed;

/// Runs torn_tail's plan, but panics outright at seed 1.
struct PanicsAtOne;

impl Scenario for PanicsAtOne {
    fn name(&self) -> &str {
        "panics_at_one"
    }

    fn summary(&self) -> &str {
        "a harness that panics at seed 1 (test only)"
    }

    fn plan(&self, seed: Seed) -> Result<Plan, PlanError> {
        faultline_scenarios::Registry::builtin().get("torn_tail").expect("built in").plan(seed)
    }

    fn run_whole(&self, seed: Seed, _config: &RunConfig) -> Option<RunReport> {
        assert_ne!(seed, Seed(1), "the harness broke at seed 1");
        None
    }
}

#[test]
fn a_panicking_case_is_reported_and_the_sweep_goes_on() {
    let config = SweepConfig { jobs: 2, ..SweepConfig::default() };
    let scenarios: Vec<Arc<dyn Scenario>> = vec![Arc::new(PanicsAtOne)];
    let result = sweep(&cases(scenarios, Vec::new(), 0, Some(4), Shard::ALL), &config, &mut |_| {});
    assert_eq!(result.cases.len(), 4, "every case has a result");
    let kinds: Vec<String> =
        result.failures.iter().map(faultline_scenarios::report::failure_text).collect();
    assert_eq!(result.failures.len(), 1, "{}", kinds.join("\n"));
    let failure = &result.failures[0];
    assert_eq!(failure.seed, Seed(1));
    let failed = failure.outcome.failure().unwrap();
    assert_eq!(failed.kind, FailureKind::UnexpectedPanic);
    assert!(failed.detail.contains("the harness broke at seed 1"), "{}", failed.detail);
}

/// The junit and json written from the sweep's case log name every case
/// once, in seed order, and mark the failing one (and only it) failed.
#[test]
fn the_junit_and_json_of_a_sweep_name_every_case_and_its_failure() {
    let config = SweepConfig { jobs: 2, ..SweepConfig::default() };
    let scenarios: Vec<Arc<dyn Scenario>> = vec![Arc::new(PanicsAtOne)];
    let result = sweep(&cases(scenarios, Vec::new(), 0, Some(4), Shard::ALL), &config, &mut |_| {});
    let junit = faultline_scenarios::report::junit(&result).expect("the log reads back");
    let seeds: Vec<&str> = junit
        .lines()
        .filter_map(|line| line.split("name=\"seed ").nth(1))
        .map(|rest| &rest[..18])
        .collect();
    assert_eq!(
        seeds,
        (0..4).map(|s| format!("{}", Seed(s))).collect::<Vec<_>>(),
        "every case once, in seed order: {junit}"
    );
    assert_eq!(junit.matches("<failure type=\"unexpected-panic\"").count(), 1, "{junit}");
    let failing = junit.split("<testcase").find(|case| case.contains("<failure")).unwrap();
    assert!(failing.contains(&format!("seed {}", Seed(1))), "{failing}");
    assert!(junit.contains("tests=\"4\" failures=\"1\""), "{junit}");

    let json: serde_json::Value =
        serde_json::from_str(&faultline_scenarios::report::json(&result, "1/1").unwrap()).unwrap();
    let outcomes: Vec<&str> =
        json["cases"].as_array().unwrap().iter().map(|c| c["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["passed", "unexpected-panic", "passed", "passed"]);
    assert_eq!(json["failures"].as_array().unwrap().len(), 1);
    assert_eq!(json["failures"][0]["seed"], Seed(1).to_string());
}
