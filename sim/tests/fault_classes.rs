//! Each crash mode and each fault class of SimFs: it fires (its counter moves,
//! an event names the operation, path and offset) and has exactly its
//! specified effect.

mod common;

use std::io;
use std::path::Path;

use common::{fs_with_durable_file, read};
use faultline_engine::fs::Fs;
use faultline_sim::{
    CallOutcome, CrashMode, DamageCause, Fault, FaultClass, FaultConfig, FsRecord, Happening, Op,
    SECTOR_SIZE, Seed, SimFs, TornFill, View,
};

fn only(class: FaultClass) -> FaultConfig {
    FaultConfig::none().with(class, 1.0)
}

fn fault_events(fs: &SimFs) -> Vec<(Op, String, u64, Fault)> {
    fs.events()
        .into_iter()
        .filter_map(|e| match e.happening {
            Happening::Fault(fault) => Some((e.op, e.path, e.offset, fault)),
            _ => None,
        })
        .collect()
}

#[test]
fn power_loss_keeps_synced_data_and_drops_handles() {
    for seed in 0..64 {
        let (fs, file) = fs_with_durable_file(seed, FaultConfig::none(), b"durable");
        file.write_at(b"pending", 7).unwrap();
        fs.crash(CrashMode::PowerLoss);

        assert!(!fs.is_alive());
        assert!(file.len().is_err(), "a handle from before the crash must be dead");
        assert!(fs.list_dir(Path::new("/")).is_err(), "so must the old filesystem handle");
        let fs = fs.reopen();
        let after = read(&fs, "/f").expect("a synced entry survives");
        assert!(after == b"durable" || after == b"durablepending", "seed {seed}: {after:?}");
        assert_eq!(fs.stats().power_losses, 1);
        let crash = fs.events().into_iter().find(|e| e.op == Op::Crash).unwrap();
        let Happening::PowerLoss(report) = crash.happening else { panic!("{crash}") };
        assert_eq!(report.writes_persisted + report.writes_lost, 1);
    }
}

#[test]
fn power_loss_can_lose_both_unsynced_data_and_unsynced_names() {
    let (mut lost_data, mut kept_data, mut lost_name, mut kept_name) = (0, 0, 0, 0);
    for seed in 0..64 {
        let (fs, file) = fs_with_durable_file(seed, FaultConfig::none(), b"old");
        file.write_at(b"new", 0).unwrap();
        let unnamed = fs.create(Path::new("/g")).unwrap();
        unnamed.write_at(b"synced but unnamed", 0).unwrap();
        unnamed.sync_data().unwrap();
        fs.crash(CrashMode::PowerLoss);
        let fs = fs.reopen();
        match read(&fs, "/f").unwrap().as_slice() {
            b"old" => lost_data += 1,
            b"new" => kept_data += 1,
            other => panic!("seed {seed}: /f holds {other:?}"),
        }
        match read(&fs, "/g") {
            None => lost_name += 1,
            Some(bytes) => {
                assert_eq!(bytes, b"synced but unnamed", "seed {seed}");
                kept_name += 1;
            }
        }
    }
    assert!(lost_data > 0 && kept_data > 0, "lost={lost_data} kept={kept_data}");
    assert!(lost_name > 0 && kept_name > 0, "lost={lost_name} kept={kept_name}");
}

#[test]
fn process_crash_keeps_the_page_cache_but_not_durability() {
    let mut later_lost = 0;
    for seed in 0..32 {
        let (fs, file) = fs_with_durable_file(seed, FaultConfig::none(), b"old");
        file.write_at(b"new", 0).unwrap();
        fs.crash(CrashMode::ProcessCrash);
        assert!(file.len().is_err(), "the killed process's handles are dead");
        let fs = fs.reopen();
        assert_eq!(read(&fs, "/f").unwrap(), b"new", "kill -9 keeps the page cache");
        assert_eq!(fs.stats().process_crashes, 1);

        // Still pending: a power loss afterwards may lose it.
        fs.crash(CrashMode::PowerLoss);
        if read(&fs.reopen(), "/f").unwrap() == b"old" {
            later_lost += 1;
        }
    }
    assert!(later_lost > 0, "pending writes must stay pending across a process crash");
}

