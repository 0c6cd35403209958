//! What a run reached: fault-site coverage and must-reach situations.
//!
//! Every filesystem call carries its site (the engine's phases and the
//! operation, [`Site`]); every fault, crash and torn write carries the site
//! of the call it struck. A run counts the calls made at each site and the
//! strikes at each (site, fault class or crash mode) pair; a sweep adds
//! them up, prints which pairs it reached and which it never did, and its
//! directed mode aims plans at the pairs still unreached ([`Focus`]).
//!
//! A scenario also declares **situations** it must reach (Antithesis's
//! "sometimes" assertions, [`Situation`]): a power loss inside a rotation,
//! a crash between a commit's write and its sync, a torn write of a
//! commit, an fsync error at a directory sync followed by a power loss
//! before that directory was synced again. `ci/nightly.sh` fails, naming
//! the situation, if a sweep never reached one.
//!
//! Coverage is bookkeeping, not judgement: it reads the filesystem's log
//! after the judge, and nothing it counts can fail a run.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use faultline_engine::fs::Phase;
use faultline_sim::{
    CallOutcome, CrashMode, FaultClass, Focus, FsRecord, Happening, Op, Site, Strike,
};

/// Where a durability step stands between its parts when a crash strikes
/// on a timer (between calls, so the crash has no site of its own).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Gap {
    /// No durability step between its parts.
    Idle,
    /// A commit written, not yet synced.
    WrittenNotSynced,
    /// A commit synced, not yet acknowledged.
    SyncedNotPublished,
}

impl Gap {
    /// Every gap.
    pub const ALL: [Gap; 3] = [Gap::Idle, Gap::WrittenNotSynced, Gap::SyncedNotPublished];

    /// A short, stable name.
    pub fn name(self) -> &'static str {
        match self {
            Gap::Idle => "idle",
            Gap::WrittenNotSynced => "between durability.write and durability.sync",
            Gap::SyncedNotPublished => "between durability.sync and the acknowledgement",
        }
    }
}

/// A situation a scenario must reach in a sweep. Each is a general
/// pattern over the run's sites, not one call of one seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Situation {
    /// A crash (of `mode`, or any) struck a call (of `op`, or any) made
    /// within one of `within`.
    Crash {
        /// The phases.
        within: &'static [Phase],
        /// The operation, if one.
        op: Option<Op>,
        /// The crash mode, if one.
        mode: Option<CrashMode>,
    },
    /// A crash struck a durability step after its commit was written and
    /// before its sync returned: instead of the sync, or on a timer while
    /// the step waited for the device.
    CrashBetweenWriteAndSync,
    /// A power loss tore a write made within `within`.
    TornWrite {
        /// The phases.
        within: &'static [Phase],
    },
    /// A fault of `class` struck a call within `within`.
    Fault {
        /// The phases.
        within: &'static [Phase],
        /// The class.
        class: FaultClass,
    },
    /// A directory sync within `within` failed, and the power went out
    /// before that directory was synced successfully again.
    DirSyncErrorThenPowerLoss {
        /// The phases.
        within: &'static [Phase],
    },
}

fn phases_text(phases: &[Phase]) -> String {
    let names: Vec<&str> = phases.iter().map(|p| p.name()).collect();
    names.join("|")
}

impl fmt::Display for Situation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Situation::Crash { within, op, mode } => {
                write!(f, "{} in {}", mode.map_or("crash", CrashMode::name), phases_text(within))?;
                match op {
                    Some(op) => write!(f, " at {}", op.name()),
                    None => Ok(()),
                }
            }
            Situation::CrashBetweenWriteAndSync => {
                f.write_str("crash between a commit's write and its sync")
            }
            Situation::TornWrite { within } => write!(f, "torn write of {}", phases_text(within)),
            Situation::Fault { within, class } => {
                write!(f, "{} in {}", class.name(), phases_text(within))
            }
            Situation::DirSyncErrorThenPowerLoss { within } => write!(
                f,
                "fsync-error at {} sync-dir, then power-loss before that directory is synced",
                phases_text(within)
            ),
        }
    }
}

fn within(site: &Site, phases: &[Phase]) -> bool {
    phases.iter().any(|phase| site.within(*phase))
}

