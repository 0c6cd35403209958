//! Seeds and the deterministic random streams derived from them.
//!
//! One `u64` seed drives a whole run. Each concern draws from its own ChaCha
//! stream (same key, different nonce), so turning a fault class off, or
//! drawing one more random number for the workload, never shifts the numbers
//! another concern sees.

use std::fmt;
use std::num::ParseIntError;
use std::str::FromStr;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The random number generator every simulated component draws from.
pub type SimRng = ChaCha8Rng;

/// The seed of one simulation run. Shown and parsed as hex (`0x…`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Seed(pub u64);

/// The independent concerns of a run, each with its own random stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u32)]
pub enum Stream {
    /// What the clients do: transactions, sizes, keys.
    Workload = 1,
    /// Whether and how each fault class fires (one sub-stream per class).
    Faults = 2,
    /// Task scheduling and simulated latencies.
    Scheduling = 3,
    /// Where crashes are placed.
    CrashPoints = 4,
    /// What survives a power loss: which pending writes and entry operations.
    PowerLoss = 5,
    /// The swarm draw of which fault classes are on, and how often they fire.
    FaultMix = 6,
    /// Which filesystem profile a plan that does not choose one runs on.
    FsProfile = 7,
}

impl Seed {
    /// The random stream for `stream`.
    pub fn rng(self, stream: Stream) -> SimRng {
        self.sub_rng(stream, 0)
    }

    /// The `index`-th independent sub-stream of `stream` (for example one per
    /// fault class).
    pub fn sub_rng(self, stream: Stream, index: u32) -> SimRng {
        let mut rng = ChaCha8Rng::seed_from_u64(self.0);
        rng.set_stream((u64::from(stream as u32) << 32) | u64::from(index));
        rng
    }
}

impl fmt::Display for Seed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#018x}", self.0)
    }
}

impl FromStr for Seed {
    type Err = ParseIntError;

    /// Parses `0x…` as hex, anything else as decimal.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
            Some(hex) => u64::from_str_radix(&hex.replace('_', ""), 16).map(Seed),
            None => text.replace('_', "").parse().map(Seed),
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::RngExt;

    use super::*;

    #[test]
    fn seed_parses_hex_and_decimal_and_round_trips_display() {
        assert_eq!("0x2a".parse::<Seed>().unwrap(), Seed(42));
        assert_eq!("42".parse::<Seed>().unwrap(), Seed(42));
        assert_eq!(Seed(42).to_string(), "0x000000000000002a");
        assert_eq!(Seed(42).to_string().parse::<Seed>().unwrap(), Seed(42));
        assert!("0xzz".parse::<Seed>().is_err());
    }

    #[test]
    fn streams_are_reproducible_and_independent() {
        let draw = |seed: Seed, stream| -> Vec<u64> {
            let mut rng = seed.rng(stream);
            (0..8).map(|_| rng.random()).collect()
        };
        assert_eq!(draw(Seed(7), Stream::Workload), draw(Seed(7), Stream::Workload));
        assert_ne!(draw(Seed(7), Stream::Workload), draw(Seed(7), Stream::Faults));
        assert_ne!(draw(Seed(7), Stream::Workload), draw(Seed(8), Stream::Workload));
        let mut a = Seed(7).sub_rng(Stream::Faults, 0);
        let mut b = Seed(7).sub_rng(Stream::Faults, 1);
        assert_ne!(a.random::<u64>(), b.random::<u64>());
    }

    #[test]
    fn a_known_seed_gives_known_numbers_on_any_machine() {
        // Pinned so that a dependency upgrade that changes the streams shows
        // up here rather than as a mysterious change of every golden trace.
        let mut rng = Seed(0xfa017).rng(Stream::Workload);
        let first: u64 = rng.random();
        let mut again = Seed(0xfa017).rng(Stream::Workload);
        assert_eq!(first, again.random::<u64>());
        assert_eq!(first, KNOWN_FIRST_DRAW);
    }

    const KNOWN_FIRST_DRAW: u64 = 6_937_992_779_353_758_123;
}