#[test]
fn crash_at_mutation_k_strikes_before_that_operation() {
    let fs = SimFs::new(Seed(3), FaultConfig::none());
    fs.crash_at_mutation(3, CrashMode::ProcessCrash);
    let file = fs.create(Path::new("/f")).unwrap(); // mutation 1
    file.write_at(b"one", 0).unwrap(); // mutation 2
    assert_eq!(file.len().unwrap(), 3, "reads are not mutations");
    let err = file.write_at(b"two", 3).unwrap_err(); // mutation 3: the crash
    assert!(err.to_string().starts_with("simulated crash"), "{err}");
    assert!(!fs.is_alive());
    assert!(file.write_at(b"x", 0).is_err());
    assert_eq!(fs.stats().mutations, 3);

    // The log has each call once: the one the machine went down under as
    // crashed (not also as failed), and the call on the dead handle not at
    // all (it never reached the filesystem).
    let calls: Vec<(u64, CallOutcome)> = fs
        .take_log()
        .into_iter()
        .filter_map(|record| match record {
            FsRecord::Call(call) => Some((call.call, call.outcome)),
            FsRecord::Event(_) => None,
        })
        .collect();
    assert_eq!(
        calls,
        vec![
            (1, CallOutcome::Ok),
            (2, CallOutcome::Ok),
            (3, CallOutcome::Ok),
            (4, CallOutcome::Crashed)
        ]
    );
    assert_eq!(fs.stats().ops, 4, "every logged call is counted, and only those");

    let fs = fs.reopen();
    assert_eq!(read(&fs, "/f").unwrap(), b"one", "mutation 3 never happened");
    assert_eq!(fs.stats().process_crashes, 1);
}

#[test]
fn write_error_writes_nothing_and_is_counted() {
    let (fs, file) = fs_with_durable_file(1, FaultConfig::none(), b"base");
    fs.set_fault_config(only(FaultClass::WriteError));
    let err = file.write_at(b"lost", 4).unwrap_err();
    assert!(err.to_string().contains("write error (EIO)"), "{err}");
    assert_eq!(file.len().unwrap(), 4, "nothing written");
    assert_eq!(fs.fault_counts().get(FaultClass::WriteError), 1);
    assert_eq!(fault_events(&fs), vec![(Op::Write, "/f".into(), 4, Fault::WriteError)]);
}

#[test]
fn short_write_writes_a_strict_prefix_then_fails() {
    for seed in 0..16 {
        let (fs, file) = fs_with_durable_file(seed, FaultConfig::none(), b"");
        fs.set_fault_config(only(FaultClass::ShortWrite));
        let data: Vec<u8> = (1..=100).collect();
        assert!(file.write_at(&data, 0).is_err());
        let [(Op::Write, _, 0, Fault::ShortWrite { written })] = fault_events(&fs)[..] else {
            panic!("{:?}", fs.events())
        };
        assert!(written < 100);
        fs.set_faults_enabled(false);
        assert_eq!(file.read_to_end().unwrap(), data[..written as usize]);
        assert_eq!(fs.fault_counts().get(FaultClass::ShortWrite), 1);
    }
}

#[test]
fn no_space_past_the_quota_but_overwrites_still_work() {
    let fs = SimFs::new(Seed(1), FaultConfig::none().with_no_space_quota(1000));
    let file = fs.create(Path::new("/f")).unwrap();
    file.write_at(&[1; 600], 0).unwrap();
    let other = fs.create(Path::new("/g")).unwrap();
    let err = other.write_at(&[2; 401], 0).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::StorageFull);
    assert_eq!(other.len().unwrap(), 0, "nothing written");
    other.write_at(&[2; 400], 0).unwrap();
    file.write_at(&[3; 600], 0).unwrap(); // no growth: fine
    assert_eq!(file.set_len(601).unwrap_err().kind(), io::ErrorKind::StorageFull);
    assert_eq!(fs.fault_counts().get(FaultClass::NoSpace), 2);
}

