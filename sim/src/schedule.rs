//! Fault schedules: the fault and crash decisions of a run, recorded so that
//! the run can be replayed with exactly those decisions (and subsets of
//! them, which is how the shrinker works) instead of random draws.
//!
//! A decision is keyed by the index of the filesystem call it struck (the
//! simulated filesystem numbers every call from 1, across all incarnations)
//! or, for a crash at a simulated time, by that time and the incarnation
//! whose timer it was. Text form, comma
//! separated: `c12:write-error`, `c12:short-write=17`, `c12:no-space`,
//! `c30:fsync-error`, `c30:lying-fsync`, `c9:read-bit-flip=40.3` (byte 40 of
//! the read, bit 3), `c14:misdirected-write=-1024` (landed 1024 bytes
//! before), `c77:power-loss`, `c77:power-loss+torn`, `c80:process-crash`,
//! `t1500000@2:power-loss` (at 1.5 ms of simulated time, by the timer of
//! incarnation 2).

use std::fmt;
use std::str::FromStr;

use crate::fault::FaultClass;
use crate::fs::CrashMode;

/// A fault to inject at a filesystem call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PinnedFault {
    /// A write fails with EIO, nothing written.
    WriteError,
    /// A write writes `written` bytes, then fails with EIO.
    ShortWrite {
        /// Bytes of the buffer written.
        written: u64,
    },
    /// A growing write or `set_len` fails with ENOSPC.
    NoSpace,
    /// A sync fails (file data: the dirty data is dropped).
    FsyncError,
    /// A sync returns `Ok` and persists nothing.
    LyingFsync,
    /// A read returns a flipped bit, which stays bad until rewritten.
    ReadBitFlip {
        /// The byte's distance from the start of the read.
        delta: u64,
        /// Which bit.
        bit: u8,
    },
    /// A write lands `shift` bytes away from where it was asked to.
    MisdirectedWrite {
        /// The distance, negative for before.
        shift: i64,
    },
}

impl PinnedFault {
    /// Its fault class.
    pub fn class(self) -> FaultClass {
        match self {
            PinnedFault::WriteError => FaultClass::WriteError,
            PinnedFault::ShortWrite { .. } => FaultClass::ShortWrite,
            PinnedFault::NoSpace => FaultClass::NoSpace,
            PinnedFault::FsyncError => FaultClass::FsyncError,
            PinnedFault::LyingFsync => FaultClass::LyingFsync,
            PinnedFault::ReadBitFlip { .. } => FaultClass::ReadBitFlip,
            PinnedFault::MisdirectedWrite { .. } => FaultClass::MisdirectedWrite,
        }
    }
}

impl fmt::Display for PinnedFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.class().name())?;
        match self {
            PinnedFault::ShortWrite { written } => write!(f, "={written}"),
            PinnedFault::ReadBitFlip { delta, bit } => write!(f, "={delta}.{bit}"),
            PinnedFault::MisdirectedWrite { shift } => write!(f, "={shift:+}"),
            _ => Ok(()),
        }
    }
}

/// When a crash strikes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CrashTrigger {
    /// Instead of the filesystem call with this index.
    Call(u64),
    /// At a simulated time, by a timer armed in one incarnation.
    Time {
        /// Nanoseconds since the run started.
        ns: u64,
        /// The incarnation whose timer it was (0-based): a replay arms it
        /// there and nowhere else, so that no stale timer wakes the
        /// scheduler where the recorded run had none.
        incarnation: u32,
    },
}

/// One decision of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Decision {
    /// A fault at a filesystem call.
    Fault {
        /// The call's index (1-based, across incarnations).
        call: u64,
        /// The fault.
        fault: PinnedFault,
    },
    /// A crash.
    Crash {
        /// When.
        trigger: CrashTrigger,
        /// Power loss or process crash.
        mode: CrashMode,
        /// Whether writes persisted at this power loss may be torn.
        torn: bool,
    },
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Decision::Fault { call, fault } => write!(f, "c{call}:{fault}"),
            Decision::Crash { trigger, mode, torn } => {
                match trigger {
                    CrashTrigger::Call(call) => write!(f, "c{call}:")?,
                    CrashTrigger::Time { ns, incarnation } => write!(f, "t{ns}@{incarnation}:")?,
                }
                f.write_str(mode.name())?;
                if *torn { f.write_str("+torn") } else { Ok(()) }
            }
        }
    }
}

/// The decisions of one run, in the order they were made.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Schedule {
    /// The decisions.
    pub decisions: Vec<Decision>,
}

