//! The commitlog gives back exactly what was appended, across rotations and
//! reopens, on SimFs and on the real filesystem; it refuses bad commits
//! without writing or poisoning; the durable offset moves only on sync.

mod commitlog_support;

use std::path::Path;
use std::sync::{Arc, Mutex};

use commitlog_support::*;
use faultline_engine::commitlog::{
    AppendError, Commit, Commitlog, OpenError, Options, RotationInfo, SEGMENT_HEADER_LEN,
    TRANSACTIONS_PER_COMMIT_MAX, Transaction, segment_file_name,
};
use faultline_engine::fs::{Fs, RealFs};
use proptest::prelude::*;
use proptest::test_runner::RngSeed;

/// What the test does after appending a commit.
#[derive(Clone, Copy, Debug)]
enum After {
    Nothing,
    Flush,
    Sync,
}

fn commits_strategy(n_max: usize) -> impl Strategy<Value = Vec<(Vec<Vec<u8>>, bool, After)>> {
    let tx = prop::collection::vec(any::<u8>(), 0..40);
    let after = prop_oneof![Just(After::Nothing), Just(After::Flush), Just(After::Sync)];
    prop::collection::vec((prop::collection::vec(tx, 1..6), any::<bool>(), after), 12..n_max)
}

/// Appends the generated commits, following each with nothing, a flush or
/// a sync, and returns the model.
fn append_all(log: &mut Commitlog, generated: &[(Vec<Vec<u8>>, bool, After)]) -> Vec<Commit> {
    let mut model = Vec::new();
    for (transactions, epoch_step, after) in generated {
        let commit = Commit {
            min_tx_offset: log.next_offset(),
            epoch: log.epoch() + u64::from(*epoch_step),
            transactions: transactions.clone(),
        };
        append(log, &commit);
        model.push(commit);
        match after {
            After::Nothing => {}
            After::Flush => log.flush(),
            After::Sync => log.sync(),
        }
        assert!(log.durable_offset() <= log.flushed_offset());
        assert!(log.flushed_offset() <= log.last_offset());
    }
    model
}

fn flatten(model: &[Commit]) -> Vec<Transaction> {
    model
        .iter()
        .flat_map(|commit| {
            commit.transactions.iter().enumerate().map(|(i, bytes)| Transaction {
                tx_offset: commit.min_tx_offset + i as u64,
                epoch: commit.epoch,
                bytes: bytes.clone(),
            })
        })
        .collect()
}

/// Checks everything the log gives back against the model.
fn check_log(log: &Commitlog, model: &[Commit], from: u64) {
    assert_eq!(read_all(log).unwrap(), model);
    let txs: Vec<Transaction> = log.transactions_from(from).collect::<Result<_, _>>().unwrap();
    let expected: Vec<Transaction> =
        flatten(model).into_iter().filter(|tx| tx.tx_offset >= from).collect();
    assert_eq!(txs, expected);
    let end = model.last().map_or(0, |commit| commit.tx_offsets().end);
    assert_eq!(log.next_offset(), end);
    // Every segment is named after the first commit it holds.
    let names: Vec<u64> = log.segments().iter().map(|segment| segment.min_tx_offset).collect();
    for name in &names {
        assert!(model.iter().any(|commit| commit.min_tx_offset == *name), "segment {name}");
    }
}

