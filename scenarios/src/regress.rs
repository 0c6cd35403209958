//! Regression cases: a shrunk failure written down as data (`faultline
//! shrink --emit DIR`), replayed by `cargo test`
//! (`tests/tests/regression_cases.rs` runs every `*.case` in
//! `tests/regressions/cases/`) and by `faultline replay --case FILE`.
//!
//! A case holds the scenario and seed (its plan: engine options, faults
//! configuration, tasks, checks), the fault schedule to pin, and the
//! workload as it was sent ([`Script`]): the transactions replay without
//! the seed-driven transaction generator, so a change to the generators
//! does not change the case. The plan is still drawn from the seed by the
//! scenario.
//!
//! ```text
//! # faultline regression case
//! scenario bootstrap_from_history
//! seed 0x000000000000002a
//! status open
//! failure system-tables-mismatch
//! schedule c41:process-crash
//! workload
//! incarnation 0
//!   client 0
//!     tx
//!       create t1(c0:u64)
//! ```
//!
//! `status open`: the case must fail with `failure` (a known bug; once it
//! passes, the test says to mark it `fixed`); `status fixed`: it must pass.
//! `schedule none` pins no decision.

use std::fmt::Write as _;
use std::sync::Arc;

use faultline_sim::{Focus, FsProfile, Schedule, Seed};

use crate::corpus::Status;
use crate::outcome::{FailureKind, RunReport};
use crate::runner::{RunConfig, RunMode, run};
use crate::scenario::Registry;
use crate::script::Script;

/// A regression case (see the module documentation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    /// The scenario's name.
    pub scenario: String,
    /// The seed its plan is drawn from.
    pub seed: Seed,
    /// Directed search's focus, if the case had one (it adjusts the plan).
    pub focus: Option<Focus>,
    /// The filesystem profile it ran on. A case written before profiles
    /// existed has no `fs-profile` line: it ran on ext4-ordered, the only
    /// model then.
    pub fs_profile: FsProfile,
    /// Open (must fail as recorded) or fixed (must pass).
    pub status: Status,
    /// The failure kind's name when it was emitted.
    pub failure: String,
    /// The decisions to pin.
    pub schedule: Schedule,
    /// The workload to send.
    pub script: Script,
}

impl Case {
    /// The text form; `Err` if the workload holds a name the text form
    /// cannot write.
    pub fn to_text(&self) -> Result<String, String> {
        let mut text = String::from(
            "# faultline regression case (faultline shrink --emit); cargo test replays it\n",
        );
        let _ = writeln!(text, "scenario {}", self.scenario);
        let _ = writeln!(text, "seed {}", self.seed);
        if let Some(focus) = &self.focus {
            let _ = writeln!(text, "focus {focus}");
        }
        let _ = writeln!(text, "fs-profile {}", self.fs_profile);
        let _ = writeln!(text, "status {}", self.status.name());
        let _ = writeln!(text, "failure {}", self.failure);
        if self.schedule.is_empty() {
            text.push_str("schedule none\n");
        } else {
            let _ = writeln!(text, "schedule {}", self.schedule);
        }
        text.push_str("workload\n");
        text.push_str(&self.script.to_text()?);
        Ok(text)
    }

