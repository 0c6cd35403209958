//! Same seed, same fault events and trace hash; another seed, another run.
//! And each fault class draws from its own stream: switching one class off
//! does not move when another fires.

use std::path::{Path, PathBuf};

use faultline_engine::fs::Fs;
use faultline_sim::{CrashMode, FaultClass, FaultConfig, FsEvent, Happening, Seed, SimFs, Stream};
use rand::RngExt;

/// A fixed-shape workload whose every choice comes from the seed's workload
/// stream; it ignores errors so that the operation sequence does not depend
/// on which faults fired.
fn workload(seed: Seed, config: FaultConfig) -> (Vec<FsEvent>, u64) {
    let mut rng = seed.rng(Stream::Workload);
    let mut fs = SimFs::new(seed, config);
    let paths: Vec<PathBuf> = (0..4).map(|i| PathBuf::from(format!("/file{i}"))).collect();
    for step in 0..400 {
        let path = &paths[rng.random_range(0..paths.len())];
        match rng.random_range(0..10u8) {
            0 => drop(fs.create(path)),
            1..=5 => {
                if let Ok(file) = fs.open(path) {
                    let data = vec![step as u8; rng.random_range(1..2000)];
                    let _ = file.write_at(&data, rng.random_range(0..8192));
                    let mut buf = vec![0; 700];
                    let _ = file.read_at(&mut buf, rng.random_range(0..8192));
                }
            }
            6 | 7 => {
                if let Ok(file) = fs.open(path) {
                    let _ = file.sync_data();
                }
            }
            8 => drop(fs.sync_dir(Path::new("/"))),
            _ => {
                if rng.random_bool(0.2) {
                    fs.crash(if rng.random() {
                        CrashMode::PowerLoss
                    } else {
                        CrashMode::ProcessCrash
                    });
                    fs = fs.reopen();
                }
            }
        }
    }
    (fs.events(), fs.trace_hash())
}

fn everything_on() -> FaultConfig {
    let mut config = FaultConfig::none().with_no_space_quota(24 << 10);
    for class in FaultClass::ALL.into_iter().filter(|c| *c != FaultClass::NoSpace) {
        config = config.with(class, 0.05);
    }
    config
}

#[test]
fn the_same_seed_gives_the_same_fault_events_and_trace_hash() {
    for seed in [Seed(1), Seed(0xdead_beef), Seed(u64::MAX)] {
        let (events, hash) = workload(seed, everything_on());
        let (again, hash_again) = workload(seed, everything_on());
        assert!(events.len() > 10, "seed {seed}: too few faults to compare: {}", events.len());
        assert_eq!(events, again, "seed {seed}");
        assert_eq!(hash, hash_again, "seed {seed}");
    }
}

#[test]
fn a_different_seed_gives_a_different_run() {
    let (events_a, hash_a) = workload(Seed(1), everything_on());
    let (events_b, hash_b) = workload(Seed(2), everything_on());
    assert_ne!(events_a, events_b);
    assert_ne!(hash_a, hash_b);
}

#[test]
fn swarm_draws_are_deterministic_too() {
    let config = |seed: Seed| FaultConfig::swarm(&mut seed.rng(Stream::FaultMix));
    let seed = Seed(77);
    assert_eq!(workload(seed, config(seed)), workload(seed, config(seed)));
}

#[test]
fn switching_one_class_off_does_not_move_another() {
    let only_class = |events: Vec<FsEvent>, class: FaultClass| -> Vec<(u64, String, u64)> {
        events
            .into_iter()
            .filter_map(|e| match e.happening {
                Happening::Fault(f) if f.class() == class => Some((e.op_index, e.path, e.offset)),
                _ => None,
            })
            .collect()
    };
    let both =
        FaultConfig::none().with(FaultClass::FsyncError, 0.1).with(FaultClass::WriteError, 0.1);
    let fsync_only = FaultConfig::none().with(FaultClass::FsyncError, 0.1);
    let (with_both, _) = workload(Seed(5), both);
    let (with_one, _) = workload(Seed(5), fsync_only);
    let fsync_errors = only_class(with_both, FaultClass::FsyncError);
    assert!(!fsync_errors.is_empty());
    assert_eq!(fsync_errors, only_class(with_one, FaultClass::FsyncError));
}
