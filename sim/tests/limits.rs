//! SimFs at the limits of its arithmetic: zero-length writes, writes and
//! truncates whose end lies at or past the largest file or near
//! `u64::MAX`, and power losses that tear whatever is pending. No call
//! panics or allocates past the limit: an out-of-range write or truncate
//! fails with `FileTooLarge` and changes nothing; everything else behaves
//! as usual, including at a power loss that tears every write.

use std::io::ErrorKind;
use std::path::Path;

use faultline_engine::fs::Fs;
use faultline_sim::{CrashMode, FILE_LEN_MAX, FaultClass, FaultConfig, Seed, SimFs};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum LimitOp {
    Write { offset: u64, len: u64 },
    SetLen(u64),
    Sync,
}

/// Offsets and lengths near every edge: zero, small, around the largest
/// file, and around `u64::MAX`.
fn edge() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        0..2048u64,
        (FILE_LEN_MAX - 600)..=(FILE_LEN_MAX + 600),
        (u64::MAX - 600)..=u64::MAX,
    ]
}

fn limit_op() -> impl Strategy<Value = LimitOp> {
    prop_oneof![
        // Lengths stay small (the buffer is real memory); offsets roam.
        (edge(), prop_oneof![Just(0u64), 1..1100u64])
            .prop_map(|(offset, len)| LimitOp::Write { offset, len }),
        edge().prop_map(LimitOp::SetLen),
        Just(LimitOp::Sync),
    ]
}

/// The file length the model expects after `op`, or `None` if the call
/// must be refused as too large.
fn expected_len(len_before: u64, op: &LimitOp) -> Option<u64> {
    match *op {
        LimitOp::Write { offset, len } => {
            let end = offset.checked_add(len).filter(|end| *end <= FILE_LEN_MAX)?;
            // A zero-length write changes nothing, even past the end.
            Some(if len == 0 { len_before } else { len_before.max(end) })
        }
        LimitOp::SetLen(len) => (len <= FILE_LEN_MAX).then_some(len),
        LimitOp::Sync => Some(len_before),
    }
}

/// Whether `op` lies within the largest file but would make this test hold
/// more than a MiB of real memory: skipped, the limit itself is what is
/// tested.
fn allowed_but_huge(op: &LimitOp) -> bool {
    let end = match *op {
        LimitOp::Write { offset, len } if len > 0 => offset.checked_add(len),
        LimitOp::SetLen(len) => Some(len),
        _ => None,
    };
    end.is_some_and(|end| end > 1 << 20 && end <= FILE_LEN_MAX)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn edge_writes_and_truncates_never_panic_and_refuse_what_is_too_large(
        ops in prop::collection::vec(limit_op(), 1..24),
        seed in any::<u64>(),
    ) {
        // Tear every write that persists, so that zero-length and edge
        // writes reach the torn-write path at the power loss.
        let config = FaultConfig::none().with(FaultClass::TornWrite, 1.0);
        let fs = SimFs::new(Seed(seed), config);
        let file = fs.create(Path::new("/f")).unwrap();
        fs.sync_dir(Path::new("/")).unwrap();
        let mut len = 0u64;
        for op in ops.iter().filter(|op| !allowed_but_huge(op)) {
            let result = match *op {
                LimitOp::Write { offset, len } => file.write_at(&vec![0xA5; len as usize], offset),
                LimitOp::SetLen(to) => file.set_len(to),
                LimitOp::Sync => file.sync_data(),
            };
            match expected_len(len, op) {
                Some(after) => {
                    prop_assert!(result.is_ok(), "{op:?}: {result:?}");
                    len = after;
                }
                None => {
                    let error = result.expect_err("past the largest file");
                    prop_assert_eq!(error.kind(), ErrorKind::FileTooLarge, "{:?}: {}", op, error);
                    prop_assert!(error.to_string().contains("/f"), "the error names the file: {}", error);
                }
            }
            prop_assert_eq!(file.len().unwrap(), len, "{:?}", op);
        }
        fs.crash(CrashMode::PowerLoss);
        let fs = fs.reopen();
        let after = fs.open(Path::new("/f")).unwrap();
        let after_len = after.len().unwrap();
        prop_assert!(after_len <= 1 << 20, "a power loss never grows a file past what was written");
        let mut buf = vec![0; after_len as usize];
        after.read_exact_at(&mut buf, 0).unwrap();
    }
}

#[test]
fn a_zero_length_write_pending_at_a_torn_power_loss_persists_as_nothing() {
    // The overflow that killed long sweeps: a power loss tore a pending
    // zero-length write, whose last sector was computed as `end - 1` with
    // `end == 0`.
    for seed in 0..32 {
        let config = FaultConfig::none().with(FaultClass::TornWrite, 1.0);
        let fs = SimFs::new(Seed(seed), config);
        let file = fs.create(Path::new("/f")).unwrap();
        file.write_at(b"durable", 0).unwrap();
        file.sync_data().unwrap();
        fs.sync_dir(Path::new("/")).unwrap();
        file.write_at(&[], 0).unwrap();
        file.write_at(&[], 7).unwrap();
        file.write_at(&[], 4096).unwrap();
        fs.crash(CrashMode::PowerLoss);
        let fs = fs.reopen();
        let bytes = fs.open(Path::new("/f")).unwrap().read_to_end().unwrap();
        assert_eq!(bytes.len(), 7, "seed={seed}: a zero-length write never grows a file");
        assert_eq!(bytes, b"durable", "seed={seed}");
    }
}

#[test]
fn reads_at_the_end_of_the_offset_space_return_nothing() {
    let fs = SimFs::new(Seed(3), FaultConfig::none());
    let file = fs.create(Path::new("/f")).unwrap();
    file.write_at(b"abc", 0).unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(file.read_at(&mut buf, u64::MAX).unwrap(), 0);
    assert_eq!(file.read_at(&mut buf, u64::MAX - 3).unwrap(), 0);
    assert_eq!(file.read_at(&mut buf, 1).unwrap(), 2);
}
