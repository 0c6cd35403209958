//! The tap: a thin [`Fs`] layer between the engine and the simulated
//! filesystem that numbers every call, and
//!
//! - **records** the fault and crash decisions the filesystem made (from
//!   [`SimFs::events`]) as a [`Schedule`], keyed by call index;
//! - or **injects** a pinned schedule instead of random draws: write
//!   errors, short writes, ENOSPC and misdirected writes are made here with
//!   the recorded details; sync errors and lying syncs by switching the
//!   class on in the `SimFs` for exactly that call (so its Linux semantics
//!   apply); latent bit flips are kept here and applied to every read until
//!   the sector is rewritten; crashes through [`SimFs::crash`];
//! - tells the runner what it needs to judge a run: which failed calls the
//!   engine saw (poisoned writes), whether a fault damaged durable bytes or
//!   voided durability, and a budget on calls (a hang).
//!
//! The tap never decides anything itself: the filesystem injects, the
//! model judges.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;

use faultline_engine::fs::{DirEntry, File, Fs};
use faultline_sim::{
    CrashMode, Fault, FaultClass, FaultConfig, FaultCounts, FsEvent, Happening, SECTOR_SIZE, SimFs,
};
use parking_lot::Mutex;

use crate::panics::BUDGET_MARKER;
use crate::schedule::{CrashTrigger, Decision, PinnedFault, Schedule};

/// What the tap knows, shared by every incarnation of a run.
#[derive(Debug, Default)]
pub(crate) struct TapState {
    /// Calls so far (the index of the last one).
    pub(crate) calls: u64,
    /// The call budget: one more call is a hang.
    pub(crate) calls_max: u64,
    /// Calls that returned an error.
    pub(crate) errors: u64,
    /// The index of the last call that returned an error.
    pub(crate) last_error_call: u64,
    /// Whether a fault damaged bytes that may have been durable.
    pub(crate) damaged: bool,
    /// Whether a fault voided the durability promise.
    pub(crate) voided: bool,
    /// Faults that fired, by class.
    pub(crate) counts: FaultCounts,
    /// Crashes seen (from any trigger).
    pub(crate) crashes: u64,
    /// The decisions made, in order (record mode).
    pub(crate) recorded: Vec<Decision>,
    /// Whether the filesystem may tear writes at a crash (record mode): a
    /// recorded crash says so, so that its replay draws from the same
    /// torn-write stream whether or not a write happened to tear.
    torn_on: bool,
    /// Trace lines not yet taken by the runner.
    pub(crate) pending_trace: Vec<String>,
    /// The schedule to inject instead of random draws.
    pinned: Option<Pinned>,
    /// `SimFs` events already looked at.
    seen_events: usize,
    /// Faults plus crashes the `SimFs` had counted when last looked at.
    seen_marks: u64,
}

/// A pinned schedule, by call index.
#[derive(Debug, Default)]
struct Pinned {
    faults: BTreeMap<u64, PinnedFault>,
    crashes: BTreeMap<u64, (CrashMode, bool)>,
    /// The configuration used at a torn crash (torn-write rate and fill).
    torn: FaultConfig,
    /// Latent bit flips: path -> byte -> xor mask.
    latent: BTreeMap<String, BTreeMap<u64, u8>>,
}

impl TapState {
    /// A tap that records, with a budget of `calls_max` calls, on a
    /// filesystem that tears writes at crashes if `torn_on`.
    pub(crate) fn recording(calls_max: u64, torn_on: bool) -> Self {
        TapState { calls_max, torn_on, ..TapState::default() }
    }

    /// A tap that injects `schedule` (its call-keyed decisions; time-keyed
    /// crashes are the runner's). `torn` is the configuration a torn crash
    /// uses.
    pub(crate) fn pinned(calls_max: u64, schedule: &Schedule, torn: FaultConfig) -> Self {
        let mut pinned = Pinned { torn, ..Pinned::default() };
        for decision in &schedule.decisions {
            match *decision {
                Decision::Fault { call, fault } => {
                    pinned.faults.insert(call, fault);
                }
                Decision::Crash { trigger: CrashTrigger::Call(call), mode, torn } => {
                    pinned.crashes.insert(call, (mode, torn));
                }
                Decision::Crash { trigger: CrashTrigger::Time { .. }, .. } => {}
            }
        }
        TapState { calls_max, pinned: Some(pinned), ..TapState::default() }
    }

