//! Extending faultline as a user would (scenarios/README.md, "Adding a
//! scenario"): a scenario with its own transaction generator, its own
//! check and its own invariant, registered beside the built-in ones, runs
//! in a sweep with them; its check is live (a plan that breaks its bound
//! fails it, naming the invariant), and an engine task brings its check.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use faultline_engine::Database;
use faultline_engine::datastore::{ColumnDef, ColumnType, Value};
use faultline_scenarios::model::ModelState;
use faultline_scenarios::{
    Checker, EngineTask, Facts, FailureKind, Invariant, Plan, PlanError, Registry, RunConfig,
    RunEvent, Scenario, Shard, SweepConfig, TaskStep, TxGenerator, TxOp, Violation, WorkloadShape,
    cases, report, run, sweep,
};
use faultline_sim::{Seed, SimRng, Stream};
use rand::RngExt;

/// The scenario's own invariant.
const ACK_LATENCY: Invariant = Invariant::new(
    "ack-latency",
    "a committed transaction waited more durability steps than the bound to be acknowledged",
);

/// Its own check: every transaction is acknowledged within `steps_max`
/// durability steps of its commit (a crash or a poison clears the count).
struct AckLatency {
    steps_max: u64,
    /// Committed, not yet acknowledged: offset -> steps since its commit.
    waiting: BTreeMap<u64, u64>,
}

impl Checker for AckLatency {
    fn name(&self) -> &str {
        "ack-latency"
    }

    fn observe(&mut self, event: &RunEvent<'_>, _facts: &Facts<'_>) -> Result<(), Violation> {
        match event {
            RunEvent::Committed { offset, .. } => {
                self.waiting.insert(*offset, 0);
            }
            RunEvent::DurabilityStepped { durable: Some(durable) } => {
                self.waiting.retain(|offset, _| offset > durable);
                for (offset, steps) in &mut self.waiting {
                    *steps += 1;
                    if *steps > self.steps_max {
                        return Err(Violation::new(
                            ACK_LATENCY,
                            format!("offset={offset} not durable after {steps} steps"),
                        ));
                    }
                }
            }
            RunEvent::WentDown { .. } | RunEvent::Poisoned { .. } => self.waiting.clear(),
            _ => {}
        }
        Ok(())
    }
}

/// Its own generator: one wide table, then inserts of large rows only.
#[derive(Debug)]
struct WideInserts;

impl TxGenerator for WideInserts {
    fn name(&self) -> &str {
        "wide-inserts"
    }

    fn generate(&self, base: &ModelState, _shape: &WorkloadShape, rng: &mut SimRng) -> Vec<TxOp> {
        if !base.tables.contains_key("wide") {
            let columns = vec![
                ColumnDef::new("id", ColumnType::U64),
                ColumnDef::new("blob", ColumnType::Bytes),
            ];
            return vec![TxOp::CreateTable { name: "wide".to_owned(), columns }];
        }
        (0..rng.random_range(1..=3))
            .map(|_| TxOp::Insert {
                table: "wide".to_owned(),
                row: vec![
                    Value::U64(rng.random()),
                    Value::Bytes((0..rng.random_range(100..800)).map(|_| rng.random()).collect()),
                ],
            })
            .collect()
    }
}

/// The user's scenario: wide inserts, small commits, a latency bound.
struct WideRows {
    commit_txs_max: usize,
    steps_max: u64,
}

impl Scenario for WideRows {
    fn name(&self) -> &str {
        "wide_rows"
    }

    fn summary(&self) -> &str {
        "test only: large rows, group commit bounded, acknowledged within a few steps"
    }

    fn invariants(&self) -> Vec<Invariant> {
        vec![ACK_LATENCY]
    }

    fn plan(&self, seed: Seed) -> Result<Plan, PlanError> {
        let mut rng = seed.rng(Stream::Workload);
        let mut options = faultline_scenarios::draw_options(&mut rng);
        options.durability.commit_txs_max = self.commit_txs_max;
        let workload = WorkloadShape { clients: 3, think_ms_max: 2, ..WorkloadShape::default() };
        let mut crash_rng = seed.rng(Stream::CrashPoints);
        let steps_max = self.steps_max;
        Plan::builder(seed)
            .options(options)
            .workload(workload)
            .generator(Arc::new(WideInserts))
            .crashes(faultline_scenarios::draw_crashes(&mut crash_rng, 1, 200, 100, 0.5))
            .check("ack-latency", move || {
                Box::new(AckLatency { steps_max, waiting: BTreeMap::new() })
            })
            .build()
    }
}

