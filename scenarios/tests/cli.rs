//! The `faultline` binary as a user meets it: a sweep stopped by a signal
//! still writes what it finished, and bad arguments are refused before any
//! case runs.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // real processes, real files.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn faultline() -> Command {
    Command::new(env!("CARGO_BIN_EXE_faultline"))
}

fn refused(args: &[&str]) -> Output {
    let output = faultline().args(args).output().expect("the binary runs");
    assert_eq!(output.status.code(), Some(2), "{args:?}: {output:?}");
    output
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn bad_arguments_exit_2_before_any_case_runs() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-dir/results.json");
    let out = refused(&[
        "run",
        "--seeds",
        "5",
        "--format",
        "json",
        "--output",
        missing.to_str().unwrap(),
    ]);
    assert!(stderr(&out).contains("no directory"), "{}", stderr(&out));
    assert!(!missing.exists());
    let out = refused(&["replay", "--scenario", "swarm", "--seed", "1", "--schedule", ""]);
    assert!(stderr(&out).contains("empty schedule"), "{}", stderr(&out));
    refused(&["replay", "--scenario", "swarm", "--seed", "1", "--schedule", "  "]);
    let out = refused(&["run", "--first-seed", "18446744073709551615", "--seeds", "2"]);
    assert!(stderr(&out).contains("would wrap"), "{}", stderr(&out));
}

/// An old results file never passes for new results: the sweep empties it
/// before the first case, so a sweep killed outright leaves it empty, not
/// stale.
#[test]
fn the_output_file_is_emptied_before_the_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.json");
    std::fs::write(&path, "{\"old\": true}").unwrap();
    let output = faultline()
        .args(["run", "--scenario", "torn_tail", "--seeds", "2", "--format", "json", "--output"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(json["cases"].as_array().map(Vec::len), Some(2));
    assert_eq!(json["partial"], false);
}

fn interrupt(signal: &str, code: i32) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.json");
    let child = faultline()
        .args(["run", "--time", "120", "--jobs", "1", "--format", "json", "--output"])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Let some cases finish (the file is emptied at the start, then
    // written at the end).
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let pid = child.id().to_string();
    let sent = Command::new("kill").args([signal, &pid]).status().unwrap();
    assert!(sent.success());
    let output = child.wait_with_output().unwrap();
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(code), "{err}");
    assert!(err.contains("interrupted by"), "{err}");
    let json = read_json(&path);
    assert_eq!(json["partial"], true, "{json}");
    let cases = json["cases"].as_array().expect("cases").len();
    assert!(cases > 0, "three seconds of sweep finished no case: {err}");
    assert!(err.contains(&format!("{cases} cases finished")), "{err}");
}

fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}: {text}", path.display()))
}

#[test]
fn sigint_stops_a_sweep_with_its_results_written_and_marked_partial() {
    interrupt("-INT", 130);
}

#[test]
fn sigterm_stops_a_sweep_with_its_results_written_and_marked_partial() {
    interrupt("-TERM", 143);
}

/// madsim seeds std's `HashMap` keys from the run's seed only on a thread
/// that has not drawn them yet, and warns when it cannot; every run gets a
/// fresh thread, so a sweep of many runs on one job never warns.
#[test]
fn runs_on_one_job_never_warn_that_hashmap_is_not_deterministic() {
    let output = faultline()
        .args(["run", "--scenario", "torn_tail", "--seeds", "6", "--jobs", "1", "--in-process"])
        .env("RUST_LOG", "madsim=warn")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(!stderr(&output).contains("HashMap"), "{}", stderr(&output));
}
