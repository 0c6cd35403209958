//! The power-loss loop on LazyFS (`ci/lazyfs.sh`): mounts LazyFS, runs the
//! kill loop (`faultline_tests::kill`) with its database inside the mount
//! and every cycle ending in a power cut or a torn write
//! (`faultline_tests::lazyfs::PowerCuts`), within a cycle and a time
//! budget, in batches of 10 cycles per seed on a new database, and reports.
//!
//! `lazyfs_sweep --lazyfs BIN --config TOML --mount DIR --backing DIR
//!   --fifo F --fifo-done F --log F --output F [--pid-file F] --dir DIR
//!   [--cycles N] [--seconds S] [--seed X] [--driver PATH]`
//!
//! Exit codes: 0 every promise kept, 1 a promise broken (an acknowledged
//! transaction lost, a failed reopen or check, a state no prefix explains),
//! 2 bad usage, 3 LazyFS or the driver failed (no verdict on the engine).
// A command-line tool: it reports on stdout.
#![allow(clippy::print_stdout, clippy::disallowed_methods)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use faultline_tests::kill::{CycleError, KillReport, cycle_loop, driver_path};
use faultline_tests::lazyfs::{LazyFs, LazyFsConfig, PowerCutCounts, PowerCuts};

/// Cycles per seed: each batch starts a new database.
const BATCH_CYCLES: u64 = 10;
/// Above this cache usage LazyFS is remounted (with nothing unsynced:
/// between batches): a full cache would write through silently.
const CACHE_USAGE_MAX_PERCENT: f64 = 50.0;

struct Args {
    lazyfs: LazyFsConfig,
    dir: PathBuf,
    driver: Option<String>,
    cycles: u64,
    seconds: u64,
    seed: u64,
}

/// What the whole run saw.
#[derive(Default)]
struct Totals {
    kill: KillReport,
    cuts: PowerCutCounts,
    cache_usage_max_percent: f64,
    batches: u64,
}

fn main() {
    let args = parse_args();
    std::process::exit(run(&args));
}

/// The sweep; returns the exit code. LazyFS is unmounted before it returns.
fn run(args: &Args) -> i32 {
    let driver = driver_path(args.driver.as_deref());
    println!(
        "lazyfs_sweep: seed={:#x} cycles={} seconds={} driver={} dir={}",
        args.seed,
        args.cycles,
        args.seconds,
        driver.display(),
        args.dir.display()
    );
    let mut lazyfs = match LazyFs::mount(args.lazyfs.clone()) {
        Ok(lazyfs) => lazyfs,
        Err(error) => {
            eprintln!("lazyfs_sweep: {error}");
            return 3;
        }
    };
    let budget = Duration::from_secs(args.seconds);
    let start = Instant::now();
    let mut totals = Totals::default();
    while totals.kill.cycles < args.cycles && start.elapsed() < budget {
        let seed = args.seed.wrapping_add(totals.batches);
        let cycles = BATCH_CYCLES.min(args.cycles - totals.kill.cycles);
        let mut hooks = PowerCuts::new(&mut lazyfs, seed);
        let result = cycle_loop(&driver, &args.dir, seed, cycles, &mut hooks);
        hooks.end_of_loop();
        totals.cuts.add(&hooks.counts);
        let report = match result {
            Ok(report) => report,
            Err(error) => return failed(args, &totals, &error),
        };
        totals.kill.add(&report);
        totals.batches += 1;
        if let Err(error) = watch_cache(&mut lazyfs, &mut totals) {
            eprintln!("lazyfs_sweep: {error}");
            return 3;
        }
        // Each batch writes a new database: a new seed means a new workload.
        if let Err(error) = std::fs::remove_dir_all(&args.dir) {
            eprintln!("lazyfs_sweep: clear the database {}: {error}", args.dir.display());
            return 3;
        }
    }
    print_report(&totals, lazyfs.mounts(), start.elapsed());
    0
}

/// Checks how full LazyFS's cache is at the end of a batch (its database
/// still there), and remounts it above [`CACHE_USAGE_MAX_PERCENT`] (the
/// database is removed next: losing its unsynced data is harmless).
fn watch_cache(lazyfs: &mut LazyFs, totals: &mut Totals) -> Result<(), Box<dyn std::error::Error>> {
    let usage = lazyfs.cache_usage_percent()?;
    totals.cache_usage_max_percent = totals.cache_usage_max_percent.max(usage);
    if usage > CACHE_USAGE_MAX_PERCENT {
        lazyfs.remount()?;
    }
    Ok(())
}

