//! Fault sites: where in the engine a filesystem call was made. A site is
//! the engine's phase stack when the call began
//! ([`faultline_engine::fs::phase`]) plus the call's operation, written
//! `durability.write/rotation.new-segment:sync-dir`. Every call, fault,
//! crash and torn write carries its site, so that a sweep can count which
//! fault struck where, and a plan can aim a fault at a site.

use std::fmt;
use std::str::FromStr;

use faultline_engine::fs::{Phase, PhaseStack};

use crate::fault::FaultClass;
use crate::fs::{CrashMode, Op};

/// Where a call was made: the engine's phases and the operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Site {
    /// The phases the engine was in, outermost first (empty: outside every
    /// phase, or a crash between calls).
    pub phases: PhaseStack,
    /// The operation.
    pub op: Op,
}

impl Site {
    /// The site of a call of `op` made now, on this thread.
    pub fn here(op: Op) -> Site {
        Site { phases: faultline_engine::fs::phase::current(), op }
    }

    /// A site outside every phase.
    pub fn bare(op: Op) -> Site {
        Site { phases: PhaseStack::default(), op }
    }

    /// Whether `phase` is one of the site's phases.
    pub fn within(&self, phase: Phase) -> bool {
        self.phases.contains(phase)
    }
}

impl fmt::Display for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.phases, self.op.name())
    }
}

impl FromStr for Site {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = |why: String| format!("bad site {text:?}: {why}");
        let (phases, op) = text.rsplit_once(':').ok_or_else(|| {
            bad("expected `phase/phase:op`, e.g. durability.sync:sync-data".into())
        })?;
        let op = Op::ALL
            .into_iter()
            .find(|o| o.name() == op)
            .ok_or_else(|| bad(format!("unknown operation {op:?}")))?;
        let phases: Vec<Phase> = if phases == "-" {
            Vec::new()
        } else {
            phases
                .split('/')
                .map(|name| {
                    Phase::from_name(name).ok_or_else(|| bad(format!("unknown phase {name:?}")))
                })
                .collect::<Result<_, _>>()?
        };
        if phases.len() > faultline_engine::fs::phase::DEPTH_MAX {
            return Err(bad("too many phases".into()));
        }
        Ok(Site { phases: PhaseStack::of(&phases), op })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sites_round_trip_through_text() {
        for text in ["durability.write/rotation.new-segment:sync-dir", "-:crash", "open.log:read"] {
            let site: Site = text.parse().unwrap();
            assert_eq!(site.to_string(), text);
        }
        for bad in ["x", "durability.nope:write", "durability.sync:frob"] {
            assert!(bad.parse::<Site>().unwrap_err().starts_with("bad site"), "{bad}");
        }
        let focus: Focus = "durability.sync:sync-data=fsync-error#2".parse().unwrap();
        assert_eq!(focus.to_string(), "durability.sync:sync-data=fsync-error#2");
        assert_eq!("durability.sync:sync-data=power-loss".parse::<Focus>().unwrap().nth, 1);
        for bad in ["durability.sync:sync-data=write-error", "open.log:read=fsync-error#0"] {
            assert!(bad.parse::<Focus>().unwrap_err().starts_with("bad focus"), "{bad}");
        }
    }
}

/// What can strike a call: a fault of a class, or a crash in a mode. With
/// a [`Site`], the unit fault-site coverage counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Strike {
    /// A fault of this class (a torn write: of a write at this site, at a
    /// power loss).
    Fault(FaultClass),
    /// The machine went down instead of this call.
    Crash(CrashMode),
}

impl Strike {
    /// Every strike, in a fixed order.
    pub fn all() -> impl Iterator<Item = Strike> {
        FaultClass::ALL
            .into_iter()
            .map(Strike::Fault)
            .chain([CrashMode::PowerLoss, CrashMode::ProcessCrash].into_iter().map(Strike::Crash))
    }

    /// A short, stable name: the fault class's or the crash mode's.
    pub fn name(self) -> &'static str {
        match self {
            Strike::Fault(class) => class.name(),
            Strike::Crash(mode) => mode.name(),
        }
    }

    /// Whether it can strike a call of `op` at all (crashes strike
    /// mutations: the crash-point clock counts only those).
    pub fn applies_to(self, op: Op) -> bool {
        match self {
            Strike::Fault(
                FaultClass::WriteError
                | FaultClass::ShortWrite
                | FaultClass::MisdirectedWrite
                | FaultClass::TornWrite,
            ) => op == Op::Write,
            Strike::Fault(FaultClass::NoSpace) => matches!(op, Op::Write | Op::SetLen),
            Strike::Fault(FaultClass::FsyncError | FaultClass::LyingFsync) => {
                matches!(op, Op::SyncData | Op::SyncDir)
            }
            Strike::Fault(FaultClass::ReadBitFlip) => op == Op::Read,
            Strike::Crash(_) => op.is_mutation(),
        }
    }
}

impl fmt::Display for Strike {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Strike {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Strike::all()
            .find(|strike| strike.name() == text)
            .ok_or_else(|| format!("unknown fault class or crash mode {text:?}"))
    }
}

/// A strike aimed at a site (directed search): the `nth` call made at
/// `site` (1-based, counted from the start of the run) gets `strike`; a
/// torn write is a power loss, tearing, right after that call (a write).
/// Written `site=strike#nth`, e.g.
/// `durability.write/rotation.new-segment:sync-dir=fsync-error#1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Focus {
    /// Where.
    pub site: Site,
    /// What.
    pub strike: Strike,
    /// At which call of the site.
    pub nth: u64,
}

impl fmt::Display for Focus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}#{}", self.site, self.strike, self.nth)
    }
}

impl FromStr for Focus {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = |why: String| format!("bad focus {text:?}: {why}");
        let (site, rest) = text.split_once('=').ok_or_else(|| {
            bad("expected `site=strike#nth`, e.g. durability.sync:sync-data=fsync-error#1".into())
        })?;
        let (strike, nth) = rest.split_once('#').unwrap_or((rest, "1"));
        let site: Site = site.parse().map_err(bad)?;
        let strike: Strike = strike.parse().map_err(bad)?;
        let nth: u64 = nth
            .parse()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| bad("nth is a number >= 1".into()))?;
        if !strike.applies_to(site.op) {
            return Err(bad(format!("{strike} cannot strike a {} call", site.op.name())));
        }
        Ok(Focus { site, strike, nth })
    }
}
