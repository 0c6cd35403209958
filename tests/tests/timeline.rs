//! The HTML timeline of a run (`faultline replay --html`): it shows every
//! filesystem call, fault, crash and incarnation the run's own counters
//! count, recording it changes nothing in the run, the page is the same
//! bytes for the same seed, and a failing run's page highlights the first
//! broken invariant where it broke. (`ci/timeline-check.sh` renders such a
//! page in headless Chromium and counts the same things in its DOM.)

use std::path::PathBuf;
use std::process::Command;

use faultline_scenarios::timeline::{Kind, LaneGroup, Timeline, page, page_with_notice};
use faultline_scenarios::{Registry, RunConfig, RunMode, RunReport, run};
use faultline_sim::Seed;
use faultline_tests::broken_fs::SkipsSyncs;

fn with_timeline() -> RunConfig {
    RunConfig { keep_timeline: true, ..RunConfig::default() }
}

fn timeline(report: &RunReport) -> &Timeline {
    report.timeline.as_ref().expect("the run was asked to keep its timeline")
}

/// The page's marks of each kind equal the run's counters, which the
/// filesystem and the runner keep on their own.
fn assert_counts_match(report: &RunReport) {
    let t = timeline(report);
    let who = format!("{} seed={}", report.scenario, report.seed);
    let calls = t.count(Kind::Call) + t.count(Kind::CallFailed) + t.count(Kind::CallCrashed);
    assert_eq!(calls as u64, report.stats.fs_calls, "{who}: calls");
    assert_eq!(t.count(Kind::Fault) as u64, report.stats.faults.total(), "{who}: faults");
    assert_eq!(t.count(Kind::Crash) as u64, report.stats.crashes, "{who}: crashes");
    // Each life of the process is a band; those whose open succeeded are
    // the run's incarnations.
    assert_eq!(t.count(Kind::Opened) as u64, report.stats.incarnations, "{who}: incarnations");
    assert!(t.incarnations.len() as u64 >= report.stats.incarnations, "{who}: bands");
    let opened_bands = t.incarnations.iter().filter(|b| b.recovery.is_some()).count();
    assert_eq!(opened_bands as u64, report.stats.incarnations, "{who}: a recovery per band");
    // Bands follow each other without sharing a mark, and cover every mark
    // from the first band's start.
    for pair in t.incarnations.windows(2) {
        assert!(pair[0].first_mark <= pair[0].last_mark, "{who}: {pair:?}");
        assert_eq!(pair[0].last_mark + 1, pair[1].first_mark, "{who}: {pair:?}");
    }
    if let Some(last) = t.incarnations.last() {
        assert_eq!(last.last_mark as usize + 1, t.marks.len(), "{who}: the last band ends the run");
    }
    // Once the final recovery starts, every restart belongs to it.
    let labels: Vec<&str> = t.incarnations.iter().map(|b| b.label.as_str()).collect();
    if let Some(first) = labels.iter().position(|l| *l == "final recovery") {
        assert!(labels[first..].iter().all(|l| *l == "final recovery"), "{who}: {labels:?}");
    }
    assert_eq!(t.count(Kind::Commit) as u64, report.stats.txs_committed, "{who}: commits");
    assert_eq!(t.count(Kind::Poisoned) as u64, report.stats.poisonings, "{who}: poisonings");
    assert!(t.marks.windows(2).all(|w| w[0].0 <= w[1].0), "{who}: marks in time order");
    assert!(t.lanes_in(LaneGroup::File) > 0, "{who}: a lane per file");
    assert_eq!(t.lanes_in(LaneGroup::Run), 1, "{who}");
}

#[test]
fn every_scenario_s_timeline_counts_what_its_run_counts() {
    let registry = Registry::builtin();
    let (mut faults, mut crashes, mut pages) = (0, 0, 0);
    for scenario in registry.all() {
        for seed in [1, 2, 0xfa017] {
            let report = run(scenario.as_ref(), Seed(seed), &with_timeline());
            let Some(_) = &report.timeline else {
                // hostile_history runs itself, without the runner's events.
                assert_eq!(scenario.name(), "hostile_history");
                continue;
            };
            assert_counts_match(&report);
            faults += report.stats.faults.total();
            crashes += report.stats.crashes;
            pages += 1;
        }
    }
    // The sample is worth something only if faults fired and crashes struck.
    assert!(pages >= 20, "{pages} timelines");
    assert!(faults >= 20, "{faults} faults");
    assert!(crashes >= 20, "{crashes} crashes");
}

