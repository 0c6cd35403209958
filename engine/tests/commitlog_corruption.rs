//! Damaged logs: a flipped bit anywhere is an error (or, in the last commit
//! only, a torn tail that is cut); a torn tail at any byte is cut back to
//! the last whole commit; anything else is a hard error naming segment,
//! byte offset and reason; untrusted bytes never panic.

mod commitlog_support;

use std::path::Path;

use commitlog_support::*;
use faultline_engine::commitlog::{
    Commit, Commitlog, CorruptionReason, DecodeError, LogRepair, OpenError, Options, ReadError,
    segment_path,
};
use faultline_engine::fs::Fs;
use faultline_sim::SimFs;
use proptest::prelude::*;
use proptest::test_runner::RngSeed;

/// A small log: several segments, the last holding at least two commits.
struct Fixture {
    commits: Vec<Commit>,
    options: Options,
    seed: u64,
}

impl Fixture {
    fn new() -> Fixture {
        // The first workload length whose log fits the shape the tests want.
        for n_commits in 7..16 {
            let fixture = Fixture {
                commits: workload(0xbad, n_commits, 2, 6),
                options: small(120),
                seed: 0xbad,
            };
            let fs = fixture.build();
            let segments = segment_files(&fs);
            let first_in_last = fixture.first_commit_in(segments.last().unwrap());
            if segments.len() >= 3 && first_in_last + 2 <= fixture.commits.len() {
                return fixture;
            }
        }
        panic!("no workload gives three segments with two commits in the last");
    }

    /// A fresh SimFs holding the log, every commit synced.
    fn build(&self) -> SimFs {
        let fs = sim(self.seed);
        let mut log = open(&fs, &self.options).unwrap();
        append_synced(&mut log, &self.commits);
        fs
    }

    fn open(&self, fs: &SimFs) -> Result<Commitlog, OpenError> {
        open(fs, &self.options)
    }

    /// The index of the first commit in the segment at `path`.
    fn first_commit_in(&self, path: &Path) -> usize {
        let name = path.file_name().unwrap().to_str().unwrap();
        let offset: u64 = name.trim_end_matches(".log").parse().unwrap();
        self.commits.iter().position(|c| c.min_tx_offset == offset).unwrap()
    }

    /// Where each commit of the segment at `path` starts, in bytes.
    fn commit_starts(&self, path: &Path, segment_len: u64) -> Vec<u64> {
        let first = self.first_commit_in(path);
        let mut pos = 16;
        let mut starts = Vec::new();
        for commit in &self.commits[first..] {
            if pos >= segment_len {
                break;
            }
            starts.push(pos);
            pos += commit.encoded_len();
        }
        assert_eq!(pos, segment_len);
        starts
    }

    fn all_but_last(&self) -> &[Commit] {
        &self.commits[..self.commits.len() - 1]
    }
}

/// Opens and reads the whole log: what a restart would see.
fn recover(fs: &SimFs, options: &Options) -> Result<Vec<Commit>, String> {
    let log = open(fs, options).map_err(|error| format!("open: {error}"))?;
    read_all(&log).map_err(|error| format!("read: {error}"))
}

