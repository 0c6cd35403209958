//! Fault-site coverage, directed search and must-reach situations: a pair
//! a sweep did not reach moves to reached when a case aims at it; directed
//! search reaches more pairs than the same seeds uniform, and stays
//! independent of the number of threads; a situation no case can reach is
//! reported by name, one that is reached is not.

use std::sync::Arc;

use faultline_scenarios::coverage::{Situation, situations};
use faultline_scenarios::{
    Directed, Plan, PlanError, Registry, RunConfig, RunReport, Scenario, Shard, SweepConfig, cases,
    run, sweep,
};
use faultline_sim::{Focus, Seed, Strike};

fn config(jobs: usize, directed: Directed) -> SweepConfig {
    SweepConfig { jobs, directed, ..SweepConfig::default() }
}

#[test]
fn a_pair_no_case_reached_is_reached_by_a_case_aimed_at_it() {
    let registry = Registry::builtin();
    let swarm = registry.get("swarm").unwrap();
    let mut runs: Vec<RunReport> = Vec::new();
    let result = sweep(
        &cases(vec![Arc::clone(&swarm)], Vec::new(), 0, Some(12), Shard::ALL),
        &config(2, Directed::Off),
        &mut |report| runs.push(report.clone()),
    );
    // A pair the sweep never struck, at a site some case called: a fsync
    // error or a crash where none happened.
    let unreached = result.coverage.unreached();
    let (site, strike) = *unreached
        .iter()
        .find(|(site, strike)| {
            site.op.is_mutation() && matches!(strike, Strike::Crash(_) | Strike::Fault(_))
        })
        .expect("twelve seeds leave some pair unreached");
    assert_eq!(result.coverage.hits(&(site, strike)), 0);
    let case = runs.iter().find(|r| r.coverage.calls.contains_key(&site)).unwrap();
    let focus = Focus { site, strike, nth: 1 };
    let aimed =
        run(swarm.as_ref(), case.seed, &RunConfig { focus: Some(focus), ..RunConfig::default() });
    assert!(aimed.coverage.hits(&(site, strike)) >= 1, "{focus} struck: {:?}", aimed.fired);
    assert_eq!(aimed.focus, Some(focus));
    assert!(aimed.repro_command().contains(&format!("--focus {focus}")));
    let mut after = result.coverage.clone();
    after.add(&aimed.coverage);
    assert!(!after.unreached().contains(&(site, strike)), "the pair moved to reached");
    let (reached_before, _) = result.coverage.reached_of();
    let (reached_after, _) = after.reached_of();
    assert!(reached_after > reached_before);
}

#[test]
fn directed_search_reaches_more_pairs_and_does_not_depend_on_threads() {
    let registry = Registry::builtin();
    let swarm = vec![registry.get("swarm").unwrap()];
    let all = cases(swarm, Vec::new(), 500, Some(80), Shard::ALL);
    let uniform = sweep(&all, &config(2, Directed::Off), &mut |_| {});
    let directed = sweep(&all, &config(2, Directed::Swarm), &mut |_| {});
    assert!(directed.focused > 10, "aimed cases: {}", directed.focused);
    let (uniform_reached, _) = uniform.coverage.reached_of();
    let (directed_reached, _) = directed.coverage.reached_of();
    assert!(
        directed_reached > uniform_reached,
        "directed {directed_reached} vs uniform {uniform_reached} pairs"
    );
    let alone = sweep(&all, &config(1, Directed::Swarm), &mut |_| {});
    let key = |r: &faultline_scenarios::CaseResult| (r.seed, r.focus, r.trace_hash);
    let two: Vec<_> = directed.cases.to_vec().unwrap().iter().map(key).collect();
    let one: Vec<_> = alone.cases.to_vec().unwrap().iter().map(key).collect();
    assert_eq!(one, two, "the foci, and so the results, do not depend on jobs");
}

/// `torn_tail`'s plans, declaring one situation it reaches and one it
/// cannot (it takes no snapshot, so it never removes a segment).
struct Declares;

impl Scenario for Declares {
    fn name(&self) -> &str {
        "declares"
    }

    fn summary(&self) -> &str {
        "torn_tail, with a situation it cannot reach"
    }

    fn plan(&self, seed: Seed) -> Result<Plan, PlanError> {
        Registry::builtin().get("torn_tail").unwrap().plan(seed)
    }

    fn must_reach(&self) -> Vec<Situation> {
        vec![situations::CRASH_BETWEEN_WRITE_AND_SYNC, situations::CRASH_DURING_SEGMENT_REMOVAL]
    }
}

#[test]
fn a_situation_never_reached_is_named_and_one_reached_is_not() {
    let all = cases(vec![Arc::new(Declares)], Vec::new(), 0, Some(24), Shard::ALL);
    let result = sweep(&all, &config(2, Directed::Off), &mut |_| {});
    let never = result.never_reached();
    let removal = situations::CRASH_DURING_SEGMENT_REMOVAL.to_string();
    assert_eq!(never, vec![("declares".to_owned(), removal)]);
    let reached = &result.coverage_by_scenario["declares"].situations;
    assert!(reached[&situations::CRASH_BETWEEN_WRITE_AND_SYNC.to_string()] > 0, "{reached:?}");
}