    /// Whether a schedule is pinned.
    pub(crate) fn is_pinned(&self) -> bool {
        self.pinned.is_some()
    }

    fn note_fault(&mut self, class: FaultClass) {
        self.counts.record(class);
        self.damaged |= class.damages_durable_bytes();
        self.voided |= class.voids_durability();
    }
}

/// The tap's view of one incarnation: the `SimFs` handle of that process
/// (if the backend is simulated) and the shared state.
#[derive(Clone)]
pub(crate) struct TapCore {
    sim: Option<SimFs>,
    state: Arc<Mutex<TapState>>,
}

impl fmt::Debug for TapCore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TapCore").field("sim", &self.sim).finish_non_exhaustive()
    }
}

/// What to do at a call.
enum Injection {
    Fault(PinnedFault),
    Crash(CrashMode, bool),
}

impl TapCore {
    pub(crate) fn new(sim: Option<SimFs>, state: Arc<Mutex<TapState>>) -> Self {
        TapCore { sim, state }
    }

    /// Crashes the machine now. `record_as`: a planned crash at a
    /// simulated time, recorded as a decision; `None`: a consequence (the
    /// process died of a poisoned write, the run's final power loss), not a
    /// decision. `torn` matters only when a schedule is pinned.
    pub(crate) fn crash_now(&self, mode: CrashMode, torn: bool, record_as: Option<CrashTrigger>) {
        let sim = self.sim.as_ref().expect("only a simulated machine crashes");
        let mut state = self.state.lock();
        crash(sim, &mut state, mode, torn);
        self.observe(&mut state, record_as);
    }

    /// Looks for decisions the filesystem made since the last look;
    /// records them (unless pinned) with `trigger` (`None`: not decisions).
    fn observe(&self, state: &mut TapState, trigger: Option<CrashTrigger>) {
        let Some(sim) = &self.sim else { return };
        let stats = sim.stats();
        let marks = sim.fault_counts().total() + stats.power_losses + stats.process_crashes;
        if marks == state.seen_marks {
            return;
        }
        state.seen_marks = marks;
        let events = sim.events();
        let new: Vec<FsEvent> = events[state.seen_events..].to_vec();
        state.seen_events = events.len();
        for event in new {
            state.pending_trace.push(format!("fs {event}"));
            match &event.happening {
                // A torn write belongs to its crash (see `torn_on`).
                Happening::Fault(Fault::TornWrite { .. }) => {
                    state.note_fault(FaultClass::TornWrite)
                }
                Happening::Fault(fault) => {
                    state.note_fault(fault.class());
                    if let (Some(CrashTrigger::Call(call)), false) = (trigger, state.is_pinned()) {
                        let fault = pin(fault, &event);
                        state.recorded.push(Decision::Fault { call, fault });
                    }
                }
                Happening::PowerLoss(_) | Happening::ProcessCrash => {
                    state.crashes += 1;
                    let mode = match event.happening {
                        Happening::PowerLoss(_) => CrashMode::PowerLoss,
                        _ => CrashMode::ProcessCrash,
                    };
                    if let (Some(trigger), false) = (trigger, state.is_pinned()) {
                        let torn = state.torn_on && mode == CrashMode::PowerLoss;
                        state.recorded.push(Decision::Crash { trigger, mode, torn });
                    }
                }
            }
        }
    }