#[test]
fn every_single_bit_flip_is_an_error_or_repaired_in_the_last_segment() {
    // A flip in a sealed segment, or in a segment header, is a hard error
    // naming the place. A flip in a commit of the last segment is what a
    // latent bit error looks like, not a torn write (which loses sectors):
    // it is repaired, never cut, so an acknowledged commit is never lost.
    let fixture = Fixture::new();
    let pristine = fixture.build();
    let segments = segment_files(&pristine);
    let last = segments.last().unwrap().clone();
    let (mut errors, mut repairs) = (0, 0);
    for path in &segments {
        let len = file_bytes(&pristine, path).len() as u64;
        for byte in 0..len {
            for bit in 0..8 {
                let fs = fixture.build();
                flip_bit(&fs, path, byte, bit);
                let in_last_segment_commits = *path == last && byte >= 16;
                match fixture.open(&fs) {
                    Ok(log) => {
                        assert!(
                            in_last_segment_commits,
                            "flip {}:{byte}:{bit} went unnoticed",
                            path.display()
                        );
                        let [LogRepair::BitRepaired { segment, byte: repaired, .. }] =
                            log.repairs_at_open()
                        else {
                            panic!("flip {byte}:{bit}: {:?}", log.repairs_at_open());
                        };
                        assert_eq!((segment, *repaired), (path, byte), "the repair is reported");
                        assert_eq!(read_all(&log).unwrap(), fixture.commits, "nothing lost");
                        drop(log);
                        // The repair is durable: the bytes on disk are whole again.
                        fs.crash(faultline_sim::CrashMode::PowerLoss);
                        let fs = fs.reopen();
                        assert_eq!(file_bytes(&fs, path), file_bytes(&pristine, path));
                        repairs += 1;
                    }
                    Err(OpenError::Corrupt(corruption)) => {
                        assert!(
                            !in_last_segment_commits,
                            "a one-bit flip is repaired: {corruption}"
                        );
                        assert_eq!(&corruption.segment, path, "{corruption}");
                        assert!(corruption.offset <= byte, "{corruption} for byte {byte}");
                        errors += 1;
                    }
                    Err(other) => {
                        panic!("flip {}:{byte}:{bit}: unexpected {other}", path.display())
                    }
                }
            }
        }
    }
    let last_len = file_bytes(&pristine, &last).len() as u64;
    assert_eq!(repairs, 8 * (last_len - 16), "every bit of every commit of the last segment");
    assert!(errors > 1000, "{errors} errors");
}

#[test]
fn cutting_the_last_commit_at_every_byte_recovers_the_commits_before_it() {
    let fixture = Fixture::new();
    let pristine = fixture.build();
    let last = segment_files(&pristine).last().unwrap().clone();
    let last_len = file_bytes(&pristine, &last).len() as u64;
    let last_commit_start = last_len - fixture.commits.last().unwrap().encoded_len();
    for len in last_commit_start..last_len {
        let fs = fixture.build();
        cut(&fs, &last, len);
        let mut log = fixture.open(&fs).unwrap();
        assert_eq!(read_all(&log).unwrap(), fixture.all_but_last(), "cut at {len}");
        assert_eq!(file_bytes(&fs, &last).len() as u64, last_commit_start, "cut at {len}");
        // The open says what it cut (nothing, at the commit's very start).
        let cut_here = LogRepair::TornTailCut {
            segment: last.clone(),
            offset: last_commit_start,
            bytes_cut: len - last_commit_start,
        };
        let said: &[LogRepair] =
            if len == last_commit_start { &[] } else { std::slice::from_ref(&cut_here) };
        assert_eq!(log.repairs_at_open(), said, "cut at {len}");
        assert_eq!(log.durable_offset(), Some(fixture.commits.last().unwrap().min_tx_offset - 1));
        // The log goes on from the cut.
        append(&mut log, fixture.commits.last().unwrap());
        log.sync();
        drop(log);
        assert_eq!(recover(&fs, &fixture.options).unwrap(), fixture.commits);
    }
}

#[test]
fn cutting_a_lone_last_commit_removes_its_segment() {
    // A last segment that holds one commit: cut anywhere inside it, the
    // segment is left with no commit and is removed.
    let commits = workload(0x10e, 5, 1, 4);
    let options = small(90);
    let build = || {
        let fs = sim(0x10e);
        let mut log = open(&fs, &options).unwrap();
        append_synced(&mut log, &commits);
        let last = log.segments().last().unwrap().clone();
        assert_eq!(last.min_tx_offset, commits.last().unwrap().min_tx_offset);
        (fs, last.path, log.segments().len())
    };
    let (pristine, last, n_segments) = build();
    let last_len = file_bytes(&pristine, &last).len() as u64;
    for len in 0..last_len {
        let (fs, _, _) = build();
        cut(&fs, &last, len);
        let log = open(&fs, &options).unwrap();
        assert_eq!(read_all(&log).unwrap(), commits[..commits.len() - 1], "cut at {len}");
        assert_eq!(log.segments().len(), n_segments - 1);
        assert_eq!(segment_files(&fs).len(), n_segments - 1, "the empty segment is removed");
    }
}

