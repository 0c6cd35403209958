//! Snapshots end to end on SimFs: taken on rotation and every N
//! transactions; power loss at every operation of a persist; corrupted
//! snapshots set aside with a reason; restore + suffix equal to full replay
//! for full, incremental and compacted chains; old segments removed only
//! behind a durable snapshot.

mod dbtest;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use dbtest::{FailingDirSync, account, account_columns, open, sim_fs};
use faultline_engine::datastore::Row;
use faultline_engine::fs::Fs;
use faultline_engine::snapshot::{
    SnapshotKind, decode_manifest, encode_manifest, snapshot_dir_name,
};
use faultline_engine::{Database, Options};
use faultline_sim::{CrashMode, SimFs, View};
use proptest::prelude::*;

type Dump = BTreeMap<String, Vec<Row>>;

fn options(every_txs: u64, chain_max: u32) -> Options {
    let mut options = Options::default();
    options.log.max_segment_size = 4096;
    options.snapshots.every_txs = every_txs;
    options.snapshots.chain_max = chain_max;
    options
}

/// Commits one transaction inserting `id`, makes it durable, and runs a
/// snapshot step; returns the snapshot offset if one was taken.
fn insert_and_step(db: &mut Database, id: u64) -> Option<u64> {
    let mut tx = db.begin();
    tx.insert("accounts", &account(id)).unwrap();
    db.commit(tx).unwrap();
    db.durability_step();
    db.snapshot_step().unwrap()
}

/// Commits one transaction inserting `id` and makes it durable, without a
/// snapshot step; returns its offset.
fn insert_durably(db: &mut Database, id: u64) -> u64 {
    let mut tx = db.begin();
    tx.insert("accounts", &account(id)).unwrap();
    let offset = db.commit(tx).unwrap();
    assert_eq!(db.durability_step(), Some(offset));
    offset
}

/// Opens `fs` and checks it restored snapshot `from` with no snapshot set
/// aside, to the state `latest`; returns how many transactions it replayed.
fn assert_restores(fs: &SimFs, options: &Options, from: u64, latest: &Dump) -> u64 {
    let (db, report) = open(fs, options.clone()).unwrap();
    assert_eq!(report.restored_from, Some(from));
    assert!(report.snapshots_rejected.is_empty(), "{:?}", report.snapshots_rejected);
    assert_eq!(&db.latest().dump(), latest);
    report.replayed
}

fn with_accounts(fs: &SimFs, options: &Options) -> Database {
    let (mut db, _) = open(fs, options.clone()).unwrap();
    let mut tx = db.begin();
    tx.create_table("accounts", account_columns()).unwrap();
    db.commit(tx).unwrap();
    db.durability_step();
    db
}

/// The state a full replay of the log gives (snapshots ignored).
fn full_replay(fs: &SimFs, options: &Options) -> Dump {
    let mut options = options.clone();
    options.snapshots.restore_on_open = false;
    let (db, report) = open(fs, options).unwrap();
    assert_eq!(report.restored_from, None);
    db.latest().dump()
}

fn snapshot_entries(fs: &SimFs) -> Vec<String> {
    fs.list_dir(Path::new("/db/snapshots")).unwrap().into_iter().map(|e| e.name).collect()
}

#[test]
fn snapshots_are_taken_every_n_transactions_and_on_each_rotation() {
    let fs = sim_fs(1);
    let mut options = options(10, 8);
    options.snapshots.on_rotation = false;
    let mut db = with_accounts(&fs, &options);
    let taken: Vec<u64> = (0..40).filter_map(|id| insert_and_step(&mut db, id)).collect();
    assert_eq!(taken, vec![10, 20, 30, 40], "every 10 transactions, at the durable offset");

    let fs = sim_fs(2);
    let mut options = self::options(1_000_000, 8);
    options.snapshots.on_rotation = true;
    let mut db = with_accounts(&fs, &options);
    let mut rotations_seen = 0;
    for id in 0..200 {
        let before = db.rotations();
        let taken = insert_and_step(&mut db, id);
        if db.rotations() > before {
            rotations_seen += 1;
            assert_eq!(taken, db.durable_offset(), "a rotation triggers a snapshot at once");
        } else {
            assert_eq!(taken, None, "no rotation, no snapshot (every_txs is far away)");
        }
    }
    assert!(rotations_seen >= 3, "the workload rotates: {rotations_seen}");
}

#[test]
fn incrementals_write_only_changed_pages_and_chains_compact() {
    let fs = sim_fs(3);
    let mut options = options(5, 2);
    options.snapshots.on_rotation = false;
    options.snapshots.retain = 10;
    let mut db = with_accounts(&fs, &options);
    let mut kinds = Vec::new();
    for id in 0..30 {
        if insert_and_step(&mut db, id).is_some() {
            let manifest = db.last_snapshot().unwrap();
            kinds.push((manifest.kind, manifest.chain_len, manifest.sources().len()));
        }
    }
    // Full, then incrementals that refer to older directories, and the
    // chain_max-th incremental compacted into a self-contained snapshot.
    assert_eq!(kinds[0], (SnapshotKind::Full, 0, 1));
    assert_eq!((kinds[1].0, kinds[1].1), (SnapshotKind::Incremental, 1));
    assert!(kinds[1].2 >= 2, "an incremental refers to its parent's pages: {kinds:?}");
    assert_eq!(kinds[2], (SnapshotKind::Compacted, 0, 1), "{kinds:?}");
    assert_eq!((kinds[3].0, kinds[3].1), (SnapshotKind::Incremental, 1));
    let latest = db.latest().dump();
    drop(db);
    let (db, report) = open(&fs, options.clone()).unwrap();
    assert_eq!(report.restored_from, Some(30), "the newest snapshot; offset 31 is replayed");
    assert_eq!(db.latest().dump(), latest);
    assert_eq!(full_replay(&fs, &options), latest);
}