#[test]
fn a_user_scenario_with_its_own_generator_and_check_sweeps_beside_the_built_ins() {
    let mut registry = Registry::builtin();
    registry.register(Arc::new(WideRows { commit_txs_max: 1024, steps_max: 1 }));
    assert_eq!(registry.invariant("ack-latency"), Some(ACK_LATENCY));
    let selected = registry.select("wide_rows,torn_tail").unwrap();
    let config = SweepConfig { jobs: 2, ..SweepConfig::default() };
    let result = sweep(&cases(selected, Vec::new(), 0, Some(6), Shard::ALL), &config, &mut |_| {});
    assert_eq!(result.cases.len(), 12);
    let failures: Vec<String> = result.failures.iter().map(report::failure_text).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let wide = &result.stats["wide_rows"];
    assert!(wide.txs_committed > 20, "the generator's transactions committed: {wide:?}");
}

#[test]
fn the_user_check_fails_a_plan_that_breaks_its_bound() {
    // One transaction per commit while three clients commit every couple
    // of milliseconds: the queue outgrows one step.
    let scenario = WideRows { commit_txs_max: 1, steps_max: 1 };
    let failure = (0..10)
        .map(|seed| run(&scenario, Seed(seed), &RunConfig::default()))
        .find_map(|report| report.outcome.failure().cloned())
        .expect("some seed waits more than one step for an acknowledgement");
    assert_eq!(failure.kind, FailureKind::Invariant(ACK_LATENCY), "{failure}");
    assert!(failure.detail.contains("not durable after 2 steps"), "{failure}");
}

/// A background job that looks at the database every few milliseconds.
#[derive(Debug)]
struct Watcher {
    steps: Arc<AtomicU64>,
}

impl EngineTask for Watcher {
    fn name(&self) -> &str {
        "watcher"
    }

    fn interval(&mut self, _rng: &mut SimRng) -> Duration {
        Duration::from_millis(3)
    }

    fn step(&mut self, db: &mut Database) -> Result<TaskStep, Violation> {
        self.steps.fetch_add(1, Ordering::SeqCst);
        Ok(TaskStep::Done(format!(
            "durable={:?} latest={:?}",
            db.durable_offset(),
            db.latest().offset()
        )))
    }
}

/// The check the watcher brings: it counts the recoveries it sees.
struct CountOpens(Arc<AtomicU64>);

impl Checker for CountOpens {
    fn name(&self) -> &str {
        "count-opens"
    }

    fn observe(&mut self, event: &RunEvent<'_>, facts: &Facts<'_>) -> Result<(), Violation> {
        if let RunEvent::Opened { db, .. } = event {
            assert!(db.latest().offset() <= Some(facts.model.submitted()));
            self.0.fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
    }
}

struct Watched {
    steps: Arc<AtomicU64>,
    opens: Arc<AtomicU64>,
}

impl Scenario for Watched {
    fn name(&self) -> &str {
        "watched"
    }

    fn summary(&self) -> &str {
        "test only: an engine task and the check it brings"
    }

    fn plan(&self, seed: Seed) -> Result<Plan, PlanError> {
        let (steps, opens) = (Arc::clone(&self.steps), Arc::clone(&self.opens));
        Plan::builder(seed)
            .restarts(2)
            .engine_task(
                "watcher",
                move || Box::new(Watcher { steps: Arc::clone(&steps) }),
                Some(Arc::new(move || {
                    Box::new(CountOpens(Arc::clone(&opens))) as Box<dyn Checker>
                })),
            )
            .build()
    }
}

#[test]
fn an_engine_task_steps_beside_the_durability_task_and_its_check_sees_every_open() {
    let scenario =
        Watched { steps: Arc::new(AtomicU64::new(0)), opens: Arc::new(AtomicU64::new(0)) };
    let config = RunConfig { keep_trace: true, ..RunConfig::default() };
    let result = run(&scenario, Seed(4), &config);
    assert!(!result.outcome.is_failure(), "{:?}", result.outcome);
    assert!(scenario.steps.load(Ordering::SeqCst) > 3, "the engine task stepped");
    assert!(result.trace.events().iter().any(|e| e.text.starts_with("watcher: durable=")));
    // Three incarnations and the final recovery: four opens.
    assert_eq!(scenario.opens.load(Ordering::SeqCst), 4);
}