#[test]
fn trailing_zeros_and_garbage_after_the_last_commit_are_trimmed() {
    let fixture = Fixture::new();
    for seed in 0..48u64 {
        let fs = fixture.build();
        let last = segment_files(&fs).last().unwrap().clone();
        let len = file_bytes(&fs, &last).len() as u64;
        let n = 1 + (seed * 37 % 700) as usize;
        let tail: Vec<u8> = if seed.is_multiple_of(2) {
            vec![0; n]
        } else {
            let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            (0..n)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect()
        };
        append_bytes(&fs, &last, &tail);
        assert_eq!(recover(&fs, &fixture.options).unwrap(), fixture.commits, "seed {seed}");
        assert_eq!(file_bytes(&fs, &last).len() as u64, len, "seed {seed}: tail trimmed");
    }
}

#[test]
fn a_corrupt_commit_followed_by_a_valid_one_is_a_hard_error_naming_segment_and_offset() {
    let fixture = Fixture::new();
    let fs = fixture.build();
    let last = segment_files(&fs).last().unwrap().clone();
    let len = file_bytes(&fs, &last).len() as u64;
    let starts = fixture.commit_starts(&last, len);
    let second_to_last = starts[starts.len() - 2];
    // Two flipped bits: more than one-bit repair explains.
    flip_bit(&fs, &last, second_to_last + 25, 3);
    flip_bit(&fs, &last, second_to_last + 26, 5);
    let error = fixture.open(&fs).unwrap_err();
    let message = error.to_string();
    let expected = format!(
        "corrupt commit followed by a valid commit: segment={} offset={second_to_last} valid-commit-at={} cause=\"checksum mismatch",
        last.display(),
        starts[starts.len() - 1],
    );
    assert!(message.starts_with(&expected), "{message}");
    let OpenError::Corrupt(corruption) = error else { panic!("not a corruption: {message}") };
    assert!(matches!(corruption.reason, CorruptionReason::ValidCommitAfter { .. }));
    assert_eq!(file_bytes(&fs, &last).len() as u64, len, "nothing is cut");
}

/// The picture a misdirected write leaves (a sweep found it: swarm seed
/// 0x8966ba): the bytes of a later commit land a few bytes into an earlier,
/// durable one. The broken commit looks torn, and the commit after it is
/// whole but far ahead of the offset the log expects there. No crash can
/// put a whole commit after a torn one, so this is corruption; cutting
/// there would silently drop every acknowledged commit from the broken one
/// on.
#[test]
fn a_whole_commit_far_ahead_after_a_broken_one_is_corruption_not_a_torn_tail() {
    let fixture = Fixture::new();
    let fs = fixture.build();
    let last = segment_files(&fs).last().unwrap().clone();
    let bytes = file_bytes(&fs, &last);
    let starts = fixture.commit_starts(&last, bytes.len() as u64);
    let (first, final_start) = (starts[0], starts[starts.len() - 1]);
    // The last commit's bytes, landed 4 bytes into the first commit of the
    // segment: that breaks the first commit's offset field.
    let landed = first + 4;
    assert!(landed < final_start, "the landing place lies before the commit it copies");
    let file = fs.open(&last).unwrap();
    file.write_at(&bytes[final_start as usize..], landed).unwrap();
    file.sync_data().unwrap();
    let error = fixture.open(&fs).unwrap_err();
    let message = error.to_string();
    let expected = format!(
        "corrupt commit followed by a valid commit: segment={} offset={first} valid-commit-at={landed}",
        last.display()
    );
    assert!(message.starts_with(&expected), "{message}");
    let OpenError::Corrupt(corruption) = error else { panic!("not a corruption: {message}") };
    assert!(matches!(corruption.reason, CorruptionReason::ValidCommitAfter { .. }));
    assert_eq!(file_bytes(&fs, &last).len(), bytes.len(), "nothing is cut");
}

#[test]
fn a_bad_last_commit_in_a_sealed_segment_is_a_hard_error() {
    let fixture = Fixture::new();
    let fs = fixture.build();
    let first = segment_files(&fs)[0].clone();
    let len = file_bytes(&fs, &first).len() as u64;
    flip_bit(&fs, &first, len - 1, 0);
    let error = fixture.open(&fs).unwrap_err();
    let start = *fixture.commit_starts(&first, len).last().unwrap();
    assert!(
        error.to_string().starts_with(&format!(
            "checksum mismatch: segment={} offset={start} stored-crc=",
            first.display()
        )),
        "{error}"
    );
    assert_eq!(file_bytes(&fs, &first).len() as u64, len, "nothing is cut");

    // Trailing bytes after the last commit of a sealed segment, too.
    let fs = fixture.build();
    append_bytes(&fs, &first, &[0; 5]);
    let error = fixture.open(&fs).unwrap_err();
    assert!(error.to_string().starts_with("incomplete commit: "), "{error}");
}

