//! The seams a scenario plugs into without touching the runner (the way the
//! snapshot scenarios will): engine tasks stepping on the live database
//! beside the durability task, and checks after every recovery.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use faultline_engine::Database;
use faultline_scenarios::{
    EngineTask, FailureKind, Invariant, Plan, PlannedCrash, RecoveryContext, RunConfig, Scenario,
    TaskStep, Violation, run,
};
use faultline_sim::{CrashMode, Seed, SimRng};

/// A background job that looks at the database every few milliseconds.
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
        let (durable, latest) = (db.durable_offset(), db.latest().offset());
        if durable > latest {
            return Err(Violation::new(
                Invariant::DurableBeyondSubmitted,
                format!("{durable:?} > {latest:?}"),
            ));
        }
        Ok(TaskStep::Done(format!("durable={durable:?} latest={latest:?}")))
    }
}

struct Seams {
    steps: Arc<AtomicU64>,
    recoveries: Arc<AtomicU64>,
    refuse_after: u64,
}

impl Scenario for Seams {
    fn name(&self) -> &str {
        "seams"
    }

    fn summary(&self) -> &str {
        "test only: an engine task and a recovery check"
    }

    fn plan(&self, _seed: Seed) -> Plan {
        Plan {
            incarnations: 3,
            crashes: vec![
                PlannedCrash::AtTime { ms: 20, mode: CrashMode::PowerLoss },
                PlannedCrash::AtTime { ms: 20, mode: CrashMode::ProcessCrash },
            ],
            ..Plan::default()
        }
    }

    fn engine_tasks(&self, _plan: &Plan) -> Vec<Box<dyn EngineTask>> {
        vec![Box::new(Watcher { steps: Arc::clone(&self.steps) })]
    }

    fn check_recovery(&self, context: &RecoveryContext<'_>) -> Result<(), Violation> {
        let n = self.recoveries.fetch_add(1, Ordering::SeqCst) + 1;
        assert_eq!(context.db.latest().offset(), Some(context.model.submitted()));
        if n > self.refuse_after {
            return Err(Violation::new(Invariant::StateMismatch, format!("planted: recovery {n}")));
        }
        Ok(())
    }
}

#[test]
fn engine_tasks_step_beside_the_durability_task_and_recovery_checks_run() {
    let scenario = Seams {
        steps: Arc::new(AtomicU64::new(0)),
        recoveries: Arc::new(AtomicU64::new(0)),
        refuse_after: u64::MAX,
    };
    let config = RunConfig { keep_trace: true, ..RunConfig::default() };
    let result = run(&scenario, Seed(4), &config);
    assert!(!result.outcome.is_failure(), "{:?}", result.outcome);
    assert!(scenario.steps.load(Ordering::SeqCst) > 3, "the engine task stepped");
    assert!(result.trace.events().iter().any(|e| e.text.starts_with("watcher: durable=")));
    // Three incarnations and the final recovery: four opens, four checks.
    assert_eq!(scenario.recoveries.load(Ordering::SeqCst), 4);
}

#[test]
fn a_failing_recovery_check_fails_the_run() {
    let scenario = Seams {
        steps: Arc::new(AtomicU64::new(0)),
        recoveries: Arc::new(AtomicU64::new(0)),
        refuse_after: 2,
    };
    let result = run(&scenario, Seed(4), &RunConfig::default());
    let failure = result.outcome.failure().expect("the third check fails");
    assert_eq!(failure.kind, FailureKind::Invariant(Invariant::StateMismatch));
    assert_eq!(failure.detail, "planted: recovery 3");
}
