//! SimFs against a small reference model of its crash semantics.
//!
//! - Synced data in a file whose entry was synced survives a power loss byte
//!   for byte; a process crash keeps the whole page cache.
//! - Without syncs, every sector that survives a power loss holds one of the
//!   states the model allows: the old bytes with some subset of the pending
//!   writes applied in order, where a torn write's lost part holds the old
//!   bytes or zeros. Never anything else.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::read;
use faultline_engine::fs::{File, Fs};
use faultline_sim::{CrashMode, FaultClass, FaultConfig, SECTOR_SIZE, Seed, SimFs, TornFill};
use proptest::prelude::*;

const NAMES: [&str; 3] = ["/a", "/b", "/c"];

#[derive(Clone, Debug)]
enum FsOp {
    Create(usize),
    Write { file: usize, offset: u64, len: u64, byte: u8 },
    SetLen { file: usize, len: u64 },
    SyncData(usize),
    SyncDir,
}

fn fs_op() -> impl Strategy<Value = FsOp> {
    prop_oneof![
        (0..NAMES.len()).prop_map(FsOp::Create),
        (0..NAMES.len(), 0..3000u64, 1..1500u64, 1..=255u8)
            .prop_map(|(file, offset, len, byte)| FsOp::Write { file, offset, len, byte }),
        (0..NAMES.len(), 0..4000u64).prop_map(|(file, len)| FsOp::SetLen { file, len }),
        (0..NAMES.len()).prop_map(FsOp::SyncData),
        Just(FsOp::SyncDir),
    ]
}

/// What the model knows of one file.
#[derive(Clone, Debug, Default)]
struct ModelFile {
    /// What reads see.
    volatile: Vec<u8>,
    /// The contents as of the last successful sync_data, if any.
    synced: Option<Vec<u8>>,
    /// Byte ranges written since that sync, and whether the length changed.
    dirty: Vec<(u64, u64)>,
    resized_since_sync: bool,
    /// Whether its directory entry has been synced.
    entry_durable: bool,
}

fn write_into(bytes: &mut Vec<u8>, offset: u64, data: &[u8]) {
    let end = offset as usize + data.len();
    if bytes.len() < end {
        bytes.resize(end, 0);
    }
    bytes[offset as usize..end].copy_from_slice(data);
}

/// Runs `ops` against SimFs and the model together.
fn run(fs: &SimFs, ops: &[FsOp]) -> BTreeMap<usize, ModelFile> {
    let mut model: BTreeMap<usize, ModelFile> = BTreeMap::new();
    let mut handles: BTreeMap<usize, Box<dyn File>> = BTreeMap::new();
    for op in ops {
        match *op {
            FsOp::Create(i) if !handles.contains_key(&i) => {
                handles.insert(i, fs.create(Path::new(NAMES[i])).unwrap());
                model.insert(i, ModelFile::default());
            }
            FsOp::Create(_) => {}
            FsOp::Write { file, offset, len, byte } => {
                let (Some(handle), Some(m)) = (handles.get(&file), model.get_mut(&file)) else {
                    continue;
                };
                let data = vec![byte; len as usize];
                handle.write_at(&data, offset).unwrap();
                write_into(&mut m.volatile, offset, &data);
                m.dirty.push((offset, offset + len));
            }
            FsOp::SetLen { file, len } => {
                let (Some(handle), Some(m)) = (handles.get(&file), model.get_mut(&file)) else {
                    continue;
                };
                handle.set_len(len).unwrap();
                m.volatile.resize(len as usize, 0);
                m.resized_since_sync = true;
            }
            FsOp::SyncData(file) => {
                let (Some(handle), Some(m)) = (handles.get(&file), model.get_mut(&file)) else {
                    continue;
                };
                handle.sync_data().unwrap();
                m.synced = Some(m.volatile.clone());
                m.dirty.clear();
                m.resized_since_sync = false;
            }
            FsOp::SyncDir => {
                fs.sync_dir(Path::new("/")).unwrap();
                model.values_mut().for_each(|m| m.entry_durable = true);
            }
        }
    }
    model
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn synced_data_under_a_synced_name_survives_power_loss(
        seed: u64,
        ops in prop::collection::vec(fs_op(), 1..40),
    ) {
        let fs = SimFs::new(Seed(seed), FaultConfig::none().with(FaultClass::TornWrite, 0.5));
        let model = run(&fs, &ops);
        fs.crash(CrashMode::PowerLoss);
        let fs = fs.reopen();
        for (i, m) in &model {
            let (true, Some(synced)) = (m.entry_durable, &m.synced) else { continue };
            let after = read(&fs, NAMES[*i]);
            prop_assert!(after.is_some(), "{} vanished", NAMES[*i]);
            let after = after.unwrap();
            if m.resized_since_sync {
                continue; // a pending truncate may or may not have persisted
            }
            prop_assert!(after.len() >= synced.len(), "{} shrank", NAMES[*i]);
            for (pos, byte) in synced.iter().enumerate() {
                let pos64 = pos as u64;
                let rewritten = m.dirty.iter().any(|(start, end)| (*start..*end).contains(&pos64));
                if !rewritten {
                    prop_assert_eq!(after[pos], *byte, "{} byte {} changed", NAMES[*i], pos);
                }
            }
        }
    }

    #[test]
    fn process_crash_keeps_exactly_the_page_cache(
        seed: u64,
        ops in prop::collection::vec(fs_op(), 1..40),
    ) {
        let fs = SimFs::new(Seed(seed), FaultConfig::none());
        let model = run(&fs, &ops);
        fs.crash(CrashMode::ProcessCrash);
        let fs = fs.reopen();
        for (i, m) in &model {
            prop_assert_eq!(read(&fs, NAMES[*i]), Some(m.volatile.clone()));
        }
    }

    #[test]
    fn unsynced_writes_survive_only_as_allowed_states(
        seed: u64,
        base_len in 0..2048u64,
        writes in prop::collection::vec((0..2048u64, 1..1024u64), 1..5),
        torn in prop::bool::ANY,
    ) {
        let fill = TornFill { old: true, zeros: true, garbage: false };
        let config = FaultConfig::none()
            .with(FaultClass::TornWrite, if torn { 0.7 } else { 0.0 })
            .with_torn_fill(fill);
        let base: Vec<u8> = (0..base_len).map(|i| (i % 251) as u8 + 1).collect();
        let (fs, file) = common::fs_with_durable_file(seed, config, &base);
        let mut pending = Vec::new();
        for (n, (offset, len)) in writes.iter().enumerate() {
            let data = vec![0x80 + n as u8; *len as usize];
            file.write_at(&data, *offset).unwrap();
            pending.push((*offset, data));
        }
        fs.crash(CrashMode::PowerLoss);
        let after = read(&fs.reopen(), "/f").unwrap();

        let lengths = allowed_lengths(base.len() as u64, &pending);
        prop_assert!(lengths.contains(&(after.len() as u64)), "len {} not in {:?}", after.len(), lengths);
        let max_len = *lengths.iter().max().unwrap() as usize;
        let mut padded = after.clone();
        padded.resize(max_len, 0);
        for sector in 0..max_len.div_ceil(SECTOR_SIZE as usize) {
            let allowed = allowed_sector_states(&base, &pending, sector as u64, max_len);
            let start = sector * SECTOR_SIZE as usize;
            let end = (start + SECTOR_SIZE as usize).min(max_len);
            prop_assert!(
                allowed.contains(&padded[start..end]),
                "sector {} holds a state the model does not allow", sector
            );
        }
    }
}

