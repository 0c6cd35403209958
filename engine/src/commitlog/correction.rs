//! Single-bit error correction for a commit whose checksum fails.
//!
//! Why: at open, a commit at the end of the last segment that fails its
//! checksum looks like a torn write and would be cut. But a bit flipped on
//! the medium (a latent sector error) in a commit that was synced and
//! acknowledged looks the same, and cutting it would silently drop an
//! acknowledged transaction. A torn write loses whole sectors (old bytes,
//! zeros, garbage): hundreds of bits, practically never one. So a commit
//! that one flipped bit makes valid again is repaired, not cut.
//!
//! How: CRC32C is linear. Flipping bit `b` of byte `i` of a body of `L`
//! bytes changes the CRC by a syndrome that depends only on `b` and on the
//! `L - 1 - i` bytes after it: the CRC register of that single byte pushed
//! through that many zero bytes. Walking back from the last byte finds the
//! position whose syndrome equals `computed ^ stored` in O(8 L). A syndrome
//! with a single bit set means the flip is in the stored checksum itself. A
//! flip in the length field moves the checksum: each of its 32 bits is
//! tried as such.
//!
//! CRC32C detects every error of up to 3 bits in messages far longer than a
//! segment (Hamming distance 4), so a one-bit fix is unique; a multi-bit
//! error cannot be mistaken for a one-bit one of the same commit without
//! also matching the stored checksum of a different, decodable commit.

use super::commit::{CHECKSUM_LEN, COMMIT_HEADER_LEN, COMMIT_LEN_MIN, decode_commit};

/// The reflected Castagnoli polynomial, as the `crc32c` crate uses it.
const POLY: u32 = 0x82F6_3B78;
/// Where the commit header's `len` field lies: after min_tx_offset, epoch, n.
const LEN_FIELD: std::ops::Range<usize> = 18..22;

const _: () = assert!(LEN_FIELD.end == COMMIT_HEADER_LEN);

/// The CRC register after one byte `v` from a zero register.
const fn table_entry(v: u32) -> u32 {
    let mut crc = v;
    let mut bit = 0;
    while bit < 8 {
        crc = if crc & 1 == 1 { (crc >> 1) ^ POLY } else { crc >> 1 };
        bit += 1;
    }
    crc
}

const TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut v = 0;
    while v < 256 {
        table[v] = table_entry(v as u32);
        v += 1;
    }
    table
};

/// The register pushed through one zero byte.
fn zero_byte(crc: u32) -> u32 {
    (crc >> 8) ^ TABLE[(crc & 0xff) as usize]
}

/// The position (byte, bit) whose flip changes the CRC of a `len`-byte body
/// by `syndrome`, if there is one.
fn flipped_bit(syndrome: u32, len: usize) -> Option<(usize, u8)> {
    let mut registers: [u32; 8] = std::array::from_fn(|bit| TABLE[1 << bit]);
    for from_end in 0..len {
        if let Some(bit) = registers.iter().position(|r| *r == syndrome) {
            return Some((len - 1 - from_end, bit as u8));
        }
        registers.iter_mut().for_each(|r| *r = zero_byte(*r));
    }
    None
}

