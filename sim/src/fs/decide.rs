//! The decider: the one place that answers "what happens to this call?"
//! for every filesystem call, and "does the machine go down, and how?" for
//! every crash, from a drawn configuration or a pinned schedule alike.
//!
//! - **Drawn**: each fault class draws from its own random stream (so that
//!   switching one class off never shifts another's decisions); crash
//!   points and crash timers come from the plan the harness arms.
//! - **Pinned**: the answers are looked up in a [`Schedule`] by call index
//!   (or, for timers, by incarnation and deadline); nothing is drawn.
//!
//! Either way the answer is a [`Verdict`] that the disk applies with the
//! same code, and every decision is recorded in the same form, so a
//! recorded schedule replayed pinned makes the same calls fail in the same
//! way, and its record is the schedule it was given. What a power loss
//! keeps (which pending writes survive, which tear and how) and how a
//! process goes down after a failure are not decisions of a schedule: they
//! are drawn from their own streams in both modes, so they repeat whenever
//! the run before them repeats.

use std::collections::BTreeMap;

use rand::RngExt;

use crate::fault::{FILE_LEN_MAX, FaultClass, FaultConfig, SECTOR_SIZE};
use crate::schedule::{CrashTrigger, Decision, PinnedFault, Schedule};
use crate::seed::{Seed, SimRng, Stream};
use crate::site::{Focus, Site, Strike};

use super::{CrashMode, Op};

/// What the disk knows of a call when it asks for a verdict.
#[derive(Clone, Copy, Debug)]
pub(super) struct CallFacts {
    /// The call's index (1-based, every call since the disk was made).
    pub(super) call: u64,
    /// The mutation count including this call, if it is a mutation.
    pub(super) mutation: Option<u64>,
    /// The operation.
    pub(super) op: Op,
    /// Where the engine made it.
    pub(super) site: Site,
    /// The byte offset (or new length for `set_len`).
    pub(super) offset: u64,
    /// The bytes asked for (writes) or that the read returns (reads).
    pub(super) len: u64,
    /// Whether the call would grow the disk past its quota.
    pub(super) over_quota: bool,
    /// Whether a fault may strike it (not: metadata calls, calls that fail
    /// anyway). A crash may strike any call.
    pub(super) faultable: bool,
}

/// What happens to a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// It is served as asked.
    Proceed,
    /// The machine goes down instead of serving it.
    Crash {
        /// How.
        mode: CrashMode,
        /// Whether writes that persist at this power loss may tear.
        torn: bool,
    },
    /// It is served with this fault.
    Fault(PinnedFault),
}

/// A crash the plan arms on a timer, drawn mode.
#[derive(Clone, Copy, Debug)]
struct ArmedTimer {
    deadline_ns: u64,
    mode: CrashMode,
}

/// Where the answers come from.
#[derive(Debug)]
enum Source {
    Drawn {
        /// One stream per fault class.
        rngs: Vec<SimRng>,
        /// The plan's crash point: the mutation count it strikes at.
        crash_point: Option<(u64, CrashMode)>,
        /// The plan's crash timers, by incarnation.
        timers: BTreeMap<u32, ArmedTimer>,
    },
    Pinned {
        faults: BTreeMap<u64, PinnedFault>,
        crashes: BTreeMap<u64, (CrashMode, bool)>,
        /// Timed crashes: (incarnation, deadline) -> (mode, torn).
        timers: BTreeMap<(u32, u64), (CrashMode, bool)>,
        /// The plan's timers, armed as in a drawn run: they wake the
        /// harness at the same times (so its tasks are scheduled alike),
        /// but only the schedule says whether a crash strikes.
        wake_points: BTreeMap<u32, u64>,
    },
}

/// The decider (see the module documentation).
#[derive(Debug)]
pub(super) struct Decider {
    pub(super) config: FaultConfig,
    source: Source,
    /// Whether faults fire at all (the harness gives recovery a fault-free
    /// run). Crashes are not faults: they strike either way.
    pub(super) enabled: bool,
    /// Which writes tear at a power loss and how (both modes).
    pub(super) torn_rng: SimRng,
    /// Which pending operations survive a power loss (both modes).
    pub(super) survivors_rng: SimRng,
    /// How a process goes down after a failure (both modes).
    consequence_rng: SimRng,
    /// Every decision made, in order.
    recorded: Vec<Decision>,
    /// A strike aimed at a site (drawn mode), until it struck.
    focus: Option<AimedFocus>,
}