#[test]
fn power_loss_at_every_operation_of_a_snapshot_persist_recovers_the_durable_log() {
    let mut options = options(10, 8);
    options.snapshots.on_rotation = false;
    options.snapshots.remove_old_segments = false; // full replay stays possible
    // Count the mutations of the second snapshot's step (an incremental).
    let prepare = |seed| {
        let fs = sim_fs(seed);
        let mut db = with_accounts(&fs, &options);
        for id in 0..18 {
            insert_and_step(&mut db, id); // offsets 2..=19, a snapshot at 10
        }
        (fs, db)
    };
    let (fs, mut db) = prepare(0);
    let before = fs.stats().mutations;
    assert_eq!(insert_and_step(&mut db, 18), Some(20));
    let step_mutations = fs.stats().mutations - before;
    // The durability step's own mutations come first.
    assert!(step_mutations > 6, "{step_mutations}");
    let (mut previous, mut new) = (0, 0);
    for k in 1..=step_mutations {
        for seed in 0..3 {
            let (fs, mut db) = prepare(seed);
            fs.crash_at_mutation(fs.stats().mutations + k, CrashMode::PowerLoss);
            // A crash inside the durability step poisons the log; inside the
            // snapshot it is an error the database shrugs off.
            let _ = dbtest::catch_poison(|| {
                let mut tx = db.begin();
                tx.insert("accounts", &account(18)).unwrap();
                db.commit(tx).unwrap();
                db.durability_step();
                assert!(db.snapshot_step().is_err(), "k={k}: a crashed snapshot reports an error");
            });
            drop(db);
            assert!(!fs.is_alive(), "k={k}: the crash struck inside the step");
            let fs = fs.reopen();
            let (db, report) =
                open(&fs, options.clone()).unwrap_or_else(|e| panic!("k={k} seed={seed}: {e}"));
            match report.restored_from {
                Some(10) => previous += 1,
                Some(20) => new += 1,
                other => panic!("k={k} seed={seed}: restored from {other:?}"),
            }
            assert!(report.snapshots_rejected.is_empty(), "k={k}: {:?}", report.snapshots_rejected);
            let state = db.latest().dump();
            drop(db);
            assert_eq!(
                state,
                full_replay(&fs, &options),
                "k={k} seed={seed}: snapshot + suffix = full replay"
            );
            let leftovers: Vec<String> =
                snapshot_entries(&fs).into_iter().filter(|n| n.ends_with(".tmp")).collect();
            assert!(leftovers.is_empty(), "k={k}: {leftovers:?}");
        }
    }
    assert!(previous > 0 && new > 0, "both snapshots get used: previous={previous} new={new}");
}

/// A database with full snapshots at 10 and 20, the log from 0 kept, and
/// its latest state (offset 26).
fn full_snapshots_at_10_and_20(seed: u64) -> (SimFs, Options, Dump) {
    let fs = sim_fs(seed);
    let mut options = options(10, 0);
    options.snapshots.on_rotation = false;
    options.snapshots.remove_old_segments = false;
    let mut db = with_accounts(&fs, &options);
    for id in 0..25 {
        insert_and_step(&mut db, id);
    }
    let latest = db.latest().dump();
    (fs, options, latest)
}

#[test]
fn a_corrupted_snapshot_is_set_aside_with_its_reason_and_an_older_one_used() {
    for target in ["manifest", "page"] {
        let (fs, options, latest) = full_snapshots_at_10_and_20(4);
        // Flip one bit in the newest snapshot (20).
        let dir = format!("/db/snapshots/{}", snapshot_dir_name(20));
        let name = match target {
            "manifest" => "manifest".to_owned(),
            _ => fs
                .list_dir(Path::new(&dir))
                .unwrap()
                .into_iter()
                .map(|e| e.name)
                .find(|n| n.ends_with(".page"))
                .unwrap(),
        };
        let file = fs.open(&Path::new(&dir).join(&name)).unwrap();
        let mut byte = [0u8];
        file.read_exact_at(&mut byte, 40).unwrap();
        file.write_at(&[byte[0] ^ 0x10], 40).unwrap();
        file.sync_data().unwrap();

        let (db, report) = open(&fs, options.clone()).unwrap();
        assert_eq!(report.restored_from, Some(10), "{target}: falls back to the older snapshot");
        let reason = &report.snapshots_rejected[0];
        assert!(reason.starts_with("snapshot=20 "), "{reason}");
        assert!(reason.contains(&name), "{target}: the reason names the file: {reason}");
        assert_eq!(db.latest().dump(), latest, "{target}: the state is still right");
        drop(db);
        assert!(snapshot_entries(&fs).contains(&format!("{}.rejected", snapshot_dir_name(20))));
        // Set aside for good: the next open uses snapshot 10 without looking at it again.
        let (_, report) = open(&fs, options.clone()).unwrap();
        assert_eq!((report.restored_from, report.snapshots_rejected.len()), (Some(10), 0));
    }
}

#[test]
fn with_every_snapshot_corrupted_open_falls_back_to_full_replay() {
    let (fs, options, latest) = full_snapshots_at_10_and_20(5);
    for offset in [10, 20] {
        let path = format!("/db/snapshots/{}/manifest", snapshot_dir_name(offset));
        fs.open(Path::new(&path)).unwrap().set_len(10).unwrap();
    }
    let (db, report) = open(&fs, options).unwrap();
    assert_eq!(report.restored_from, None);
    assert_eq!(report.snapshots_rejected.len(), 2);
    assert_eq!(db.latest().dump(), latest);
}