/// One thing that happened, as situations are matched against it.
enum Moment<'a> {
    Crash { site: Option<&'a Site>, gap: Gap, mode: CrashMode },
    Fault { site: &'a Site, class: FaultClass },
    DirLostAtPowerLoss { site: &'a Site },
}

impl Situation {
    fn matches(&self, moment: &Moment<'_>) -> bool {
        match (self, moment) {
            (
                Situation::Crash { within: phases, op, mode },
                Moment::Crash { site, mode: m, .. },
            ) => site.is_some_and(|site| {
                within(site, phases)
                    && op.is_none_or(|op| site.op == op)
                    && mode.is_none_or(|mode| mode == *m)
            }),
            (Situation::CrashBetweenWriteAndSync, Moment::Crash { site, gap, .. }) => {
                *gap == Gap::WrittenNotSynced
                    || site.is_some_and(|s| s.within(Phase::DurabilitySync) && s.op == Op::SyncData)
            }
            (Situation::TornWrite { within: phases }, Moment::Fault { site, class }) => {
                *class == FaultClass::TornWrite && within(site, phases)
            }
            (Situation::Fault { within: phases, class }, Moment::Fault { site, class: c }) => {
                class == c && within(site, phases)
            }
            (
                Situation::DirSyncErrorThenPowerLoss { within: phases },
                Moment::DirLostAtPowerLoss { site },
            ) => within(site, phases),
            _ => false,
        }
    }
}

/// The situations every scenario that crashes and faults should reach;
/// a scenario picks what applies to it.
pub mod situations {
    use super::{Phase, Situation};
    use faultline_sim::{CrashMode, FaultClass, Op};

    /// A power loss inside a rotation (sealing the full segment or
    /// creating the next).
    pub const POWER_LOSS_IN_ROTATION: Situation = Situation::Crash {
        within: &[Phase::RotationSeal, Phase::RotationCreate],
        op: None,
        mode: Some(CrashMode::PowerLoss),
    };
    /// A crash between a commit's write and its sync.
    pub const CRASH_BETWEEN_WRITE_AND_SYNC: Situation = Situation::CrashBetweenWriteAndSync;
    /// A torn write of a commit (the last one: only unsynced writes tear).
    pub const TORN_COMMIT: Situation = Situation::TornWrite { within: &[Phase::DurabilityWrite] };
    /// An fsync error at the log directory's sync after a segment was
    /// created, then a power loss before it was synced again.
    pub const SEGMENT_DIR_SYNC_LOST: Situation = Situation::DirSyncErrorThenPowerLoss {
        within: &[Phase::RotationCreate, Phase::FirstSegment],
    };
    /// The same at a snapshot's staging-directory sync.
    pub const SNAPSHOT_TMP_DIR_SYNC_LOST: Situation =
        Situation::DirSyncErrorThenPowerLoss { within: &[Phase::SnapshotWrite] };
    /// The same at the snapshots directory's sync after the rename.
    pub const SNAPSHOT_PARENT_DIR_SYNC_LOST: Situation =
        Situation::DirSyncErrorThenPowerLoss { within: &[Phase::SnapshotPublish] };
    /// A crash between a snapshot's rename and its parent-directory sync.
    pub const CRASH_BETWEEN_RENAME_AND_PARENT_SYNC: Situation =
        Situation::Crash { within: &[Phase::SnapshotPublish], op: Some(Op::SyncDir), mode: None };
    /// A crash while log segments below the oldest snapshot are removed.
    pub const CRASH_DURING_SEGMENT_REMOVAL: Situation =
        Situation::Crash { within: &[Phase::Retention], op: None, mode: None };
    /// A crash while the open rewrites the last segment.
    pub const CRASH_DURING_OPEN_REWRITE: Situation =
        Situation::Crash { within: &[Phase::OpenRewrite], op: None, mode: None };
    /// A write error while a commit is written.
    pub const WRITE_ERROR_IN_COMMIT: Situation =
        Situation::Fault { within: &[Phase::DurabilityWrite], class: FaultClass::WriteError };
}

/// What one run, or a sweep, reached.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Calls made at each site.
    pub calls: BTreeMap<Site, u64>,
    /// Strikes at each (site, strike) pair; crashes on a timer are at the
    /// site `-:crash`.
    pub struck: BTreeMap<(Site, Strike), u64>,
    /// Crashes on a timer, by where the durability step stood.
    pub timed_crashes: BTreeMap<(Gap, CrashMode), u64>,
    /// The strikes the plans could draw (their classes on), crashes always.
    pub in_play: BTreeSet<Strike>,
    /// Declared situations, by name: how often each was reached.
    pub situations: BTreeMap<String, u64>,
}

impl Coverage {
    /// Adds `other` to these counts.
    pub fn add(&mut self, other: &Coverage) {
        for (site, n) in &other.calls {
            *self.calls.entry(*site).or_default() += n;
        }
        for (pair, n) in &other.struck {
            *self.struck.entry(*pair).or_default() += n;
        }
        for (key, n) in &other.timed_crashes {
            *self.timed_crashes.entry(*key).or_default() += n;
        }
        self.in_play.extend(&other.in_play);
        for (name, n) in &other.situations {
            *self.situations.entry(name.clone()).or_default() += n;
        }
    }

    /// Every (site, strike) pair that could have been reached: each site
    /// called, with each strike in play that applies to its operation.
    pub fn universe(&self) -> Vec<(Site, Strike)> {
        self.calls
            .keys()
            .flat_map(|site| {
                self.in_play.iter().filter(|s| s.applies_to(site.op)).map(move |s| (*site, *s))
            })
            .collect()
    }

    /// How often `pair` was struck.
    pub fn hits(&self, pair: &(Site, Strike)) -> u64 {
        self.struck.get(pair).copied().unwrap_or(0)
    }

    /// The pairs of the universe never struck.
    pub fn unreached(&self) -> Vec<(Site, Strike)> {
        self.universe().into_iter().filter(|pair| self.hits(pair) == 0).collect()
    }

    /// (reached, universe) pair counts.
    pub fn reached_of(&self) -> (usize, usize) {
        let universe = self.universe();
        let reached = universe.iter().filter(|pair| self.hits(pair) > 0).count();
        (reached, universe.len())
    }
}

/// Counts one run's coverage from the filesystem's log.
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    coverage: Coverage,
    declared: Vec<(Situation, String)>,
    /// Directories whose sync failed, by path, with the failed call's site,
    /// until a sync of theirs succeeds.
    dirs_unsynced: BTreeMap<String, Site>,
}

