//! Opening a database bootstraps it from its own history: a fresh open
//! writes the bootstrap transaction at offset 0 and syncs it; a reopen
//! replays it; a crash anywhere in the first open leaves either nothing or
//! the whole bootstrap transaction, never half.

mod dbtest;

use dbtest::{Outcome, ROOT, catch_poison, log_offsets, open, sim_fs};
use faultline_engine::Options;
use faultline_engine::datastore::system_schemas;
use faultline_sim::{CrashMode, Happening, Op};

#[test]
fn a_fresh_open_bootstraps_at_offset_zero_and_syncs_it() {
    let fs = sim_fs(1);
    let (db, report) = open(&fs, Options::default()).unwrap();
    assert!(report.bootstrapped);
    assert_eq!(report.replayed, 0);
    assert_eq!(db.durable_offset(), Some(0), "bootstrap is durable before the open returns");
    assert_eq!(log_offsets(&db), vec![0]);
    let tables: Vec<String> = db.latest().tables().map(|t| t.schema().name.clone()).collect();
    assert_eq!(tables, ["st_table", "st_column", "st_index", "st_sequence", "st_constraint"]);
    drop(db);

    // Pull the plug straight away: the bootstrap transaction is on disk.
    fs.crash(CrashMode::PowerLoss);
    let fs = fs.reopen();
    let (db, report) = open(&fs, Options::default()).unwrap();
    assert!(!report.bootstrapped, "a reopen must not bootstrap again");
    assert_eq!(report.replayed, 1);
    assert_eq!(log_offsets(&db), vec![0], "still exactly one transaction");
    assert!(db.epoch() > 1, "each incarnation gets a higher epoch");
    for schema in system_schemas() {
        assert_eq!(**db.latest().table(schema.id).unwrap().schema(), *schema);
    }
}

#[test]
fn power_loss_at_every_operation_of_the_first_open_leaves_none_or_all_of_bootstrap() {
    // Count the mutations a clean first open performs.
    let clean = sim_fs(0);
    let before = clean.stats().mutations;
    open(&clean, Options::default()).unwrap();
    let mutations = clean.stats().mutations - before;
    assert!(mutations >= 5, "an open creates a dir, a segment, writes and syncs: {mutations}");

    let (mut empty, mut whole, mut failed, mut poisoned) = (0, 0, 0, 0);
    for k in 1..=mutations {
        for seed in 0..4 {
            let fs = sim_fs(seed);
            fs.crash_at_mutation(fs.stats().mutations + k, CrashMode::PowerLoss);
            match catch_poison(|| open(&fs, Options::default())) {
                Outcome::Returned(Ok(_)) => {
                    panic!("k={k}: the crash must strike inside the first open")
                }
                Outcome::Returned(Err(_)) => failed += 1,
                Outcome::Poisoned(_) => poisoned += 1,
            }
            assert!(!fs.is_alive());
            let crashes = fs.events().iter().filter(|e| e.op == Op::Crash).count();
            assert_eq!(crashes, 1, "k={k} seed={seed}: the crash fired once");
            assert!(fs.events().iter().any(|e| matches!(e.happening, Happening::PowerLoss(_))));

            let fs = fs.reopen();
            let (db, report) = open(&fs, Options::default())
                .unwrap_or_else(|e| panic!("k={k} seed={seed}: reopen failed: {e}"));
            if report.bootstrapped {
                empty += 1;
            } else {
                assert_eq!(report.replayed, 1, "k={k} seed={seed}: the whole bootstrap or none");
                whole += 1;
            }
            assert_eq!(log_offsets(&db), vec![0], "k={k} seed={seed}");
            db.latest().check().unwrap();
        }
    }
    assert!(empty > 0 && whole > 0, "both outcomes should occur: empty={empty} whole={whole}");
    assert!(failed > 0 && poisoned > 0, "crashes hit both the open and the log writer");
    eprintln!(
        "crash points={mutations} empty={empty} whole={whole} failed={failed} poisoned={poisoned} root={ROOT}"
    );
}
