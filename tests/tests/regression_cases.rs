//! Replays every emitted regression case (`tests/regressions/cases/*.case`,
//! written by `faultline shrink --emit`): its plan from its seed, its
//! fault schedule pinned, its workload sent as recorded (not generated).
//!
//! A `fixed` case must pass. An `open` case must fail with the failure
//! kind it records, or pass (then the bug was fixed: mark it `fixed`);
//! failing any other way is a regression.

use std::path::Path;

use faultline_scenarios::Registry;
use faultline_scenarios::regress::{Case, Verdict};

#[test]
fn every_emitted_case_behaves_as_recorded() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions/cases");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "case"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no case in {}", dir.display());
    let registry = Registry::builtin();
    let (mut wrong, mut now_passing) = (Vec::new(), Vec::new());
    for path in &paths {
        let text = std::fs::read_to_string(path).unwrap();
        let case = Case::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let report =
            case.run(&registry, false).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        match case.judge(&registry, &report) {
            Ok(Verdict::AsRecorded) => {}
            Ok(Verdict::NowPasses) => now_passing.push(path.display().to_string()),
            Err(why) => wrong.push(format!("{}: {why}", path.display())),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    eprintln!(
        "{} cases replayed; open cases now passing (mark them fixed): {now_passing:?}",
        paths.len()
    );
}