#[test]
fn fsync_error_drops_dirty_data_so_a_retry_succeeds_but_power_loss_loses_it() {
    for seed in 0..32 {
        let (fs, file) = fs_with_durable_file(seed, FaultConfig::none(), b"old");
        file.write_at(b"new", 0).unwrap();
        fs.set_fault_config(only(FaultClass::FsyncError));
        assert!(file.sync_data().is_err());
        fs.set_fault_config(FaultConfig::none());
        file.sync_data().expect("Linux: the retry succeeds");
        assert_eq!(file.read_to_end().unwrap(), b"new", "the page cache still serves it");
        assert_eq!(fs.fault_counts().get(FaultClass::FsyncError), 1);
        assert_eq!(
            fault_events(&fs),
            vec![(
                Op::SyncData,
                "/f".into(),
                0,
                Fault::FsyncError { dropped_ops: 1, reported_later: false }
            )]
        );

        fs.crash(CrashMode::PowerLoss);
        assert_eq!(read(&fs.reopen(), "/f").unwrap(), b"old", "seed {seed}: never durable");
    }
}

#[test]
fn fsync_error_on_a_directory_leaves_its_entry_operations_pending() {
    let (mut lost, mut kept) = (0, 0);
    for seed in 0..32 {
        let fs = SimFs::new(Seed(seed), only(FaultClass::FsyncError));
        fs.set_faults_enabled(false);
        fs.create(Path::new("/f")).unwrap();
        fs.set_faults_enabled(true);
        assert!(fs.sync_dir(Path::new("/")).is_err());
        assert_eq!(fs.fault_counts().get(FaultClass::FsyncError), 1);
        if seed % 2 == 0 {
            // A retry that succeeds makes the entry durable.
            fs.set_faults_enabled(false);
            fs.sync_dir(Path::new("/")).unwrap();
            fs.crash(CrashMode::PowerLoss);
            assert_eq!(read(&fs.reopen(), "/f"), Some(vec![]), "seed {seed}");
        } else {
            // Without one, it is still pending: a power loss may keep it or not.
            fs.crash(CrashMode::PowerLoss);
            match read(&fs.reopen(), "/f") {
                None => lost += 1,
                Some(_) => kept += 1,
            }
        }
    }
    assert!(lost > 0 && kept > 0, "lost={lost} kept={kept}");
}

#[test]
fn read_bit_flip_persists_until_the_sector_is_rewritten() {
    let data = vec![0xAA; 2 * SECTOR_SIZE as usize];
    let (fs, file) = fs_with_durable_file(9, FaultConfig::none(), &data);
    fs.set_fault_config(only(FaultClass::ReadBitFlip));
    let flipped = file.read_to_end().unwrap();
    fs.set_fault_config(FaultConfig::none());
    let [(Op::Read, _, 0, Fault::ReadBitFlip { byte, bit })] = fault_events(&fs)[..] else {
        panic!("{:?}", fs.events())
    };
    let mut expected = data.clone();
    expected[byte as usize] ^= 1 << bit;
    assert_eq!(flipped, expected, "exactly one bit differs");
    assert_eq!(file.read_to_end().unwrap(), expected, "a latent error stays");

    fs.crash(CrashMode::PowerLoss);
    let fs = fs.reopen();
    assert_eq!(read(&fs, "/f").unwrap(), expected, "it is on the medium: crashes keep it");

    let file = fs.open(Path::new("/f")).unwrap();
    let sector_start = byte / SECTOR_SIZE * SECTOR_SIZE;
    file.write_at(&[0xAA], sector_start).unwrap();
    assert_eq!(file.read_to_end().unwrap(), data, "rewriting the sector heals it");
    assert_eq!(fs.fault_counts().get(FaultClass::ReadBitFlip), 1);
}

/// A durable file of 8 sectors of 7s, a misdirected write of "payload" at
/// sector 4: where it was meant to go and where it landed.
fn misdirected(seed: u64) -> (SimFs, Box<dyn faultline_engine::fs::File>, u64, u64) {
    let base = vec![7u8; 8 * SECTOR_SIZE as usize];
    let (fs, file) = fs_with_durable_file(seed, FaultConfig::none(), &base);
    fs.set_fault_config(only(FaultClass::MisdirectedWrite));
    let offset = 4 * SECTOR_SIZE;
    file.write_at(b"payload", offset).expect("a misdirected write reports success");
    fs.set_fault_config(FaultConfig::none());
    let [(Op::Write, _, at, Fault::MisdirectedWrite { landed_at })] = fault_events(&fs)[..] else {
        panic!("{:?}", fs.events())
    };
    assert_eq!(at, offset);
    assert_ne!(landed_at, offset);
    assert_eq!((landed_at as i64 - offset as i64).unsigned_abs() % SECTOR_SIZE, 0);
    assert_eq!(fs.fault_counts().get(FaultClass::MisdirectedWrite), 1);
    (fs, file, offset, landed_at)
}

