//! What crosses the pipe between a sweep and its worker processes: one
//! JSON line each way per case. A [`RunReport`] travels as text where its
//! parts have a text form of their own (schedules, sites, strikes, focus),
//! so that the wire format adds no second parser of them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use faultline_sim::{Focus, FsProfile, Seed, Site, Strike};
use serde::{Deserialize, Serialize};

use crate::coverage::{Coverage, Gap};
use crate::outcome::{Failure, FailureKind, Outcome, RunReport, RunStats};
use crate::runner::RunConfig;
use crate::scenario::{Registry, Scenario};
use crate::trace::Trace;

/// The first line a worker reads: how every case it runs is run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Hello {
    /// Run every case twice and compare the traces.
    pub(crate) check_determinism: bool,
    /// [`RunConfig::sim_time_max`], nanoseconds.
    pub(crate) sim_time_max_ns: u64,
    /// [`RunConfig::fs_calls_max`].
    pub(crate) fs_calls_max: u64,
    /// The address space the worker may use, bytes (`None`: no limit).
    pub(crate) memory_limit: Option<u64>,
    /// [`RunConfig::fs_profile`], by name.
    pub(crate) fs_profile: Option<String>,
}

impl Hello {
    /// The base run configuration of every case.
    pub(crate) fn run_config(&self) -> Result<RunConfig, String> {
        Ok(RunConfig {
            sim_time_max: Duration::from_nanos(self.sim_time_max_ns),
            fs_calls_max: self.fs_calls_max,
            fs_profile: self.fs_profile.as_deref().map(parse_profile).transpose()?,
            ..RunConfig::default()
        })
    }
}

fn parse_profile(name: &str) -> Result<FsProfile, String> {
    FsProfile::from_name(name).ok_or_else(|| format!("unknown filesystem profile {name:?}"))
}

/// One case for a worker to run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Request {
    /// The scenario's name.
    pub(crate) scenario: String,
    /// The seed.
    pub(crate) seed: u64,
    /// The focus directed search gave the case, as text.
    pub(crate) focus: Option<String>,
}

impl Request {
    /// The focus, parsed.
    pub(crate) fn focus(&self) -> Result<Option<Focus>, String> {
        self.focus.as_deref().map(str::parse).transpose()
    }
}

/// A [`RunReport`] on the wire. A sweep keeps neither trace events nor
/// filesystem calls nor a recorded workload, so none travels.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct WireReport {
    scenario: String,
    seed: u64,
    plan: String,
    outcome: WireOutcome,
    trace_hash: u64,
    schedule: String,
    unused: String,
    fired: Vec<String>,
    stats: RunStats,
    focus: Option<String>,
    fs_profile: Option<String>,
    coverage: WireCoverage,
    mode_args: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
enum WireOutcome {
    Passed,
    Refused { error: String },
    Failed { kind: String, detail: String, at_ns: u64 },
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct WireCoverage {
    calls: Vec<(String, u64)>,
    struck: Vec<(String, String, u64)>,
    /// (gap, crash mode as a strike, count).
    timed_crashes: Vec<(String, String, u64)>,
    in_play: Vec<String>,
    situations: BTreeMap<String, u64>,
}

impl WireReport {
    /// `report` for the wire.
    pub(crate) fn of(report: &RunReport) -> WireReport {
        assert!(report.calls.is_empty(), "a sweep keeps no filesystem calls");
        assert!(report.script.is_none(), "a sweep records no workload");
        let outcome = match &report.outcome {
            Outcome::Passed => WireOutcome::Passed,
            Outcome::Refused { error } => WireOutcome::Refused { error: error.clone() },
            Outcome::Failed(failure) => WireOutcome::Failed {
                kind: failure.kind.name().to_owned(),
                detail: failure.detail.clone(),
                at_ns: failure.at_ns,
            },
        };
        let coverage = &report.coverage;
        WireReport {
            scenario: report.scenario.clone(),
            seed: report.seed.0,
            plan: report.plan.clone(),
            outcome,
            trace_hash: report.trace_hash,
            schedule: report.schedule.to_string(),
            unused: report.unused.to_string(),
            fired: report.fired.clone(),
            stats: report.stats.clone(),
            focus: report.focus.map(|f| f.to_string()),
            fs_profile: report.fs_profile.map(|p| p.name().to_owned()),
            coverage: WireCoverage {
                calls: coverage.calls.iter().map(|(s, n)| (s.to_string(), *n)).collect(),
                struck: coverage
                    .struck
                    .iter()
                    .map(|((site, strike), n)| (site.to_string(), strike.to_string(), *n))
                    .collect(),
                timed_crashes: coverage
                    .timed_crashes
                    .iter()
                    .map(|((gap, mode), n)| {
                        (gap.name().to_owned(), Strike::Crash(*mode).to_string(), *n)
                    })
                    .collect(),
                in_play: coverage.in_play.iter().map(ToString::to_string).collect(),
                situations: coverage.situations.clone(),
            },
            mode_args: report.mode_args.clone(),
        }
    }

    /// The report, for a case of `scenario` (which names its invariants).
    pub(crate) fn into_report(self, scenario: &Arc<dyn Scenario>) -> Result<RunReport, String> {
        let outcome = match self.outcome {
            WireOutcome::Passed => Outcome::Passed,
            WireOutcome::Refused { error } => Outcome::Refused { error },
            WireOutcome::Failed { kind, detail, at_ns } => {
                let mut registry = Registry::default();
                registry.register(Arc::clone(scenario));
                let kind = FailureKind::from_name(&kind, &registry)
                    .ok_or_else(|| format!("unknown failure kind {kind:?}"))?;
                Outcome::Failed(Failure { kind, detail, at_ns })
            }
        };
        let wire = self.coverage;
        let site = |text: &str| text.parse::<Site>();
        let strike = |text: &str| text.parse::<Strike>();
        let mut coverage = Coverage::default();
        for (s, n) in &wire.calls {
            coverage.calls.insert(site(s)?, *n);
        }
        for (s, k, n) in &wire.struck {
            coverage.struck.insert((site(s)?, strike(k)?), *n);
        }
        for (g, m, n) in &wire.timed_crashes {
            let gap = Gap::ALL
                .into_iter()
                .find(|gap| gap.name() == g)
                .ok_or_else(|| format!("unknown gap {g:?}"))?;
            let Strike::Crash(mode) = strike(m)? else {
                return Err(format!("{m:?} is not a crash mode"));
            };
            coverage.timed_crashes.insert((gap, mode), *n);
        }
        for k in &wire.in_play {
            coverage.in_play.insert(strike(k)?);
        }
        coverage.situations = wire.situations;
        Ok(RunReport {
            scenario: self.scenario,
            seed: Seed(self.seed),
            plan: self.plan,
            outcome,
            trace_hash: self.trace_hash,
            trace: Trace::new(false),
            schedule: self.schedule.parse()?,
            unused: self.unused.parse()?,
            fired: self.fired,
            calls: Vec::new(),
            stats: self.stats,
            focus: self.focus.as_deref().map(str::parse).transpose()?,
            fs_profile: self.fs_profile.as_deref().map(parse_profile).transpose()?,
            coverage,
            mode_args: self.mode_args,
            script: None,
            timeline: None,
            timeline_page: None,
        })
    }
}