#[test]
fn old_segments_go_only_behind_a_durable_snapshot_and_crashes_never_open_a_gap() {
    let mut options = options(8, 2);
    options.snapshots.retain = 1;
    let run = |fs: &SimFs| {
        let mut db = with_accounts(fs, &options);
        for id in 0..60 {
            insert_and_step(&mut db, id);
        }
        db
    };
    let fs = sim_fs(6);
    let db = run(&fs);
    let first_segment = db.log().segments()[0].min_tx_offset;
    let oldest_snapshot = db.snapshots().list().unwrap()[0];
    assert!(first_segment > 0, "segments below the snapshot were removed");
    assert!(first_segment <= oldest_snapshot + 1, "never past the oldest snapshot's suffix");
    let segments = db.log().segments();
    assert!(
        segments.len() < 2 || segments[1].min_tx_offset > oldest_snapshot + 1,
        "every segment wholly below the oldest snapshot went: {segments:?} snapshot={oldest_snapshot}"
    );
    let latest = db.latest().dump();
    let mutations = fs.stats().mutations;
    drop(db);
    let (db, report) = open(&fs, options.clone()).unwrap();
    assert!(report.restored_from.is_some());
    assert_eq!(db.latest().dump(), latest);
    drop(db);

    // Power loss at a spread of points across the whole run: always reopens.
    let mut crashed = 0;
    for k in (20..mutations).step_by(7) {
        let fs = sim_fs(k);
        fs.crash_at_mutation(fs.stats().mutations + k, CrashMode::PowerLoss);
        let _ = dbtest::catch_poison(|| {
            let Ok((mut db, _)) = open(&fs, options.clone()) else { return };
            let mut tx = db.begin();
            if tx.create_table("accounts", account_columns()).is_err() {
                return;
            };
            let _ = db.commit(tx);
            db.durability_step();
            for id in 0..60 {
                let mut tx = db.begin();
                tx.insert("accounts", &account(id)).unwrap();
                db.commit(tx).unwrap();
                db.durability_step();
                if db.snapshot_step().is_err() {
                    return;
                }
            }
        });
        if fs.is_alive() {
            continue;
        }
        crashed += 1;
        let fs = fs.reopen();
        let (db, _) = open(&fs, options.clone()).unwrap_or_else(|e| panic!("k={k}: {e}"));
        db.latest().check().unwrap();
    }
    assert!(crashed > 20, "{crashed}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn snapshot_plus_suffix_equals_full_replay_for_full_incremental_and_compacted_chains(
        seed: u64,
        chain_max in 0..4u32,
        every in 3..12u64,
        ops in prop::collection::vec((0..4u8, 0..40u64), 10..80),
    ) {
        let fs = sim_fs(seed);
        let mut options = options(every, chain_max);
        options.snapshots.remove_old_segments = false;
        options.snapshots.retain = 3;
        let mut db = with_accounts(&fs, &options);
        let mut kinds = std::collections::BTreeSet::new();
        for (op, id) in ops {
            let mut tx = db.begin();
            let row = account(id);
            let present = db.latest().rows("accounts").is_some_and(|rows| rows.contains(&row));
            match (op, present) {
                (0, true) => tx.delete("accounts", &row).unwrap(),
                (1, _) if db.latest().table_by_name(&format!("t{id}")).is_none() => {
                    tx.create_table(&format!("t{id}"), account_columns()).unwrap();
                }
                (_, false) => tx.insert("accounts", &row).unwrap(),
                _ => continue,
            }
            db.commit(tx).unwrap();
            db.durability_step();
            if db.snapshot_step().unwrap().is_some() {
                kinds.insert(format!("{:?}", db.last_snapshot().unwrap().kind));
            }
        }
        let latest = db.latest().dump();
        drop(db);
        let (db, report) = open(&fs, options.clone()).unwrap();
        prop_assert!(report.snapshots_rejected.is_empty());
        prop_assert_eq!(&db.latest().dump(), &latest);
        drop(db);
        prop_assert_eq!(full_replay(&fs, &options), latest);
        if chain_max == 0 {
            prop_assert!(!kinds.contains("Incremental"));
        }
    }
}

#[test]
fn power_loss_at_every_operation_of_a_step_that_removes_segments_never_opens_a_gap() {
    let mut options = options(8, 2);
    options.snapshots.retain = 1;
    // Find the first step that removes a segment, and its mutations.
    let fs = sim_fs(7);
    let mut db = with_accounts(&fs, &options);
    let (step, first, last) = (0..200u64)
        .find_map(|id| {
            let segment_before = db.log().segments()[0].min_tx_offset;
            let before = fs.stats().mutations;
            insert_and_step(&mut db, id);
            (db.log().segments()[0].min_tx_offset != segment_before)
                .then(|| (id, before + 1, fs.stats().mutations))
        })
        .expect("the workload removes a segment");
    drop(db);
    let mut models: BTreeMap<u64, Dump> = BTreeMap::new();
    for k in first..=last {
        let fs = sim_fs(7);
        let mut db = with_accounts(&fs, &options);
        for id in 0..step {
            insert_and_step(&mut db, id);
        }
        models.insert(db.latest().offset().unwrap(), db.latest().dump());
        let mut tx = db.begin();
        tx.insert("accounts", &account(step)).unwrap();
        db.commit(tx).unwrap();
        models.insert(db.latest().offset().unwrap(), db.latest().dump());
        fs.crash_at_mutation(k, CrashMode::PowerLoss);
        let _ = dbtest::catch_poison(|| {
            db.durability_step();
            let _ = db.snapshot_step();
        });
        drop(db);
        assert!(!fs.is_alive(), "k={k}");
        let fs = fs.reopen();
        let (db, report) = open(&fs, options.clone()).unwrap_or_else(|e| panic!("k={k}: {e}"));
        assert!(report.restored_from.is_some(), "k={k}: the log no longer starts at 0");
        let offset = db.latest().offset().unwrap();
        let model =
            models.get(&offset).unwrap_or_else(|| panic!("k={k}: recovered offset {offset}"));
        assert_eq!(&db.latest().dump(), model, "k={k}");
    }
}

