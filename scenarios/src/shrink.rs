//! The shrinker: from a failing seed to a minimal case, workload and
//! faults, that still fails the same way.
//!
//! 1. Run the seed as usual, recording the workload the clients sent (a
//!    [`Script`]) and every fault and crash decision SimFs made (a
//!    [`Schedule`] keyed by filesystem-call index or simulated time).
//! 2. Replay both **pinned**: the same plan, the recorded transactions
//!    instead of the generator's, only the recorded decisions. It must fail
//!    the same way (same failure kind, which for a broken invariant is the
//!    first broken invariant), or shrinking stops there.
//! 3. Reduce, in this order and round again until a round changes nothing
//!    (or the run budget ends): incarnations (the run cut after fewer, which
//!    drops their crashes), clients, transactions, operations within each
//!    transaction, then fault decisions (ddmin), then torn crashes made
//!    clean and timed crashes made earlier. A candidate is kept only if it fails the same way and its
//!    simulated time is not longer than the best so far: a shrunk case is
//!    never longer than the original.
//!
//! Why delta debugging over a recorded workload rather than shrinking the
//! generator's draws (proptest style): a transaction's operations depend
//! on the state it began on, so shrinking the random stream changes every
//! later transaction at once, and the fault schedule is keyed by call
//! index, which that would scramble too. A recorded workload can lose one
//! transaction while every other stays exactly as it was, and what is
//! left replays without the generator (`faultline shrink --emit`).
//!
//! The result replays with `faultline replay --case FILE` once emitted.

use std::sync::Arc;

use faultline_sim::{CrashTrigger, Decision, Focus, FsProfile, Schedule, Seed};

use crate::outcome::{FailureKind, RunReport};
use crate::runner::{RunConfig, RunMode, run};
use crate::scenario::Scenario;
use crate::script::{Script, ScriptSize};

/// The size of a case: its workload, its decisions, its simulated time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CaseSize {
    /// The workload's.
    pub script: ScriptSize,
    /// Fault and crash decisions.
    pub decisions: usize,
    /// Simulated time the run took, in nanoseconds.
    pub sim_time_ns: u64,
}

impl std::fmt::Display for CaseSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} decisions={} sim-time={:.1}ms",
            self.script,
            self.decisions,
            self.sim_time_ns as f64 / 1e6
        )
    }
}

/// What the shrinker did.
#[derive(Debug)]
pub struct ShrinkReport {
    /// The failing run, as drawn from the seed.
    pub original: RunReport,
    /// Whether the recorded workload and schedule, pinned, fail the same way.
    pub reproduced: bool,
    /// The smallest schedule found that still fails the same way (the
    /// recorded one if it did not reproduce).
    pub minimal: Schedule,
    /// The smallest workload found (the recorded one if it did not
    /// reproduce).
    pub minimal_script: Script,
    /// The pinned run of the minimal case.
    pub minimal_report: Option<RunReport>,
    /// The original case's size.
    pub before: CaseSize,
    /// The minimal case's size.
    pub after: CaseSize,
    /// Runs made.
    pub runs: usize,
}

/// Shrinks `scenario` at `seed` (with directed search's `focus`, if the
/// case had one, and its filesystem profile if pinned), making at most
/// `runs_max` runs. Errs if the seed does not fail.
pub fn shrink(
    scenario: &dyn Scenario,
    seed: Seed,
    focus: Option<Focus>,
    fs_profile: Option<FsProfile>,
    runs_max: usize,
) -> Result<ShrinkReport, String> {
    let config = RunConfig { focus, fs_profile, record_script: true, ..RunConfig::default() };
    let original = run(scenario, seed, &config);
    let Some(failure) = original.outcome.failure() else {
        return Err(format!("{} seed {seed} does not fail: nothing to shrink", scenario.name()));
    };
    if failure.kind == FailureKind::Nondeterminism {
        return Err("a nondeterministic run cannot be shrunk".to_owned());
    }
    let script = original.script.clone().unwrap_or_default();
    let schedule = original.schedule.clone();
    let before = size_of(&script, &schedule, &original);
    let mut shrinker = Shrinker {
        scenario,
        seed,
        focus,
        fs_profile,
        kind: failure.kind,
        runs: 1,
        runs_max,
        best: None,
    };
    let Some(full) = shrinker.fails(&schedule, &script) else {
        return Ok(ShrinkReport {
            original,
            reproduced: false,
            minimal: schedule,
            minimal_script: script,
            minimal_report: None,
            before,
            after: before,
            runs: shrinker.runs,
        });
    };
    // The pinned replay of the recording is the original run (same trace
    // hash, tests/tests/shrink_and_exhaust.rs); candidates must not be
    // longer than it.
    let replayed_ns = full.stats.sim_time_ns;
    shrinker.best = Some(Best { schedule, script, report: full, sim_time_ns: replayed_ns });
    shrinker.minimise();
    let best = shrinker.best.take().expect("kept");
    let after = size_of(&best.script, &best.schedule, &best.report);
    assert!(after.sim_time_ns <= replayed_ns, "a kept candidate is never longer");
    Ok(ShrinkReport {
        original,
        reproduced: true,
        minimal: best.schedule,
        minimal_script: best.script,
        minimal_report: Some(best.report),
        before,
        after,
        runs: shrinker.runs,
    })
}