    /// Parses the text form; an error names the line.
    pub fn parse(text: &str) -> Result<Case, String> {
        let mut fields = std::collections::BTreeMap::new();
        let mut workload = None;
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if line == "workload" {
                // Everything after is the script; its line numbers count
                // from here.
                let rest: Vec<&str> = text.lines().skip(number + 1).collect();
                workload = Some((number + 1, rest.join("\n")));
                break;
            }
            let (key, value) = line
                .split_once(' ')
                .ok_or_else(|| format!("line {}: expected `key value`: {line:?}", number + 1))?;
            const KEYS: [&str; 7] =
                ["scenario", "seed", "focus", "fs-profile", "status", "failure", "schedule"];
            if !KEYS.contains(&key) {
                return Err(format!(
                    "line {}: unknown key {key:?} (expected one of {KEYS:?})",
                    number + 1
                ));
            }
            if fields.insert(key.to_owned(), (number + 1, value.trim().to_owned())).is_some() {
                return Err(format!("line {}: {key} given twice", number + 1));
            }
        }
        let field = |key: &str| fields.get(key).cloned().ok_or_else(|| format!("no `{key}` line"));
        let at = |(line, _): &(usize, String), why: String| format!("line {line}: {why}");
        let scenario = field("scenario")?.1;
        let seed_field = field("seed")?;
        let seed = seed_field.1.parse::<Seed>().map_err(|e| at(&seed_field, e.to_string()))?;
        let status_field = field("status")?;
        let status = match status_field.1.as_str() {
            "open" => Status::Open,
            "fixed" => Status::Fixed,
            other => return Err(at(&status_field, format!("status {other:?}: open or fixed"))),
        };
        let failure = field("failure")?.1;
        let schedule_field = field("schedule")?;
        let schedule = match schedule_field.1.as_str() {
            "none" => Schedule::default(),
            text => text.parse().map_err(|e| at(&schedule_field, e))?,
        };
        let focus = match fields.get("focus") {
            Some(focus) => Some(focus.1.parse::<Focus>().map_err(|e| at(focus, e.to_string()))?),
            None => None,
        };
        let fs_profile = match fields.get("fs-profile") {
            Some(field @ (_, name)) => FsProfile::from_name(name).ok_or_else(|| {
                let names: Vec<&str> = FsProfile::ALL.iter().map(|p| p.name()).collect();
                at(field, format!("fs-profile {name:?}: one of {names:?}"))
            })?,
            None => FsProfile::Ext4Ordered,
        };
        let (offset, workload) = workload.ok_or("no `workload` line")?;
        let script = workload.parse::<Script>().map_err(|e| {
            // Renumber the script's `line N` from the file's start.
            match e.strip_prefix("line ").and_then(|r| r.split_once(':')) {
                Some((n, rest)) => match n.parse::<usize>() {
                    Ok(n) => format!("line {}:{rest}", n + offset),
                    Err(_) => e.clone(),
                },
                None => e.clone(),
            }
        })?;
        Ok(Case { scenario, seed, focus, fs_profile, status, failure, schedule, script })
    }

    /// Replays the case: its plan from the seed, its schedule pinned, its
    /// workload sent. `keep_trace` keeps every event.
    pub fn run(&self, registry: &Registry, keep_trace: bool) -> Result<RunReport, String> {
        self.run_configured(registry, |config| RunConfig { keep_trace, ..config })
    }

    /// Replays the case as [`Case::run`] does, with its configuration
    /// changed by `configure` (what to keep: the trace, the timeline).
    pub fn run_configured(
        &self,
        registry: &Registry,
        configure: impl FnOnce(RunConfig) -> RunConfig,
    ) -> Result<RunReport, String> {
        let scenario = registry
            .get(&self.scenario)
            .ok_or_else(|| format!("unknown scenario {:?}", self.scenario))?;
        let config = configure(RunConfig {
            mode: RunMode::Pinned(self.schedule.clone()),
            focus: self.focus,
            fs_profile: Some(self.fs_profile),
            script: Some(Arc::new(self.script.clone())),
            ..RunConfig::default()
        });
        Ok(run(scenario.as_ref(), self.seed, &config))
    }

    /// Whether a replay behaved as the case says: `Err` names how not.
    pub fn judge(&self, registry: &Registry, report: &RunReport) -> Result<Verdict, String> {
        if FailureKind::from_name(&self.failure, registry).is_none() {
            return Err(format!("unknown failure kind {:?}", self.failure));
        }
        match (self.status, report.outcome.failure()) {
            (Status::Fixed, None) => Ok(Verdict::AsRecorded),
            (Status::Fixed, Some(failure)) => Err(format!("a fixed case fails again: {failure}")),
            (Status::Open, None) => Ok(Verdict::NowPasses),
            (Status::Open, Some(failure)) if failure.kind.name() == self.failure => {
                Ok(Verdict::AsRecorded)
            }
            (Status::Open, Some(failure)) => {
                Err(format!("fails another way than recorded ({}): {failure}", self.failure))
            }
        }
    }
}

/// How a replayed case behaved, when not wrongly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// As the case says.
    AsRecorded,
    /// An open case passes: the bug was fixed; mark it `fixed`.
    NowPasses,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::ScriptedTx;
    use crate::workload::TxOp;

    #[test]
    fn a_case_reads_back_as_written_and_bad_lines_are_named() {
        let mut script = Script::default();
        script.record(
            0,
            0,
            ScriptedTx { ops: vec![TxOp::DropTable { name: "t1".to_owned() }], aborts: true },
        );
        let case = Case {
            scenario: "swarm".to_owned(),
            seed: Seed(42),
            focus: None,
            fs_profile: FsProfile::Btrfs,
            status: Status::Open,
            failure: "acked-lost".to_owned(),
            schedule: "c12:fsync-error,c30:power-loss+torn".parse().unwrap(),
            script,
        };
        let text = case.to_text().unwrap();
        assert_eq!(Case::parse(&text).unwrap(), case, "{text}");
        let broken = text.replace("drop t1", "drop t1 t2");
        let error = Case::parse(&broken).unwrap_err();
        assert!(error.starts_with("line 12:"), "{error}\n{broken}");
        assert!(Case::parse(&text.replace("status open", "status maybe")).is_err());
        let bad_profile = Case::parse(&text.replace("fs-profile btrfs", "fs-profile zfs"));
        assert!(bad_profile.unwrap_err().starts_with("line 4: fs-profile \"zfs\""));
        // A case written before profiles existed ran on ext4-ordered.
        let old = Case::parse(&text.replace("fs-profile btrfs\n", "")).unwrap();
        assert_eq!(old.fs_profile, FsProfile::Ext4Ordered);
        assert!(Case::parse("scenario swarm\n").unwrap_err().contains("seed"));
    }
}
