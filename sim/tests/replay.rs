//! One injector: a run's decisions, recorded while they are drawn, replay
//! pinned to the same run (same faults with the same details, same crashes,
//! same trace hash), because drawn and pinned decisions go through the same
//! code; a subset of them replays only that subset; a pinned decision that
//! cannot apply where it is pinned is reported unused, never bent to fit.

use std::path::{Path, PathBuf};

use faultline_engine::fs::Fs;
use faultline_sim::{
    CrashMode, CrashTrigger, Decision, FaultClass, FaultConfig, FsEvent, PinnedFault, Schedule,
    Seed, SimFs, Stream,
};
use rand::RngExt;

/// What a run leaves to compare.
#[derive(Debug, PartialEq, Eq)]
struct Run {
    events: Vec<FsEvent>,
    hash: u64,
    schedule: Schedule,
}

/// A fixed-shape workload, every choice from the seed's workload stream,
/// errors ignored; crash points armed at mutations and crash timers fired
/// at "times" (the step number), as the harness arms its plan.
fn workload(fs: SimFs, seed: Seed) -> Run {
    let mut rng = seed.rng(Stream::Workload);
    let mut fs = fs;
    let paths: Vec<PathBuf> = (0..3).map(|i| PathBuf::from(format!("/file{i}"))).collect();
    let mut incarnation = 0u32;
    fs.crash_at_mutation(fs.stats().mutations + rng.random_range(20..60), CrashMode::PowerLoss);
    fs.arm_crash_timer(incarnation, 150, CrashMode::ProcessCrash);
    for step in 0..300u64 {
        if !fs.is_alive() {
            fs = fs.reopen();
            incarnation += 1;
            fs.arm_crash_timer(incarnation, step + 40, CrashMode::PowerLoss);
        }
        if fs.crash_timer_deadline(incarnation, step) == Some(step) {
            fs.fire_crash_timer(incarnation, step);
            continue;
        }
        let path = &paths[rng.random_range(0..paths.len())];
        match rng.random_range(0..10u8) {
            0 => drop(fs.create(path)),
            1..=5 => {
                if let Ok(file) = fs.open(path) {
                    let data = vec![step as u8; rng.random_range(0..1500)];
                    let _ = file.write_at(&data, rng.random_range(0..6000));
                    let mut buf = vec![0; 600];
                    let _ = file.read_at(&mut buf, rng.random_range(0..6000));
                    let _ = file.set_len(rng.random_range(0..7000));
                }
            }
            6 | 7 => {
                if let Ok(file) = fs.open(path) {
                    let _ = file.sync_data();
                }
            }
            _ => drop(fs.sync_dir(Path::new("/"))),
        }
    }
    Run { events: fs.events(), hash: fs.trace_hash(), schedule: fs.schedule() }
}

fn everything_on() -> FaultConfig {
    let mut config = FaultConfig::none().with_no_space_quota(12 << 10);
    for class in FaultClass::ALL.into_iter().filter(|c| *c != FaultClass::NoSpace) {
        let rate = if class == FaultClass::TornWrite { 0.7 } else { 0.04 };
        config = config.with(class, rate);
    }
    config
}

#[test]
fn a_recorded_schedule_replays_pinned_to_the_same_run() {
    for seed in (1..=12).map(Seed) {
        let drawn = workload(SimFs::new(seed, everything_on()), seed);
        assert!(drawn.schedule.len() >= 5, "seed {seed}: {} decisions", drawn.schedule.len());
        let crashes =
            drawn.schedule.decisions.iter().filter(|d| matches!(d, Decision::Crash { .. }));
        assert!(crashes.count() >= 1, "seed {seed}: the plan's crashes struck");
        let fs = SimFs::replaying(seed, everything_on(), &drawn.schedule);
        let pinned = workload(fs.clone(), seed);
        assert_eq!(pinned, drawn, "seed {seed}: the pinned replay is the same run");
        assert!(fs.unused_decisions().is_empty(), "seed {seed}: every decision struck");
    }
}

#[test]
fn a_subset_of_the_decisions_replays_exactly_that_subset() {
    let seed = Seed(5);
    let drawn = workload(SimFs::new(seed, everything_on()), seed);
    let faults: Vec<Decision> = drawn
        .schedule
        .decisions
        .iter()
        .copied()
        .filter(|d| matches!(d, Decision::Fault { .. }))
        .collect();
    assert!(faults.len() >= 3, "{}", drawn.schedule);
    // Only the first fault: everything up to its call runs as before, it
    // fires with its recorded details, and nothing else fires.
    let first = Schedule { decisions: faults[..1].to_vec() };
    let fs = SimFs::replaying(seed, everything_on(), &first);
    let replayed = workload(fs, seed);
    assert_eq!(replayed.schedule, first, "exactly the pinned decision fired");
    assert_eq!(replayed.events.first(), drawn.events.first());
}

#[test]
fn a_pinned_decision_that_does_not_fit_its_call_is_reported_unused() {
    let fs = SimFs::replaying(
        Seed(1),
        FaultConfig::none(),
        &Schedule {
            decisions: vec![
                // Call 1 is a create: an fsync error cannot strike it.
                Decision::Fault { call: 1, fault: PinnedFault::FsyncError },
                // Call 2 is the write: a short write of 3 of its 4 bytes at most.
                Decision::Fault { call: 2, fault: PinnedFault::ShortWrite { written: 99 } },
                Decision::Crash {
                    trigger: CrashTrigger::Call(40),
                    mode: CrashMode::PowerLoss,
                    torn: false,
                },
            ],
        },
    );
    let file = fs.create(Path::new("/f")).unwrap();
    let error = file.write_at(b"abcd", 0).unwrap_err();
    assert!(error.to_string().contains("short write"), "{error}");
    assert_eq!(file.len().unwrap(), 3, "the written prefix is capped below the buffer's length");
    let unused = fs.unused_decisions();
    assert_eq!(unused.len(), 2, "{unused:?}");
    assert_eq!(fs.schedule().to_string(), "c2:short-write=3");
}

#[test]
fn faults_switched_off_silence_pinned_and_drawn_decisions_alike_but_not_crashes() {
    let schedule: Schedule = "c2:write-error,c3:power-loss".parse().unwrap();
    let fs = SimFs::replaying(Seed(1), FaultConfig::none(), &schedule);
    fs.set_faults_enabled(false);
    let file = fs.create(Path::new("/f")).unwrap();
    file.write_at(b"abcd", 0).expect("faults are off");
    assert!(file.sync_data().is_err(), "the crash strikes anyway");
    assert!(!fs.is_alive());
    assert_eq!(fs.schedule().to_string(), "c3:power-loss");
}