fn bytes_at(file: &dyn faultline_engine::fs::File, offset: u64) -> [u8; 7] {
    let mut here = [0u8; 7];
    file.read_exact_at(&mut here, offset).unwrap();
    here
}

#[test]
fn a_misdirected_write_goes_wrong_on_the_way_to_the_device_not_in_the_cache() {
    // The page cache holds the right bytes: a process crash, which keeps
    // the cache, loses nothing.
    let (fs, file, offset, landed_at) = misdirected(4);
    assert_eq!(&bytes_at(file.as_ref(), offset), b"payload", "the cache has it where asked");
    assert_eq!(bytes_at(file.as_ref(), landed_at), [7; 7], "and nothing where it will land");
    fs.crash(CrashMode::ProcessCrash);
    let fs = fs.reopen();
    let file = fs.open(Path::new("/f")).unwrap();
    assert_eq!(&bytes_at(file.as_ref(), offset), b"payload", "a process crash keeps the cache");
    let damage =
        fs.events().iter().filter(|e| matches!(e.happening, Happening::Damage { .. })).count();
    assert_eq!(damage, 0, "nothing reached the device yet");
}

#[test]
fn a_synced_misdirected_write_damages_both_places_on_the_device() {
    let (fs, file, offset, landed_at) = misdirected(4);
    file.sync_data().unwrap();
    assert_eq!(&bytes_at(file.as_ref(), offset), b"payload", "the cache still serves it");
    let damaged: Vec<(u64, u64, DamageCause)> = fs
        .events()
        .into_iter()
        .filter_map(|e| match e.happening {
            Happening::Damage { cause, .. } => Some((e.offset, e.len, cause)),
            _ => None,
        })
        .collect();
    assert_eq!(
        damaged,
        [(offset, 7, DamageCause::MisdirectedFrom), (landed_at, 7, DamageCause::MisdirectedTo)]
    );
    let durable = fs.image(View::Durable);
    let image = durable.file("/f").unwrap();
    let mut expected = vec![offset..offset + 7, landed_at..landed_at + 7];
    expected.sort_by_key(|r| r.start);
    assert_eq!(image.damaged, expected, "the durable image knows both places");
    fs.crash(CrashMode::PowerLoss);
    let fs = fs.reopen();
    let file = fs.open(Path::new("/f")).unwrap();
    assert_eq!(bytes_at(file.as_ref(), offset), [7; 7], "the device kept the old bytes");
    assert_eq!(&bytes_at(file.as_ref(), landed_at), b"payload", "and got them elsewhere");
    // Writing the right bytes where they belong, durably, heals that place.
    file.write_at(b"payload", offset).unwrap();
    file.sync_data().unwrap();
    let healed = fs.image(View::Durable);
    assert_eq!(healed.file("/f").unwrap().damaged, vec![landed_at..landed_at + 7]);
}

#[test]
fn lying_fsync_returns_ok_and_persists_nothing() {
    let mut lost = 0;
    for seed in 0..32 {
        let (fs, file) = fs_with_durable_file(seed, FaultConfig::none(), b"old");
        fs.set_fault_config(only(FaultClass::LyingFsync));
        file.write_at(b"new", 0).unwrap();
        file.sync_data().expect("a lying fsync says Ok");
        assert_eq!(fs.fault_counts().get(FaultClass::LyingFsync), 1);
        fs.set_fault_config(FaultConfig::none());
        fs.crash(CrashMode::PowerLoss);
        if read(&fs.reopen(), "/f").unwrap() == b"old" {
            lost += 1;
        }
    }
    assert!(lost > 0, "data behind a lying fsync must sometimes be lost");
}