impl Schedule {
    /// How many decisions.
    pub fn len(&self) -> usize {
        self.decisions.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.decisions.is_empty()
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.decisions.is_empty() {
            return f.write_str("none");
        }
        let parts: Vec<String> = self.decisions.iter().map(ToString::to_string).collect();
        f.write_str(&parts.join(","))
    }
}

impl FromStr for Schedule {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.is_empty() || text == "none" {
            return Ok(Schedule::default());
        }
        let decisions =
            text.split(',').map(|part| parse_decision(part.trim())).collect::<Result<_, _>>()?;
        Ok(Schedule { decisions })
    }
}

fn parse_decision(text: &str) -> Result<Decision, String> {
    let bad = |why: &str| format!("bad schedule entry {text:?}: {why}");
    let (at, what) = text.split_once(':').ok_or_else(|| bad("expected `c<call>:` or `t<ns>:`"))?;
    let number = |digits: &str| digits.parse::<u64>().map_err(|_| bad("not a number"));
    let (name, arg) = match what.split_once('=') {
        Some((name, arg)) => (name, Some(arg)),
        None => (what, None),
    };
    let crash = |mode, torn| -> Result<Decision, String> {
        let trigger = match at.as_bytes().first() {
            Some(b'c') => CrashTrigger::Call(number(&at[1..])?),
            Some(b't') => {
                let (ns, incarnation) = at[1..]
                    .split_once('@')
                    .ok_or_else(|| bad("a timed crash is `t<ns>@<incarnation>:`"))?;
                let incarnation =
                    u32::try_from(number(incarnation)?).map_err(|_| bad("incarnation"))?;
                CrashTrigger::Time { ns: number(ns)?, incarnation }
            }
            _ => return Err(bad("expected `c<call>:` or `t<ns>:`")),
        };
        Ok(Decision::Crash { trigger, mode, torn })
    };
    match name {
        "power-loss" => return crash(CrashMode::PowerLoss, false),
        "power-loss+torn" => return crash(CrashMode::PowerLoss, true),
        "process-crash" => return crash(CrashMode::ProcessCrash, false),
        _ => {}
    }
    let call = at.strip_prefix('c').ok_or_else(|| bad("faults are keyed by call: `c<call>:`"))?;
    let call = number(call)?;
    let arg = |what: &str| arg.ok_or_else(|| bad(&format!("{name} needs ={what}")));
    let fault = match name {
        "write-error" => PinnedFault::WriteError,
        "short-write" => PinnedFault::ShortWrite { written: number(arg("bytes")?)? },
        "no-space" => PinnedFault::NoSpace,
        "fsync-error" => PinnedFault::FsyncError,
        "lying-fsync" => PinnedFault::LyingFsync,
        "read-bit-flip" => {
            let (delta, bit) = arg("byte.bit")?.split_once('.').ok_or_else(|| bad("byte.bit"))?;
            let bit =
                bit.parse::<u8>().ok().filter(|b| *b < 8).ok_or_else(|| bad("bit in 0..8"))?;
            PinnedFault::ReadBitFlip { delta: number(delta)?, bit }
        }
        "misdirected-write" => PinnedFault::MisdirectedWrite {
            shift: arg("shift")?.parse::<i64>().map_err(|_| bad("shift is a signed number"))?,
        },
        _ => return Err(bad("unknown fault")),
    };
    Ok(Decision::Fault { call, fault })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_round_trip_through_text() {
        let text = "c12:write-error,c13:short-write=17,c14:no-space,c30:fsync-error,\
                    c31:lying-fsync,c9:read-bit-flip=40.3,c15:misdirected-write=-1024,\
                    c16:misdirected-write=+512,c77:power-loss+torn,c80:process-crash,\
                    t1500000@2:power-loss";
        let schedule: Schedule = text.parse().unwrap();
        assert_eq!(schedule.len(), 11);
        assert_eq!(schedule.to_string(), text);
        assert_eq!("none".parse::<Schedule>().unwrap(), Schedule::default());
        assert_eq!(Schedule::default().to_string(), "none");
    }

    #[test]
    fn bad_entries_are_refused_with_a_reason() {
        for bad in [
            "x",
            "c1:frobnicate",
            "t5@0:write-error",
            "t5:power-loss",
            "c1:read-bit-flip=3.9",
            "cx:no-space",
        ] {
            let error = bad.parse::<Schedule>().unwrap_err();
            assert!(error.starts_with("bad schedule entry"), "{bad}: {error}");
        }
    }
}