#[test]
fn unknown_format_version_and_checksum_algorithm_are_refused() {
    let fixture = Fixture::new();
    for (byte, value, message) in [
        (8u64, 2u8, "unknown format version: segment={} offset=0 version=2 supported=1"),
        (10, 7, "unknown checksum algorithm: segment={} offset=0 algorithm=7 supported=1"),
    ] {
        let fs = fixture.build();
        let last = segment_files(&fs).last().unwrap().clone();
        let file = fs.open(&last).unwrap();
        file.write_at(&[value], byte).unwrap();
        file.sync_data().unwrap();
        let error = fixture.open(&fs).unwrap_err();
        assert_eq!(error.to_string(), message.replace("{}", &last.display().to_string()));
        let OpenError::Corrupt(corruption) = error else { panic!() };
        assert!(matches!(corruption.reason, CorruptionReason::Header(ref h) if h.is_unsupported()));
    }

    // Even a last segment that holds no commit is refused, not removed.
    let fs = fixture.build();
    let next = segment_path(&log_dir(), fixture.commits.last().unwrap().tx_offsets().end);
    let mut header = file_bytes(&fs, &segment_files(&fs)[0])[..16].to_vec();
    header[8] = 9;
    write_file(&fs, &next, &header);
    let error = fixture.open(&fs).unwrap_err();
    assert!(error.to_string().starts_with("unknown format version: "), "{error}");
    assert!(fs.open(&next).is_ok());
}

#[test]
fn segment_names_must_match_their_first_commit_and_continue_the_previous_segment() {
    let fixture = Fixture::new();
    // Renamed: the first segment's name no longer matches its first commit.
    let fs = fixture.build();
    let segments = segment_files(&fs);
    let renamed = segment_path(&log_dir(), 0).with_file_name("00000000000000000001.log");
    fs.rename(&segments[0], &renamed).unwrap();
    fs.sync_dir(&log_dir()).unwrap();
    let error = fixture.open(&fs).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "segment name mismatch: segment={} offset=16 name-offset=1 commit-offset=0",
            renamed.display()
        )
    );

    // A segment missing in the middle: a gap.
    let fs = fixture.build();
    let segments = segment_files(&fs);
    fs.remove(&segments[1]).unwrap();
    fs.sync_dir(&log_dir()).unwrap();
    let error = fixture.open(&fs).unwrap_err();
    let expected_offset = fixture.commits[fixture.first_commit_in(&segments[1])].min_tx_offset;
    let actual_offset = fixture.commits[fixture.first_commit_in(&segments[2])].min_tx_offset;
    assert_eq!(
        error.to_string(),
        format!(
            "segment gap: segment={} offset=0 expected-offset={expected_offset} actual-offset={actual_offset}",
            segments[2].display()
        )
    );

    // A sealed segment cut back to its header.
    let fs = fixture.build();
    cut(&fs, &segments[1], 16);
    let error = fixture.open(&fs).unwrap_err();
    assert!(error.to_string().starts_with("empty sealed segment: "), "{error}");
}

#[test]
fn an_empty_last_segment_is_removed_and_the_log_goes_on() {
    let fs = sim(0xe5);
    let options = small(120);
    let commits = workload(0xe5, 8, 2, 6);
    let mut log = open(&fs, &options).unwrap();
    let mut rotations = 0;
    let mut appended = 0;
    // Append until a commit rotates, then drop the log before it flushes:
    // the new segment holds only its header.
    for commit in &commits {
        let before = log.segments().len();
        append(&mut log, commit);
        appended += 1;
        if log.segments().len() > before && before > 0 {
            rotations += 1;
            break;
        }
        log.sync();
    }
    assert_eq!(rotations, 1);
    let segments = log.segments();
    let empty = segments.last().unwrap().path.clone();
    drop(log);
    assert_eq!(file_bytes(&fs, &empty).len(), 16);

    let mut log = open(&fs, &options).unwrap();
    assert!(fs.open(&empty).is_err(), "the empty last segment is removed");
    assert_eq!(
        log.repairs_at_open(),
        [LogRepair::SegmentRemoved { segment: empty.clone(), reason: "it holds no commit".into() }]
    );
    assert_eq!(log.segments().len(), segments.len() - 1);
    assert_eq!(read_all(&log).unwrap(), commits[..appended - 1]);
    append_synced(&mut log, &commits[appended - 1..]);
    drop(log);
    assert_eq!(recover(&fs, &options).unwrap(), commits);
}

