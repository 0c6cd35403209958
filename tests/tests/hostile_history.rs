//! Hostile histories: checksummed, well-formed, wrong in meaning, written
//! by the harness; the engine must open exactly what FORMAT.md allows or
//! refuse naming the file, the offset and the reason, never serve a wrong
//! state, never panic. Every kind of forgery is drawn by some seed here.

use std::collections::BTreeMap;

use faultline_scenarios::hostile_history::HostileHistory;
use faultline_sim::Seed;

#[test]
fn every_forgery_is_opened_as_the_format_allows_or_refused_by_name() {
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    let mut wrong = Vec::new();
    for seed in 0..300 {
        let case = HostileHistory::from_seed(Seed(seed));
        let verdict = case.check();
        let kind = format!("{:?}", case.forgery).split([' ', '{']).next().unwrap().to_owned();
        *kinds.entry(kind).or_default() += 1;
        if verdict.result.is_err() {
            wrong.push(format!("seed={seed}: {verdict}"));
        }
    }
    assert!(wrong.is_empty(), "{} wrong:\n{}", wrong.len(), wrong.join("\n"));
    assert_eq!(kinds.len(), 16, "every kind of forgery drawn: {kinds:?}");
}

/// The case the `hostile_history` fuzz target found in its first minutes,
/// when nothing bound a snapshot to its log: a snapshot of another history
/// at the offset this log ends at was restored (there is no suffix to
/// replay, so it "connected"), and the engine served the other history's
/// state. Manifests now record the checksum of the log's commit that ends
/// at their offset; the open sets the foreign snapshot aside and replays
/// the log.
#[test]
fn a_snapshot_of_another_history_at_the_log_end_is_set_aside() {
    use faultline_scenarios::hostile_history::Forgery;
    let case = HostileHistory {
        seed: 15_450_572_068_214_105_206,
        txs: 214,
        forgery: Forgery::SnapshotOfAnotherHistory,
        at: 0,
    };
    let verdict = case.check();
    assert!(verdict.result.is_ok(), "{verdict}");
    assert!(verdict.got.contains("restored-from=None"), "{verdict}");
    assert!(verdict.got.contains("snapshot=32 of another history"), "{verdict}");
}

#[test]
#[ignore = "prints what each forgery did; run with --ignored --nocapture"]
fn show() {
    for seed in 0..80 {
        let case = HostileHistory::from_seed(Seed(seed));
        eprintln!("{:?}: {}", case.forgery, case.check());
    }
}
