//! Writes the timeline page of one large run (`TIMELINE_BENCH=1
//! ci/timeline-check.sh` renders it in headless Chromium and times its
//! first draw): the default faults and crashes over a workload grown until
//! the run has at least the events asked for.
//!
//! `timeline_sample FILE [EVENTS]` (default 100000)
// A command-line tool: it reports on stdout.
#![allow(clippy::print_stdout, clippy::disallowed_methods)]

use faultline_scenarios::timeline::page;
use faultline_scenarios::{Plan, PlanError, RunConfig, Scenario, WorkloadShape, run};
use faultline_sim::{FaultClass, FaultConfig, FsProfile, Seed};

/// Rare write errors, short writes and fsync errors, over `txs`
/// transactions in four clients and thirteen incarnations.
struct Large {
    txs: usize,
}

impl Scenario for Large {
    fn name(&self) -> &str {
        "timeline_sample"
    }

    fn summary(&self) -> &str {
        "bench only: a large run for the timeline page"
    }

    fn plan(&self, seed: Seed) -> Result<Plan, PlanError> {
        let workload = WorkloadShape {
            clients: 4,
            txs_per_client: self.txs / 4,
            rows_per_table_max: self.txs,
            ..WorkloadShape::default()
        };
        // Faults rare enough that the workload runs on between them: each
        // failed write or sync poisons the writer and ends an incarnation.
        let faults = FaultConfig::none()
            .with(FaultClass::FsyncError, 0.000_05)
            .with(FaultClass::WriteError, 0.000_05)
            .with(FaultClass::ShortWrite, 0.000_05)
            // Lying syncs do not end an incarnation: many fault marks.
            .with(FaultClass::LyingFsync, 0.002);
        // ext4-journal's failed sync returns Ok: the history behind it is
        // zeros, and the run ends in an (allowed) refusal, too soon.
        Plan::builder(seed)
            .workload(workload)
            .faults(faults)
            .fs_profile(FsProfile::Ext4Ordered)
            .restarts(12)
            .build()
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: timeline_sample FILE [EVENTS]");
        std::process::exit(2);
    };
    let wanted: usize = args.next().map_or(100_000, |n| {
        n.parse().unwrap_or_else(|_| {
            eprintln!("EVENTS takes a number");
            std::process::exit(2)
        })
    });
    let config = RunConfig { keep_timeline: true, ..RunConfig::default() };
    // Start at a guess, then scale the workload by the events it made.
    let mut txs = (wanted / 40).max(8);
    for _ in 0..6 {
        let report = run(&Large { txs }, Seed(1), &config);
        let timeline = report.timeline.as_ref().expect("kept");
        let events = timeline.marks.len();
        if (wanted..wanted + wanted / 4).contains(&events) {
            let html = page(&report, timeline);
            std::fs::write(&path, &html).unwrap_or_else(|e| panic!("{path}: {e}"));
            println!(
                "{path}: {} events ({} fs calls, {} faults, {} crashes, {} tx), {} lanes, {:.1} MiB; outcome {}",
                timeline.marks.len(),
                report.stats.fs_calls,
                report.stats.faults.total(),
                report.stats.crashes,
                report.stats.txs_committed,
                timeline.lanes.len(),
                html.len() as f64 / (1 << 20) as f64,
                report.outcome.label()
            );
            return;
        }
        eprintln!("{txs} transactions asked: {events} events ({:?})", report.outcome);
        // Aim a little past the events wanted.
        txs = (txs * (wanted + wanted / 10) / events.max(1)).max(8);
    }
    eprintln!("no workload near {txs} transactions made {wanted} events (or a quarter more)");
    std::process::exit(1);
}