    /// Starts a call: counts it, enforces the budget, and says what to
    /// inject.
    fn begin(&self) -> (u64, Option<Injection>) {
        let mut state = self.state.lock();
        state.calls += 1;
        let call = state.calls;
        if call > state.calls_max {
            let max = state.calls_max;
            drop(state);
            panic!("{BUDGET_MARKER}: fs-calls-max={max}");
        }
        let injection = state.pinned.as_mut().and_then(|pinned| {
            if let Some((mode, torn)) = pinned.crashes.remove(&call) {
                Some(Injection::Crash(mode, torn))
            } else {
                pinned.faults.remove(&call).map(Injection::Fault)
            }
        });
        (call, injection)
    }

    /// Ends a call: notes an error, and looks for what the filesystem did.
    fn end<T>(&self, call: u64, result: io::Result<T>) -> io::Result<T> {
        let mut state = self.state.lock();
        if result.is_err() {
            state.errors += 1;
            state.last_error_call = call;
        }
        self.observe(&mut state, Some(CrashTrigger::Call(call)));
        result
    }

    /// Injects a pinned crash in place of call `call`.
    fn crash_instead(&self, call: u64, mode: CrashMode, torn: bool) -> io::Error {
        if let Some(sim) = &self.sim {
            let mut state = self.state.lock();
            crash(sim, &mut state, mode, torn);
        }
        io::Error::other(format!("simulated crash: pinned crash at fs call {call}"))
    }

    /// Notes a fault the tap injected itself.
    fn injected(&self, call: u64, what: &str, path: &str, fault: PinnedFault) {
        let mut state = self.state.lock();
        state.note_fault(fault.class());
        state
            .pending_trace
            .push(format!("fs call={call} {what} path={path} fault={fault} (pinned)"));
    }

    /// Runs a sync with `fault` switched on in the `SimFs` for this call.
    fn sync_with(
        &self,
        fault: Option<PinnedFault>,
        sync: impl FnOnce() -> io::Result<()>,
    ) -> io::Result<()> {
        let (Some(sim), Some(fault @ (PinnedFault::FsyncError | PinnedFault::LyingFsync))) =
            (&self.sim, fault)
        else {
            return sync();
        };
        sim.set_fault_config(FaultConfig::none().with(fault.class(), 1.0));
        let result = sync();
        sim.set_fault_config(FaultConfig::none());
        result
    }

    fn latent_apply(&self, path: &str, buf: &mut [u8], offset: u64) {
        let state = self.state.lock();
        let Some(bad) = state.pinned.as_ref().and_then(|p| p.latent.get(path)) else { return };
        for (&byte, &mask) in bad.range(offset..offset + buf.len() as u64) {
            buf[(byte - offset) as usize] ^= mask;
        }
    }

    fn latent_flip(&self, path: &str, byte: u64, bit: u8) {
        let mut state = self.state.lock();
        if let Some(pinned) = state.pinned.as_mut() {
            *pinned.latent.entry(path.to_owned()).or_default().entry(byte).or_default() ^= 1 << bit;
        }
    }

    /// A write heals the bad sectors it rewrites.
    fn latent_heal(&self, path: &str, offset: u64, len: u64) {
        let mut state = self.state.lock();
        let Some(bad) = state.pinned.as_mut().and_then(|p| p.latent.get_mut(path)) else { return };
        if len > 0 {
            let first = offset / SECTOR_SIZE * SECTOR_SIZE;
            let end = (offset + len).div_ceil(SECTOR_SIZE) * SECTOR_SIZE;
            bad.retain(|byte, _| !(first..end).contains(byte));
        }
    }

    fn latent_truncate(&self, path: &str, len: u64) {
        let mut state = self.state.lock();
        if let Some(bad) = state.pinned.as_mut().and_then(|p| p.latent.get_mut(path)) {
            bad.retain(|byte, _| *byte < len);
        }
    }

    fn latent_rename(&self, from: &str, to: &str) {
        let mut state = self.state.lock();
        if let Some(pinned) = state.pinned.as_mut() {
            pinned.latent.remove(to);
            if let Some(bad) = pinned.latent.remove(from) {
                pinned.latent.insert(to.to_owned(), bad);
            }
        }
    }

    fn latent_remove(&self, path: &str) {
        if let Some(pinned) = self.state.lock().pinned.as_mut() {
            pinned.latent.remove(path);
        }
    }
}