#[test]
fn after_every_snapshot_no_segment_wholly_below_the_oldest_retained_one_is_left() {
    // A snapshot after every transaction, two kept: at each rotation the
    // oldest kept snapshot sits exactly at the end of the sealed segment,
    // the boundary where an off-by-one would keep (or remove) one too many.
    // Full snapshots only, so the kept ones are exactly the newest two.
    let fs = sim_fs(8);
    let mut options = options(1, 0);
    options.snapshots.retain = 2;
    let mut db = with_accounts(&fs, &options);
    let mut rotations_checked = 0;
    for id in 0..400 {
        let rotations = db.rotations();
        insert_and_step(&mut db, id);
        let oldest = db.snapshots().list().unwrap()[0];
        let segments = db.log().segments();
        assert!(
            segments[0].min_tx_offset <= oldest + 1,
            "history after the oldest snapshot is kept"
        );
        if segments.len() >= 2 {
            assert!(
                segments[1].min_tx_offset > oldest + 1,
                "segment {:?} holds only offsets up to the oldest snapshot {oldest}",
                segments[0]
            );
        }
        rotations_checked += u64::from(db.rotations() > rotations);
    }
    assert!(rotations_checked >= 3, "{rotations_checked}");
}

/// Opens `/db` on `fs` with the `accounts` table created and durable.
fn with_accounts_on(fs: Arc<dyn Fs>, options: &Options) -> Database {
    let (mut db, _) = Database::open(fs, Path::new(dbtest::ROOT), options.clone()).unwrap();
    let mut tx = db.begin();
    tx.create_table("accounts", account_columns()).unwrap();
    db.commit(tx).unwrap();
    db.durability_step();
    db
}

/// A persist whose last step (syncing `snapshots/` after the rename) fails
/// leaves a whole snapshot of unknown durability under its final name: the
/// next step writes that offset anew instead of failing on the rename, and
/// an open after a power loss restores it.
#[test]
fn a_snapshot_whose_directory_sync_failed_is_written_again() {
    let sim = sim_fs(11);
    let fs = FailingDirSync::new(sim.clone(), "/db/snapshots");
    let mut options = options(5, 8);
    options.snapshots.on_rotation = false;
    let mut db = with_accounts_on(fs.clone(), &options);
    for id in 0..3 {
        assert_eq!(insert_and_step(&mut db, id), None, "offsets 2..=4: no snapshot due");
    }
    fs.arm();
    assert_eq!(insert_durably(&mut db, 3), 5);
    let error = db.snapshot_step().unwrap_err().to_string();
    assert_eq!(fs.injected(), 1, "the sync of snapshots/ failed once");
    assert!(error.contains("op=sync-dir path=/db/snapshots"), "{error}");
    assert!(snapshot_entries(&sim).contains(&snapshot_dir_name(5)), "renamed before the sync");
    assert_eq!(db.snapshot_step().unwrap(), Some(5), "the same offset, written again");
    assert_eq!(db.last_snapshot().map(|m| m.offset), Some(5));
    let latest = db.latest().dump();
    drop(db);
    sim.crash(CrashMode::PowerLoss);
    assert_restores(&sim.reopen(), &options, 5, &latest);
}

/// A compaction that fails leaves the incremental it was folding as the
/// last snapshot: the next step neither writes that offset again nor
/// builds on the incremental's parent, and an open restores it.
#[test]
fn a_failed_compaction_keeps_the_snapshot_it_was_compacting() {
    let sim = sim_fs(12);
    let fs = FailingDirSync::new(sim.clone(), &format!("/db/snapshots/{}", snapshot_dir_name(10)));
    let mut options = options(5, 1);
    options.snapshots.on_rotation = false;
    let mut db = with_accounts_on(fs.clone(), &options);
    let taken: Vec<u64> = (0..8).filter_map(|id| insert_and_step(&mut db, id)).collect();
    assert_eq!(taken, vec![5], "a full snapshot at 5; offsets 2..=9 committed");
    fs.arm();
    assert_eq!(insert_durably(&mut db, 8), 10);
    let error = db.snapshot_step().unwrap_err().to_string();
    assert_eq!(fs.injected(), 1, "the compaction's directory sync failed once");
    assert!(error.contains(&snapshot_dir_name(10)), "{error}");
    let last = db.last_snapshot().expect("the incremental at 10 stands");
    assert_eq!((last.offset, last.kind, last.chain_len), (10, SnapshotKind::Incremental, 1));
    assert_eq!(db.snapshot_step().unwrap(), None, "nothing is due at offset 10 any more");
    let latest = db.latest().dump();
    drop(db);
    assert_restores(&sim, &options, 10, &latest);
}

/// A snapshot job runs with the database unlocked, so the log may rotate
/// before the job finishes. Finishing removes every segment wholly below
/// the snapshot; when that leaves a log that starts right after it (at
/// O + 1), an open restores it and replays the suffix from there.
#[test]
fn a_snapshot_whose_suffix_starts_the_first_segment_restores() {
    let fs = sim_fs(13);
    let mut options = options(1, 0);
    options.snapshots.on_rotation = false;
    options.snapshots.retain = 1;
    let mut db = with_accounts(&fs, &options);
    let max = options.log.max_segment_size;
    // A 4 KiB segment fills within a few dozen inserts.
    for id in 0..1000 {
        let mut tx = db.begin();
        tx.insert("accounts", &account(id)).unwrap();
        // Header (22), record length (4), checksum (4).
        let rotates = db.log().head_len() + 30 + tx.record_len() as u64 > max;
        if !rotates {
            db.commit(tx).unwrap();
            db.durability_step();
            continue;
        }
        // The job captures O; the commit at O + 1 opens a new segment.
        let job = db.prepare_snapshot().expect("a snapshot is due after every transaction");
        let snapshot = db.durable_offset().unwrap();
        assert_eq!(job.offset(), snapshot);
        let rotations = db.rotations();
        let manifest = job.run().unwrap();
        db.commit(tx).unwrap();
        db.durability_step();
        assert_eq!(db.log().segments().last().unwrap().min_tx_offset, snapshot + 1);
        db.finish_snapshot(manifest, rotations).unwrap();
        assert_eq!(db.log().segments()[0].min_tx_offset, snapshot + 1, "the log starts at O + 1");
        let latest = db.latest().dump();
        drop(db);
        let replayed = assert_restores(&fs, &options, snapshot, &latest);
        assert_eq!(replayed, 1, "the suffix is offset O + 1");
        return;
    }
    panic!("no insert in 1000 rotated the log");
}