#[test]
fn a_segment_header_torn_at_creation_is_removed() {
    let fixture = Fixture::new();
    let next_offset = fixture.commits.last().unwrap().tx_offsets().end;
    let garbage: Vec<u8> = (0..16u8).map(|i| i.wrapping_mul(151).wrapping_add(7)).collect();
    for torn in [vec![], b"FLTL".to_vec(), vec![0; 16], garbage] {
        let fs = fixture.build();
        let path = segment_path(&log_dir(), next_offset);
        write_file(&fs, &path, &torn);
        assert_eq!(recover(&fs, &fixture.options).unwrap(), fixture.commits, "{torn:?}");
        assert!(fs.open(&path).is_err(), "{torn:?}: removed");
    }
    // A bad header with bytes after it is not a torn creation.
    let fs = fixture.build();
    let path = segment_path(&log_dir(), next_offset);
    write_file(&fs, &path, &[0; 40]);
    let error = fixture.open(&fs).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("bad segment magic: segment={} offset=0 found=0000000000000000", path.display())
    );
}

#[test]
fn read_errors_are_typed_errors_not_panics() {
    let fixture = Fixture::new();
    let fs = fixture.build();
    let log = fixture.open(&fs).unwrap();
    let segments = segment_files(&fs);
    // Damage a sealed segment under the open log.
    flip_bit(&fs, &segments[1], 30, 1);
    let mut reader = log.commits_from(0);
    let first_in_damaged = fixture.first_commit_in(&segments[1]);
    for commit in &fixture.commits[..first_in_damaged] {
        assert_eq!(&reader.next().unwrap().unwrap(), commit);
    }
    let error = reader.next().unwrap().unwrap_err();
    assert!(matches!(error, ReadError::Corrupt(ref c) if c.segment == segments[1]), "{error}");
    assert!(error.to_string().starts_with("checksum mismatch: segment="), "{error}");
    assert!(reader.next().is_none(), "an iterator that failed is done");

    // Cut a segment under the open log: an io error.
    let fs = fixture.build();
    let log = fixture.open(&fs).unwrap();
    cut(&fs, &segment_files(&fs)[0], 20);
    let error = log.transactions_from(0).find_map(Result::err).unwrap();
    assert!(matches!(error, ReadError::Io { op: "read", .. }), "{error}");

    // Asking for an offset before the log's first is an error too.
    let fs = fixture.build();
    let segments = segment_files(&fs);
    fs.remove(&segments[0]).unwrap();
    let log = fixture.open(&fs).unwrap();
    let first = log.segments()[0].min_tx_offset;
    let error = log.transactions_from(0).next().unwrap().unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("offset not in log: requested-offset=0 first-offset={first}")
    );
}

#[test]
fn a_checksummed_commit_with_bad_framing_is_never_cut_as_a_torn_tail() {
    let fixture = Fixture::new();
    let fs = fixture.build();
    let last = segment_files(&fs).last().unwrap().clone();
    let mut bytes = file_bytes(&fs, &last);
    let last_start = bytes.len() - fixture.commits.last().unwrap().encoded_len() as usize;
    // Claim one more transaction than there are, and re-seal the checksum.
    let n = u16::from_le_bytes([bytes[last_start + 16], bytes[last_start + 17]]) + 1;
    bytes[last_start + 16..last_start + 18].copy_from_slice(&n.to_le_bytes());
    let body_end = bytes.len() - 4;
    let checksum = crc32c_of(&bytes[last_start..body_end]);
    bytes[body_end..].copy_from_slice(&checksum.to_le_bytes());
    fs.remove(&last).unwrap();
    write_file(&fs, &last, &bytes);
    let error = fixture.open(&fs).unwrap_err();
    let OpenError::Corrupt(corruption) = error else { panic!() };
    assert!(
        matches!(corruption.reason, CorruptionReason::Commit(DecodeError::RecordOverrun { .. })),
        "{corruption}"
    );
    assert_eq!(corruption.offset, last_start as u64);
}