/// A focus and how far it got.
#[derive(Debug)]
struct AimedFocus {
    focus: Focus,
    /// Calls made at its site so far.
    seen: u64,
    /// A torn write's power loss, due at the next call.
    crash_next: bool,
}

impl Decider {
    /// Decisions drawn from `config`, on `seed`'s streams.
    pub(super) fn drawn(seed: Seed, config: FaultConfig) -> Self {
        config.assert_valid();
        let rngs = (0..FaultClass::ALL.len() as u32)
            .map(|class| seed.sub_rng(Stream::Faults, class))
            .collect();
        let source = Source::Drawn { rngs, crash_point: None, timers: BTreeMap::new() };
        Decider::new(seed, config, source)
    }

    /// Decisions pinned by `schedule`; `config` says only how power losses
    /// tear (its torn-write rate and fill).
    pub(super) fn pinned(seed: Seed, config: FaultConfig, schedule: &Schedule) -> Self {
        config.assert_valid();
        let (mut faults, mut crashes, mut timers) =
            (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
        for decision in &schedule.decisions {
            match *decision {
                Decision::Fault { call, fault } => {
                    faults.insert(call, fault);
                }
                Decision::Crash { trigger: CrashTrigger::Call(call), mode, torn } => {
                    crashes.insert(call, (mode, torn));
                }
                Decision::Crash { trigger: CrashTrigger::Time { ns, incarnation }, mode, torn } => {
                    timers.insert((incarnation, ns), (mode, torn));
                }
            }
        }
        let wake_points = BTreeMap::new();
        Decider::new(seed, config, Source::Pinned { faults, crashes, timers, wake_points })
    }

    fn new(seed: Seed, config: FaultConfig, source: Source) -> Self {
        Decider {
            source,
            enabled: true,
            torn_rng: seed.sub_rng(Stream::Faults, FaultClass::TornWrite.index() as u32),
            survivors_rng: seed.rng(Stream::PowerLoss),
            consequence_rng: seed.sub_rng(Stream::CrashPoints, 1),
            recorded: Vec::new(),
            focus: None,
            config,
        }
    }

    /// Aims `focus` at its site (drawn mode only: a pinned run's schedule
    /// holds what a focus made strike).
    pub(super) fn set_focus(&mut self, focus: Option<Focus>) {
        if !self.is_pinned() {
            self.focus = focus.map(|focus| AimedFocus { focus, seen: 0, crash_next: false });
        }
    }

    /// The focus's verdict on a call, if it strikes it.
    fn focused(&mut self, facts: &CallFacts) -> Option<Verdict> {
        let aimed = self.focus.as_mut()?;
        if aimed.crash_next {
            self.focus = None;
            return Some(Verdict::Crash { mode: CrashMode::PowerLoss, torn: true });
        }
        if facts.site != aimed.focus.site {
            return None;
        }
        aimed.seen += 1;
        if aimed.seen != aimed.focus.nth {
            return None;
        }
        let verdict = match aimed.focus.strike {
            Strike::Crash(mode) => Verdict::Crash { mode, torn: tears_at(&self.config, mode) },
            Strike::Fault(FaultClass::TornWrite) => {
                aimed.crash_next = true;
                return None;
            }
            Strike::Fault(_) if !(self.enabled && facts.faultable) => return None,
            Strike::Fault(class) => Verdict::Fault(fit(aimed_fault(class, facts)?, facts)?),
        };
        self.focus = None;
        Some(verdict)
    }

    /// Whether the answers are pinned.
    pub(super) fn is_pinned(&self) -> bool {
        matches!(self.source, Source::Pinned { .. })
    }

    /// Every decision made so far.
    pub(super) fn recorded(&self) -> &[Decision] {
        &self.recorded
    }

    /// The pinned decisions that have not been used (yet).
    pub(super) fn unused(&self) -> Vec<Decision> {
        let Source::Pinned { faults, crashes, timers, .. } = &self.source else {
            return Vec::new();
        };
        let mut unused: Vec<Decision> = faults
            .iter()
            .map(|(&call, &fault)| Decision::Fault { call, fault })
            .chain(crashes.iter().map(|(&call, &(mode, torn))| Decision::Crash {
                trigger: CrashTrigger::Call(call),
                mode,
                torn,
            }))
            .chain(timers.iter().map(|(&(incarnation, ns), &(mode, torn))| Decision::Crash {
                trigger: CrashTrigger::Time { ns, incarnation },
                mode,
                torn,
            }))
            .collect();
        unused.sort_by_key(decision_key);
        unused
    }

    /// Whether a drawn crash in `mode` may tear writes: a power loss, if
    /// the configuration tears at all (a process crash persists nothing).
    fn tears_at(&self, mode: CrashMode) -> bool {
        tears_at(&self.config, mode)
    }

    /// Whether a power loss that is not a decision (the harness's final
    /// one, one after a poisoned write) may tear writes.
    pub(super) fn tears_by_default(&self) -> bool {
        self.config.torn_write > 0.0
    }

    /// The verdict on a call. The one function every call asks.
    pub(super) fn decide(&mut self, facts: &CallFacts) -> Verdict {
        let focused = self.focused(facts);
        let verdict = match &mut self.source {
            _ if focused.is_some() => focused.expect("checked"),
            Source::Drawn { rngs, crash_point, .. } => {
                if let (Some(mutation), Some((at, mode))) = (facts.mutation, *crash_point)
                    && mutation == at
                {
                    *crash_point = None;
                    Verdict::Crash { mode, torn: self.tears_at(mode) }
                } else if self.enabled && facts.faultable {
                    draw_fault(&self.config, rngs, facts).map_or(Verdict::Proceed, Verdict::Fault)
                } else {
                    Verdict::Proceed
                }
            }
            Source::Pinned { faults, crashes, .. } => {
                if let Some((mode, torn)) = crashes.remove(&facts.call) {
                    Verdict::Crash { mode, torn }
                } else if self.enabled
                    && facts.faultable
                    && let Some(fault) = faults.get(&facts.call).copied()
                    && let Some(fault) = fit(fault, facts)
                {
                    faults.remove(&facts.call);
                    Verdict::Fault(fault)
                } else {
                    Verdict::Proceed
                }
            }
        };
        match verdict {
            Verdict::Proceed => {}
            Verdict::Crash { mode, torn } => self.recorded.push(Decision::Crash {
                trigger: CrashTrigger::Call(facts.call),
                mode,
                torn,
            }),
            Verdict::Fault(fault) => {
                self.recorded.push(Decision::Fault { call: facts.call, fault });
            }
        }
        verdict
    }

    /// Arms the plan's crash before mutation number `mutation` (drawn mode;
    /// a pinned schedule says where its crashes strike).
    pub(super) fn arm_crash_point(&mut self, mutation: u64, mode: CrashMode) {
        if let Source::Drawn { crash_point, .. } = &mut self.source {
            *crash_point = Some((mutation, mode));
        }
    }

    /// Removes a crash point that has not struck.
    pub(super) fn disarm_crash_point(&mut self) {
        if let Source::Drawn { crash_point, .. } = &mut self.source {
            *crash_point = None;
        }
    }

    /// Arms the plan's crash timer of `incarnation`: in a drawn run it
    /// crashes there; in a pinned one it only wakes the harness there.
    pub(super) fn arm_timer(&mut self, incarnation: u32, deadline_ns: u64, mode: CrashMode) {
        match &mut self.source {
            Source::Drawn { timers, .. } => {
                timers.insert(incarnation, ArmedTimer { deadline_ns, mode });
            }
            Source::Pinned { wake_points, .. } => {
                wake_points.insert(incarnation, deadline_ns);
            }
        }
    }

    /// The deadline of the next crash timer of `incarnation` at or after
    /// `now_ns`, if any.
    pub(super) fn timer_deadline(&self, incarnation: u32, now_ns: u64) -> Option<u64> {
        match &self.source {
            Source::Drawn { timers, .. } => timers
                .get(&incarnation)
                .map(|timer| timer.deadline_ns)
                .filter(|deadline| *deadline >= now_ns),
            Source::Pinned { timers, wake_points, .. } => {
                let scheduled = timers
                    .range((incarnation, now_ns)..=(incarnation, u64::MAX))
                    .next()
                    .map(|((_, ns), _)| *ns);
                let woken = wake_points.get(&incarnation).copied().filter(|d| *d >= now_ns);
                scheduled.into_iter().chain(woken).min()
            }
        }
    }

    /// The verdict on a crash timer of `incarnation` going off at
    /// `deadline_ns`: how the machine goes down, if it does.
    pub(super) fn timer_fired(
        &mut self,
        incarnation: u32,
        deadline_ns: u64,
    ) -> Option<(CrashMode, bool)> {
        let fired = match &mut self.source {
            Source::Drawn { timers, .. } => {
                let timer = timers.get(&incarnation).copied()?;
                if timer.deadline_ns != deadline_ns {
                    return None;
                }
                timers.remove(&incarnation);
                (timer.mode, tears_at(&self.config, timer.mode))
            }
            Source::Pinned { timers, wake_points, .. } => {
                if wake_points.get(&incarnation) == Some(&deadline_ns) {
                    wake_points.remove(&incarnation);
                }
                timers.remove(&(incarnation, deadline_ns))?
            }
        };
        let (mode, torn) = fired;
        let trigger = CrashTrigger::Time { ns: deadline_ns, incarnation };
        self.recorded.push(Decision::Crash { trigger, mode, torn });
        Some(fired)
    }

    /// How a process goes down after a failure (a poisoned write, an open
    /// that failed on a fault): a power loss with `power_loss_probability`,
    /// else a process crash. Drawn in both modes: a consequence, not a
    /// decision.
    pub(super) fn consequence_mode(&mut self, power_loss_probability: f64) -> CrashMode {
        assert!((0.0..=1.0).contains(&power_loss_probability), "a probability");
        if self.consequence_rng.random_bool(power_loss_probability) {
            CrashMode::PowerLoss
        } else {
            CrashMode::ProcessCrash
        }
    }

    /// Whether a write that persists at a power loss that may tear does
    /// tear (drawn from the torn-write stream in both modes).
    pub(super) fn tears(&mut self) -> bool {
        let rate = self.config.torn_write;
        rate > 0.0 && self.torn_rng.random_bool(rate)
    }
}

fn tears_at(config: &FaultConfig, mode: CrashMode) -> bool {
    mode == CrashMode::PowerLoss && config.torn_write > 0.0
}

/// Orders decisions by when they strike (calls by index, timers after).
fn decision_key(decision: &Decision) -> (u64, u64) {
    match decision {
        Decision::Fault { call, .. } => (*call, 0),
        Decision::Crash { trigger: CrashTrigger::Call(call), .. } => (*call, 0),
        Decision::Crash { trigger: CrashTrigger::Time { ns, .. }, .. } => (u64::MAX, *ns),
    }
}

/// Draws the fault for a call, if any. Every class the call can suffer
/// draws from its own stream before any of them acts, so that one class
/// firing never shifts another's decisions.
fn draw_fault(config: &FaultConfig, rngs: &mut [SimRng], facts: &CallFacts) -> Option<PinnedFault> {
    let mut draws = |class: FaultClass| {
        let probability = config.probability(class);
        probability > 0.0 && rngs[class.index()].random_bool(probability)
    };
    match facts.op {
        Op::Write => {
            let no_space = facts.over_quota;
            let write_error = draws(FaultClass::WriteError);
            let short = draws(FaultClass::ShortWrite) && facts.len > 0;
            let misdirected = draws(FaultClass::MisdirectedWrite);
            let written =
                short.then(|| rngs[FaultClass::ShortWrite.index()].random_range(0..facts.len));
            let shift = misdirected
                .then(|| misdirection(&mut rngs[FaultClass::MisdirectedWrite.index()], facts))
                .flatten();
            if no_space {
                Some(PinnedFault::NoSpace)
            } else if write_error {
                Some(PinnedFault::WriteError)
            } else if let Some(written) = written {
                Some(PinnedFault::ShortWrite { written })
            } else {
                shift.map(|shift| PinnedFault::MisdirectedWrite { shift })
            }
        }
        Op::SetLen => facts.over_quota.then_some(PinnedFault::NoSpace),
        Op::SyncData | Op::SyncDir => {
            let failed = draws(FaultClass::FsyncError);
            let lied = draws(FaultClass::LyingFsync);
            if failed {
                Some(PinnedFault::FsyncError)
            } else {
                lied.then_some(PinnedFault::LyingFsync)
            }
        }
        Op::Read if facts.len > 0 && draws(FaultClass::ReadBitFlip) => {
            let rng = &mut rngs[FaultClass::ReadBitFlip.index()];
            let delta = rng.random_range(0..facts.len);
            let bit = rng.random_range(0..8u8);
            Some(PinnedFault::ReadBitFlip { delta, bit })
        }
        _ => None,
    }
}

/// The fault of `class` a focus gives a call: a short write of half the
/// buffer, a misdirection by one sector, a flip of the first bit read.
fn aimed_fault(class: FaultClass, facts: &CallFacts) -> Option<PinnedFault> {
    Some(match class {
        FaultClass::WriteError => PinnedFault::WriteError,
        FaultClass::ShortWrite => PinnedFault::ShortWrite { written: facts.len / 2 },
        FaultClass::NoSpace => PinnedFault::NoSpace,
        FaultClass::FsyncError => PinnedFault::FsyncError,
        FaultClass::LyingFsync => PinnedFault::LyingFsync,
        FaultClass::ReadBitFlip => PinnedFault::ReadBitFlip { delta: 0, bit: 0 },
        FaultClass::MisdirectedWrite => {
            let shift = SECTOR_SIZE as i64;
            PinnedFault::MisdirectedWrite {
                shift: if facts.offset >= SECTOR_SIZE { -shift } else { shift },
            }
        }
        FaultClass::TornWrite => return None,
    })
}

/// Where a misdirected write lands: 1 to 8 sectors before or after where it
/// was asked to, never before 0 nor past the largest file.
fn misdirection(rng: &mut SimRng, facts: &CallFacts) -> Option<i64> {
    let delta = rng.random_range(1..=8u64) * SECTOR_SIZE;
    let backward = rng.random_bool(0.5);
    let before = facts.offset.checked_sub(delta).map(|_| -(delta as i64));
    let after = facts
        .offset
        .checked_add(delta)
        .filter(|at| at.saturating_add(facts.len) <= FILE_LEN_MAX)
        .map(|_| delta as i64);
    if backward { before.or(after) } else { after.or(before) }
}

/// The pinned fault as it applies to this call, or `None` if it cannot
/// (another kind of operation; a short write of an empty buffer; a
/// misdirection off the file; a bit flip past what the read returns).
fn fit(fault: PinnedFault, facts: &CallFacts) -> Option<PinnedFault> {
    let fits = match (fault, facts.op) {
        (PinnedFault::WriteError, Op::Write) => true,
        (PinnedFault::NoSpace, Op::Write | Op::SetLen) => true,
        (PinnedFault::ShortWrite { .. }, Op::Write) => facts.len > 0,
        (PinnedFault::MisdirectedWrite { shift }, Op::Write) => facts
            .offset
            .checked_add_signed(shift)
            .is_some_and(|at| shift != 0 && at.saturating_add(facts.len) <= FILE_LEN_MAX),
        (PinnedFault::FsyncError | PinnedFault::LyingFsync, Op::SyncData | Op::SyncDir) => true,
        (PinnedFault::ReadBitFlip { delta, bit }, Op::Read) => delta < facts.len && bit < 8,
        _ => false,
    };
    let fault = match fault {
        PinnedFault::ShortWrite { written } => {
            PinnedFault::ShortWrite { written: written.min(facts.len.saturating_sub(1)) }
        }
        other => other,
    };
    fits.then_some(fault)
}
