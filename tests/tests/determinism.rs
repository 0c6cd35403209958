//! Same seed, same run: every scenario at several seeds, run twice, gives
//! identical trace hashes; a sweep on several threads gives the hashes a
//! single replay gives; and a deliberately nondeterministic scenario is
//! caught, with the first event at which its two runs diverge.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use faultline_scenarios::{
    FailureKind, Plan, PlanError, Registry, RunConfig, Scenario, Shard, SweepConfig, WorkloadShape,
    cases, run, run_checking_determinism, sweep,
};
use faultline_sim::Seed;

#[test]
fn every_scenario_repeats_its_trace_exactly() {
    for scenario in Registry::builtin().all() {
        for seed in [1, 0xfa017, u64::MAX] {
            let result =
                run_checking_determinism(scenario.as_ref(), Seed(seed), &RunConfig::default());
            assert_ne!(
                result.outcome.failure().map(|f| f.kind),
                Some(FailureKind::Nondeterminism),
                "{} seed={seed}: {:?}",
                scenario.name(),
                result.outcome
            );
            assert!(result.trace.len() > 10, "the trace records the run");
        }
    }
}

#[test]
fn a_sweep_on_two_threads_prints_the_hashes_a_replay_prints() {
    let registry = Registry::builtin();
    let all = cases(registry.all().to_vec(), Vec::new(), 100, Some(2), Shard::ALL);
    let config = SweepConfig { jobs: 2, ..SweepConfig::default() };
    let result = sweep(&all, &config, &mut |_| {});
    assert_eq!(result.cases.len() as usize, 2 * registry.all().len());
    for case in &result.cases.to_vec().unwrap() {
        let scenario = registry.get(&case.scenario).unwrap();
        let replay = run(
            scenario.as_ref(),
            case.seed,
            &RunConfig { focus: case.focus, ..RunConfig::default() },
        );
        assert_eq!(replay.trace_hash, case.trace_hash, "{} seed={}", case.scenario, case.seed);
    }
}

/// A scenario that is not a function of its seed: every plan it makes has
/// one more transaction per client than the one before.
struct Nondeterministic {
    plans: AtomicU64,
}

impl Scenario for Nondeterministic {
    fn name(&self) -> &str {
        "nondeterministic"
    }

    fn summary(&self) -> &str {
        "test only: its plan depends on how often it was asked"
    }

    fn plan(&self, seed: Seed) -> Result<Plan, PlanError> {
        let workload = WorkloadShape {
            clients: 1,
            txs_per_client: 3 + self.plans.fetch_add(1, Ordering::SeqCst) as usize,
            ..WorkloadShape::default()
        };
        Plan::builder(seed).workload(workload).build()
    }
}

#[test]
fn a_nondeterministic_scenario_is_caught_with_its_first_divergence() {
    let scenario = Arc::new(Nondeterministic { plans: AtomicU64::new(0) });
    let result = run_checking_determinism(scenario.as_ref(), Seed(5), &RunConfig::default());
    let failure = result.outcome.failure().expect("the two runs differ");
    assert_eq!(failure.kind, FailureKind::Nondeterminism);
    assert!(failure.detail.contains("first differing event #"), "{}", failure.detail);
    assert!(
        failure.detail.contains("run 1:") && failure.detail.contains("run 2:"),
        "{}",
        failure.detail
    );
    eprintln!("{}", failure.detail);

    // Registered next to the built-ins, a sweep with --check-determinism
    // reports it too, and only it.
    let mut registry = Registry::builtin();
    registry.register(Arc::new(Nondeterministic { plans: AtomicU64::new(0) }));
    let selected = registry.select("nondeterministic,mvcc_reads").unwrap();
    let config = SweepConfig { jobs: 1, check_determinism: true, ..SweepConfig::default() };
    let result = sweep(&cases(selected, vec![Seed(1)], 0, None, Shard::ALL), &config, &mut |_| {});
    let failing: Vec<&str> = result.failures.iter().map(|r| r.scenario.as_str()).collect();
    assert_eq!(failing, ["nondeterministic"]);
}
