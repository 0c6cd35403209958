//! Simulation throughput (DESIGN 6): how many seeds one core runs per
//! second on the default mix (every built-in scenario in turn, as
//! `faultline run` sweeps them), with the average transactions, filesystem
//! calls and crashes per seed; and how many times faster the same workload
//! runs on the simulated filesystem than on the real disk.
//!
//! `cargo bench -p faultline-scenarios --bench throughput` (release). The
//! real-disk runs write under `target/bench-scratch/` (or
//! `$FAULTLINE_BENCH_DIR`), never tmpfs.
#![allow(clippy::print_stdout, missing_docs)] // a bench binary prints its results.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use faultline_scenarios::workload::WorkloadShape;
use faultline_scenarios::{Backend, Plan, PlanError, Registry, RunConfig, RunStats, Scenario, run};
use faultline_sim::Seed;

// The allocator the `faultline` binary runs with (src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Seeds per scenario for the throughput figure.
const SEEDS: u64 = 60;
/// Repetitions of the SimFs/RealFs comparison (median reported).
const REPEATS: usize = 5;

fn main() {
    // FAULTLINE_BENCH_ONLY=scaling (say) runs one section, for a profiler.
    let only = std::env::var("FAULTLINE_BENCH_ONLY").ok();
    let sections: [(&str, fn()); 3] = [
        ("seeds_per_second", seeds_per_second),
        ("scaling", scaling),
        ("sim_against_real", sim_against_real),
    ];
    for (name, section) in sections {
        if only.as_deref().is_none_or(|only| only == name) {
            section();
        }
    }
}

fn seeds_per_second() {
    let registry = Registry::builtin();
    println!("## Seeds per second on one core ({SEEDS} seeds per scenario, release)\n");
    println!(
        "| scenario | seeds/s | ms/seed | txs/seed | fs calls/seed | crashes/seed | sim ms/seed |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let mut total = RunStats::default();
    let mut total_wall = Duration::ZERO;
    for scenario in registry.all() {
        let started = Instant::now();
        let mut stats = RunStats::default();
        for seed in 0..SEEDS {
            let report = run(scenario.as_ref(), Seed(seed), &RunConfig::default());
            stats.add(&report.stats);
        }
        let wall = started.elapsed();
        row(scenario.name(), &stats, wall);
        total.add(&stats);
        total_wall += wall;
    }
    row("default mix (all)", &total, total_wall);
    println!();
}

fn row(name: &str, stats: &RunStats, wall: Duration) {
    let n = stats.runs as f64;
    println!(
        "| {name} | {:.1} | {:.2} | {:.1} | {:.1} | {:.2} | {:.1} |",
        n / wall.as_secs_f64(),
        wall.as_secs_f64() * 1e3 / n,
        stats.txs_committed as f64 / n,
        stats.fs_calls as f64 / n,
        stats.crashes as f64 / n,
        stats.sim_time_ns as f64 / 1e6 / n,
    );
}

/// The workload both backends run: no fault, no crash, two incarnations
/// (so the second open replays the first's history), every commit
/// acknowledged (a durability step, and so an fsync, per few commits).
struct SameWorkload;

impl Scenario for SameWorkload {
    fn name(&self) -> &str {
        "sim_vs_real"
    }

    fn summary(&self) -> &str {
        "bench only: a fault-free workload"
    }

    fn plan(&self, seed: Seed) -> Result<Plan, PlanError> {
        let workload = WorkloadShape {
            clients: 2,
            txs_per_client: 100,
            wait_ack_percent: 50,
            ..WorkloadShape::default()
        };
        Plan::builder(seed).workload(workload).restarts(1).build()
    }
}

/// A workload of `txs` transactions per seed in all (two clients, two
/// incarnations, a clean restart between them so that the second open
/// replays the first's history), the default fault-free plan otherwise.
struct Sized {
    txs: usize,
}

impl Scenario for Sized {
    fn name(&self) -> &str {
        "scaling"
    }

    fn summary(&self) -> &str {
        "bench only: a workload of a given size"
    }

    fn plan(&self, seed: Seed) -> Result<Plan, PlanError> {
        let workload = WorkloadShape {
            clients: 2,
            txs_per_client: self.txs / 4,
            // The default keeps tables small (64 rows): let them grow with
            // the workload, so that a big seed is also a big database.
            rows_per_table_max: self.txs,
            ..WorkloadShape::default()
        };
        Plan::builder(seed).workload(workload).restarts(1).build()
    }
}

/// Seeds per second and cost per transaction as the workload per seed
/// grows: the per-transaction cost should stay flat.
fn scaling() {
    println!("## Scaling with transactions per seed (release, one thread)\n");
    println!(
        "| txs per seed (asked) | seeds | txs/seed | seeds/s | ms/seed | µs/tx | fs calls/seed |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for (txs, seeds) in [(100, 40), (1_000, 8), (10_000, 2)] {
        let scenario = Sized { txs };
        let started = Instant::now();
        let mut stats = RunStats::default();
        for seed in 0..seeds {
            let report = run(&scenario, Seed(seed), &RunConfig::default());
            assert!(!report.outcome.is_failure(), "{:?}", report.outcome);
            stats.add(&report.stats);
        }
        let wall = started.elapsed();
        let n = stats.runs as f64;
        println!(
            "| {txs} | {seeds} | {:.0} | {:.2} | {:.2} | {:.1} | {:.0} |",
            stats.txs_committed as f64 / n,
            n / wall.as_secs_f64(),
            wall.as_secs_f64() * 1e3 / n,
            wall.as_secs_f64() * 1e6 / stats.txs_committed as f64,
            stats.fs_calls as f64 / n,
        );
    }
    println!();
}

fn scratch_dir() -> PathBuf {
    std::env::var_os("FAULTLINE_BENCH_DIR").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../target/bench-scratch/faultline-sim-vs-real")
    })
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn sim_against_real() {
    let scratch = scratch_dir();
    let _ = std::fs::remove_dir_all(&scratch);
    let (mut sim, mut real) = (Vec::new(), Vec::new());
    let mut txs = 0;
    for repeat in 0..REPEATS {
        let started = Instant::now();
        let report = run(&SameWorkload, Seed(1), &RunConfig::default());
        sim.push(started.elapsed());
        assert!(!report.outcome.is_failure(), "{:?}", report.outcome);
        txs = report.stats.txs_committed;

        let dir = scratch.join(format!("run-{repeat}"));
        let config =
            RunConfig { backend: Backend::Real { dir: dir.clone() }, ..RunConfig::default() };
        let started = Instant::now();
        let report = run(&SameWorkload, Seed(1), &config);
        real.push(started.elapsed());
        assert!(!report.outcome.is_failure(), "{:?}", report.outcome);
        assert_eq!(report.stats.txs_committed, txs, "both backends ran the same workload");
        let _ = std::fs::remove_dir_all(&dir);
    }
    let (sim, real) = (median(sim), median(real));
    println!(
        "## The same workload on SimFs and on RealFs ({}; median of {REPEATS})\n",
        scratch.display()
    );
    println!("| backend | wall ms | transactions | tx/s |");
    println!("|---|---:|---:|---:|");
    for (name, wall) in [("SimFs", sim), ("RealFs", real)] {
        println!(
            "| {name} | {:.2} | {txs} | {:.0} |",
            wall.as_secs_f64() * 1e3,
            txs as f64 / wall.as_secs_f64()
        );
    }
    println!(
        "\nSimFs is {:.1}x faster than RealFs on this workload.",
        real.as_secs_f64() / sim.as_secs_f64()
    );
}