/// Every length the file may have: the base length grown by any subset of
/// the pending writes.
fn allowed_lengths(base_len: u64, pending: &[(u64, Vec<u8>)]) -> BTreeSet<u64> {
    let mut lengths = BTreeSet::from([base_len]);
    for (offset, data) in pending {
        let end = offset + data.len() as u64;
        let grown: Vec<u64> = lengths.iter().map(|l| (*l).max(end)).collect();
        lengths.extend(grown);
    }
    lengths
}

/// Every content `sector` may hold: start from the base, and for each
/// pending write in order either skip it, apply it, or apply it torn (its
/// part of this sector zeroed; "old bytes" is the same as skipping).
fn allowed_sector_states(
    base: &[u8],
    pending: &[(u64, Vec<u8>)],
    sector: u64,
    max_len: usize,
) -> BTreeSet<Vec<u8>> {
    let start = (sector * SECTOR_SIZE) as usize;
    let end = (start + SECTOR_SIZE as usize).min(max_len);
    let mut initial = vec![0u8; end - start];
    for (i, byte) in initial.iter_mut().enumerate() {
        *byte = base.get(start + i).copied().unwrap_or(0);
    }
    let mut states = BTreeSet::from([initial]);
    for (offset, data) in pending {
        let (w_start, w_end) = (*offset as usize, *offset as usize + data.len());
        let (lo, hi) = (w_start.max(start), w_end.min(end));
        if lo >= hi {
            continue;
        }
        let mut next = states.clone();
        for state in &states {
            let mut applied = state.clone();
            let mut zeroed = state.clone();
            for pos in lo..hi {
                applied[pos - start] = data[pos - w_start];
                zeroed[pos - start] = 0;
            }
            next.insert(applied);
            next.insert(zeroed);
        }
        states = next;
    }
    states
}

/// A handle whose file vanished at a power loss (its name never became
/// durable) is dead like any other: every call on it fails with the
/// simulated-crash error, none panics. (An engine that ignores an error
/// and goes on using the handle must meet an error, not a simulator
/// panic that hides its bug.)
#[test]
fn a_handle_whose_file_vanished_at_a_power_loss_fails_every_call() {
    let fs = SimFs::new(Seed(3), FaultConfig::none());
    let file = fs.create(Path::new("/never-named")).unwrap();
    file.write_at(b"bytes", 0).unwrap();
    file.sync_data().unwrap();
    fs.crash(CrashMode::PowerLoss);
    let after = fs.reopen();
    assert!(after.open(Path::new("/never-named")).is_err(), "the name never became durable");
    let calls: [(&str, std::io::Result<()>); 5] = [
        ("write", file.write_at(b"more", 5)),
        ("read", file.read_at(&mut [0; 4], 0).map(drop)),
        ("len", file.len().map(drop)),
        ("set-len", file.set_len(1)),
        ("sync", file.sync_data()),
    ];
    for (name, result) in calls {
        let error = result.expect_err(name).to_string();
        assert!(error.contains("simulated crash"), "{name}: {error}");
    }
}
