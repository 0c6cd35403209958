//! Each filesystem profile's answer to a failed fsync, cell by cell of the
//! table in `FsProfile`'s documentation (Rebello et al., ATC '20): what a
//! read returns right after, what the next sync returns, which handles
//! report the error, what survives a power loss, and the file's size.
//!
//! Every cell is observed on a real run of SimFs and compared with the
//! table; another test shows that every profile has cells of its own, so
//! each would fail if its profile behaved as ext4 does (XFS's file-data
//! cells are ext4-ordered's in the study's table; its directory sync, a
//! log write, shuts it down).

use std::path::Path;

use faultline_engine::fs::{File, Fs};
use faultline_sim::{CrashMode, Fault, FaultClass, FaultConfig, FsProfile, Happening, Seed, SimFs};

/// A sync's result: `Ok`, or EIO.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sync {
    Ok,
    Eio,
}

fn sync(file: &dyn File) -> Sync {
    match file.sync_data() {
        Ok(()) => Sync::Ok,
        Err(error) => {
            assert!(error.to_string().contains("EIO"), "an fsync error, not {error}");
            Sync::Eio
        }
    }
}

/// What one profile did, cell by cell.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Cells {
    // Data: `old` durable; `new` over it and `tail` appended, then a
    // failed sync.
    /// What the failing sync returned.
    failing_sync: Sync,
    /// What a read of the file returns right after.
    read_after: Vec<u8>,
    /// The file's size right after.
    len_after: u64,
    /// A retry of the sync on the same handle.
    retry: Sync,
    /// The page cache after `more` was written at the engine's next offset
    /// (7) and synced.
    cache_after_next_append: Vec<u8>,
    /// The device after a power loss.
    after_power_loss: Vec<u8>,
    // Reporting: handles A and B open at the failure (A's sync fails), C
    // opened after it.
    /// B's first and second syncs.
    other_handle: [Sync; 2],
    /// C's first sync.
    later_handle: Sync,
    /// A's next sync.
    failing_handle_next: Sync,
    /// A handle opened after a process crash that followed the failure.
    after_process_crash: Sync,
    /// A handle opened after a power loss that followed the failure.
    after_power_loss_sync: Sync,
}

fn profile_fs(profile: FsProfile) -> SimFs {
    let fs = SimFs::new(
        Seed(profile.index() as u64),
        FaultConfig::none().with(FaultClass::FsyncError, 1.0).with_profile(profile),
    );
    fs.set_faults_enabled(false);
    fs
}

/// `/f` holding `old`, durable, and a handle to it.
fn durable_old(fs: &SimFs) -> Box<dyn File> {
    let file = fs.create(Path::new("/f")).unwrap();
    file.write_at(b"old", 0).unwrap();
    file.sync_data().unwrap();
    fs.sync_dir(Path::new("/")).unwrap();
    file
}

/// The one sync of `file` that fails on the fault (faults on just for it);
/// checks that exactly one fault fired, and says whether it was reported
/// later.
fn failing_sync(fs: &SimFs, file: &dyn File) -> (Sync, bool) {
    let before = fs.fault_counts().get(FaultClass::FsyncError);
    fs.set_faults_enabled(true);
    let result = sync(file);
    fs.set_faults_enabled(false);
    assert_eq!(fs.fault_counts().get(FaultClass::FsyncError), before + 1, "the fault fired");
    let fault = fs
        .events()
        .into_iter()
        .rev()
        .find_map(|e| match e.happening {
            Happening::Fault(fault @ Fault::FsyncError { .. }) => Some(fault),
            _ => None,
        })
        .expect("the fault's event");
    let Fault::FsyncError { reported_later, .. } = fault else { unreachable!() };
    assert_eq!(reported_later, result == Sync::Ok, "an Ok from a failed sync is flagged");
    (result, reported_later)
}

fn read(fs: &SimFs, path: &str) -> Vec<u8> {
    fs.open(Path::new(path)).unwrap().read_to_end().unwrap()
}

