//! Sweeps: many (scenario, seed) cases on several OS threads. Each thread
//! runs whole cases one after another; a case itself stays single-threaded
//! and deterministic, so a sweep's results do not depend on `jobs`.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use faultline_sim::{Focus, FsProfile, Seed, Stream};
use parking_lot::{Condvar, Mutex};
use rand::RngExt;

use crate::case_log::CaseLog;
use crate::coverage::{Coverage, choose_focus};
use crate::outcome::{RunReport, RunStats};
use crate::runner::RunConfig;
use crate::scenario::Scenario;
use crate::supervise::{CaseRunner, Isolation};

/// One case of a sweep.
#[derive(Clone, Debug)]
pub struct Case {
    /// The scenario.
    pub scenario: Arc<dyn Scenario>,
    /// The seed.
    pub seed: Seed,
}

/// A slice of a sweep for one machine: shard `index` (1-based) of `count`.
/// Case `i` of the full sweep belongs to shard `i % count + 1`, so shards
/// are disjoint, cover every case, and stay balanced across scenarios.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This shard, 1-based.
    pub index: u64,
    /// How many shards.
    pub count: u64,
}

impl Shard {
    /// The whole sweep.
    pub const ALL: Shard = Shard { index: 1, count: 1 };

    /// Whether case `i` of the full sweep belongs to this shard.
    pub fn contains(&self, i: u64) -> bool {
        i % self.count + 1 == self.index
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || format!("bad shard {text:?}: expected k/n with 1 <= k <= n, e.g. 2/8");
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let index: u64 = k.trim().parse().map_err(|_| bad())?;
        let count: u64 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The cases of a sweep, enumerated lazily: seeds `first, first + 1, ...`
/// (`count` of them, or without end), each over every scenario, filtered by
/// the shard.
#[derive(Clone, Debug)]
pub struct Cases {
    scenarios: Vec<Arc<dyn Scenario>>,
    seeds: Vec<Seed>,
    first_seed: u64,
    seed_count: Option<u64>,
    shard: Shard,
}

/// The cases for `scenarios` over explicit `seeds`, or over `seed_count`
/// seeds from `first_seed` (`None`: without end, for a time-bounded sweep).
pub fn cases(
    scenarios: Vec<Arc<dyn Scenario>>,
    seeds: Vec<Seed>,
    first_seed: u64,
    seed_count: Option<u64>,
    shard: Shard,
) -> Cases {
    assert!(!scenarios.is_empty(), "a sweep needs a scenario");
    Cases { scenarios, seeds, first_seed, seed_count, shard }
}

impl Cases {
    /// The `j`-th case of this shard, if the sweep has that many.
    fn get(&self, j: u64) -> Option<Case> {
        let n = self.scenarios.len() as u64;
        // The j-th index i of the full sweep with i % count == index - 1.
        let i = j.checked_mul(self.shard.count)?.checked_add(self.shard.index - 1)?;
        let (seed_index, scenario_index) = (i / n, (i % n) as usize);
        let seed = if self.seeds.is_empty() {
            if self.seed_count.is_some_and(|count| seed_index >= count) {
                return None;
            }
            // A sweep without end stops at u64::MAX rather than wrap (one
            // with a count was checked not to wrap when it was made).
            Seed(self.first_seed.checked_add(seed_index)?)
        } else {
            *self.seeds.get(usize::try_from(seed_index).ok()?)?
        };
        Some(Case { scenario: Arc::clone(&self.scenarios[scenario_index]), seed })
    }

    /// How many cases this shard has (`None`: without end).
    pub fn len(&self) -> Option<u64> {
        let seeds = if self.seeds.is_empty() { self.seed_count? } else { self.seeds.len() as u64 };
        let total = seeds * self.scenarios.len() as u64;
        Some(total / self.shard.count + u64::from(total % self.shard.count >= self.shard.index))
    }

    /// Whether this shard has no case.
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }
}

/// Which cases directed search aims at unreached (site, strike) pairs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Directed {
    /// None: every case as its seed draws it (uniform seeds).
    Off,
    /// Half the cases of the `swarm` scenario (the default).
    #[default]
    Swarm,
    /// Half the cases of every scenario.
    All,
}

impl Directed {
    fn applies_to(self, scenario: &str) -> bool {
        match self {
            Directed::Off => false,
            Directed::Swarm => scenario == "swarm",
            Directed::All => true,
        }
    }
}

