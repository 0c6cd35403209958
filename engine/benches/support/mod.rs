//! What the bench binaries share: where to write, and repeated timing with
//! medians. Benches time with the wall clock, which the engine itself may
//! not read; this is the one place that does.
#![allow(dead_code, unreachable_pub, clippy::disallowed_methods, clippy::disallowed_types)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A scratch directory on a real disk: `$FAULTLINE_BENCH_DIR` if set, else
/// under the cargo target directory (not /tmp, which may be tmpfs).
pub fn bench_dir(name: &str) -> tempfile::TempDir {
    let base = std::env::var_os("FAULTLINE_BENCH_DIR").map(PathBuf::from).unwrap_or_else(|| {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
        target.join("bench-scratch")
    });
    std::fs::create_dir_all(&base).expect("create the bench directory");
    tempfile::Builder::new().prefix(name).tempdir_in(&base).expect("create a scratch directory")
}

/// Runs `f` `runs` times; returns the median duration.
pub fn median_of(runs: usize, mut f: impl FnMut() -> Duration) -> Duration {
    assert!(runs >= 1);
    let mut times: Vec<Duration> = (0..runs).map(|_| f()).collect();
    times.sort();
    times[runs / 2]
}

/// Times one call of `f`.
pub fn time(f: impl FnOnce()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

/// Times one call of `f`, and returns what it returned (dropped after the
/// clock stops, so freeing it is not timed).
pub fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let result = f();
    (result, start.elapsed())
}

/// Describes the machine for the report: cores and the filesystem of `dir`.
pub fn machine(dir: &std::path::Path) -> String {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let fs = std::process::Command::new("df")
        .args(["--output=source,fstype"])
        .arg(dir)
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| {
            text.lines().nth(1).map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        })
        .unwrap_or_else(|| "unknown".to_owned());
    format!("cores={cores} dir={} fs={fs}", dir.display())
}
