//! Real crashes on a real disk: SIGKILL a driver process running the engine
//! on RealFs at seeded moments (aimed at segment rotations and snapshot
//! persists too), reopen, and check that every acknowledged transaction is
//! there and the state equals the model of some prefix. The long version
//! is `ci/crash.sh`.

use faultline_tests::kill::{driver_path, kill_loop};

#[test]
fn sigkill_never_loses_an_acknowledged_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let driver = driver_path(Some(env!("CARGO_BIN_EXE_crash_driver")));
    let report = kill_loop(&driver, &dir.path().join("db"), 0x5eed, 24);
    eprintln!("{report:?}");
    assert_eq!(report.kills, 24);
    assert!(report.acked > 50, "the driver made progress: {report:?}");
    assert!(report.during_snapshot > 0, "some kills land in a snapshot persist: {report:?}");
    assert!(report.during_rotation > 0, "some kills land in a rotation: {report:?}");
    assert!(report.restored_from_snapshot > 0, "recoveries use snapshots: {report:?}");
}