/// If one flipped bit explains why the commit at the start of `rest` fails
/// to decode, returns the repaired commit's bytes and the byte offset (in
/// `rest`) of the bit that was flipped back. The repaired commit decodes.
pub(crate) fn correct_single_bit(rest: &[u8]) -> Option<(Vec<u8>, usize)> {
    if rest.len() < COMMIT_LEN_MIN {
        return None; // not even one whole commit: nothing to repair
    }
    let stored_len = u32::from_le_bytes(rest[LEN_FIELD].try_into().expect("4 bytes"));
    // The length as stored, then each one-bit variant of it.
    let lengths = std::iter::once((stored_len, None))
        .chain((0..32).map(|bit| (stored_len ^ (1 << bit), Some(LEN_FIELD.start + bit / 8))));
    for (len, len_flip) in lengths {
        let body_len = COMMIT_HEADER_LEN + len as usize;
        let Some(stored) = rest.get(body_len..body_len + CHECKSUM_LEN) else { continue };
        let stored = u32::from_le_bytes(stored.try_into().expect("4 bytes"));
        let mut commit = rest[..body_len + CHECKSUM_LEN].to_vec();
        commit[LEN_FIELD].copy_from_slice(&len.to_le_bytes());
        let computed = crc32c::crc32c(&commit[..body_len]);
        let position = match (len_flip, computed ^ stored) {
            (Some(at), 0) => Some(at), // the flip was in the length field
            (Some(_), _) => None,
            (None, 0) => return None, // the checksum holds: not a bit flip
            (None, syndrome) if syndrome.count_ones() == 1 => {
                let at = body_len + syndrome.trailing_zeros() as usize / 8;
                commit[at] ^= 1 << (syndrome.trailing_zeros() % 8);
                Some(at)
            }
            (None, syndrome) => flipped_bit(syndrome, body_len).map(|(at, bit)| {
                commit[at] ^= 1 << bit;
                at
            }),
        };
        if let Some(at) = position
            && decode_commit(&commit).is_ok()
        {
            return Some((commit, at));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::commit::{Commit, decode_commit};
    use super::*;

    fn encoded(transactions: Vec<Vec<u8>>) -> Vec<u8> {
        let mut bytes = Vec::new();
        Commit { min_tx_offset: 40, epoch: 3, transactions }.encode(&mut bytes);
        bytes
    }

    #[test]
    fn the_table_matches_the_crc32c_crate() {
        // A single byte from the standard initial register, the standard way.
        for v in 0..=255u8 {
            let crate_crc = crc32c::crc32c(&[v]);
            let ours =
                !(0xFFFF_FFFFu32 >> 8 ^ TABLE[((0xFFFF_FFFFu32 ^ u32::from(v)) & 0xff) as usize]);
            assert_eq!(ours, crate_crc, "byte {v}");
        }
    }

    #[test]
    fn every_single_bit_flip_of_a_commit_is_corrected_to_the_original() {
        let smallest = encoded(vec![Vec::new()]);
        assert_eq!(smallest.len(), COMMIT_LEN_MIN);
        every_single_bit_flip_is_corrected(&smallest);
        every_single_bit_flip_is_corrected(&encoded(vec![
            b"first".to_vec(),
            vec![0; 300],
            b"third".to_vec(),
        ]));
    }

    fn every_single_bit_flip_is_corrected(original: &[u8]) {
        for index in 0..original.len() {
            for bit in 0..8 {
                let mut flipped = original.to_vec();
                flipped[index] ^= 1 << bit;
                if decode_commit(&flipped).is_ok() {
                    continue; // a flip that still decodes is not ours to fix
                }
                let (fixed, at) = correct_single_bit(&flipped)
                    .unwrap_or_else(|| panic!("byte {index} bit {bit} not corrected"));
                assert_eq!(fixed, original, "byte {index} bit {bit}");
                assert_eq!(at, index);
            }
        }
    }

    #[test]
    fn a_torn_sector_is_not_mistaken_for_a_bit_flip() {
        let original = encoded(vec![vec![0xA5; 700]]);
        for fill in [0x00u8, 0xFF, 0x5A] {
            let mut torn = original.clone();
            torn[512..].iter_mut().for_each(|b| *b = fill);
            assert_eq!(correct_single_bit(&torn), None, "fill {fill:#x}");
        }
        assert_eq!(correct_single_bit(&original), None, "a valid commit needs no fix");
        assert_eq!(correct_single_bit(&original[..10]), None);
    }

    proptest! {
        #[test]
        fn random_commits_and_flips_are_corrected(
            transactions in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 1..5),
            pick: prop::sample::Index,
            bit in 0..8u8,
        ) {
            let original = encoded(transactions);
            let index = pick.index(original.len());
            let mut flipped = original.clone();
            flipped[index] ^= 1 << bit;
            prop_assume!(decode_commit(&flipped).is_err());
            let (fixed, _) = correct_single_bit(&flipped).expect("a one-bit error is corrected");
            prop_assert_eq!(fixed, original);
        }

        #[test]
        fn two_bit_errors_are_never_miscorrected(
            transactions in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 1..4),
            a: prop::sample::Index,
            b: prop::sample::Index,
            bits in (0..8u8, 0..8u8),
        ) {
            let original = encoded(transactions);
            let (i, j) = (a.index(original.len()), b.index(original.len()));
            prop_assume!(i != j);
            let mut damaged = original.clone();
            damaged[i] ^= 1 << bits.0;
            damaged[j] ^= 1 << bits.1;
            if let Some((fixed, _)) = correct_single_bit(&damaged) {
                // Only acceptable if one of the flips was in the length field
                // and the repair found the original commit anyway.
                prop_assert_eq!(fixed, original);
            }
        }
    }
}