#[test]
fn keeping_the_timeline_changes_nothing_in_the_run() {
    let registry = Registry::builtin();
    for name in ["poisoned_writes", "incremental_snapshots", "swarm", "torn_tail"] {
        let scenario = registry.get(name).unwrap();
        for seed in [3, 0xbeef] {
            let plain = run(scenario.as_ref(), Seed(seed), &RunConfig::default());
            let recorded = run(scenario.as_ref(), Seed(seed), &with_timeline());
            assert_eq!(plain.trace_hash, recorded.trace_hash, "{name} seed={seed}");
            assert_eq!(plain.outcome, recorded.outcome, "{name} seed={seed}");
            assert_eq!(plain.stats, recorded.stats, "{name} seed={seed}");
            assert!(plain.timeline.is_none());
        }
    }
}

#[test]
fn the_same_seed_writes_the_same_page_byte_for_byte() {
    let registry = Registry::builtin();
    let scenario = registry.get("incremental_snapshots").unwrap();
    let write = || {
        let report = run(scenario.as_ref(), Seed(0x5eed), &with_timeline());
        page(&report, timeline(&report))
    };
    let (first, second) = (write(), write());
    assert!(first == second, "two pages of one seed differ");
    let other = {
        let report = run(scenario.as_ref(), Seed(0x5eee), &with_timeline());
        page(&report, timeline(&report))
    };
    assert!(first != other, "another seed, another page");
    // Self-contained: nothing is fetched.
    for remote in ["http://", "https://", "<link", "src=\""] {
        assert!(!first.contains(remote), "the page names {remote}");
    }
}

#[test]
fn a_schedule_replay_draws_the_same_timeline_as_the_seed_it_came_from() {
    let registry = Registry::builtin();
    let mut compared = 0;
    for name in ["swarm", "poisoned_writes", "torn_tail"] {
        let scenario = registry.get(name).unwrap();
        for seed in [5, 0xc0ffee] {
            let drawn = run(scenario.as_ref(), Seed(seed), &with_timeline());
            let pinned = RunConfig {
                mode: RunMode::Pinned(drawn.schedule.clone()),
                fs_profile: drawn.fs_profile,
                ..with_timeline()
            };
            let replayed = run(scenario.as_ref(), Seed(seed), &pinned);
            assert_eq!(timeline(&replayed), timeline(&drawn), "{name} seed={seed}");
            // The page differs only where it says how to replay it.
            let html = page(&replayed, timeline(&replayed));
            assert!(html.contains(" --schedule "), "{name} seed={seed}");
            compared += usize::from(!drawn.schedule.is_empty());
        }
    }
    assert!(compared >= 4, "only {compared} runs had decisions to pin");
}

#[test]
fn a_recovery_says_what_it_restored_and_cut() {
    let registry = Registry::builtin();
    let scenario = registry.get("incremental_snapshots").unwrap();
    let (mut restored, mut cut) = (0, 0);
    for seed in 0..24 {
        let report = run(scenario.as_ref(), Seed(seed), &with_timeline());
        let t = timeline(&report);
        for band in &t.incarnations {
            let Some(recovery) = &band.recovery else { continue };
            assert!(recovery.contains("replayed "), "{recovery}");
            restored += usize::from(recovery.contains("restored the snapshot at "));
            cut += usize::from(recovery.contains("torn tail cut: "));
        }
        assert_eq!(t.offsets.recovered.len(), t.count(Kind::Opened));
    }
    assert!(restored > 0, "no recovery restored a snapshot");
    assert!(cut > 0, "no recovery cut a torn tail");
}