impl Recorder {
    /// A recorder for a run whose plan draws `in_play` and whose scenario
    /// declares `declared`.
    pub(crate) fn new(in_play: BTreeSet<Strike>, declared: &[Situation]) -> Self {
        let declared = declared.iter().map(|s| (*s, s.to_string())).collect();
        Recorder {
            coverage: Coverage { in_play, ..Coverage::default() },
            declared,
            dirs_unsynced: BTreeMap::new(),
        }
    }

    /// Counts one record; `gap`: where the durability step stands.
    pub(crate) fn observe(&mut self, record: &FsRecord, gap: Gap) {
        match record {
            FsRecord::Call(call) => {
                *self.coverage.calls.entry(call.site).or_default() += 1;
                if call.op == Op::SyncDir && call.outcome == CallOutcome::Ok {
                    self.dirs_unsynced.remove(&call.path);
                }
            }
            FsRecord::Event(event) => match &event.happening {
                Happening::Fault(fault) => {
                    let class = fault.class();
                    self.strike(event.site, Strike::Fault(class));
                    if class == FaultClass::FsyncError && event.op == Op::SyncDir {
                        self.dirs_unsynced.insert(event.path.clone(), event.site);
                    }
                    self.reached(&Moment::Fault { site: &event.site, class });
                }
                Happening::PowerLoss(_) | Happening::ProcessCrash => {
                    let mode = if matches!(event.happening, Happening::PowerLoss(_)) {
                        CrashMode::PowerLoss
                    } else {
                        CrashMode::ProcessCrash
                    };
                    self.strike(event.site, Strike::Crash(mode));
                    let on_a_call = event.site.op != Op::Crash;
                    if !on_a_call {
                        *self.coverage.timed_crashes.entry((gap, mode)).or_default() += 1;
                    }
                    let site = on_a_call.then_some(&event.site);
                    self.reached(&Moment::Crash { site, gap, mode });
                    if mode == CrashMode::PowerLoss {
                        let lost = std::mem::take(&mut self.dirs_unsynced);
                        for site in lost.values() {
                            self.reached(&Moment::DirLostAtPowerLoss { site });
                        }
                    }
                }
                Happening::Damage { .. } | Happening::ErrorReported { .. } => {}
            },
        }
    }

    fn strike(&mut self, site: Site, strike: Strike) {
        *self.coverage.struck.entry((site, strike)).or_default() += 1;
    }

    fn reached(&mut self, moment: &Moment<'_>) {
        for (situation, name) in &self.declared {
            if situation.matches(moment) {
                *self.coverage.situations.entry(name.clone()).or_default() += 1;
            }
        }
    }

    /// The coverage counted, every declared situation listed (reached or
    /// not).
    pub(crate) fn finish(mut self) -> Coverage {
        for (_, name) in &self.declared {
            self.coverage.situations.entry(name.clone()).or_default();
        }
        self.coverage
    }
}

/// The strikes a plan with `config` can draw: its fault classes that are
/// on, and both crash modes.
pub(crate) fn in_play(config: &faultline_sim::FaultConfig) -> BTreeSet<Strike> {
    FaultClass::ALL
        .into_iter()
        .filter(|class| config.is_on(*class))
        .map(Strike::Fault)
        .chain([Strike::Crash(CrashMode::PowerLoss), Strike::Crash(CrashMode::ProcessCrash)])
        .collect()
}

/// The strikes directed search aims at: every class but a lying fsync
/// (which voids durability: only scenarios that ask for it get it), and
/// both crash modes.
pub fn aimable() -> BTreeSet<Strike> {
    Strike::all().filter(|s| *s != Strike::Fault(FaultClass::LyingFsync)).collect()
}

/// A focus on an unreached pair of `coverage`, chosen by `pick` (a random
/// number), or `None` if every pair was reached. The universe is widened
/// to every aimable strike: a pair no plan draws is what a focus is for.
pub fn choose_focus(coverage: &Coverage, pick: u64) -> Option<Focus> {
    let widened = Coverage { in_play: aimable(), ..coverage.clone() };
    let unreached = widened.unreached();
    if unreached.is_empty() {
        return None;
    }
    let (site, strike) = unreached[(pick % unreached.len() as u64) as usize];
    Some(Focus { site, strike, nth: 1 + (pick >> 32) % 3 })
}