fn crash(sim: &SimFs, state: &mut TapState, mode: CrashMode, torn: bool) {
    match (&state.pinned, torn) {
        (Some(pinned), true) => sim.set_fault_config(pinned.torn.clone()),
        (Some(_), false) => sim.set_fault_config(FaultConfig::none()),
        (None, _) => {}
    }
    sim.crash(mode);
    if state.pinned.is_some() {
        sim.set_fault_config(FaultConfig::none());
    }
}

/// The pinned form of a fault the filesystem drew.
fn pin(fault: &Fault, event: &FsEvent) -> PinnedFault {
    match *fault {
        Fault::WriteError => PinnedFault::WriteError,
        Fault::ShortWrite { written } => PinnedFault::ShortWrite { written },
        Fault::NoSpace => PinnedFault::NoSpace,
        Fault::FsyncError { .. } => PinnedFault::FsyncError,
        Fault::LyingFsync => PinnedFault::LyingFsync,
        Fault::ReadBitFlip { byte, bit } => {
            PinnedFault::ReadBitFlip { delta: byte.saturating_sub(event.offset), bit }
        }
        Fault::MisdirectedWrite { landed_at } => {
            PinnedFault::MisdirectedWrite { shift: landed_at as i64 - event.offset as i64 }
        }
        Fault::TornWrite { .. } => unreachable!("torn writes belong to their crash"),
    }
}

/// The tap as the engine sees it: an [`Fs`].
#[derive(Debug, Clone)]
pub(crate) struct Tap {
    inner: Arc<dyn Fs>,
    core: TapCore,
}

impl Tap {
    pub(crate) fn new(inner: Arc<dyn Fs>, core: TapCore) -> Self {
        Tap { inner, core }
    }

    /// Runs a call that takes no fault: a pinned crash may still strike.
    fn plain<T>(&self, f: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
        let (call, injection) = self.core.begin();
        if let Some(Injection::Crash(mode, torn)) = injection {
            let error = self.core.crash_instead(call, mode, torn);
            return self.core.end(call, Err(error));
        }
        self.core.end(call, f())
    }
}

impl Fs for Tap {
    fn create(&self, path: &Path) -> io::Result<Box<dyn File>> {
        let file = self.plain(|| self.inner.create(path))?;
        self.core.latent_remove(&path.display().to_string());
        Ok(Box::new(TapFile {
            inner: file,
            path: path.display().to_string(),
            core: self.core.clone(),
        }))
    }

    fn open(&self, path: &Path) -> io::Result<Box<dyn File>> {
        let file = self.plain(|| self.inner.open(path))?;
        Ok(Box::new(TapFile {
            inner: file,
            path: path.display().to_string(),
            core: self.core.clone(),
        }))
    }

    fn create_dir(&self, path: &Path) -> io::Result<()> {
        self.plain(|| self.inner.create_dir(path))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.plain(|| self.inner.rename(from, to))?;
        self.core.latent_rename(&from.display().to_string(), &to.display().to_string());
        Ok(())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        self.plain(|| self.inner.remove(path))?;
        self.core.latent_remove(&path.display().to_string());
        Ok(())
    }

    fn list_dir(&self, dir: &Path) -> io::Result<Vec<DirEntry>> {
        self.plain(|| self.inner.list_dir(dir))
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let (call, injection) = self.core.begin();
        let fault = match injection {
            Some(Injection::Crash(mode, torn)) => {
                let error = self.core.crash_instead(call, mode, torn);
                return self.core.end(call, Err(error));
            }
            Some(Injection::Fault(fault)) => Some(fault),
            None => None,
        };
        let result = self.core.sync_with(fault, || self.inner.sync_dir(dir));
        self.core.end(call, result)
    }
}

/// A file opened through the tap.
#[derive(Debug)]
struct TapFile {
    inner: Box<dyn File>,
    path: String,
    core: TapCore,
}