fn size_of(script: &Script, schedule: &Schedule, report: &RunReport) -> CaseSize {
    CaseSize {
        script: script.size(),
        decisions: schedule.len(),
        sim_time_ns: report.stats.sim_time_ns,
    }
}

/// The smallest case that fails the same way, so far.
struct Best {
    schedule: Schedule,
    script: Script,
    report: RunReport,
    sim_time_ns: u64,
}

struct Shrinker<'a> {
    scenario: &'a dyn Scenario,
    seed: Seed,
    /// The case's focus: it adjusts the plan the pinned runs replay.
    focus: Option<Focus>,
    /// The filesystem profile pinned, if the case's repro pins one.
    fs_profile: Option<FsProfile>,
    kind: FailureKind,
    runs: usize,
    runs_max: usize,
    best: Option<Best>,
}

/// Delta debugging (ddmin): a smallest subsequence of `items` for which
/// `test` holds (1-minimal as far as the budget goes), the empty one
/// tried first. `test(items)` is assumed to hold.
fn ddmin<T: Clone>(mut items: Vec<T>, test: &mut dyn FnMut(&[T]) -> bool) -> Vec<T> {
    if items.is_empty() || test(&[]) {
        return Vec::new();
    }
    let mut n = 2;
    while items.len() >= 2 {
        let chunk = items.len().div_ceil(n);
        let parts: Vec<Vec<T>> = items.chunks(chunk).map(<[T]>::to_vec).collect();
        if let Some(part) = parts.iter().find(|part| test(part)) {
            items = part.clone();
            n = 2;
            continue;
        }
        let complement = (0..parts.len()).find_map(|skip| {
            let rest: Vec<T> = parts
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != skip)
                .flat_map(|(_, p)| p.clone())
                .collect();
            test(&rest).then_some(rest)
        });
        if let Some(rest) = complement {
            items = rest;
            n = (n - 1).max(2);
            continue;
        }
        if n >= items.len() {
            break;
        }
        n = (n * 2).min(items.len());
    }
    items
}