fn observe(profile: FsProfile) -> Cells {
    // Data, size, retry, power loss.
    let fs = profile_fs(profile);
    let a = durable_old(&fs);
    a.write_at(b"new", 0).unwrap();
    a.write_at(b"tail", 3).unwrap();
    let (failing, _) = failing_sync(&fs, &*a);
    let read_after = a.read_to_end().unwrap();
    let len_after = a.len().unwrap();
    let retry = sync(&*a);
    a.write_at(b"more", 7).unwrap();
    assert_eq!(sync(&*a), Sync::Ok, "{profile}: the append after the retry syncs");
    let cache_after_next_append = a.read_to_end().unwrap();
    fs.crash(CrashMode::PowerLoss);
    let after_power_loss = read(&fs.reopen(), "/f");

    // Who reports the error.
    let fs = profile_fs(profile);
    let a = durable_old(&fs);
    let b = fs.open(Path::new("/f")).unwrap();
    a.write_at(b"new", 0).unwrap();
    assert_eq!(failing_sync(&fs, &*a).0, failing);
    let c = fs.open(Path::new("/f")).unwrap();
    let other_handle = [sync(&*b), sync(&*b)];
    let later_handle = sync(&*c);
    let failing_handle_next = sync(&*a);
    let reported = fs
        .events()
        .iter()
        .filter(|e| matches!(e.happening, Happening::ErrorReported { .. }))
        .count();
    let eios = [other_handle[0], other_handle[1], later_handle, failing_handle_next]
        .iter()
        .filter(|s| **s == Sync::Eio)
        .count();
    assert_eq!(reported, eios, "{profile}: every late EIO is an event");

    // Across a process crash and a power loss.
    let after_crash = |mode: CrashMode| {
        let fs = profile_fs(profile);
        let a = durable_old(&fs);
        a.write_at(b"new", 0).unwrap();
        failing_sync(&fs, &*a);
        fs.crash(mode);
        let fs = fs.reopen();
        let file = fs.open(Path::new("/f")).unwrap();
        sync(&*file)
    };
    Cells {
        failing_sync: failing,
        read_after,
        len_after,
        retry,
        cache_after_next_append,
        after_power_loss,
        other_handle,
        later_handle,
        failing_handle_next,
        after_process_crash: after_crash(CrashMode::ProcessCrash),
        after_power_loss_sync: after_crash(CrashMode::PowerLoss),
    }
}

/// The table, as each profile's cells.
fn expected(profile: FsProfile) -> Cells {
    let zeros_then_more = b"old\0\0\0\0more".to_vec();
    match profile {
        // Marked clean; the size reaches the device, the data does not;
        // the failing call and every other handle open then report once.
        FsProfile::Ext4Ordered | FsProfile::Xfs => Cells {
            failing_sync: Sync::Eio,
            read_after: b"newtail".to_vec(),
            len_after: 7,
            retry: Sync::Ok,
            cache_after_next_append: b"newtailmore".to_vec(),
            after_power_loss: zeros_then_more,
            other_handle: [Sync::Eio, Sync::Ok],
            later_handle: Sync::Ok,
            failing_handle_next: Sync::Ok,
            after_process_crash: Sync::Ok,
            after_power_loss_sync: Sync::Ok,
        },
        // As ext4-ordered, but the failing call returns Ok: every handle
        // (the failing one, and one opened later, since nobody has seen
        // it) reports at its next sync, even after a process crash.
        FsProfile::Ext4Journal => Cells {
            failing_sync: Sync::Ok,
            read_after: b"newtail".to_vec(),
            len_after: 7,
            retry: Sync::Eio,
            cache_after_next_append: b"newtailmore".to_vec(),
            after_power_loss: zeros_then_more,
            other_handle: [Sync::Eio, Sync::Ok],
            later_handle: Sync::Eio,
            failing_handle_next: Sync::Eio,
            after_process_crash: Sync::Eio,
            after_power_loss_sync: Sync::Ok,
        },
        // The failed pages leave the cache: reads see `old` and its size,
        // and the next append at the engine's offset leaves a zero hole.
        FsProfile::Btrfs => Cells {
            failing_sync: Sync::Eio,
            read_after: b"old".to_vec(),
            len_after: 3,
            retry: Sync::Ok,
            cache_after_next_append: zeros_then_more.clone(),
            after_power_loss: zeros_then_more,
            other_handle: [Sync::Eio, Sync::Ok],
            later_handle: Sync::Ok,
            failing_handle_next: Sync::Ok,
            after_process_crash: Sync::Ok,
            after_power_loss_sync: Sync::Ok,
        },
        // Dirty again: the retry writes them for real; only the failing
        // call reports.
        FsProfile::FreeBsd => Cells {
            failing_sync: Sync::Eio,
            read_after: b"newtail".to_vec(),
            len_after: 7,
            retry: Sync::Ok,
            cache_after_next_append: b"newtailmore".to_vec(),
            after_power_loss: b"newtailmore".to_vec(),
            other_handle: [Sync::Ok, Sync::Ok],
            later_handle: Sync::Ok,
            failing_handle_next: Sync::Ok,
            after_process_crash: Sync::Ok,
            after_power_loss_sync: Sync::Ok,
        },
    }
}

#[test]
fn ext4_ordered_marks_failed_pages_clean_and_reports_once_per_handle() {
    assert_eq!(observe(FsProfile::Ext4Ordered), expected(FsProfile::Ext4Ordered));
}

#[test]
fn xfs_answers_a_failed_data_fsync_as_ext4_ordered_does() {
    assert_eq!(observe(FsProfile::Xfs), expected(FsProfile::Xfs));
}

#[test]
fn ext4_journal_returns_ok_and_reports_the_error_at_the_next_sync() {
    assert_eq!(observe(FsProfile::Ext4Journal), expected(FsProfile::Ext4Journal));
}

#[test]
fn btrfs_reverts_the_cache_and_the_size_and_a_later_append_leaves_a_hole() {
    assert_eq!(observe(FsProfile::Btrfs), expected(FsProfile::Btrfs));
}