#[test]
fn at_most_four_flipped_commits_are_repaired_in_one_open() {
    // Seven commits in one segment; a bit flipped in each of the first k.
    let commits: Vec<Commit> = (0..7u8)
        .map(|i| Commit { min_tx_offset: u64::from(i), epoch: 0, transactions: vec![vec![i; 8]] })
        .collect();
    let starts: Vec<u64> = commits
        .iter()
        .scan(16, |pos, c| Some(std::mem::replace(pos, *pos + c.encoded_len())))
        .collect();
    for k in [4, 5] {
        let fs = sim(4);
        let mut log = open(&fs, &Options::default()).unwrap();
        append_synced(&mut log, &commits);
        let path = log.segments()[0].path.clone();
        drop(log);
        for start in &starts[..k] {
            flip_bit(&fs, &path, start + 22 + 4, 0); // the record's first byte
        }
        match open(&fs, &Options::default()) {
            Ok(log) => {
                assert_eq!(k, 4, "four repairs (CORRECTIONS_MAX), no more");
                assert_eq!(read_all(&log).unwrap(), commits);
            }
            Err(OpenError::Corrupt(corruption)) => {
                assert_eq!(k, 5, "{corruption}");
                assert_eq!(corruption.offset, starts[4], "the fifth flipped commit");
                assert!(
                    matches!(corruption.reason, CorruptionReason::ValidCommitAfter { .. }),
                    "{corruption}"
                );
            }
            Err(other) => panic!("k={k}: {other}"),
        }
    }
}

#[test]
fn a_reader_notices_a_log_that_changed_under_it() {
    let fs = sim(3);
    let mut log = open(&fs, &Options::default()).unwrap();
    log.append_commit(0, 0, &[b"abcdefghij"]).unwrap();
    log.sync();
    let reader = log.commits_from(0);
    // The same length and a valid checksum, but one transaction more: only
    // where the log ends gives it away.
    let forged =
        Commit { min_tx_offset: 0, epoch: 0, transactions: vec![b"abc".to_vec(), b"def".to_vec()] };
    let mut bytes = Vec::new();
    forged.encode(&mut bytes);
    let path = log.segments()[0].path.clone();
    fs.open(&path).unwrap().write_at(&bytes, 16).unwrap();
    let read: Vec<Result<Commit, ReadError>> = reader.collect();
    assert_eq!(read.len(), 2, "{read:?}");
    assert_eq!(read[0].as_ref().unwrap(), &forged);
    assert_eq!(
        read[1].as_ref().unwrap_err().to_string(),
        format!(
            "log ends at the wrong offset: segment={} offset=56 expected-end=1 actual-end=2",
            path.display()
        )
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, rng_seed: RngSeed::Fixed(0xf022), ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_in_a_segment_never_panic(
        with_header: bool,
        mut bytes in prop::collection::vec(any::<u8>(), 0..300),
        second: bool,
    ) {
        let fs = sim(1);
        fs.create_dir(&log_dir()).unwrap();
        if with_header {
            let mut header = b"FLTLOG\0\0\x01\0\x01\0\0\0\0\0".to_vec();
            header.append(&mut bytes);
            bytes = header;
        }
        write_file(&fs, &segment_path(&log_dir(), 0), &bytes);
        if second {
            write_file(&fs, &segment_path(&log_dir(), 1), &bytes);
        }
        if let Ok(log) = open(&fs, &Options::default()) {
            let _ = read_all(&log);
        }
    }
}

/// Creates (or replaces) a file holding `bytes`, durably.
fn write_file(fs: &SimFs, path: &Path, bytes: &[u8]) {
    let _ = fs.remove(path);
    let file = fs.create(path).unwrap();
    file.write_at(bytes, 0).unwrap();
    file.sync_data().unwrap();
    fs.sync_dir(path.parent().unwrap()).unwrap();
}

/// CRC32C, computed independently (bitwise, Castagnoli polynomial) so the
/// test does not lean on the crate the engine uses.
fn crc32c_of(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0x82f6_3b78 } else { crc >> 1 };
        }
    }
    !crc
}