/// Segments hold at most `max_segment_size` bytes, so a log of `bytes`
/// commit bytes needs at least this many.
fn segments_needed(model: &[Commit], options: &Options) -> usize {
    let bytes: u64 = model.iter().map(Commit::encoded_len).sum();
    bytes.div_ceil(options.max_segment_size - SEGMENT_HEADER_LEN as u64) as usize
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig { cases, rng_seed: RngSeed::Fixed(0xc0_4417), ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn commits_round_trip_across_rotations_and_reopens_on_simfs(
        generated in commits_strategy(40),
        more in commits_strategy(16),
        max_segment_size in 300u64..700,
        write_buffer_size in 0usize..400,
        from_fraction in 0.0f64..1.2,
    ) {
        let fs = sim(1);
        let options = Options { max_segment_size, write_buffer_size };
        let mut log = open(&fs, &options).unwrap();
        let mut model = append_all(&mut log, &generated);
        log.sync();
        prop_assert_eq!(log.durable_offset(), log.last_offset());
        let end = log.next_offset();
        let from = (end as f64 * from_fraction) as u64;
        check_log(&log, &model, from);
        prop_assert!(log.segments().len() >= segments_needed(&model, &options));
        prop_assert!(log.segments().len() >= 2, "small segments must rotate");
        drop(log);

        let mut log = open(&fs, &options).unwrap();
        prop_assert_eq!(log.durable_offset(), Some(end - 1));
        check_log(&log, &model, from);
        model.extend(append_all(&mut log, &more));
        log.sync();
        drop(log);

        let log = open(&fs, &options).unwrap();
        check_log(&log, &model, from);
    }
}

proptest! {
    #![proptest_config(config(8))]

    #[test]
    fn commits_round_trip_across_rotations_and_reopens_on_realfs(
        generated in commits_strategy(40),
        max_segment_size in 300u64..700,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let log_dir = dir.path().join("log");
        let options = Options { max_segment_size, write_buffer_size: 64 };
        let fs: Arc<dyn Fs> = Arc::new(RealFs::new());
        let mut log = Commitlog::open(Arc::clone(&fs), &log_dir, options.clone()).unwrap();
        let model = append_all(&mut log, &generated);
        log.sync();
        check_log(&log, &model, 0);
        drop(log);
        let log = Commitlog::open(fs, &log_dir, options.clone()).unwrap();
        check_log(&log, &model, 3);
        prop_assert!(log.segments().len() >= 2);
        for segment in log.segments() {
            prop_assert!(segment.path.starts_with(&log_dir));
        }
    }
}

#[test]
fn refused_commits_write_nothing_and_do_not_poison() {
    let fs = sim(2);
    let options = small(300);
    let mut log = open(&fs, &options).unwrap();
    log.append_commit(0, 5, &[b"a", b"b"]).unwrap();
    log.sync();
    let mutations = fs.stats().mutations;

    let refusals: Vec<(AppendError, &str)> = vec![
        (
            log.append_commit(3, 5, &[b"gap"]).unwrap_err(),
            "out-of-order commit: expected-offset=2 actual-offset=3",
        ),
        (
            log.append_commit(1, 5, &[b"repeat"]).unwrap_err(),
            "out-of-order commit: expected-offset=2 actual-offset=1",
        ),
        (
            log.append_commit(2, 4, &[b"old epoch"]).unwrap_err(),
            "epoch regression: offset=2 last-epoch=5 actual-epoch=4",
        ),
        (log.append_commit(2, 5, &[]).unwrap_err(), "empty commit: offset=2"),
        (
            log.append_commit(2, 5, &[&[7u8; 300]]).unwrap_err(),
            "commit too large: offset=2 size=330 size-max=284",
        ),
        (
            log.append_commit(2, 5, &vec![&b""[..]; TRANSACTIONS_PER_COMMIT_MAX + 1]).unwrap_err(),
            "too many transactions: offset=2 n=65536 n-max=65535",
        ),
    ];
    for (error, message) in refusals {
        assert_eq!(error.to_string(), message);
    }
    assert_eq!(fs.stats().mutations, mutations, "a refused commit writes nothing");
    assert!(!log.is_poisoned());
    assert_eq!(log.next_offset(), 2);

    // The largest commit that fits is taken (in a segment of its own).
    log.append_commit(2, 5, &[&[7u8; 254]]).unwrap();
    log.sync();
    assert_eq!(log.segments().len(), 2);
    drop(log);
    let log = open(&fs, &options).unwrap();
    assert_eq!(log.transactions_from(2).count(), 1);
}

#[test]
fn a_commit_that_fills_a_segment_exactly_does_not_rotate() {
    let fs = sim(2);
    let mut log = open(&fs, &small(300)).unwrap();
    log.append_commit(0, 0, &[b"a", b"b"]).unwrap();
    let filled = 300 - log.head_len(); // encoded size of the commit that fills it
    assert_eq!(log.head_len(), SEGMENT_HEADER_LEN as u64 + 36, "buffered bytes count");
    log.append_commit(2, 0, &[&vec![7u8; filled as usize - 30]]).unwrap();
    log.sync();
    assert_eq!(log.head_len(), 300);
    assert_eq!(log.segments().len(), 1, "exactly full is not over-full");
    assert_eq!(file_bytes(&fs, &log.segments()[0].path).len(), 300);
    log.append_commit(3, 0, &[b"c"]).unwrap();
    assert_eq!(log.segments().len(), 2, "one byte more rotates");
    assert_eq!(log.head_len(), SEGMENT_HEADER_LEN as u64 + 31);
}

#[test]
fn the_most_transactions_a_commit_holds_are_taken() {
    let fs = sim(2);
    let mut log = open(&fs, &Options::default()).unwrap();
    log.append_commit(0, 0, &vec![&b""[..]; TRANSACTIONS_PER_COMMIT_MAX]).unwrap();
    log.sync();
    assert_eq!(log.next_offset(), TRANSACTIONS_PER_COMMIT_MAX as u64);
    drop(log);
    let log = open(&fs, &Options::default()).unwrap();
    assert_eq!(log.transactions_from(0).count(), TRANSACTIONS_PER_COMMIT_MAX);
}

#[test]
fn segments_wholly_below_an_offset_are_removed_and_nothing_else() {
    let fs = sim(12);
    let options = small(150);
    let mut log = open(&fs, &options).unwrap();
    let commits = workload(12, 30, 4, 10);
    append_synced(&mut log, &commits);
    let starts: Vec<u64> = log.segments().iter().map(|s| s.min_tx_offset).collect();
    assert!(starts.len() >= 4, "{starts:?}");
    let ops = fs.stats().ops;
    assert_eq!(log.remove_segments_below(starts[1] - 1).unwrap(), 0);
    assert_eq!(fs.stats().ops, ops, "nothing to remove: nothing touched");
    assert_eq!(log.remove_segments_below(starts[2]).unwrap(), 2, "{starts:?}");
    assert_eq!(log.segments()[0].min_tx_offset, starts[2]);
    assert_eq!(log.remove_segments_below(starts[3] - 1).unwrap(), 0, "it still holds one");
    let sealed = log.segments().len() - 1;
    assert_eq!(log.remove_segments_below(u64::MAX).unwrap(), sealed, "never the head");
    assert_eq!(log.segments().len(), 1);
    let first = log.segments()[0].min_tx_offset;
    drop(log);
    let log = open(&fs, &options).unwrap();
    let expected: Vec<Commit> = commits.into_iter().filter(|c| c.min_tx_offset >= first).collect();
    let read: Vec<Commit> = log.commits_from(first).map(Result::unwrap).collect();
    assert_eq!(read, expected);
}

#[test]
fn durable_offset_moves_only_after_sync_returned() {
    let fs = sim(3);
    let mut log = open(&fs, &Options::default()).unwrap();
    assert_eq!((log.durable_offset(), log.flushed_offset(), log.last_offset()), (None, None, None));
    assert_eq!(log.next_offset(), 0);
    log.append_commit(0, 0, &[b"x", b"y"]).unwrap();
    assert_eq!(
        (log.durable_offset(), log.flushed_offset(), log.last_offset()),
        (None, None, Some(1))
    );
    log.flush();
    assert_eq!((log.durable_offset(), log.flushed_offset()), (None, Some(1)));
    let syncs = fs.stats().syncs;
    log.sync();
    assert_eq!(log.durable_offset(), Some(1));
    assert_eq!(fs.stats().syncs, syncs + 1);
    // Nothing new: no second sync.
    log.sync();
    assert_eq!(fs.stats().syncs, syncs + 1);
    assert_eq!(log.next_offset(), 2);
}

#[test]
fn an_empty_log_creates_no_segment_until_the_first_commit() {
    let fs = sim(4);
    let log = open(&fs, &Options::default()).unwrap();
    assert!(fs.list_dir(&log_dir()).unwrap().is_empty());
    assert!(log.segments().is_empty());
    assert_eq!(read_all(&log).unwrap(), vec![]);
    drop(log);

    let mut log = open(&fs, &Options::default()).unwrap();
    log.append_commit(0, 0, &[b"first"]).unwrap();
    let names: Vec<String> =
        fs.list_dir(&log_dir()).unwrap().into_iter().map(|entry| entry.name).collect();
    assert_eq!(names, vec!["00000000000000000000.log".to_owned()]);
    assert_eq!(segment_file_name(0), names[0]);
}

#[test]
fn open_creates_a_missing_log_directory_durably() {
    let fs = sim(5);
    let mut log = open(&fs, &Options::default()).unwrap();
    log.append_commit(0, 0, &[b"a"]).unwrap();
    log.sync();
    drop(log);
    fs.crash(faultline_sim::CrashMode::PowerLoss);
    let fs = fs.reopen();
    let log = open(&fs, &Options::default()).unwrap();
    assert_eq!(log.durable_offset(), Some(0));
    assert_eq!(read_all(&log).unwrap().len(), 1);
}

#[test]
fn a_log_directory_that_cannot_be_listed_is_an_error_naming_it() {
    let fs = sim(5);
    fs.create(&log_dir()).unwrap(); // a file where the directory should be
    let error = open(&fs, &Options::default()).unwrap_err();
    assert_eq!(error.to_string(), "io error: op=list-dir path=/db/log");
    let OpenError::Io { source, .. } = &error else { panic!("{error:?}") };
    assert_eq!(source.kind(), std::io::ErrorKind::NotADirectory);
}

#[test]
fn the_log_reports_its_options_and_shape() {
    let fs = sim(5);
    let options = small(200);
    let mut log = open(&fs, &options).unwrap();
    assert_eq!(log.options(), &options);
    for commit in &workload(5, 12, 3, 20) {
        append(&mut log, commit);
    }
    log.sync();
    let segments = log.segments().len();
    assert!(segments >= 2, "the workload rotates: {segments}");
    let debug = format!("{log:?}");
    let expected = format!(
        "Commitlog {{ dir: \"/db/log\", segments: {segments}, offset_next: {}, \
         offset_flushed: {:?}, offset_durable: {:?}, poison: None, .. }}",
        log.next_offset(),
        log.flushed_offset(),
        log.durable_offset()
    );
    assert_eq!(debug, expected);
}

#[test]
fn rotation_tells_the_hook_after_the_new_segment_is_durable() {
    let fs = sim(6);
    let mut log = open(&fs, &small(200)).unwrap();
    // What the hook heard, with the segment names it saw when it heard it.
    type Heard = Vec<(RotationInfo, Vec<String>)>;
    let heard: Arc<Mutex<Heard>> = Arc::default();
    let hook_fs = fs.clone();
    let hook_heard = Arc::clone(&heard);
    log.on_rotate(move |info| {
        let names = hook_fs.list_dir(&log_dir()).unwrap().into_iter().map(|e| e.name).collect();
        hook_heard.lock().unwrap().push((info, names));
    });
    let commits = workload(6, 12, 3, 20);
    for commit in &commits {
        append(&mut log, commit);
    }
    log.sync();
    let heard = heard.lock().unwrap();
    assert!(heard.len() >= 2, "{} rotations", heard.len());
    let segments = log.segments();
    assert_eq!(heard.len() + 1, segments.len());
    for (index, (info, names_then)) in heard.iter().enumerate() {
        assert_eq!(info.sealed_segment, segments[index].path);
        assert_eq!(info.sealed_min_tx_offset, segments[index].min_tx_offset);
        assert_eq!(info.new_segment, segments[index + 1].path);
        assert_eq!(info.new_min_tx_offset, segments[index + 1].min_tx_offset);
        assert_eq!(info.sealed_max_tx_offset + 1, info.new_min_tx_offset);
        assert!(names_then.contains(&segment_file_name(info.new_min_tx_offset)));
        // The sealed segment ends with the commit before the new offset.
        assert!(commits.iter().any(|c| c.tx_offsets().end == info.new_min_tx_offset));
    }
    drop(heard);
    assert_eq!(read_all(&log).unwrap(), commits);
}

#[test]
fn dropping_the_log_writes_nothing() {
    let fs = sim(7);
    let mut log = open(&fs, &Options::default()).unwrap();
    log.append_commit(0, 0, &[b"synced"]).unwrap();
    log.sync();
    log.append_commit(1, 0, &[b"buffered, never flushed"]).unwrap();
    let mutations = fs.stats().mutations;
    drop(log);
    assert_eq!(fs.stats().mutations, mutations, "drop must not write or flush");
    let log = open(&fs, &Options::default()).unwrap();
    assert_eq!(log.next_offset(), 1);
}

#[test]
fn reading_starts_anywhere_and_skips_segments_below() {
    let fs = sim(8);
    let mut log = open(&fs, &small(150)).unwrap();
    let commits = workload(8, 30, 4, 10);
    append_synced(&mut log, &commits);
    let end = log.next_offset();
    for from in 0..=end + 2 {
        let offsets: Vec<u64> =
            log.transactions_from(from).map(|tx| tx.unwrap().tx_offset).collect();
        assert_eq!(offsets, (from..end).collect::<Vec<_>>(), "from {from}");
    }
    // Commits wholly below `from` are verified and skipped: the first one
    // yielded holds `from`.
    for from in 0..end {
        let first = log.commits_from(from).next().unwrap().unwrap();
        let first_end = first.min_tx_offset + first.transactions.len() as u64;
        assert!(first.min_tx_offset <= from && from < first_end, "from {from}: {first:?}");
    }
    // Reading from the last segment opens no earlier segment.
    let opens_before = fs.stats().ops;
    let last = log.segments().last().unwrap().min_tx_offset;
    assert!(last > 0);
    let n = log.transactions_from(last).count();
    assert!(n > 0);
    let ops = fs.stats().ops - opens_before;
    assert!(ops <= 3, "one open, one read: {ops} ops");
}

#[test]
fn invalid_options_are_refused_at_open() {
    let fs = sim(9);
    let options = Options { max_segment_size: 10, ..Options::default() };
    let error = open(&fs, &options).unwrap_err();
    assert!(matches!(error, OpenError::Options(_)), "{error}");
    assert_eq!(
        error.to_string(),
        "max-segment-size out of range: max-segment-size=10 min=46 max=1073741824"
    );
}

#[test]
fn a_log_reopened_with_smaller_segments_rotates_at_once() {
    let fs = sim(10);
    let commits = workload(10, 10, 2, 30);
    let mut log = open(&fs, &small(4096)).unwrap();
    append_synced(&mut log, &commits);
    assert_eq!(log.segments().len(), 1);
    drop(log);
    let mut log = open(&fs, &small(200)).unwrap();
    let more = Commit {
        min_tx_offset: log.next_offset(),
        epoch: log.epoch(),
        transactions: vec![b"after".to_vec()],
    };
    append(&mut log, &more);
    log.sync();
    assert_eq!(log.segments().len(), 2);
    let mut model = commits;
    model.push(more);
    assert_eq!(read_all(&log).unwrap(), model);
}

#[test]
fn files_that_are_not_segments_are_left_alone_and_bad_segment_names_refused() {
    let fs = sim(11);
    let mut log = open(&fs, &Options::default()).unwrap();
    log.append_commit(0, 0, &[b"a"]).unwrap();
    log.sync();
    drop(log);
    fs.create(&log_dir().join("notes.txt")).unwrap();
    let log = open(&fs, &Options::default()).unwrap();
    assert_eq!(read_all(&log).unwrap().len(), 1);
    drop(log);
    fs.create(&log_dir().join("12.log")).unwrap();
    let error = open(&fs, &Options::default()).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("bad segment name: path={}", Path::new(LOG_DIR).join("12.log").display())
    );
}
