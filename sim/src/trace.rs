//! A stable hash of everything a run did, for determinism checks.
//!
//! FNV-1a over a canonical byte encoding: unlike `std`'s `DefaultHasher`, its
//! output is fixed by definition, so a trace hash recorded in a golden file
//! stays valid across Rust releases and machines.

/// An incremental FNV-1a (64-bit) hash of trace records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceHasher {
    state: u64,
}

const FNV_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

impl Default for TraceHasher {
    fn default() -> Self {
        TraceHasher { state: FNV_OFFSET_BASIS }
    }
}

impl TraceHasher {
    /// Mixes raw bytes into the hash.
    pub fn bytes(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.state ^= u64::from(byte);
            self.state = self.state.wrapping_mul(FNV_PRIME);
        }
    }

    /// Mixes a `u64` (little-endian) into the hash.
    pub fn u64(&mut self, value: u64) {
        self.bytes(&value.to_le_bytes());
    }

    /// Mixes a length-prefixed string into the hash, so that `("ab", "c")`
    /// and `("a", "bc")` hash differently.
    pub fn str(&mut self, text: &str) {
        self.u64(text.len() as u64);
        self.bytes(text.as_bytes());
    }

    /// The hash so far.
    pub fn finish(&self) -> u64 {
        self.state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_published_fnv1a_vectors() {
        let hash = |text: &str| {
            let mut hasher = TraceHasher::default();
            hasher.bytes(text.as_bytes());
            hasher.finish()
        };
        assert_eq!(hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(hash("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(hash("foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn strings_are_length_prefixed() {
        let hash = |parts: &[&str]| {
            let mut hasher = TraceHasher::default();
            parts.iter().for_each(|part| hasher.str(part));
            hasher.finish()
        };
        assert_ne!(hash(&["ab", "c"]), hash(&["a", "bc"]));
    }
}