/// The manifest holds each page file's checksum: a page file replaced by
/// another valid one of the same table, index and length (a stale copy
/// from an older snapshot) is caught by it, and an older snapshot is used.
#[test]
fn a_stale_page_file_is_caught_by_the_manifest_checksum() {
    let fs = sim_fs(14);
    let mut options = options(2, 0);
    options.snapshots.on_rotation = false;
    options.snapshots.remove_old_segments = false;
    let mut db = with_accounts(&fs, &options);
    let step = |db: &mut Database, delete: Option<u64>, insert: u64| {
        let mut tx = db.begin();
        if let Some(id) = delete {
            tx.delete("accounts", &account(id)).unwrap();
        }
        tx.insert("accounts", &account(insert)).unwrap();
        db.commit(tx).unwrap();
        db.durability_step();
        db.snapshot_step().unwrap()
    };
    assert_eq!(step(&mut db, None, 1), Some(2));
    assert_eq!(step(&mut db, Some(1), 2), None);
    assert_eq!(step(&mut db, Some(2), 3), Some(4), "accounts holds row 3 instead of row 1");
    let latest = db.latest().dump();
    drop(db);
    let page = |offset: u64| {
        let dir = format!("/db/snapshots/{}", snapshot_dir_name(offset));
        let name = fs
            .list_dir(Path::new(&dir))
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .find(|n| n.starts_with("4096-"))
            .expect("the accounts page");
        Path::new(&dir).join(name)
    };
    let (old, new) = (file_bytes(&fs, &page(2)), file_bytes(&fs, &page(4)));
    assert_eq!(old.len(), new.len(), "the same length");
    assert_ne!(old, new);
    let file = fs.open(&page(4)).unwrap();
    file.write_at(&old, 0).unwrap();
    file.sync_data().unwrap();
    let (db, report) = open(&fs, options).unwrap();
    assert_eq!(report.restored_from, Some(2));
    assert_eq!(report.snapshots_rejected.len(), 1, "{:?}", report.snapshots_rejected);
    let reason = &report.snapshots_rejected[0];
    assert!(reason.starts_with("snapshot=4 ") && reason.contains("manifest-crc="), "{reason}");
    assert_eq!(db.latest().dump(), latest);
}

fn file_bytes(fs: &SimFs, path: &Path) -> Vec<u8> {
    fs.open(path).unwrap().read_to_end().unwrap()
}

/// Recovering the store meets only what a crash leaves; anything else it
/// cannot list or clean up is an error naming the path, not skipped.
#[test]
fn a_snapshot_store_that_cannot_be_listed_or_cleaned_is_an_error_naming_the_path() {
    let fs = sim_fs(15);
    fs.create(Path::new("/db/snapshots")).unwrap(); // a file, not a directory
    let error = open(&fs, Options::default()).unwrap_err();
    assert_eq!(error.to_string(), "snapshots: io error: op=list-dir path=/db/snapshots");

    // An interrupted compaction's manifest.tmp that is not a file.
    let fs = sim_fs(16);
    let options = options(2, 8);
    let mut db = with_accounts(&fs, &options);
    assert_eq!(insert_and_step(&mut db, 1), Some(2));
    drop(db);
    let tmp = format!("/db/snapshots/{}/manifest.tmp", snapshot_dir_name(2));
    fs.create_dir(Path::new(&tmp)).unwrap();
    fs.create(&Path::new(&tmp).join("stray")).unwrap();
    let error = open(&fs, options).unwrap_err();
    assert_eq!(error.to_string(), format!("snapshots: io error: op=remove path={tmp}"));
}

/// A manifest is checked, not trusted: one that names a page file too
/// short to hold a checksum (and a file that matches it) is refused with a
/// reason, never read past its end.
#[test]
fn page_files_shorter_than_their_checksum_are_refused() {
    for (len, expected) in [(2, "len=2 manifest-len=2"), (4, "truncated: at=0 wanted=12")] {
        let (fs, options, latest) = full_snapshots_at_10_and_20(17);
        let dir = Path::new("/db/snapshots").join(snapshot_dir_name(20));
        let mut manifest = decode_manifest(&file_bytes(&fs, &dir.join("manifest"))).unwrap();
        let table = &mut manifest.tables[0];
        let bytes = vec![0xAB; len];
        table.pages[0].len = len as u32;
        if len >= 4 {
            table.pages[0].crc = u32::from_le_bytes(bytes[len - 4..].try_into().unwrap());
        }
        let page = dir.join(format!("{}-0.page", table.schema.id.0));
        fs.remove(&page).unwrap();
        fs.create(&page).unwrap().write_at(&bytes, 0).unwrap();
        let manifest_file = fs.open(&dir.join("manifest")).unwrap();
        let encoded = encode_manifest(&manifest);
        manifest_file.set_len(0).unwrap();
        manifest_file.write_at(&encoded, 0).unwrap();
        let (db, report) = open(&fs, options).unwrap();
        assert_eq!(report.restored_from, Some(10), "len={len}");
        let reason = &report.snapshots_rejected[0];
        assert!(reason.starts_with("snapshot=20 ") && reason.contains(expected), "{reason}");
        assert_eq!(db.latest().dump(), latest);
    }
}

/// Pruning reads the manifests it keeps to learn which older snapshots
/// they need; when one cannot be read, it keeps every snapshot.
#[test]
fn pruning_keeps_everything_when_a_kept_manifest_cannot_be_read() {
    for damaged in [false, true] {
        let (fs, options, _) = full_snapshots_at_10_and_20(18);
        let (db, _) = open(&fs, options).unwrap();
        if damaged {
            let manifest = format!("/db/snapshots/{}/manifest", snapshot_dir_name(20));
            fs.open(Path::new(&manifest)).unwrap().set_len(10).unwrap();
        }
        assert_eq!(db.snapshots().prune(1).unwrap(), Some(20));
        // 20 is full: intact, it needs nothing older.
        let expected: &[u64] = if damaged { &[10, 20] } else { &[20] };
        assert_eq!(db.snapshots().list().unwrap(), expected, "damaged={damaged}");
    }
}

