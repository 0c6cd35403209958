//! The shrinker: from a failing seed to a minimal fault schedule that still
//! fails the same way.
//!
//! 1. Run the seed as usual; SimFs records every fault and crash decision
//!    (a [`Schedule`] keyed by filesystem-call index or simulated time).
//! 2. Replay it **pinned**: the same plan and workload, no random fault or
//!    crash, only the recorded decisions, which SimFs takes from the
//!    schedule instead of drawing them (the same decision code either way).
//!    It must fail the same way (same failure kind), or shrinking stops
//!    there.
//! 3. Delta-debug the decisions (ddmin): keep any subset whose pinned run
//!    still fails the same way; then try each remaining torn crash as a
//!    clean one.
//!
//! The result replays with `faultline replay --scenario S --seed X
//! --schedule '...'`.

use faultline_sim::{Decision, Focus, Schedule, Seed};

use crate::outcome::{FailureKind, RunReport};
use crate::runner::{RunConfig, RunMode, run};
use crate::scenario::Scenario;

/// What the shrinker did.
#[derive(Debug)]
pub struct ShrinkReport {
    /// The failing run, as drawn from the seed.
    pub original: RunReport,
    /// Whether the recorded schedule, pinned, fails the same way.
    pub reproduced: bool,
    /// The smallest schedule found that still fails the same way (the
    /// recorded one if it did not reproduce).
    pub minimal: Schedule,
    /// The pinned run of the minimal schedule.
    pub minimal_report: Option<RunReport>,
    /// Runs made.
    pub runs: usize,
}

impl ShrinkReport {
    /// The one-line command that replays the minimal schedule.
    pub fn repro_command(&self) -> String {
        format!("{} --schedule '{}'", self.original.repro_command(), self.minimal)
    }
}

/// Shrinks `scenario` at `seed` (with directed search's `focus`, if the
/// case had one), making at most `runs_max` runs. Errs if the seed does
/// not fail.
pub fn shrink(
    scenario: &dyn Scenario,
    seed: Seed,
    focus: Option<Focus>,
    runs_max: usize,
) -> Result<ShrinkReport, String> {
    let original = run(scenario, seed, &RunConfig { focus, ..RunConfig::default() });
    let Some(failure) = original.outcome.failure() else {
        return Err(format!("{} seed {seed} does not fail: nothing to shrink", scenario.name()));
    };
    if failure.kind == FailureKind::Nondeterminism {
        return Err("a nondeterministic run cannot be shrunk".to_owned());
    }
    let mut shrinker = Shrinker { scenario, seed, focus, kind: failure.kind, runs: 1, runs_max };
    let full = original.schedule.clone();
    let Some(full_report) = shrinker.fails(&full) else {
        return Ok(ShrinkReport {
            original,
            reproduced: false,
            minimal: full,
            minimal_report: None,
            runs: shrinker.runs,
        });
    };
    let minimal = shrinker.minimise(full.decisions);
    let minimal = Schedule { decisions: minimal };
    let minimal_report = shrinker.fails(&minimal).or(Some(full_report));
    Ok(ShrinkReport { original, reproduced: true, minimal, minimal_report, runs: shrinker.runs })
}

struct Shrinker<'a> {
    scenario: &'a dyn Scenario,
    seed: Seed,
    /// The case's focus: it adjusts the plan the pinned runs replay.
    focus: Option<Focus>,
    kind: FailureKind,
    runs: usize,
    runs_max: usize,
}

impl Shrinker<'_> {
    /// The pinned run of `schedule`, if it fails the same way.
    fn fails(&mut self, schedule: &Schedule) -> Option<RunReport> {
        self.runs += 1;
        let config = RunConfig {
            mode: RunMode::Pinned(schedule.clone()),
            focus: self.focus,
            ..RunConfig::default()
        };
        let report = run(self.scenario, self.seed, &config);
        let same = report.outcome.failure().is_some_and(|f| f.kind == self.kind);
        same.then_some(report)
    }

    fn test(&mut self, decisions: &[Decision]) -> bool {
        self.runs < self.runs_max
            && self.fails(&Schedule { decisions: decisions.to_vec() }).is_some()
    }

    /// ddmin, then clean crashes for torn ones.
    fn minimise(&mut self, mut decisions: Vec<Decision>) -> Vec<Decision> {
        if self.test(&[]) {
            return Vec::new();
        }
        let mut n = 2;
        while decisions.len() >= 2 && self.runs < self.runs_max {
            let chunk = decisions.len().div_ceil(n);
            let parts: Vec<Vec<Decision>> =
                decisions.chunks(chunk).map(<[Decision]>::to_vec).collect();
            if let Some(part) = parts.iter().find(|part| self.test(part)) {
                decisions = part.clone();
                n = 2;
                continue;
            }
            let complements: Vec<Vec<Decision>> = (0..parts.len())
                .map(|skip| {
                    parts
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| *i != skip)
                        .flat_map(|(_, p)| p.clone())
                        .collect()
                })
                .collect();
            if let Some(complement) = complements.iter().find(|c| self.test(c)) {
                decisions = complement.clone();
                n = (n - 1).max(2);
                continue;
            }
            if n >= decisions.len() {
                break;
            }
            n = (n * 2).min(decisions.len());
        }
        self.untear(decisions)
    }

    /// Tries each torn crash as a clean one.
    fn untear(&mut self, mut decisions: Vec<Decision>) -> Vec<Decision> {
        for i in 0..decisions.len() {
            if let Decision::Crash { trigger, mode, torn: true } = decisions[i] {
                let mut candidate = decisions.clone();
                candidate[i] = Decision::Crash { trigger, mode, torn: false };
                if self.test(&candidate) {
                    decisions = candidate;
                }
            }
        }
        decisions
    }
}