impl TapFile {
    /// Starts a call; a pinned crash ends it at once (`Err`).
    fn begin(&self) -> Result<(u64, Option<PinnedFault>), (u64, io::Error)> {
        let (call, injection) = self.core.begin();
        match injection {
            Some(Injection::Crash(mode, torn)) => {
                Err((call, self.core.crash_instead(call, mode, torn)))
            }
            Some(Injection::Fault(fault)) => Ok((call, Some(fault))),
            None => Ok((call, None)),
        }
    }

    fn write_faulty(
        &self,
        call: u64,
        fault: PinnedFault,
        buf: &[u8],
        offset: u64,
    ) -> io::Result<()> {
        let eio = |what: &str| {
            io::Error::other(format!("{}: pinned {what} (EIO) at offset={offset}", self.path))
        };
        match fault {
            PinnedFault::WriteError => Err(eio("write error")),
            PinnedFault::ShortWrite { written } => {
                let written = written.min((buf.len() as u64).saturating_sub(1)) as usize;
                self.inner.write_at(&buf[..written], offset)?;
                self.core.latent_heal(&self.path, offset, written as u64);
                Err(eio("short write"))
            }
            PinnedFault::NoSpace => Err(io::Error::new(
                io::ErrorKind::StorageFull,
                format!("{}: pinned ENOSPC at offset={offset}", self.path),
            )),
            PinnedFault::MisdirectedWrite { shift } => {
                let landed = offset.saturating_add_signed(shift);
                self.inner.write_at(buf, landed)?;
                self.core.latent_heal(&self.path, landed, buf.len() as u64);
                Ok(())
            }
            _ => unreachable!("only write faults reach here: call={call}"),
        }
    }
}

impl File for TapFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let (call, fault) = match self.begin() {
            Ok(started) => started,
            Err((call, error)) => return self.core.end(call, Err(error)),
        };
        let result = self.inner.read_at(buf, offset);
        if let (Ok(n), Some(fault @ PinnedFault::ReadBitFlip { delta, bit })) = (&result, fault)
            && delta < *n as u64
        {
            self.core.latent_flip(&self.path, offset + delta, bit);
            self.core.injected(call, "read", &self.path, fault);
        }
        if let Ok(n) = &result {
            self.core.latent_apply(&self.path, &mut buf[..*n], offset);
        }
        self.core.end(call, result)
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        let (call, fault) = match self.begin() {
            Ok(started) => started,
            Err((call, error)) => return self.core.end(call, Err(error)),
        };
        let result = match fault {
            Some(
                fault @ (PinnedFault::WriteError
                | PinnedFault::ShortWrite { .. }
                | PinnedFault::NoSpace
                | PinnedFault::MisdirectedWrite { .. }),
            ) => {
                self.core.injected(call, "write", &self.path, fault);
                self.write_faulty(call, fault, buf, offset)
            }
            _ => {
                let result = self.inner.write_at(buf, offset);
                self.core.latent_heal(&self.path, offset, buf.len() as u64);
                result
            }
        };
        self.core.end(call, result)
    }

    fn len(&self) -> io::Result<u64> {
        match self.begin() {
            Ok((call, _)) => self.core.end(call, self.inner.len()),
            Err((call, error)) => self.core.end(call, Err(error)),
        }
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let (call, fault) = match self.begin() {
            Ok(started) => started,
            Err((call, error)) => return self.core.end(call, Err(error)),
        };
        if fault == Some(PinnedFault::NoSpace) {
            self.core.injected(call, "set-len", &self.path, PinnedFault::NoSpace);
            let error =
                io::Error::new(io::ErrorKind::StorageFull, format!("{}: pinned ENOSPC", self.path));
            return self.core.end(call, Err(error));
        }
        let result = self.inner.set_len(len);
        self.core.latent_truncate(&self.path, len);
        self.core.end(call, result)
    }

    fn sync_data(&self) -> io::Result<()> {
        let (call, fault) = match self.begin() {
            Ok(started) => started,
            Err((call, error)) => return self.core.end(call, Err(error)),
        };
        let result = self.core.sync_with(fault, || self.inner.sync_data());
        self.core.end(call, result)
    }
}