/// Compaction clears the way for each page it copies (a copy left by an
/// interrupted compaction); an error other than "not there" stops it,
/// naming the path, and the incremental it was folding still stands.
#[test]
fn a_compaction_that_cannot_clear_a_page_path_fails_naming_it() {
    let fs = sim_fs(19);
    let mut options = options(5, 1);
    options.snapshots.on_rotation = false;
    let mut db = with_accounts(&fs, &options);
    let taken: Vec<u64> = (0..8).filter_map(|id| insert_and_step(&mut db, id)).collect();
    assert_eq!(taken, [5]);
    insert_durably(&mut db, 8);
    let job = db.prepare_snapshot().expect("due at 10");
    let rotations = db.rotations();
    let manifest = job.run().unwrap();
    assert_eq!((manifest.offset, manifest.chain_len), (10, 1));
    let st_table = manifest.tables.iter().find(|t| t.schema.name == "st_table").unwrap();
    assert_eq!(st_table.pages[0].source, 5, "no DDL since 5: the page is inherited");
    let obstacle =
        format!("/db/snapshots/{}/{}-0.page", snapshot_dir_name(10), st_table.schema.id.0);
    fs.create_dir(Path::new(&obstacle)).unwrap();
    fs.create(&Path::new(&obstacle).join("stray")).unwrap();
    let error = db.finish_snapshot(manifest, rotations).unwrap_err();
    assert_eq!(error.to_string(), format!("io error: op=remove path={obstacle}"));
    assert_eq!(
        db.last_snapshot().map(|m| (m.offset, m.kind)),
        Some((10, SnapshotKind::Incremental))
    );
}

/// A process crash at any point of a snapshot step that compacts a chain
/// keeps the page cache, and the restarted process goes on from what it
/// sees: the compacted manifest, even if its rename never reached the
/// device. Later snapshots then prune the chain's old directories durably.
/// Whatever the restarted process relies on must be durable before it
/// prunes: after a final power loss, every retained snapshot (the fallback
/// too) must still load. (A sweep found the crash between the compaction's
/// manifest rename and its directory sync: the device kept the old
/// manifest, which referred to pages pruning had removed.)
#[test]
fn a_process_crash_inside_a_compaction_leaves_nothing_pruning_can_break() {
    let mut options = options(3, 2);
    options.snapshots.on_rotation = false;
    options.snapshots.retain = 2;
    options.snapshots.remove_old_segments = false;
    let prepare = || {
        let fs = sim_fs(40);
        let mut db = with_accounts(&fs, &options);
        for id in 0..7 {
            insert_and_step(&mut db, id);
        }
        insert_durably(&mut db, 7);
        (fs, db)
    };
    // Count the mutations of the step that compacts (offset 9: full at 3,
    // incrementals at 6 and 9, the latter compacted).
    let (fs, mut db) = prepare();
    let before = fs.stats().mutations;
    assert_eq!(db.snapshot_step().unwrap(), Some(9));
    assert_eq!(db.last_snapshot().unwrap().kind, SnapshotKind::Compacted);
    let step_mutations = fs.stats().mutations - before;
    drop(db);
    for k in 1..=step_mutations {
        let (fs, mut db) = prepare();
        fs.crash_at_mutation(fs.stats().mutations + k, CrashMode::ProcessCrash);
        let _ = db.snapshot_step();
        assert!(!fs.is_alive(), "k={k}: the crash struck inside the step");
        drop(db);
        let fs = fs.reopen();
        let (mut db, _) = open(&fs, options.clone()).unwrap();
        // One more snapshot: it prunes what the retained ones do not need.
        for id in 8..11 {
            insert_and_step(&mut db, id);
        }
        drop(db);
        assert_manifests_durable(&fs, &format!("k={k}: "));
        fs.crash(CrashMode::PowerLoss);
        let fs = fs.reopen();
        let (db, report) = open(&fs, options.clone()).unwrap();
        assert!(report.snapshots_rejected.is_empty(), "k={k}: {:?}", report.snapshots_rejected);
        let offsets = db.snapshots().list().unwrap();
        for offset in offsets.iter().rev().take(options.snapshots.retain) {
            let loaded = db.snapshots().load(*offset);
            assert!(loaded.is_ok(), "k={k}: retained snapshot {offset}: {:?}", loaded.err());
        }
    }
}

/// A compaction whose directory sync after the manifest rename fails keeps
/// the rename pending: the page cache serves the compacted manifest, the
/// device still holds the incremental one, which refers to the chain's
/// older directories. Pruning must not remove those until the kept
/// manifests are durable (a sweep found it: the fallback snapshot's
/// manifest on the device referred to pruned pages).
#[test]
fn pruning_behind_a_compaction_whose_directory_sync_failed_keeps_the_device_consistent() {
    let mut options = options(3, 2);
    options.snapshots.on_rotation = false;
    options.snapshots.retain = 3;
    options.snapshots.remove_old_segments = false;
    let workload = |fs: &SimFs| {
        let mut db = with_accounts(fs, &options);
        let results: Vec<_> = (0..14)
            .map(|id| {
                let mut tx = db.begin();
                tx.insert("accounts", &account(id)).unwrap();
                db.commit(tx).unwrap();
                db.durability_step();
                db.snapshot_step().map_err(|e| e.to_string())
            })
            .collect();
        (db, results)
    };
    // A dry run finds the call: the sync of snapshot 9's directory right
    // after its compacted manifest was renamed into place.
    let fs = sim_fs(41);
    drop(workload(&fs));
    let calls: Vec<faultline_sim::CallRecord> = fs
        .take_log()
        .into_iter()
        .filter_map(|record| match record {
            faultline_sim::FsRecord::Call(call) => Some(call),
            faultline_sim::FsRecord::Event(_) => None,
        })
        .collect();
    let dir = format!("/db/snapshots/{}", snapshot_dir_name(9));
    let rename = calls
        .iter()
        .position(|c| {
            c.op == faultline_sim::Op::Rename && c.path.ends_with(&format!("{dir}/manifest"))
        })
        .expect("snapshot 9 was compacted");
    let sync = &calls[rename + 1];
    assert_eq!((sync.op, sync.path.as_str()), (faultline_sim::Op::SyncDir, dir.as_str()));
    // The same run with that sync failing.
    let schedule: faultline_sim::Schedule = format!("c{}:fsync-error", sync.call).parse().unwrap();
    let fs = faultline_sim::SimFs::replaying(
        faultline_sim::Seed(41),
        faultline_sim::FaultConfig::none(),
        &schedule,
    );
    fs.create_dir(Path::new("/db")).unwrap();
    fs.sync_dir(Path::new("/")).unwrap();
    let (db, results) = workload(&fs);
    assert_eq!(fs.schedule(), schedule, "the sync failed");
    assert!(results.iter().any(|r| r.as_ref().is_err_and(|e| e.contains(&dir))), "{results:?}");
    let kept = db.snapshots().list().unwrap();
    assert!(kept.contains(&9) && !kept.contains(&3), "later snapshots pruned the chain: {kept:?}");
    drop(db);
    assert_manifests_durable(&fs, "");
}