#[test]
fn torn_write_loses_whole_sectors_only() {
    let sectors = 6;
    let mut torn_seen = 0;
    for seed in 0..64 {
        let base = vec![0x11; sectors * SECTOR_SIZE as usize];
        let zeros_only = TornFill { old: false, zeros: true, garbage: false };
        let config = only(FaultClass::TornWrite).with_torn_fill(zeros_only);
        let (fs, file) = fs_with_durable_file(seed, config, &base);
        let new = vec![0x22; base.len()];
        file.write_at(&new, 0).unwrap();
        fs.crash(CrashMode::PowerLoss);
        let after = read(&fs.reopen(), "/f").unwrap();
        let torn: Vec<_> = fault_events(&fs);
        if after == base {
            assert!(torn.is_empty(), "seed {seed}: the write did not persist, nothing to tear");
            continue;
        }
        let [(Op::Crash, _, 0, Fault::TornWrite { lost_sectors })] = torn[..] else {
            panic!("seed {seed}: p=1.0 must tear every persisted write: {torn:?}")
        };
        torn_seen += 1;
        let mut zeroed = 0;
        for sector in after.chunks(SECTOR_SIZE as usize) {
            match sector {
                s if s.iter().all(|b| *b == 0x22) => {}
                s if s.iter().all(|b| *b == 0) => zeroed += 1,
                s => panic!("seed {seed}: a sector is neither new nor zero: {s:?}"),
            }
        }
        assert_eq!(zeroed, lost_sectors, "seed {seed}");
        assert!(lost_sectors >= 1);
    }
    assert!(torn_seen > 0);
}

#[test]
fn torn_write_never_damages_bytes_it_did_not_cover() {
    let mut torn_seen = 0;
    for seed in 0..64 {
        let garbage_only = TornFill { old: false, zeros: false, garbage: true };
        let config = only(FaultClass::TornWrite).with_torn_fill(garbage_only);
        let (fs, file) = fs_with_durable_file(seed, config, &[0xAB; 100]);
        file.write_at(&[0xCD; 1000], 100).unwrap(); // shares sector 0 with durable bytes
        fs.crash(CrashMode::PowerLoss);
        let after = read(&fs.reopen(), "/f").unwrap();
        assert_eq!(after[..100], [0xAB; 100], "seed {seed}: durable bytes of a shared sector");
        torn_seen += fs.fault_counts().get(FaultClass::TornWrite);
    }
    assert!(torn_seen > 0);
}

#[test]
fn switching_faults_off_silences_every_class() {
    let mut config = FaultConfig::none().with_no_space_quota(1);
    for class in FaultClass::ALL.into_iter().filter(|c| *c != FaultClass::NoSpace) {
        config = config.with(class, 1.0);
    }
    let fs = SimFs::new(Seed(5), config);
    fs.set_faults_enabled(false);
    let file = fs.create(Path::new("/f")).unwrap();
    file.write_at(&[9; 4096], 0).unwrap();
    file.sync_data().unwrap();
    fs.sync_dir(Path::new("/")).unwrap();
    assert_eq!(file.read_to_end().unwrap(), vec![9; 4096]);
    fs.crash(CrashMode::PowerLoss);
    assert_eq!(read(&fs.reopen(), "/f").unwrap(), vec![9; 4096]);
    assert_eq!(fs.fault_counts().total(), 0);
}

#[test]
fn renames_inside_a_directory_are_atomic_across_power_loss() {
    for seed in 0..64 {
        let fs = SimFs::new(Seed(seed), FaultConfig::none());
        fs.create_dir(Path::new("/snap.tmp")).unwrap();
        let file = fs.create(Path::new("/snap.tmp/page")).unwrap();
        file.write_at(b"page", 0).unwrap();
        file.sync_data().unwrap();
        fs.sync_dir(Path::new("/snap.tmp")).unwrap();
        fs.sync_dir(Path::new("/")).unwrap();
        fs.rename(Path::new("/snap.tmp"), Path::new("/snap")).unwrap();
        fs.crash(CrashMode::PowerLoss);
        let fs = fs.reopen();
        let names: Vec<String> =
            fs.list_dir(Path::new("/")).unwrap().into_iter().map(|e| e.name).collect();
        assert!(names == ["snap"] || names == ["snap.tmp"], "seed {seed}: {names:?}");
        let page = format!("/{}/page", names[0]);
        assert_eq!(read(&fs, &page).unwrap(), b"page");
    }
}
