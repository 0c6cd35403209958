//! One injector: the simulated filesystem records every fault and crash
//! decision it makes, and the same code applies a pinned schedule, so
//! replaying the recorded schedule of a run repeats that run exactly, trace
//! hash included. Checked on every case of a sweep of every registered
//! scenario over 20 seeds.

use faultline_scenarios::{Registry, RunConfig, RunMode, Shard, SweepConfig, cases, run, sweep};

/// Seeds per scenario.
const SEEDS: u64 = 20;

#[test]
fn replaying_the_recorded_schedule_of_every_case_reproduces_its_trace_hash() {
    let registry = Registry::builtin();
    let all = cases(registry.all().to_vec(), Vec::new(), 1_000, Some(SEEDS), Shard::ALL);
    let config = SweepConfig { jobs: 2, ..SweepConfig::default() };
    let mut drawn = Vec::new();
    sweep(&all, &config, &mut |report| {
        drawn.push((
            report.scenario.clone(),
            report.seed,
            report.trace_hash,
            report.schedule.clone(),
            report.focus,
        ));
    });
    assert_eq!(drawn.len() as u64, SEEDS * registry.all().len() as u64);
    let (mut decisions, mut with_decisions) = (0, 0);
    for (name, seed, hash, schedule, focus) in drawn {
        let scenario = registry.get(&name).unwrap();
        // A focused case's plan is adjusted to its focus: the replay needs it.
        let pinned =
            RunConfig { mode: RunMode::Pinned(schedule.clone()), focus, ..RunConfig::default() };
        let replay = run(scenario.as_ref(), seed, &pinned);
        assert_eq!(
            replay.trace_hash, hash,
            "{name} seed={seed}: the pinned replay of {schedule} diverged"
        );
        assert_eq!(replay.schedule, schedule, "{name} seed={seed}: it made the same decisions");
        assert!(replay.unused.is_empty(), "{name} seed={seed}: unused {}", replay.unused);
        decisions += schedule.len();
        with_decisions += usize::from(!schedule.is_empty());
    }
    assert!(with_decisions > 100, "most cases made decisions: {with_decisions}");
    eprintln!("{decisions} decisions in {with_decisions} cases replayed pinned to the same hash");
}