/// Every manifest the page cache serves is the one on the device.
fn assert_manifests_durable(fs: &SimFs, context: &str) {
    let (durable, cache) = (fs.image(View::Durable), fs.image(View::Volatile));
    for (path, file) in cache.files.iter().filter(|(p, _)| p.ends_with("/manifest")) {
        let on_device = durable.file(path).map(|f| f.id);
        assert_eq!(on_device, Some(file.id), "{context}{path}: the device holds another manifest");
    }
}

/// Damage in a sealed segment that the newest snapshot makes unnecessary
/// does not stop an open: the open reads only the log it needs. An open
/// that does need it (snapshots not restored, or every one set aside)
/// reads it, and refuses, naming the segment and the offset.
#[test]
fn damage_below_the_newest_snapshot_stops_only_the_opens_that_need_it() {
    let mut options = options(10, 0);
    options.snapshots.remove_old_segments = false;
    let fs = sim_fs(42);
    let mut db = with_accounts(&fs, &options);
    for id in 0..150 {
        insert_and_step(&mut db, id);
    }
    let latest = db.latest().dump();
    let newest = db.last_snapshot().unwrap().offset;
    drop(db);
    let first = Path::new("/db/log/00000000000000000000.log");
    // Not the segment before the last: that one is always read (the writer
    // may have to go on with it).
    let segments = fs.list_dir(Path::new("/db/log")).unwrap();
    assert!(segments.len() >= 3, "{segments:?}");
    let second: u64 = segments[1].name.trim_end_matches(".log").parse().unwrap();
    assert!(newest >= second, "the first segment lies wholly below snapshot {newest}");
    // A durable bit flip in the middle of the first segment.
    let file = fs.open(first).unwrap();
    let mut byte = [0u8; 1];
    file.read_exact_at(&mut byte, 100).unwrap();
    file.write_at(&[byte[0] ^ 0x10], 100).unwrap();
    file.sync_data().unwrap();
    drop(file);
    assert_restores(&fs, &options, newest, &latest);
    let mut whole = options.clone();
    whole.snapshots.restore_on_open = false;
    let error = open(&fs, whole).unwrap_err().to_string();
    assert!(error.contains("00000000000000000000.log") && error.contains("offset="), "{error}");
}

/// An open that takes the segments below the newest snapshot on their
/// names still reads the one before the last: when the last segment is
/// empty (a crash while it was being created) and is removed, that one is
/// where the writer goes on, and the log's last offset and epoch come from
/// its commits. (A sweep found new commits written with an older epoch
/// than the ones before them.)
#[test]
fn the_segment_the_writer_goes_on_with_is_read_even_below_the_newest_snapshot() {
    // A snapshot after every durability step: the newest is at the log's
    // end, so everything before the empty last segment lies below it.
    let mut options = options(1, 0);
    options.snapshots.remove_old_segments = false;
    let fs = sim_fs(43);
    let mut db = with_accounts(&fs, &options);
    for id in 0..400 {
        insert_and_step(&mut db, id);
    }
    let segments = fs.list_dir(Path::new("/db/log")).unwrap().len();
    assert!(segments >= 4, "several segments below the newest snapshot: {segments}");
    drop(db);
    // Incarnations with later epochs, then a crash right after creating the
    // next segment: it holds its header only.
    for _ in 0..2 {
        let (mut db, _) = open(&fs, options.clone()).unwrap();
        let id = 1000 + db.latest().offset().unwrap();
        insert_and_step(&mut db, id);
    }
    let (db, _) = open(&fs, options.clone()).unwrap();
    let next_segment = format!("/db/log/{:020}.log", db.latest().offset().unwrap() + 1);
    let epoch = db.epoch();
    drop(db);
    let mut header = b"FLTLOG\0\0".to_vec();
    header.extend_from_slice(&1u16.to_le_bytes());
    header.extend_from_slice(&[1, 0, 0, 0, 0, 0]);
    let file = fs.create(Path::new(&next_segment)).unwrap();
    file.write_at(&header, 0).unwrap();
    file.sync_data().unwrap();
    fs.sync_dir(Path::new("/db/log")).unwrap();
    drop(file);
    let (mut db, _) = open(&fs, options.clone()).unwrap();
    assert!(
        db.epoch() >= epoch,
        "the epoch goes on from the last commit's: {} >= {epoch}",
        db.epoch()
    );
    insert_and_step(&mut db, 5000);
    let latest = db.latest().dump();
    drop(db);
    let mut whole = options.clone();
    whole.snapshots.restore_on_open = false;
    let (db, _) = open(&fs, whole).expect("the whole log verifies, epochs never decreasing");
    assert_eq!(db.latest().dump(), latest);
}

