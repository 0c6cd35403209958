//! The long real-crash run (`ci/crash.sh`): many rounds of the kill test
//! (`faultline_tests::kill`) within a time budget, with a report at the end.
//!
//! `crash_sweep [--kills N] [--seconds S] [--seed X] [--dir D]`
// A command-line tool: it reports on stdout.
#![allow(clippy::print_stdout, clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use faultline_tests::kill::{KillReport, driver_path, kill_loop};

fn main() {
    let mut kills = 500u64;
    let mut seconds = 600u64;
    let mut seed = 0xfa_u64;
    let mut dir = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        match flag.as_str() {
            "--kills" => kills = value.parse().unwrap_or_else(|_| usage("--kills takes a number")),
            "--seconds" => {
                seconds = value.parse().unwrap_or_else(|_| usage("--seconds takes a number"))
            }
            "--seed" => seed = value.parse().unwrap_or_else(|_| usage("--seed takes a number")),
            "--dir" => dir = Some(value),
            other => usage(&format!("unknown flag {other}")),
        }
    }
    let scratch = tempfile::tempdir().expect("a scratch directory");
    let dir = dir.map(std::path::PathBuf::from).unwrap_or_else(|| scratch.path().join("db"));
    let driver = driver_path(None);
    let budget = Duration::from_secs(seconds);
    let start = Instant::now();
    let mut total = KillReport::default();
    let mut batch = 0;
    while total.kills < kills && start.elapsed() < budget {
        let report = kill_loop(&driver, &dir, seed + batch, 10.min(kills - total.kills));
        total.add(&report);
        batch += 1;
        // Each batch writes a new database: a new seed means a new workload.
        std::fs::remove_dir_all(&dir).expect("clear the database");
    }
    println!(
        "kills={} during-rotation={} during-snapshot={} restored-from-snapshot={} elapsed={:.0}s",
        total.kills,
        total.during_rotation,
        total.during_snapshot,
        total.restored_from_snapshot,
        start.elapsed().as_secs_f64()
    );
    println!(
        "every acknowledged transaction survived every kill; every recovery matched the model"
    );
}

fn usage(message: &str) -> ! {
    eprintln!(
        "crash_sweep: {message}\nusage: crash_sweep [--kills N] [--seconds S] [--seed X] [--dir D]"
    );
    std::process::exit(2);
}