impl FromStr for Directed {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "off" => Ok(Directed::Off),
            "swarm" => Ok(Directed::Swarm),
            "all" => Ok(Directed::All),
            _ => Err(format!("bad directed mode {text:?}: off, swarm or all")),
        }
    }
}

/// The focus directed search gives a case: for half the seeds (the seed
/// decides which), a strike at a pair `reached` has not reached yet.
/// Which pair depends on what the sweep reached before the case started,
/// so a focused case's report names its focus, and its repro replays it.
pub fn focus_for(seed: Seed, reached: &Coverage) -> Option<Focus> {
    let mut rng = seed.sub_rng(Stream::FaultMix, FOCUS_STREAM);
    if !rng.random_bool(0.5) {
        return None;
    }
    choose_focus(reached, rng.random())
}

/// The sub-stream of the fault-mix stream a case's focus is drawn from
/// (plans draw their mix from the stream itself, not its sub-streams).
const FOCUS_STREAM: u32 = 0xd1;

/// Cases per batch of directed search: a case aims at what the batches
/// two and more before its own reached.
const BATCH: u64 = 16;

/// What directed search aims by, kept so that a sweep's results do not
/// depend on `jobs` or timing: case `j` (of batch `j / BATCH`) sees exactly
/// the coverage of the batches before the one before its own, and waits
/// until those are done. Cases are taken in order, so the cases it waits
/// for are all running or done: it never waits for itself.
struct Reached {
    state: Mutex<ReachedState>,
    frozen_more: Condvar,
    /// How many cumulative snapshots to keep: the cases in flight span at
    /// most `jobs` cases, so a few batches.
    keep: usize,
}

struct ReachedState {
    /// Each batch not yet frozen: its cases done and their coverage.
    batches: BTreeMap<u64, (u64, Coverage)>,
    /// `(k, coverage of batches 0..k)` for the last few `k`, oldest first.
    cumulative: VecDeque<(u64, Arc<Coverage>)>,
}

impl Reached {
    fn new(jobs: usize) -> Self {
        let cumulative = VecDeque::from([(0, Arc::new(Coverage::default()))]);
        Reached {
            state: Mutex::new(ReachedState { batches: BTreeMap::new(), cumulative }),
            frozen_more: Condvar::new(),
            keep: 4 + jobs.div_ceil(BATCH as usize),
        }
    }

    /// The coverage case `j` aims by, once it is known; `None` if
    /// `give_up` says to stop waiting (out of time).
    fn for_case(&self, j: u64, give_up: &dyn Fn() -> bool) -> Option<Arc<Coverage>> {
        let needed = (j / BATCH).saturating_sub(1);
        let mut state = self.state.lock();
        loop {
            if let Some((_, coverage)) = state.cumulative.iter().find(|(k, _)| *k == needed) {
                return Some(Arc::clone(coverage));
            }
            let newest = state.cumulative.back().map_or(0, |(k, _)| *k);
            assert!(newest < needed, "case {j} needs batches 0..{needed}, no longer kept");
            if give_up() {
                return None;
            }
            self.frozen_more.wait_for(&mut state, Duration::from_millis(50));
        }
    }

    /// Case `j` is done with `coverage`; batch `k` holds `batch_len(k)`
    /// cases.
    fn done(&self, j: u64, coverage: &Coverage, batch_len: &dyn Fn(u64) -> u64) {
        let mut state = self.state.lock();
        let entry = state.batches.entry(j / BATCH).or_default();
        entry.0 += 1;
        entry.1.add(coverage);
        let mut froze = false;
        loop {
            let (k, total) =
                state.cumulative.back().map(|(k, c)| (*k, Arc::clone(c))).expect("kept");
            let complete = state.batches.get(&k).is_some_and(|(done, _)| *done == batch_len(k));
            if !complete {
                break;
            }
            let (_, batch) = state.batches.remove(&k).expect("complete");
            let mut next = (*total).clone();
            next.add(&batch);
            state.cumulative.push_back((k + 1, Arc::new(next)));
            if state.cumulative.len() > self.keep {
                state.cumulative.pop_front();
            }
            froze = true;
        }
        if froze {
            self.frozen_more.notify_all();
        }
    }
}

