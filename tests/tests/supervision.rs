//! A case can never take a sweep down: `faultline run` runs its cases in
//! supervised worker processes (scenarios/src/supervise). A case that
//! aborts, exhausts its memory limit, overflows its stack or spins without
//! yielding to the simulated clock is reported with its seed and a kind of
//! its own (`harness-abort`, `wall-timeout`) while the rest of the sweep
//! completes and its results are written; failures are grouped by scenario
//! and kind; a case run in a worker gives exactly the result it gives
//! in-process; and a failing sweep writes nothing into the source tree.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // real processes, real files.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use faultline_scenarios::{
    Directed, Isolation, Registry, Shard, SweepConfig, WorkerSpec, cases, sweep,
};
use faultline_sim::Seed;
use faultline_tests::misbehaving::{Misbehaviour, NAME};

fn selftest() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_faultline-selftest"))
}

#[test]
fn misbehaving_cases_are_reported_and_the_sweep_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.json");
    let output = Command::new(selftest())
        .args(["run", "--scenario", NAME, "--seeds", "16", "--jobs", "2"])
        .args(["--case-timeout", "3", "--show", "1", "--format", "json", "--output"])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "failures, no crash of the sweep: {stderr}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(json["partial"], false);
    let cases = json["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 16, "every case has its result");
    let failures = json["failures"].as_array().unwrap();
    let mut misbehaved = 0;
    for seed in 0..16 {
        let seed = Seed(seed);
        let case = cases.iter().find(|c| c["seed"] == seed.to_string()).expect("a result");
        let failure = failures.iter().find(|f| f["seed"] == seed.to_string());
        let (kind, said) = match Misbehaviour::of(seed) {
            Misbehaviour::None | Misbehaviour::Chatty => {
                assert_eq!(case["outcome"], "passed", "{seed}: {case}");
                assert!(failure.is_none());
                continue;
            }
            Misbehaviour::Abort => ("harness-abort", "SIGABRT"),
            Misbehaviour::Spin => ("wall-timeout", "wall-time limit of 3 s"),
            Misbehaviour::HugeAllocation => ("harness-abort", "memory allocation of"),
            Misbehaviour::StackOverflow => ("harness-abort", "overflowed its stack"),
        };
        misbehaved += 1;
        assert_eq!(case["outcome"], kind, "{seed}: {case}");
        let failure = failure.expect("a failure entry");
        assert_eq!(failure["kind"], kind);
        let detail = failure["detail"].as_str().unwrap();
        assert!(detail.contains(said), "{seed}: {detail}");
        assert!(failure["repro"].as_str().unwrap().contains(&format!("--seed {seed}")));
    }
    assert_eq!(misbehaved, 4, "each misbehaviour ran once");
    // One failure in full (--show 1), then every one in its group.
    assert_eq!(stderr.matches("FAILED ").count(), 1, "{stderr}");
    assert!(stderr.contains("4 failing case(s) in 2 group(s)"), "{stderr}");
    let groups: Vec<(String, u64)> = json["failure_groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["kind"].as_str().unwrap().to_owned(), g["count"].as_u64().unwrap()))
        .collect();
    assert_eq!(groups, [("harness-abort".to_owned(), 3), ("wall-timeout".to_owned(), 1)]);
}

/// The same abort in-process takes the whole sweep down, its results with
/// it: what the workers are for.
#[test]
fn in_process_an_aborting_case_takes_the_sweep_down() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.json");
    let status = Command::new(selftest())
        .args(["run", "--scenario", NAME, "--seed", "0", "--seed", "3", "--jobs", "1"])
        .args(["--in-process", "--format", "json", "--output"])
        .arg(&path)
        .output()
        .unwrap()
        .status;
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(6), "SIGABRT ends the process: {status:?}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "", "nothing was written");
}

/// Every built-in scenario's cases give, through workers, the results they
/// give in-process: outcomes, trace hashes, counters and coverage (all of
/// which cross the pipe).
#[test]
fn workers_give_the_results_of_in_process_runs() {
    let registry = Registry::builtin();
    let cases = cases(registry.all().to_vec(), Vec::new(), 40, Some(4), Shard::ALL);
    // Every scenario's later cases aimed by directed search: a focus
    // crosses the pipe too.
    let base = SweepConfig { jobs: 2, directed: Directed::All, ..SweepConfig::default() };
    let in_process = sweep(&cases, &base, &mut |_| {});
    let spec = WorkerSpec {
        program: selftest(),
        args: vec!["worker".into()],
        case_timeout: Duration::from_secs(300),
        memory_limit: Some(4 << 30),
    };
    let config = SweepConfig { isolation: Isolation::Workers(spec), ..base };
    let supervised = sweep(&cases, &config, &mut |_| {});
    let key = |r: &faultline_scenarios::CaseResult| {
        (r.scenario.clone(), r.seed, r.label, r.trace_hash, r.focus.map(|f| f.to_string()))
    };
    let expected: Vec<_> = in_process.cases.to_vec().unwrap().iter().map(key).collect();
    assert_eq!(expected.len(), registry.all().len() * 4);
    assert_eq!(supervised.cases.to_vec().unwrap().iter().map(key).collect::<Vec<_>>(), expected);
    assert!(in_process.focused > 0, "directed search aimed some cases: their focus crossed too");
    assert_eq!(supervised.focused, in_process.focused);
    assert_eq!(supervised.stats, in_process.stats);
    assert_eq!(supervised.coverage, in_process.coverage);
    assert_eq!(supervised.coverage_by_scenario, in_process.coverage_by_scenario);
    let outcomes = |r: &faultline_scenarios::SweepReport| {
        r.failures.iter().map(|f| (f.outcome.clone(), f.schedule.to_string())).collect::<Vec<_>>()
    };
    assert_eq!(outcomes(&supervised), outcomes(&in_process));
}

/// The workspace's `git status --porcelain` and `git diff HEAD` (so that
/// a file already changed and changed again shows too), or `None` outside
/// a git checkout.
fn git_status(root: &std::path::Path) -> Option<String> {
    let git = |args: &[&str]| {
        let output = Command::new("git").args(args).current_dir(root).output().ok()?;
        output.status.success().then(|| String::from_utf8_lossy(&output.stdout).into_owned())
    };
    Some(git(&["status", "--porcelain", "--untracked-files=all"])? + &git(&["diff", "HEAD"])?)
}

/// Failing cases go only where `--corpus` says: a sweep with failures, run
/// from the workspace root as a user would, leaves `git status` as it was
/// (the binary knows its source path, and once appended every failure to
/// the tracked tests/regressions/seeds.tsv).
#[test]
fn a_failing_sweep_without_corpus_leaves_git_status_clean() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let Some(before) = git_status(root) else {
        panic!(
            "{}: not a git checkout; this test needs one (a clone of the repository)",
            root.display()
        )
    };
    let output = Command::new(selftest())
        .args(["run", "--scenario", NAME, "--seeds", "4", "--jobs", "1"])
        .current_dir(root)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "the sweep fails: {stderr}");
    assert!(stderr.contains("harness-abort"), "seed 3 aborts: {stderr}");
    assert_eq!(git_status(root).as_deref(), Some(before.as_str()), "the sweep changed the tree");
}