impl Shrinker<'_> {
    /// The pinned run of `schedule` sending `script`, if it fails the same
    /// way.
    fn fails(&mut self, schedule: &Schedule, script: &Script) -> Option<RunReport> {
        self.runs += 1;
        let config = RunConfig {
            mode: RunMode::Pinned(schedule.clone()),
            focus: self.focus,
            fs_profile: self.fs_profile,
            script: Some(Arc::new(script.clone())),
            ..RunConfig::default()
        };
        let report = run(self.scenario, self.seed, &config);
        let same = report.outcome.failure().is_some_and(|f| f.kind == self.kind);
        same.then_some(report)
    }

    /// Keeps the candidate if it fails the same way in no more simulated
    /// time than the best so far.
    fn try_case(&mut self, schedule: Schedule, script: Script) -> bool {
        if self.runs >= self.runs_max {
            return false;
        }
        let Some(report) = self.fails(&schedule, &script) else { return false };
        let best = self.best.as_mut().expect("a best case before any candidate");
        if report.stats.sim_time_ns > best.sim_time_ns {
            return false;
        }
        *best = Best { schedule, script, sim_time_ns: report.stats.sim_time_ns, report };
        true
    }

    fn best(&self) -> &Best {
        self.best.as_ref().expect("a best case")
    }

    /// Rounds of every reduction until one changes nothing.
    fn minimise(&mut self) {
        loop {
            let size = |b: &Best| (b.script.size(), b.schedule.len(), b.sim_time_ns);
            let before = size(self.best());
            self.fewer_incarnations();
            self.fewer_clients();
            self.fewer_txs();
            self.fewer_ops();
            self.fewer_decisions();
            if size(self.best()) == before || self.runs >= self.runs_max {
                return;
            }
        }
    }

    /// The run cut after as few incarnations as still fail, shortest first.
    fn fewer_incarnations(&mut self) {
        let schedule = self.best().schedule.clone();
        let script = self.best().script.clone();
        for keep in 1..script.incarnations.len() {
            let cut = Script { incarnations: script.incarnations[..keep].to_vec() };
            if self.try_case(schedule.clone(), cut) {
                return;
            }
        }
    }

    /// Each client of each incarnation removed in turn, last first.
    fn fewer_clients(&mut self) {
        let incarnations = self.best().script.incarnations.len();
        for i in 0..incarnations {
            let clients = self.best().script.incarnations.get(i).map_or(0, Vec::len);
            for c in (0..clients).rev() {
                let (schedule, mut script) =
                    (self.best().schedule.clone(), self.best().script.clone());
                if c < script.incarnations[i].len() {
                    script.incarnations[i].remove(c);
                    self.try_case(schedule, script);
                }
            }
        }
    }

    /// ddmin over every transaction of the workload.
    fn fewer_txs(&mut self) {
        let script = self.best().script.clone();
        let positions: Vec<(usize, usize, usize)> = script
            .incarnations
            .iter()
            .enumerate()
            .flat_map(|(i, clients)| {
                clients
                    .iter()
                    .enumerate()
                    .flat_map(move |(c, txs)| (0..txs.len()).map(move |t| (i, c, t)))
            })
            .collect();
        let schedule = self.best().schedule.clone();
        ddmin(positions, &mut |kept| {
            let mut candidate = script.clone();
            for (i, clients) in candidate.incarnations.iter_mut().enumerate() {
                for (c, txs) in clients.iter_mut().enumerate() {
                    let mut t = 0;
                    txs.retain(|_| {
                        t += 1;
                        kept.contains(&(i, c, t - 1))
                    });
                }
            }
            self.try_case(schedule.clone(), candidate)
        });
    }

    /// ddmin over the operations of each transaction (at least one kept:
    /// removing a whole transaction is the step before).
    fn fewer_ops(&mut self) {
        let script = self.best().script.clone();
        for (i, clients) in script.incarnations.iter().enumerate() {
            for (c, txs) in clients.iter().enumerate() {
                for t in 0..txs.len() {
                    let base = self.best().script.clone();
                    let Some(ops) = base.txs(i, c).get(t).map(|tx| tx.ops.clone()) else {
                        continue;
                    };
                    if ops.len() < 2 {
                        continue;
                    }
                    let schedule = self.best().schedule.clone();
                    ddmin((0..ops.len()).collect(), &mut |kept: &[usize]| {
                        if kept.is_empty() {
                            return false;
                        }
                        let mut candidate = base.clone();
                        let tx = &mut candidate.incarnations[i][c][t];
                        tx.ops = kept.iter().map(|k| ops[*k].clone()).collect();
                        // A kept abort still ends at its last operation.
                        tx.aborts &= kept.last() == Some(&(ops.len() - 1));
                        self.try_case(schedule.clone(), candidate)
                    });
                }
            }
        }
    }

    /// ddmin over the fault and crash decisions, then torn crashes made
    /// clean, then timed crashes made earlier.
    fn fewer_decisions(&mut self) {
        let script = self.best().script.clone();
        let decisions = self.best().schedule.decisions.clone();
        ddmin(decisions, &mut |kept| {
            self.try_case(Schedule { decisions: kept.to_vec() }, script.clone())
        });
        let decisions = self.best().schedule.decisions.clone();
        for (i, decision) in decisions.iter().enumerate() {
            if let Decision::Crash { trigger, mode, torn: true } = *decision {
                let mut candidate = self.best().schedule.decisions.clone();
                if i < candidate.len() {
                    candidate[i] = Decision::Crash { trigger, mode, torn: false };
                    self.try_case(Schedule { decisions: candidate }, script.clone());
                }
            }
        }
        self.earlier_timed_crashes();
    }

    /// Each timed crash moved earlier, halving its time while the case
    /// still fails the same way: the run it cuts short is shorter.
    fn earlier_timed_crashes(&mut self) {
        let script = self.best().script.clone();
        for i in 0..self.best().schedule.decisions.len() {
            loop {
                let mut candidate = self.best().schedule.decisions.clone();
                let Decision::Crash { trigger: CrashTrigger::Time { ns, incarnation }, mode, torn } =
                    candidate[i]
                else {
                    break;
                };
                if ns == 0 {
                    break;
                }
                let earlier = CrashTrigger::Time { ns: ns / 2, incarnation };
                candidate[i] = Decision::Crash { trigger: earlier, mode, torn };
                if !self.try_case(Schedule { decisions: candidate }, script.clone()) {
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ddmin;

    #[test]
    fn ddmin_finds_the_two_items_that_matter() {
        let items: Vec<u32> = (0..40).collect();
        let mut runs = 0;
        let kept = ddmin(items, &mut |subset| {
            runs += 1;
            subset.contains(&7) && subset.contains(&31)
        });
        assert_eq!(kept, [7, 31]);
        assert!(runs < 60, "{runs} tests");
        assert_eq!(ddmin(vec![1, 2, 3], &mut |_| true), Vec::<i32>::new());
    }
}