/// How to sweep.
#[derive(Clone, Debug)]
pub struct SweepConfig {
    /// OS threads, each running whole cases. At least 1.
    pub jobs: usize,
    /// Stop starting cases after this much wall time.
    pub time_budget: Option<Duration>,
    /// Run every case twice and compare the traces.
    pub check_determinism: bool,
    /// How each case runs.
    pub run: RunConfig,
    /// Which cases directed search aims. Default: swarm's.
    pub directed: Directed,
    /// Set to a signal's number (SIGINT, SIGTERM) to stop starting cases;
    /// the cases in flight finish and the report is marked interrupted.
    pub stop: Option<Arc<AtomicUsize>>,
    /// Where cases run: in-process (the default) or in supervised worker
    /// processes that no case can take down with the sweep.
    pub isolation: Isolation,
}

impl Default for SweepConfig {
    /// One job, no time budget, no determinism check, default runs, swarm's
    /// directed search, no stop flag, in-process.
    fn default() -> Self {
        SweepConfig {
            jobs: 1,
            time_budget: None,
            check_determinism: false,
            run: RunConfig::default(),
            directed: Directed::default(),
            stop: None,
            isolation: Isolation::InProcess,
        }
    }
}

/// One case's result, as the sweep logs it for every case.
#[derive(Clone, Debug)]
pub struct CaseResult {
    /// The scenario's name.
    pub scenario: String,
    /// The seed.
    pub seed: Seed,
    /// `passed`, `refused` or the failure kind.
    pub label: &'static str,
    /// The trace hash.
    pub trace_hash: u64,
    /// Wall time the case took.
    pub wall: Duration,
    /// The strike directed search aimed, if any (a replay needs it).
    pub focus: Option<Focus>,
    /// The filesystem profile it ran on, if simulated.
    pub fs_profile: Option<FsProfile>,
}

/// The cases of one filesystem profile.
#[derive(Clone, Debug, Default)]
pub struct ProfileTally {
    /// Their counters (`runs`: how many ran on it).
    pub stats: RunStats,
    /// How many of them failed.
    pub failed: u64,
}

/// What a sweep found.
#[derive(Debug, Default)]
pub struct SweepReport {
    /// Every case's result (read back sorted by scenario then seed), kept
    /// on disk past a bounded buffer so that a sweep runs in flat memory.
    pub cases: CaseLog,
    /// The failing runs, whole, sorted by scenario then seed.
    pub failures: Vec<RunReport>,
    /// Counters per scenario.
    pub stats: BTreeMap<String, RunStats>,
    /// Counters per filesystem profile (simulated cases only).
    pub profiles: BTreeMap<FsProfile, ProfileTally>,
    /// Outcome labels per scenario: label -> count.
    pub outcomes: BTreeMap<String, BTreeMap<&'static str, u64>>,
    /// Wall time of the sweep.
    pub wall: Duration,
    /// Whether the time budget stopped it before the cases ran out.
    pub stopped_by_time: bool,
    /// The signal that stopped it before the cases ran out, if one did:
    /// the report holds the cases finished until then (a partial result).
    pub interrupted_by: Option<usize>,
    /// What every case reached, added up.
    pub coverage: Coverage,
    /// What each scenario's cases reached (its situations included).
    pub coverage_by_scenario: BTreeMap<String, Coverage>,
    /// How the pairs struck grew: (cases done, distinct pairs struck),
    /// one entry each time a case struck a new pair.
    pub growth: Vec<(u64, usize)>,
    /// Cases directed search aimed at a pair.
    pub focused: u64,
}

impl SweepReport {
    /// The declared situations no case reached, as `(scenario, situation)`.
    pub fn never_reached(&self) -> Vec<(String, String)> {
        self.coverage_by_scenario
            .iter()
            .flat_map(|(scenario, coverage)| {
                coverage
                    .situations
                    .iter()
                    .filter(|(_, n)| **n == 0)
                    .map(move |(situation, _)| (scenario.clone(), situation.clone()))
            })
            .collect()
    }

    fn add(&mut self, report: RunReport, wall: Duration) {
        let before = self.coverage.struck.len();
        self.coverage.add(&report.coverage);
        self.coverage_by_scenario.entry(report.scenario.clone()).or_default().add(&report.coverage);
        if self.coverage.struck.len() > before {
            self.growth.push((self.cases.len() + 1, self.coverage.struck.len()));
        }
        self.focused += u64::from(report.focus.is_some());
        self.stats.entry(report.scenario.clone()).or_default().add(&report.stats);
        if let Some(profile) = report.fs_profile {
            let tally = self.profiles.entry(profile).or_default();
            tally.stats.add(&report.stats);
            tally.failed += u64::from(report.outcome.is_failure());
        }
        *self
            .outcomes
            .entry(report.scenario.clone())
            .or_default()
            .entry(report.outcome.label())
            .or_default() += 1;
        self.cases.push(&CaseResult {
            scenario: report.scenario.clone(),
            seed: report.seed,
            label: report.outcome.label(),
            trace_hash: report.trace_hash,
            wall,
            focus: report.focus,
            fs_profile: report.fs_profile,
        });
        if report.outcome.is_failure() {
            self.failures.push(report);
        }
    }
}

