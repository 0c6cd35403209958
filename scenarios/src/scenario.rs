//! The [`Scenario`] trait and the [`Registry`] of scenarios.
//!
//! A scenario is data: for a seed it builds a [`Plan`] (engine options,
//! faults, workload and generator, crashes, engine tasks and their checks,
//! checks of its own); the runner drives it and the judge judges it.
//! Adding one is one file in `src/scenarios/` and one line in
//! `src/scenarios/mod.rs` (see the README); tests register their own with
//! [`Registry::register`].

use std::fmt;
use std::sync::Arc;

use faultline_engine::fs::Fs;
use faultline_sim::Seed;

use crate::coverage::Situation;
use crate::judge::Invariant;
use crate::outcome::RunReport;
use crate::plan::{Plan, PlanError};
use crate::runner::RunConfig;

/// A scenario: see the module documentation.
pub trait Scenario: Send + Sync {
    /// The scenario's name, as `faultline run --scenario` takes it.
    fn name(&self) -> &str;

    /// One line on what it exercises.
    fn summary(&self) -> &str;

    /// The plan for `seed`. Must be a pure function of the seed: draw only
    /// from `seed`'s streams.
    fn plan(&self, seed: Seed) -> Result<Plan, PlanError>;

    /// The invariants its own checks may report (beyond the built-in
    /// ones), so that reports and the regression corpus know their names.
    /// Default: none.
    fn invariants(&self) -> Vec<Invariant> {
        Vec::new()
    }

    /// The situations a sweep of this scenario must reach at least once
    /// (`ci/nightly.sh` fails, naming one never reached). Default: none.
    fn must_reach(&self) -> Vec<Situation> {
        Vec::new()
    }

    /// Runs and judges a whole case itself instead of a workload on a plan
    /// (`hostile_history`: a forged history, then one open). `None`, the
    /// default: the runner runs [`Scenario::plan`].
    fn run_whole(&self, seed: Seed, config: &RunConfig) -> Option<RunReport> {
        let _ = (seed, config);
        None
    }

    /// Puts a layer between the engine and the filesystem (tests use it to
    /// build deliberately broken engines). Default: none.
    fn wrap_fs(&self, fs: Arc<dyn Fs>) -> Arc<dyn Fs> {
        fs
    }
}

impl fmt::Debug for dyn Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scenario").field("name", &self.name()).finish()
    }
}

/// The scenarios a sweep can run, by name.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    scenarios: Vec<Arc<dyn Scenario>>,
}

impl Registry {
    /// The built-in scenarios.
    pub fn builtin() -> Self {
        let mut registry = Registry::default();
        for scenario in crate::scenarios::builtin() {
            registry.register(scenario);
        }
        registry
    }

    /// Adds a scenario.
    ///
    /// # Panics
    ///
    /// If a scenario of that name is registered already, or it declares an
    /// invariant whose name another one uses for something else.
    pub fn register(&mut self, scenario: Arc<dyn Scenario>) {
        assert!(
            self.get(scenario.name()).is_none(),
            "scenario {} registered twice",
            scenario.name()
        );
        for invariant in scenario.invariants() {
            if let Some(known) = self.invariant(invariant.name()) {
                assert_eq!(
                    known.summary(),
                    invariant.summary(),
                    "invariant {invariant} declared twice with different meanings"
                );
            }
        }
        self.scenarios.push(scenario);
    }

    /// The scenario named `name`.
    pub fn get(&self, name: &str) -> Option<Arc<dyn Scenario>> {
        self.scenarios.iter().find(|s| s.name() == name).cloned()
    }

    /// Every scenario, in registration order.
    pub fn all(&self) -> &[Arc<dyn Scenario>] {
        &self.scenarios
    }

    /// The invariant named `name`: built-in, or declared by a scenario.
    pub fn invariant(&self, name: &str) -> Option<Invariant> {
        Invariant::builtin(name).or_else(|| {
            self.scenarios
                .iter()
                .flat_map(|s| s.invariants())
                .find(|invariant| invariant.name() == name)
        })
    }

    /// The scenarios `filter` selects: comma-separated names or substrings
    /// of names (`all` or empty: every one). An element that selects
    /// nothing is an error.
    pub fn select(&self, filter: &str) -> Result<Vec<Arc<dyn Scenario>>, String> {
        let filter = filter.trim();
        if filter.is_empty() || filter == "all" {
            return Ok(self.scenarios.clone());
        }
        let mut selected: Vec<Arc<dyn Scenario>> = Vec::new();
        for part in filter.split(',').map(str::trim) {
            let matches: Vec<_> = match self.get(part) {
                Some(scenario) => vec![scenario],
                None => {
                    self.scenarios.iter().filter(|s| s.name().contains(part)).cloned().collect()
                }
            };
            if matches.is_empty() {
                return Err(format!("no scenario matches {part:?} (see `faultline list`)"));
            }
            for scenario in matches {
                if !selected.iter().any(|s| s.name() == scenario.name()) {
                    selected.push(scenario);
                }
            }
        }
        Ok(selected)
    }
}
