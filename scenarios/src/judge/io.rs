//! I/O discipline around failures (DESIGN 2.2, "poisoned writes"):
//!
//! - a durability step that returns normally saw no call fail;
//! - a step that poisons saw a call fail, did not move the durable offset,
//!   and made no call after the failure (a retry, or a `Drop` that writes
//!   the failed buffer again);
//! - once the writer poisoned, the process makes no mutating call (write,
//!   set_len, sync, rename, remove, create) until it is restarted;
//! - an engine task fails only if a fault fired or a crash struck during
//!   its step (or bytes on the device were damaged before it).

use faultline_sim::{CallOutcome, CallRecord, FsRecord, Happening};

use super::{Checker, Facts, Invariant, RunEvent, Step, Violation};
use crate::plan::TaskStep;

/// A step in progress.
#[derive(Debug)]
struct InStep {
    step: Step,
    /// Calls that failed (a crash instead of a call included).
    failures: u64,
    /// Calls after the last failure.
    after_failure: Vec<CallRecord>,
    /// Faults and crashes during the step.
    marks: u64,
}

/// See the module documentation.
#[derive(Debug, Default)]
pub(super) struct IoChecker {
    /// The steps in progress: a durability step waits for the device
    /// between its parts while other steps run.
    steps: Vec<InStep>,
    /// The step whose engine call is running: the calls are its.
    active: Option<Step>,
    /// The generation of the process whose writer poisoned, until it is
    /// restarted.
    poisoned: Option<u64>,
    /// The generation of the last call seen.
    generation: u64,
}

fn call_text(call: &CallRecord) -> String {
    format!("call={} {} path={}", call.call, call.op.name(), call.path)
}

impl Checker for IoChecker {
    fn name(&self) -> &str {
        "io"
    }

    fn observe(&mut self, event: &RunEvent<'_>, facts: &Facts<'_>) -> Result<(), Violation> {
        match event {
            RunEvent::Fs(FsRecord::Call(call)) => self.call(call),
            RunEvent::Fs(FsRecord::Event(fs)) => {
                if let Some(step) = self.active_step() {
                    step.marks += u64::from(!matches!(fs.happening, Happening::Damage { .. }));
                }
                Ok(())
            }
            RunEvent::Incarnation(_) => {
                self.steps.clear();
                self.active = None;
                Ok(())
            }
            RunEvent::OpenStarting { .. } => self.start(Step::Open),
            RunEvent::StepStarted(step) => self.start(step.clone()),
            RunEvent::StepResumed(step) => {
                assert!(
                    self.steps.iter().any(|s| s.step == *step),
                    "the runner resumes only a step in progress: {step}"
                );
                self.active = Some(step.clone());
                Ok(())
            }
            RunEvent::Opened { .. } | RunEvent::OpenFailed { .. } => {
                self.take(&Step::Open);
                Ok(())
            }
            RunEvent::DurabilityStepped { durable } => {
                let step = self.take(&Step::Durability);
                match step.filter(|s| s.failures > 0) {
                    Some(step) => Err(Violation::new(
                        Invariant::ERROR_SWALLOWED,
                        format!(
                            "{}: failed-calls={} durable={durable:?}",
                            step.step, step.failures
                        ),
                    )),
                    None => Ok(()),
                }
            }
            RunEvent::TaskStepped { task, step: TaskStep::Failed(line) } => {
                let step = self.take(&Step::Task(task.to_string()));
                let met_fault = step.is_some_and(|s| s.marks > 0);
                if met_fault || facts.faults.damaged || facts.faults.voided {
                    return Ok(());
                }
                Err(Violation::new(Invariant::FAILED_WITHOUT_FAULT, format!("{task}: {line}")))
            }
            RunEvent::TaskStepped { task, .. } => {
                self.take(&Step::Task(task.to_string()));
                Ok(())
            }
            RunEvent::Poisoned { step, message, durable_before, durable_after } => {
                let in_step = self.take(step);
                self.poisoned = Some(self.generation);
                poisoned(step, message, *durable_before, *durable_after, in_step)
            }
            RunEvent::WentDown { .. } => {
                self.poisoned = None;
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

impl IoChecker {
    fn start(&mut self, step: Step) -> Result<(), Violation> {
        self.take(&step);
        self.active = Some(step.clone());
        self.steps.push(InStep { step, failures: 0, after_failure: Vec::new(), marks: 0 });
        Ok(())
    }

    /// Ends `step`, if it is in progress.
    fn take(&mut self, step: &Step) -> Option<InStep> {
        if self.active.as_ref() == Some(step) {
            self.active = None;
        }
        let index = self.steps.iter().position(|s| s.step == *step)?;
        Some(self.steps.remove(index))
    }

    fn active_step(&mut self) -> Option<&mut InStep> {
        let active = self.active.as_ref()?;
        self.steps.iter_mut().find(|s| s.step == *active)
    }

    fn call(&mut self, call: &CallRecord) -> Result<(), Violation> {
        self.generation = call.generation;
        if self.poisoned == Some(call.generation) && call.op.is_mutation() {
            return Err(Violation::new(
                Invariant::IO_AFTER_POISON,
                format!("{} after the writer poisoned, before a restart", call_text(call)),
            ));
        }
        if let Some(step) = self.active_step() {
            if matches!(call.outcome, CallOutcome::Failed(_) | CallOutcome::Crashed) {
                step.failures += 1;
                step.after_failure.clear();
            } else if step.failures > 0 {
                step.after_failure.push(call.clone());
            }
        }
        Ok(())
    }
}

/// Judges a step that ended in the poison panic.
fn poisoned(
    step: &Step,
    message: &str,
    durable_before: Option<u64>,
    durable_after: Option<u64>,
    in_step: Option<InStep>,
) -> Result<(), Violation> {
    if *step != Step::Open && durable_after != durable_before {
        return Err(Violation::new(
            Invariant::ACKED_AFTER_POISON,
            format!("{step}: durable before={durable_before:?} after={durable_after:?}"),
        ));
    }
    let Some(in_step) = in_step.filter(|s| s.failures > 0) else {
        return Err(Violation::new(
            Invariant::POISONED_WITHOUT_FAILURE,
            format!("{step}: {message}"),
        ));
    };
    if let Some(call) = in_step.after_failure.iter().find(|c| c.op.is_mutation()) {
        return Err(Violation::new(
            Invariant::IO_AFTER_POISON,
            format!("{step}: {} after the failed call, before the poison panic", call_text(call)),
        ));
    }
    if let Some(call) = in_step.after_failure.first() {
        return Err(Violation::new(
            Invariant::RETRIED_AFTER_ERROR,
            format!(
                "{step}: fs-calls-after-the-failed-one={}, first {}",
                in_step.after_failure.len(),
                call_text(call)
            ),
        ));
    }
    Ok(())
}
