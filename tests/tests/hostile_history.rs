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
    for seed in 0..120 {
        let case = HostileHistory::from_seed(Seed(seed));
        let verdict = case.check();
        let kind = format!("{:?}", case.forgery).split([' ', '{']).next().unwrap().to_owned();
        *kinds.entry(kind).or_default() += 1;
        if verdict.result.is_err() {
            wrong.push(format!("seed={seed}: {verdict}"));
        }
    }
    assert!(wrong.is_empty(), "{} wrong:\n{}", wrong.len(), wrong.join("\n"));
    assert_eq!(kinds.len(), 9, "every kind of forgery drawn: {kinds:?}");
}

#[test]
#[ignore = "prints what each forgery did; run with --ignored --nocapture"]
fn show() {
    for seed in 0..60 {
        let case = HostileHistory::from_seed(Seed(seed));
        eprintln!("{:?}: {}", case.forgery, case.check());
    }
}