fn failed(args: &Args, totals: &Totals, error: &CycleError) -> i32 {
    let cycle = totals.kill.cycles;
    match error {
        CycleError::Broken(broken) => {
            println!(
                "lazyfs_sweep: PROMISE BROKEN at cycle {} of the run (batch {}): {error}",
                cycle + broken.cycle,
                totals.batches
            );
            let driver =
                args.driver.as_ref().map_or(String::new(), |d| format!("LAZYFS_DRIVER={d} "));
            println!(
                "repro: {driver}LAZYFS_SEED={:#x} bash ci/lazyfs.sh <lazyfs source> {} {} \
                 (timing-dependent: the same seed aims at the same moments)",
                args.seed, args.cycles, args.seconds
            );
            1
        }
        other => {
            eprintln!(
                "lazyfs_sweep: no verdict, the harness failed in batch {} (cycles before it: {cycle}): {other}",
                totals.batches
            );
            3
        }
    }
}

fn print_report(totals: &Totals, mounts: u64, elapsed: Duration) {
    let (kill, cuts) = (&totals.kill, &totals.cuts);
    println!(
        "lazyfs: cycles={} batches={} sigkills={} died-of-fault={} during-rotation={} \
         during-snapshot={} restored-from-snapshot={}",
        kill.cycles,
        totals.batches,
        kill.kills,
        kill.died_of_fault,
        kill.during_rotation,
        kill.during_snapshot,
        kill.restored_from_snapshot
    );
    println!(
        "lazyfs: power-cuts(clear-cache)={} torn-op armed={} (on a new segment's header {}) \
         fired={} torn-seq armed={} fired={} torn-unarmed={} lazyfs-died-unexplained={} \
         mounts={} cache-usage-max={:.3}%",
        cuts.power_cuts,
        cuts.torn_op_armed,
        cuts.torn_op_on_header,
        cuts.torn_op_fired,
        cuts.torn_seq_armed,
        cuts.torn_seq_fired,
        cuts.torn_unarmed,
        cuts.lazyfs_died_unexplained,
        mounts,
        totals.cache_usage_max_percent
    );
    println!(
        "lazyfs: time driver={:.0}s power-cut+remount={:.0}s reopen+check={:.0}s elapsed={:.0}s",
        cuts.driver_time.as_secs_f64(),
        cuts.power_cut_time.as_secs_f64(),
        cuts.recovery_time.as_secs_f64(),
        elapsed.as_secs_f64()
    );
    println!(
        "lazyfs: acked-lost=0: every acknowledged transaction survived every power cut; \
         every recovery matched the model of a prefix"
    );
}

fn parse_args() -> Args {
    let mut value_of = std::collections::BTreeMap::new();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let known = [
            "--lazyfs",
            "--config",
            "--mount",
            "--backing",
            "--fifo",
            "--fifo-done",
            "--log",
            "--output",
            "--pid-file",
            "--dir",
            "--driver",
            "--cycles",
            "--seconds",
            "--seed",
        ];
        if !known.contains(&flag.as_str()) {
            usage(&format!("unknown flag {flag}"));
        }
        let value = args.next().unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        value_of.insert(flag, value);
    }
    let path = |flag: &str| {
        PathBuf::from(value_of.get(flag).unwrap_or_else(|| usage(&format!("{flag} is required"))))
    };
    let number = |flag: &str, default: u64| {
        value_of.get(flag).map_or(default, |v| {
            parse_number(v).unwrap_or_else(|| usage(&format!("{flag} takes a number")))
        })
    };
    let lazyfs = LazyFsConfig {
        binary: path("--lazyfs"),
        config: path("--config"),
        mount: path("--mount"),
        backing: path("--backing"),
        fifo: path("--fifo"),
        fifo_done: path("--fifo-done"),
        log: path("--log"),
        output: path("--output"),
        pid_file: value_of.get("--pid-file").map(PathBuf::from),
    };
    Args {
        lazyfs,
        dir: path("--dir"),
        driver: value_of.get("--driver").cloned(),
        cycles: number("--cycles", 1000),
        seconds: number("--seconds", 900),
        seed: number("--seed", drawn_seed()),
    }
}

/// Decimal, or hex after `0x`.
fn parse_number(value: &str) -> Option<u64> {
    match value.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => value.parse().ok(),
    }
}

/// A seed for a run that names none: the clock and the pid (logged first
/// thing, and in every failure's repro line).
fn drawn_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    (nanos ^ u64::from(std::process::id()).rotate_left(32)) & 0xffff_ffff
}

fn usage(message: &str) -> ! {
    eprintln!(
        "lazyfs_sweep: {message}\nusage: lazyfs_sweep --lazyfs BIN --config TOML --mount DIR \
         --backing DIR --fifo F --fifo-done F --log F --output F [--pid-file F] --dir DIR \
         [--cycles N] [--seconds S] [--seed X] [--driver PATH]"
    );
    std::process::exit(2);
}