/// Writing a snapshot again over one whose directory sync failed removes
/// the old one first; a crash at any point of that must never leave a
/// broken snapshot under its final name, which the next open would have to
/// set aside (a sweep found one: the old snapshot half removed, in place).
#[test]
fn a_crash_while_an_unfinished_snapshot_is_replaced_leaves_nothing_to_set_aside() {
    let mut options = options(5, 8);
    options.snapshots.on_rotation = false;
    let prepare = || {
        let sim = sim_fs(44);
        let fs = FailingDirSync::new(sim.clone(), "/db/snapshots");
        let mut db = with_accounts_on(fs.clone(), &options);
        for id in 0..3 {
            insert_and_step(&mut db, id);
        }
        fs.arm();
        insert_durably(&mut db, 3);
        assert!(db.snapshot_step().is_err(), "the sync of snapshots/ failed");
        (sim, db)
    };
    let (sim, mut db) = prepare();
    let before = sim.stats().mutations;
    assert_eq!(db.snapshot_step().unwrap(), Some(5), "written again");
    let step_mutations = sim.stats().mutations - before;
    drop(db);
    for k in 1..=step_mutations {
        let (sim, mut db) = prepare();
        sim.crash_at_mutation(sim.stats().mutations + k, CrashMode::ProcessCrash);
        let _ = db.snapshot_step();
        assert!(!sim.is_alive(), "k={k}: the crash struck inside the step");
        drop(db);
        let (_, report) = open(&sim.reopen(), options.clone()).unwrap();
        assert!(report.snapshots_rejected.is_empty(), "k={k}: {:?}", report.snapshots_rejected);
    }
}

/// A snapshot taken while a durability step waits between its write and
/// its sync, right after that write rotated the log: the snapshot (at the
/// durable offset, just before the new segment) lets every older segment
/// go, so the log directory holds only the new segment, with its header
/// and an unsynced commit. A power loss then leaves that segment empty: it
/// is the log's only segment, and its name is where the log goes on. Open
/// keeps it and restores the snapshot. (A sweep found the open refusing
/// this history: the empty segment was removed, the log then seemed to end
/// before the snapshot, which was set aside, and no history connected.)
#[test]
fn a_snapshot_that_let_every_older_segment_go_before_a_lost_first_commit_restores() {
    let mut options = options(1_000_000, 0);
    options.snapshots.on_rotation = true;
    options.snapshots.retain = 1;
    options.snapshots.remove_old_segments = true;
    let fs = sim_fs(77);
    let mut db = with_accounts(&fs, &options);
    let mut id = 0;
    let (snapshot, new_segment) = loop {
        id += 1;
        let mut tx = db.begin();
        tx.insert("accounts", &account(id)).unwrap();
        db.commit(tx).unwrap();
        let rotations = db.rotations();
        let mut step = db.durability_write().expect("one queued");
        if db.rotations() > rotations {
            // In the gap: the snapshot at the durable offset, then the
            // segments below it removed.
            let snapshot = db.snapshot_step().unwrap().expect("a rotation makes one due");
            let segments = db.log().segments();
            assert_eq!(segments.len(), 1, "only the new segment is left: {segments:?}");
            break (snapshot, segments[0].path.clone());
        }
        db.durability_sync(&mut step);
        db.durability_publish(step);
        assert!(id < 10_000, "the log rotates");
    };
    fs.crash(CrashMode::PowerLoss);
    let mut fs = fs.reopen();
    for _ in 0..2 {
        let (db, report) = open(&fs, options.clone()).expect("the history is whole");
        assert_eq!(report.restored_from, Some(snapshot));
        assert_eq!(db.latest().offset(), Some(snapshot));
        assert_eq!(db.durable_offset(), Some(snapshot));
        assert!(fs.open(&new_segment).is_ok(), "the only segment, empty, is kept");
        drop(db);
        fs.crash(CrashMode::PowerLoss);
        fs = fs.reopen();
    }
}

/// A snapshot step that lets several segments go at once, with a power
/// loss at each of its operations, on several seeds (which of the
/// unsynced removals reach the disk is the seed's choice): every crash
/// leaves a log without a hole, read back whole, and the open restores
/// the history. (A sweep found removals synced only once at the end: a
/// power loss kept an older segment and lost a newer one; the open took
/// the older one on its name, so only reading it showed the hole.)
#[test]
fn a_power_loss_while_several_segments_are_removed_never_leaves_a_hole() {
    let mut options = options(1_000_000, 0);
    options.snapshots.on_rotation = false;
    options.snapshots.retain = 1;
    let build = |seed: u64| {
        let fs = sim_fs(seed);
        let mut db = with_accounts(&fs, &options);
        for id in 0..300 {
            insert_durably(&mut db, id);
        }
        let latest = db.latest().dump();
        drop(db);
        let mut due = options.clone();
        due.snapshots.every_txs = 1;
        let (db, _) = open(&fs, due.clone()).unwrap();
        (fs, db, latest, due)
    };
    let (fs, mut db, _, _) = build(1);
    let segments = db.log().segments().len();
    assert!(segments >= 4, "several sealed segments to remove: {segments}");
    let before = fs.stats().mutations;
    db.snapshot_step().unwrap().expect("a snapshot is due");
    assert_eq!(db.log().segments().len(), 1, "every sealed segment went");
    let mutations = fs.stats().mutations - before;
    drop(db);
    for seed in 1..=4 {
        for k in 1..=mutations {
            let (fs, mut db, latest, due) = build(seed);
            fs.crash_at_mutation(fs.stats().mutations + k, CrashMode::PowerLoss);
            let _ = dbtest::catch_poison(|| db.snapshot_step());
            drop(db);
            assert!(!fs.is_alive(), "seed={seed} k={k}");
            let fs = fs.reopen();
            let (db, _) = open(&fs, due).unwrap_or_else(|e| panic!("seed={seed} k={k}: {e}"));
            assert_eq!(db.latest().dump(), latest, "seed={seed} k={k}");
            // The open takes the segments below the snapshot on their
            // names; reading them back checks they really are contiguous.
            let first = db.log().segments()[0].min_tx_offset;
            for transaction in db.log().transactions_from(first) {
                transaction.unwrap_or_else(|e| panic!("seed={seed} k={k}: a hole: {e}"));
            }
        }
    }
}