#[test]
fn a_failing_run_s_page_highlights_the_first_broken_invariant_where_it_broke() {
    let report = run(&SkipsSyncs, Seed(7), &with_timeline());
    let failure = report.outcome.failure().expect("a skipped fsync loses what it acknowledged");
    assert_counts_match(&report);
    let t = timeline(&report);
    let violation = t.violation.as_ref().expect("the failure is marked");
    assert_eq!(violation.invariant, failure.kind.name());
    assert_eq!(violation.detail, failure.detail);
    let mark = &t.marks[violation.mark as usize];
    assert_eq!(mark.0, failure.at_ns, "marked when it broke");
    assert_eq!(t.count(Kind::Violation), 1);
    let html = page(&report, t);
    assert!(html.contains(&format!(
        "id=\"violation\" class=\"highlight\" data-mark=\"{}\"",
        violation.mark
    )));
    assert!(html.contains(&format!("<b class=\"invariant\">{}</b>", failure.kind.name())));
    assert!(html.contains("replay --scenario selftest_skips_syncs --seed 0x0000000000000007"));
    // A replay that did not end as the sweep's run says so first.
    let noticed = page_with_notice(&report, t, Some("the sweep's run ended <hang>"));
    assert!(noticed.contains("<div id=\"notice\">the sweep&apos;s run ended &lt;hang&gt;</div>"));
    // A passing run's page has no violation.
    let passing =
        run(Registry::builtin().get("torn_tail").unwrap().as_ref(), Seed(1), &with_timeline());
    assert!(passing.outcome.failure().is_none());
    assert!(timeline(&passing).violation.is_none());
    assert!(!page(&passing, timeline(&passing)).contains("id=\"violation\""));
}

fn selftest() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_faultline-selftest"))
}

#[test]
fn a_sweep_writes_each_failing_case_s_page_and_its_results_name_it() {
    let dir = tempfile::tempdir().unwrap();
    let (pages, json) = (dir.path().join("pages"), dir.path().join("results.json"));
    // Seeds 0..6 of selftest_misbehaving abort (3) and spin (5): no page
    // for those, whose replay would take the sweep down; every failing
    // case of the broken engine gets one.
    let output = Command::new(selftest())
        .args(["run", "--scenario", "selftest", "--seeds", "6", "--jobs", "2"])
        .args(["--case-timeout", "2", "--format", "json", "--output"])
        .arg(&json)
        .arg("--html-dir")
        .arg(&pages)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let (mut with_page, mut without) = (0, 0);
    for failure in results["failures"].as_array().unwrap() {
        let scenario = failure["scenario"].as_str().unwrap();
        if scenario == "selftest_misbehaving" {
            assert!(failure["timeline"].is_null(), "{failure}");
            assert!(stderr.contains("its worker died under it"), "{stderr}");
            without += 1;
            continue;
        }
        let page = PathBuf::from(failure["timeline"].as_str().expect("the page is named"));
        let seed = failure["seed"].as_str().unwrap();
        assert_eq!(page, pages.join(format!("{scenario}-{seed}.html")));
        let html = std::fs::read_to_string(&page).unwrap();
        assert!(html.starts_with("<!DOCTYPE html>"));
        let kind = failure["kind"].as_str().unwrap();
        assert!(html.contains(&format!("<b class=\"invariant\">{kind}</b>")), "{kind}");
        with_page += 1;
    }
    assert_eq!(without, 2, "the abort and the spin");
    assert!(with_page >= 3, "{with_page} pages");
    assert!(stderr.contains(&format!("timelines: {with_page} written to")), "{stderr}");

    // JUnit names the page too, where CI systems look for attachments.
    let output = Command::new(selftest())
        .args(["run", "--scenario", "selftest_skips_syncs", "--seeds", "2", "--format", "junit"])
        .arg("--html-dir")
        .arg(&pages)
        .output()
        .unwrap();
    let junit = String::from_utf8_lossy(&output.stdout);
    let page = pages.join("selftest_skips_syncs-0x0000000000000000.html");
    assert!(junit.contains(&format!("[[ATTACHMENT|{}]]", page.display())), "{junit}");
    assert!(junit.contains(&format!("timeline: {}", page.display())), "{junit}");
}
