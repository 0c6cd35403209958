//! The engine on every filesystem profile (`faultline run --fs-profile`):
//! each case's profile is drawn from its seed unless pinned, named in its
//! plan and repro line, and the engine keeps every acknowledged transaction
//! on each, with the profile's own answer to a failed fsync seen firing.

use std::collections::BTreeSet;

use faultline_scenarios::{Registry, RunConfig, RunMode, RunReport, run};
use faultline_sim::{FaultClass, FsProfile, Seed};

/// The scenarios whose faults are mostly fsync errors.
const SCENARIOS: [&str; 2] = ["poisoned_writes", "incremental_snapshots"];

fn run_case(scenario: &str, seed: u64, config: &RunConfig) -> RunReport {
    let registry = Registry::builtin();
    let scenario = registry.get(scenario).expect("a built-in scenario");
    run(scenario.as_ref(), Seed(seed), config)
}

#[test]
fn each_case_draws_its_profile_from_its_seed_and_names_it() {
    let mut seen = BTreeSet::new();
    for seed in 0..40 {
        let report = run_case("poisoned_writes", seed, &RunConfig::default());
        let profile = report.fs_profile.expect("a simulated run has a profile");
        seen.insert(profile);
        assert!(report.plan.contains(&format!("fs-profile={profile}")), "{}", report.plan);
        assert!(report.repro_command().contains(&format!("--fs-profile {profile}")));
        let again = run_case("poisoned_writes", seed, &RunConfig::default());
        assert_eq!(again.fs_profile, Some(profile), "seed {seed}: the same seed, the same profile");
    }
    assert_eq!(seen.len(), FsProfile::ALL.len(), "40 seeds draw every profile: {seen:?}");
}

#[test]
fn a_pinned_profile_holds_for_every_case_and_changes_what_a_failed_fsync_does() {
    let mut differed = 0;
    for seed in 0..30 {
        let drawn = run_case("poisoned_writes", seed, &RunConfig::default());
        let pinned = RunConfig { fs_profile: Some(FsProfile::FreeBsd), ..RunConfig::default() };
        let report = run_case("poisoned_writes", seed, &pinned);
        assert_eq!(report.fs_profile, Some(FsProfile::FreeBsd));
        assert!(!report.outcome.is_failure(), "seed {seed}: {:?}", report.outcome);
        // The repro pins it: a replay of the run's own schedule repeats it.
        let replay = RunConfig {
            mode: RunMode::Pinned(report.schedule.clone()),
            fs_profile: Some(FsProfile::FreeBsd),
            ..RunConfig::default()
        };
        assert_eq!(run_case("poisoned_writes", seed, &replay).trace_hash, report.trace_hash);
        let fsync_errors = report.stats.faults.get(FaultClass::FsyncError);
        if drawn.fs_profile != Some(FsProfile::FreeBsd) && fsync_errors > 0 {
            differed += u64::from(drawn.trace_hash != report.trace_hash);
        }
    }
    assert!(differed > 0, "FreeBSD's redirtied pages change some run that meets an fsync error");
}

/// Per profile: the fsync-error scenarios pass (nothing acknowledged lost,
/// every recovery a prefix), fsync errors fired, and the engine poisoned on
/// them; on ext4-journal, late errors were reported and poisoned too; on
/// XFS, calls after a shutdown were refused and the machine came back.
#[test]
fn the_engine_keeps_every_acknowledged_transaction_on_every_profile() {
    for profile in FsProfile::ALL {
        let config = RunConfig { fs_profile: Some(profile), ..RunConfig::default() };
        let (mut fsync_errors, mut poisonings, mut reported_later, mut late_reports) = (0, 0, 0, 0);
        for scenario in SCENARIOS {
            for seed in 0..12 {
                let report = run_case(scenario, seed, &config);
                assert!(
                    !report.outcome.is_failure(),
                    "{profile} {scenario} seed {seed}: {:?}\n{}",
                    report.outcome,
                    report.repro_command()
                );
                fsync_errors += report.stats.faults.get(FaultClass::FsyncError);
                poisonings += report.stats.poisonings;
                reported_later +=
                    report.fired.iter().filter(|l| l.contains("reported=later")).count();
                late_reports +=
                    report.fired.iter().filter(|l| l.contains("error-reported")).count();
            }
        }
        assert!(fsync_errors >= 10, "{profile}: fsync errors fired: {fsync_errors}");
        assert!(poisonings >= 10, "{profile}: the engine poisoned: {poisonings}");
        if profile == FsProfile::Ext4Journal {
            assert!(
                reported_later > 0 && late_reports > 0,
                "{profile}: {reported_later} {late_reports}"
            );
        } else {
            assert_eq!(reported_later, 0, "{profile}: only ext4-journal reports later");
        }
        if profile == FsProfile::Xfs {
            // A failed directory sync shut it down: later calls refused.
            assert!(late_reports > 0, "{profile}: no call refused after a shutdown");
        }
    }
}

/// Found by a 90 s XFS sweep: a snapshot's directory sync failed and shut
/// the filesystem down, then the workload ended and the process restarted
/// without a crash. Its open met only refused calls; the runner must take
/// that as an open that failed on a fault (and bring the machine down,
/// which remounts it), not as a healthy history refused.
#[test]
fn an_open_on_a_shut_down_xfs_fails_on_the_fault_and_the_remount_recovers() {
    let config = RunConfig { fs_profile: Some(FsProfile::Xfs), ..RunConfig::default() };
    let report = run_case("incremental_snapshots", 0x639e_b20b_ac50_cd68, &config);
    assert!(!report.outcome.is_failure(), "{:?}", report.outcome);
    let fired = report.fired.join("\n");
    assert!(fired.contains("sync-dir") && fired.contains("fault=fsync-error"), "{fired}");
    assert!(fired.contains("error-reported"), "calls after the shutdown were refused: {fired}");
    assert!(report.stats.crashes >= 1, "the machine went down and came back");
}