#[test]
fn freebsd_redirties_so_a_retried_sync_persists_for_real() {
    assert_eq!(observe(FsProfile::FreeBsd), expected(FsProfile::FreeBsd));
}

/// Every profile differs from ext4-ordered in at least one cell (XFS in
/// its directory sync): its test fails if it behaves as ext4.
#[test]
fn every_profile_has_cells_of_its_own() {
    let ext4 = (expected(FsProfile::Ext4Ordered), expected_dir(FsProfile::Ext4Ordered));
    let observed_ext4 = (observe(FsProfile::Ext4Ordered), observe_dir(FsProfile::Ext4Ordered));
    for profile in FsProfile::ALL.into_iter().skip(1) {
        assert_ne!((expected(profile), expected_dir(profile)), ext4, "{profile}");
        assert_ne!((observe(profile), observe_dir(profile)), observed_ext4, "{profile}");
    }
}

/// What a failed directory sync did: `/f` durable holding `old`, then
/// `new` written over it and `/g` created, both unsynced, then
/// `sync_dir("/")` fails.
#[derive(Clone, Debug, PartialEq, Eq)]
struct DirCells {
    failing: Sync,
    /// Whether a later create succeeds.
    later_create: bool,
    /// A retried `sync_dir`.
    retry: Sync,
    /// After a process crash: what `/f` holds, and whether `/g` exists.
    after_process_crash: (Vec<u8>, bool),
    /// Whether `/g` exists after a power loss following that process crash
    /// (`new` was never synced: whether it persisted is the power loss's
    /// seeded choice, except on XFS, where it was lost at the remount).
    after_power_loss: bool,
}

fn observe_dir(profile: FsProfile) -> DirCells {
    let fs = profile_fs(profile);
    let f = durable_old(&fs);
    f.write_at(b"new", 0).unwrap();
    fs.create(Path::new("/g")).unwrap();
    fs.set_faults_enabled(true);
    let failing = match fs.sync_dir(Path::new("/")) {
        Ok(()) => Sync::Ok,
        Err(_) => Sync::Eio,
    };
    fs.set_faults_enabled(false);
    assert_eq!(fs.fault_counts().get(FaultClass::FsyncError), 1, "{profile}: the fault fired");
    let later_create = fs.create(Path::new("/h")).is_ok();
    let retry = match fs.sync_dir(Path::new("/")) {
        Ok(()) => Sync::Ok,
        Err(_) => Sync::Eio,
    };
    let look = |fs: &SimFs| (read(fs, "/f"), fs.open(Path::new("/g")).is_ok());
    fs.crash(CrashMode::ProcessCrash);
    let fs = fs.reopen();
    let after_process_crash = look(&fs);
    fs.crash(CrashMode::PowerLoss);
    let fs = fs.reopen();
    let after_power_loss = look(&fs).1;
    DirCells { failing, later_create, retry, after_process_crash, after_power_loss }
}

fn expected_dir(profile: FsProfile) -> DirCells {
    match profile {
        // The entry operations stay pending: the retry persists `/g`; the
        // cache (and `new`, never synced) survives the process crash.
        FsProfile::Ext4Ordered | FsProfile::Ext4Journal | FsProfile::Btrfs | FsProfile::FreeBsd => {
            DirCells {
                failing: Sync::Eio,
                later_create: true,
                retry: Sync::Ok,
                after_process_crash: (b"new".to_vec(), true),
                after_power_loss: true,
            }
        }
        // Shut down: nothing is served until the remount, which loses
        // what the cache held.
        FsProfile::Xfs => DirCells {
            failing: Sync::Eio,
            later_create: false,
            retry: Sync::Eio,
            after_process_crash: (b"old".to_vec(), false),
            after_power_loss: false,
        },
    }
}

#[test]
fn a_failed_directory_sync_leaves_entries_pending_except_on_xfs_which_shuts_down() {
    for profile in FsProfile::ALL {
        assert_eq!(observe_dir(profile), expected_dir(profile), "{profile}");
    }
    // The refused calls after the shutdown name the call that caused it.
    let fs = profile_fs(FsProfile::Xfs);
    fs.set_faults_enabled(true);
    fs.sync_dir(Path::new("/")).unwrap_err();
    fs.set_faults_enabled(false);
    assert!(fs.list_dir(Path::new("/")).is_err(), "reads are refused too");
    let refused: Vec<_> = fs
        .events()
        .into_iter()
        .filter(|e| matches!(e.happening, Happening::ErrorReported { failed_at: 1 }))
        .collect();
    assert_eq!(refused.len(), 1, "{refused:?}");
}

#[test]
fn profiles_have_stable_names() {
    for profile in FsProfile::ALL {
        assert_eq!(FsProfile::from_name(profile.name()), Some(profile));
    }
    assert_eq!(FsProfile::from_name("ext3"), None);
    let names: Vec<&str> = FsProfile::ALL.iter().map(|p| p.name()).collect();
    assert_eq!(names, ["ext4-ordered", "ext4-journal", "xfs", "btrfs", "freebsd"]);
}