/// Runs `cases` on `config.jobs` threads; calls `on_done` (on the calling
/// thread) after each case.
pub fn sweep(
    cases: &Cases,
    config: &SweepConfig,
    on_done: &mut dyn FnMut(&RunReport),
) -> SweepReport {
    let started = Instant::now();
    let next = AtomicU64::new(0);
    let out_of_time = AtomicBool::new(false);
    let signal = || config.stop.as_ref().map_or(0, |stop| stop.load(Ordering::SeqCst));
    let must_stop = || signal() != 0 || config.time_budget.is_some_and(|b| started.elapsed() >= b);
    let mut report = SweepReport::default();
    // What the sweep reached, for directed search to aim at what it did
    // not.
    let reached = Reached::new(config.jobs.max(1));
    let batch_len = |k: u64| match cases.len() {
        Some(total) => BATCH.min(total.saturating_sub(k * BATCH)),
        None => BATCH,
    };
    let (send, receive) = mpsc::channel::<(u64, RunReport, Duration)>();
    std::thread::scope(|scope| {
        for _ in 0..config.jobs.max(1) {
            let send = send.clone();
            let (next, out_of_time_flag, reached) = (&next, &out_of_time, &reached);
            let must_stop = &must_stop;
            scope.spawn(move || {
                let mut runner =
                    CaseRunner::new(&config.isolation, config.check_determinism, &config.run);
                loop {
                    if must_stop() {
                        out_of_time_flag.store(true, Ordering::SeqCst);
                        return;
                    }
                    let j = next.fetch_add(1, Ordering::SeqCst);
                    let Some(case) = cases.get(j) else { return };
                    let case_started = Instant::now();
                    let mut run_config = config.run.clone();
                    if run_config.focus.is_none()
                        && config.directed.applies_to(case.scenario.name())
                    {
                        let Some(coverage) = reached.for_case(j, must_stop) else {
                            out_of_time_flag.store(true, Ordering::SeqCst);
                            return;
                        };
                        run_config.focus = focus_for(case.seed, &coverage);
                    }
                    // A case that panics (or, supervised, aborts or
                    // spins) is its own failure: the sweep goes on.
                    let result = runner.run(&case.scenario, case.seed, &run_config);
                    if send.send((j, result, case_started.elapsed())).is_err() {
                        return;
                    }
                }
            });
        }
        drop(send);
        for (j, result, wall) in receive {
            on_done(&result);
            reached.done(j, &result.coverage, &batch_len);
            report.add(result, wall);
        }
    });
    report.failures.sort_by(|a, b| (&a.scenario, a.seed).cmp(&(&b.scenario, b.seed)));
    report.wall = started.elapsed();
    report.interrupted_by = Some(signal()).filter(|s| *s != 0);
    report.stopped_by_time = out_of_time.load(Ordering::SeqCst) && report.interrupted_by.is_none();
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_disjoint_and_cover_the_sweep() {
        let registry = crate::Registry::builtin();
        let scenarios = registry.all().to_vec();
        let all: Vec<(String, Seed)> = {
            let whole = cases(scenarios.clone(), Vec::new(), 10, Some(7), Shard::ALL);
            (0..)
                .map_while(|j| whole.get(j))
                .map(|c| (c.scenario.name().to_owned(), c.seed))
                .collect()
        };
        assert_eq!(all.len(), 7 * scenarios.len());
        let mut union = Vec::new();
        for index in 1..=3 {
            let shard = Shard { index, count: 3 };
            let part = cases(scenarios.clone(), Vec::new(), 10, Some(7), shard);
            let got: Vec<_> = (0..)
                .map_while(|j| part.get(j))
                .map(|c| (c.scenario.name().to_owned(), c.seed))
                .collect();
            assert_eq!(Some(got.len() as u64), part.len(), "shard {shard}");
            union.extend(got);
        }
        union.sort();
        let mut expected = all;
        expected.sort();
        assert_eq!(union, expected);
        assert_eq!("2/8".parse::<Shard>().unwrap(), Shard { index: 2, count: 8 });
        for bad in ["0/8", "9/8", "x", "1/0"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }
}
