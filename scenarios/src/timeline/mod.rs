//! A picture of a run: every filesystem call, fault, crash, recovery,
//! commit and acknowledgement of one seed on a simulated-time axis, written
//! as one self-contained HTML page (`faultline replay --html FILE`,
//! `faultline run --html-dir DIR`).
//!
//! The [`TimelineRecorder`] listens to the same typed events the judge hears (it
//! judges nothing and changes nothing: a run's trace hash is the same with
//! or without it) and keeps them as [`Timeline`] data; [`page`] renders a
//! report's timeline with the viewer (`viewer.js`, `viewer.css`, inline).
//! The data's layout is documented on [`Timeline`]; the viewer reads it.

mod page;

use std::collections::BTreeMap;

use faultline_sim::{CallOutcome, FsRecord, Happening, Op};
use serde::Serialize;

use crate::judge::{RunEvent, Step};
use crate::outcome::Failure;
use crate::plan::TaskStep;
use crate::report::clip;

/// The most characters of a commit's operations a mark shows.
const OPS_TEXT_MAX: usize = 240;

pub use page::{page, page_with_notice};

/// What a mark is. The viewer styles a mark by its class and shows its
/// name; the DOM of the page holds one element per fault, crash, damage,
/// late error report, poisoning and violation (see `viewer.js`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A filesystem call that returned `Ok`.
    Call,
    /// A filesystem call that returned an error.
    CallFailed,
    /// A filesystem call the machine went down under.
    CallCrashed,
    /// A fault fired.
    Fault,
    /// A power loss or a process crash.
    Crash,
    /// A misdirected write reached the device.
    Damage,
    /// A call reported an earlier fault.
    ErrorReported,
    /// An incarnation of the process starts.
    Incarnation,
    /// An open starts.
    OpenStart,
    /// An open returned a database.
    Opened,
    /// An open returned an error.
    OpenFailed,
    /// A client began a transaction.
    Begin,
    /// A client's operation was refused by the engine.
    OpRefused,
    /// A client's transaction committed.
    Commit,
    /// The engine refused a commit.
    CommitRefused,
    /// A transaction ended without a commit.
    Abandoned,
    /// A durability or task step starts.
    StepStart,
    /// A durability step published its durable offset.
    Durable,
    /// An engine task's step returned.
    TaskStep,
    /// The engine panicked with the poison message.
    Poisoned,
    /// `read_at` was checked.
    ReadCheck,
    /// The process went down.
    WentDown,
    /// The run failed here: the first broken invariant (or a panic, a
    /// hang).
    Violation,
}

impl Kind {
    /// Every kind: a mark's kind is its index here.
    pub const ALL: [Kind; 23] = [
        Kind::Call,
        Kind::CallFailed,
        Kind::CallCrashed,
        Kind::Fault,
        Kind::Crash,
        Kind::Damage,
        Kind::ErrorReported,
        Kind::Incarnation,
        Kind::OpenStart,
        Kind::Opened,
        Kind::OpenFailed,
        Kind::Begin,
        Kind::OpRefused,
        Kind::Commit,
        Kind::CommitRefused,
        Kind::Abandoned,
        Kind::StepStart,
        Kind::Durable,
        Kind::TaskStep,
        Kind::Poisoned,
        Kind::ReadCheck,
        Kind::WentDown,
        Kind::Violation,
    ];

    /// A short, stable name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Call => "call",
            Kind::CallFailed => "call-failed",
            Kind::CallCrashed => "call-crashed",
            Kind::Fault => "fault",
            Kind::Crash => "crash",
            Kind::Damage => "damage",
            Kind::ErrorReported => "error-reported",
            Kind::Incarnation => "incarnation",
            Kind::OpenStart => "open-start",
            Kind::Opened => "opened",
            Kind::OpenFailed => "open-failed",
            Kind::Begin => "begin",
            Kind::OpRefused => "op-refused",
            Kind::Commit => "commit",
            Kind::CommitRefused => "commit-refused",
            Kind::Abandoned => "abandoned",
            Kind::StepStart => "step-start",
            Kind::Durable => "durable",
            Kind::TaskStep => "task-step",
            Kind::Poisoned => "poisoned",
            Kind::ReadCheck => "read-check",
            Kind::WentDown => "went-down",
            Kind::Violation => "violation",
        }
    }

    /// The class the viewer styles it by.
    pub fn class(self) -> &'static str {
        match self {
            Kind::Call => "call",
            Kind::CallFailed | Kind::CallCrashed => "call-failed",
            Kind::Fault => "fault",
            Kind::Crash => "crash",
            Kind::Damage => "damage",
            Kind::ErrorReported => "report",
            Kind::Incarnation | Kind::WentDown => "run",
            Kind::OpenStart
            | Kind::Opened
            | Kind::StepStart
            | Kind::Durable
            | Kind::TaskStep
            | Kind::ReadCheck => "engine",
            Kind::OpenFailed => "engine-failed",
            Kind::Begin | Kind::Commit => "client",
            Kind::OpRefused | Kind::CommitRefused | Kind::Abandoned => "client-refused",
            Kind::Poisoned => "poison",
            Kind::Violation => "violation",
        }
    }

    fn code(self) -> u8 {
        let index = Kind::ALL.iter().position(|&k| k == self).expect("every kind is listed");
        u8::try_from(index).expect("fewer than 256 kinds")
    }
}

/// The group of a lane, in display order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LaneGroup {
    /// Incarnations, crashes, poisonings, the violation.
    Run,
    /// The chart of submitted, acknowledged and recovered offsets.
    Offsets,
    /// One lane per client.
    Client,
    /// The open, the durability task, the read checks.
    Engine,
    /// One lane per engine task of the plan.
    Task,
    /// One lane per directory touched.
    Dir,
    /// One lane per file touched.
    File,
}

/// Which lane: its group, then its order within the group.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct LaneKey {
    group: LaneGroup,
    /// Clients sort by number, the rest by name.
    number: usize,
    name: String,
}

/// One lane of the page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Lane {
    /// What it shows (`client 0`, `durability`, a path).
    pub name: String,
    /// Its group.
    pub group: LaneGroup,
}

/// A kind as the page lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KindInfo {
    name: &'static str,
    class: &'static str,
}

/// One mark: `[t_ns, lane, kind, incarnation, text]`, in the order things
/// happened (its index is its sequence number).
pub type Mark = (u64, u32, u8, u32, String);

/// A step's extent: `[first_mark, last_mark, lane, kind, text]`.
pub type Span = (u32, u32, u32, u8, String);

/// One life of the process, from its first mark to its last: an
/// incarnation of the plan, a restart after an open that failed on a fault,
/// or the final recovery.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Band {
    /// The plan's incarnation it belongs to (0-based).
    pub index: usize,
    /// What it is: `incarnation N`, `incarnation N, restart`, `final
    /// recovery`.
    pub label: String,
    /// Its first mark.
    pub first_mark: u32,
    /// Its last mark.
    pub last_mark: u32,
    /// What ended it (the crash, or the end of the run).
    pub ended: Option<String>,
    /// What its open restored.
    pub recovery: Option<String>,
}

/// The offsets over time: `[mark, offset]` points.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Offsets {
    /// The highest offset committed (submitted) in the incarnation, from
    /// the offset it recovered to.
    pub submitted: Vec<(u32, u64)>,
    /// The highest offset acknowledged durable, over the whole run.
    pub acked: Vec<(u32, u64)>,
    /// The offset each successful open recovered to.
    pub recovered: Vec<(u32, u64)>,
}

/// Where the run failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ViolationMark {
    /// Its mark.
    pub mark: u32,
    /// The invariant (or failure kind).
    pub invariant: String,
    /// What was seen.
    pub detail: String,
}

/// The timeline of one run, as the page's viewer reads it (JSON, format
/// 1): `kinds` and `lanes` are what a mark's kind and lane index; `marks`
/// are in the order things happened, with non-decreasing simulated times
/// (many share one: every call of a synchronous engine step happens at the
/// same instant, which is why the viewer also has an order axis); spans,
/// bands, offsets and the violation refer to marks by index.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Timeline {
    format: u32,
    kinds: Vec<KindInfo>,
    /// The lanes, in display order.
    pub lanes: Vec<Lane>,
    /// Every mark.
    pub marks: Vec<Mark>,
    /// Every step's extent.
    pub spans: Vec<Span>,
    /// The incarnations.
    pub incarnations: Vec<Band>,
    /// The offsets over time.
    pub offsets: Offsets,
    /// The first broken invariant, if the run failed.
    pub violation: Option<ViolationMark>,
}

impl Timeline {
    /// How many marks are of `kind`.
    pub fn count(&self, kind: Kind) -> usize {
        let code = kind.code();
        self.marks.iter().filter(|mark| mark.2 == code).count()
    }

    /// How many lanes are in `group`.
    pub fn lanes_in(&self, group: LaneGroup) -> usize {
        self.lanes.iter().filter(|lane| lane.group == group).count()
    }
}

/// Builds a run's [`Timeline`] from the events the runner reports.
#[derive(Debug)]
pub struct TimelineRecorder {
    lanes: BTreeMap<LaneKey, u32>,
    marks: Vec<Mark>,
    spans: Vec<Span>,
    bands: Vec<Band>,
    offsets: Offsets,
    violation: Option<ViolationMark>,
    incarnation: usize,
    /// Steps started and not ended yet: lane -> (first mark, kind, text).
    open_spans: BTreeMap<u32, (u32, Kind, String)>,
    submitted: Option<u64>,
    acked: Option<u64>,
    /// Whether the process went down since the band began.
    down: bool,
    /// Whether the run's final crash happened (what starts after it is the
    /// final recovery).
    final_crash: bool,
}

impl Default for TimelineRecorder {
    fn default() -> Self {
        TimelineRecorder::new()
    }
}

impl TimelineRecorder {
    /// A recorder with its fixed lanes made: the run lane (id 0) and the
    /// offsets chart.
    pub fn new() -> Self {
        let mut recorder = TimelineRecorder {
            lanes: BTreeMap::new(),
            marks: Vec::new(),
            spans: Vec::new(),
            bands: Vec::new(),
            offsets: Offsets::default(),
            violation: None,
            incarnation: 0,
            open_spans: BTreeMap::new(),
            submitted: None,
            acked: None,
            down: false,
            final_crash: false,
        };
        let run = recorder.lane(LaneGroup::Run, 0, "run".to_owned());
        assert_eq!(run, Self::run_lane());
        recorder.lane(LaneGroup::Offsets, 0, "offsets".to_owned());
        recorder
    }

    /// Records `event`, which happened at `at_ns`.
    pub fn observe(&mut self, at_ns: u64, event: &RunEvent<'_>) {
        match event {
            RunEvent::Fs(record) => self.fs(at_ns, record),
            RunEvent::Incarnation(index) => {
                self.incarnation = *index;
                self.start_band(at_ns, format!("incarnation {index}"));
            }
            RunEvent::OpenStarting { attempt } => {
                if self.down {
                    let label = if self.final_crash {
                        "final recovery".to_owned()
                    } else {
                        format!("incarnation {}, restart", self.incarnation)
                    };
                    self.start_band(at_ns, label);
                }
                let lane = self.engine_lane("open");
                let text = format!("open starts (attempt {attempt})");
                let mark = self.mark(at_ns, lane, Kind::OpenStart, || text.clone());
                self.open_span(lane, mark, Kind::OpenStart, text);
            }
            RunEvent::Opened { db, report } => {
                let lane = self.engine_lane("open");
                let recovered = db.latest().offset();
                let mut parts = Vec::new();
                match report.restored_from {
                    Some(offset) => parts.push(format!("restored the snapshot at {offset}")),
                    None => parts.push("no snapshot restored".to_owned()),
                }
                parts.push(format!("replayed {} tx (the log suffix)", report.replayed));
                parts.extend(report.log_repairs.iter().map(ToString::to_string));
                parts.extend(report.snapshots_rejected.iter().map(|r| format!("set aside: {r}")));
                if report.bootstrapped {
                    parts.push("bootstrapped an empty history".to_owned());
                }
                let offset = recovered.map_or("none".to_owned(), |o| o.to_string());
                let text = format!("opened at offset {offset}: {}", parts.join("; "));
                let mark = self.mark(at_ns, lane, Kind::Opened, || text.clone());
                self.close_span(lane, mark, &text);
                if let Some(band) = self.bands.last_mut() {
                    band.recovery = Some(text);
                }
                let recovered = recovered.unwrap_or(0);
                self.offsets.recovered.push((mark, recovered));
                self.submitted = Some(recovered);
                self.offsets.submitted.push((mark, recovered));
                if self.acked.is_none_or(|acked| recovered > acked) {
                    self.acked = Some(recovered);
                    self.offsets.acked.push((mark, recovered));
                }
            }
            RunEvent::OpenFailed { error } => {
                let lane = self.engine_lane("open");
                let text = format!("open failed: {error}");
                let mark = self.mark(at_ns, lane, Kind::OpenFailed, || text.clone());
                self.close_span(lane, mark, &text);
            }
            RunEvent::Began { client, latest } => {
                let lane = self.client_lane(*client);
                let after = latest.map_or("none".to_owned(), |o| o.to_string());
                self.mark(at_ns, lane, Kind::Begin, || {
                    format!("client {client} begins after {after}")
                });
            }
            RunEvent::TxOp { client, op, engine: Err(error), .. } => {
                let lane = self.client_lane(*client);
                self.mark(at_ns, lane, Kind::OpRefused, || format!("refused {op}: {error}"));
            }
            RunEvent::TxOp { .. } => {}
            RunEvent::Committed { client, began_after, offset, ops } => {
                let lane = self.client_lane(*client);
                let mark = self.mark(at_ns, lane, Kind::Commit, || {
                    let ops: Vec<String> = ops.iter().map(ToString::to_string).collect();
                    // Long values would make a large run's page huge: the
                    // trace (`replay --trace`) has them whole.
                    format!(
                        "commit client={client} offset={offset} began-after={began_after} ops({})=[{}]",
                        ops.len(),
                        clip(&ops.join("; "), OPS_TEXT_MAX)
                    )
                });
                if self.submitted.is_none_or(|submitted| *offset > submitted) {
                    self.submitted = Some(*offset);
                    self.offsets.submitted.push((mark, *offset));
                }
            }
            RunEvent::Abandoned { client, .. } => {
                let lane = self.client_lane(*client);
                self.mark(at_ns, lane, Kind::Abandoned, || {
                    format!("client {client}'s transaction ended without a commit")
                });
            }
            RunEvent::CommitRefused { client, began_after, error } => {
                let lane = self.client_lane(*client);
                self.mark(at_ns, lane, Kind::CommitRefused, || {
                    format!("commit refused client={client} began-after={began_after}: {error}")
                });
            }
            RunEvent::StepStarted(step) => {
                let lane = self.step_lane(step);
                let text = format!("{step} starts");
                let mark = self.mark(at_ns, lane, Kind::StepStart, || text.clone());
                self.open_span(lane, mark, Kind::StepStart, text);
            }
            RunEvent::StepResumed(_) => {}
            RunEvent::DurabilityStepped { durable } => {
                let lane = self.engine_lane("durability");
                let text = match durable {
                    Some(offset) => format!("durable offset={offset} published"),
                    None => "durability step: nothing queued".to_owned(),
                };
                let mark = self.mark(at_ns, lane, Kind::Durable, || text.clone());
                self.close_span(lane, mark, &text);
                if let Some(offset) = *durable
                    && self.acked.is_none_or(|acked| offset > acked)
                {
                    self.acked = Some(offset);
                    self.offsets.acked.push((mark, offset));
                }
            }
            RunEvent::TaskStepped { task, step } => {
                let lane = self.task_lane(task);
                let text = match step {
                    TaskStep::Idle => format!("{task}: nothing due"),
                    TaskStep::Done(line) => format!("{task}: {line}"),
                    TaskStep::Failed(line) => format!("{task} failed: {line}"),
                };
                let mark = self.mark(at_ns, lane, Kind::TaskStep, || text.clone());
                self.close_span(lane, mark, &text);
            }
            RunEvent::Poisoned { step, message, durable_before, durable_after } => {
                let text = format!(
                    "poisoned in {step}: {message} (durable before {durable_before:?}, after {durable_after:?})"
                );
                let mark = self.mark(at_ns, Self::run_lane(), Kind::Poisoned, || text.clone());
                let lane = self.step_lane(step);
                self.close_span(lane, mark, &text);
            }
            RunEvent::ReadCheck { picks, .. } => {
                let lane = self.engine_lane("reads");
                self.mark(at_ns, lane, Kind::ReadCheck, || {
                    format!("read_at checked at {} offsets of the window", picks.len())
                });
            }
            RunEvent::WentDown { mode, cause } => {
                let text = format!("process went down: {} ({cause})", mode.name());
                self.mark(at_ns, Self::run_lane(), Kind::WentDown, || text.clone());
                self.went_down(text);
                // Sticky: an open of the final recovery that fails on a
                // fault goes down again, and its restart is still part of
                // the final recovery.
                self.final_crash |= *cause == "final";
            }
        }
    }

    /// Records the run's failure (the first; later ones are not kept).
    pub fn failed(&mut self, failure: &Failure) {
        if self.violation.is_some() {
            return;
        }
        let text = format!("FAILED {}: {}", failure.kind, failure.detail);
        let mark = self.mark(failure.at_ns, Self::run_lane(), Kind::Violation, || text);
        self.violation = Some(ViolationMark {
            mark,
            invariant: failure.kind.name().to_owned(),
            detail: failure.detail.clone(),
        });
    }

    /// The timeline: lanes put in display order, open steps and the last
    /// incarnation closed at the last mark.
    pub fn finish(mut self) -> Timeline {
        self.close_incarnation(Some("the run ended"));
        // Lane ids were handed out as lanes appeared: renumber in display
        // order (the map's order).
        let mut order = vec![0u32; self.lanes.len()];
        let mut lanes = Vec::with_capacity(self.lanes.len());
        for (position, (key, id)) in self.lanes.iter().enumerate() {
            order[*id as usize] = u32::try_from(position).expect("fewer than 2^32 lanes");
            lanes.push(Lane { name: key.name.clone(), group: key.group });
        }
        for mark in &mut self.marks {
            mark.1 = order[mark.1 as usize];
        }
        for span in &mut self.spans {
            span.2 = order[span.2 as usize];
        }
        self.spans.sort_by_key(|span| (span.0, span.2));
        assert!(
            self.marks.windows(2).all(|pair| pair[0].0 <= pair[1].0),
            "marks are in the order of their simulated times"
        );
        Timeline {
            format: 1,
            kinds: Kind::ALL
                .iter()
                .map(|k| KindInfo { name: k.name(), class: k.class() })
                .collect(),
            lanes,
            marks: self.marks,
            spans: self.spans,
            incarnations: self.bands,
            offsets: self.offsets,
            violation: self.violation,
        }
    }

    fn fs(&mut self, at_ns: u64, record: &FsRecord) {
        match record {
            FsRecord::Call(call) => {
                let (kind, result) = match call.outcome {
                    CallOutcome::Ok => (Kind::Call, "ok".to_owned()),
                    CallOutcome::Failed(error) => (Kind::CallFailed, format!("error {error}")),
                    CallOutcome::Crashed => (Kind::CallCrashed, "the machine went down".to_owned()),
                };
                let lane = self.path_lane(call.op, &call.path);
                self.mark(at_ns, lane, kind, || {
                    format!(
                        "c{} {} path={} offset={} len={} site={} gen={} -> {result}",
                        call.call,
                        call.op.name(),
                        call.path,
                        call.offset,
                        call.len,
                        call.site,
                        call.generation
                    )
                });
            }
            FsRecord::Event(event) => {
                let text = format!("fs {event}");
                match &event.happening {
                    Happening::PowerLoss(_) | Happening::ProcessCrash => {
                        self.mark(at_ns, Self::run_lane(), Kind::Crash, || text.clone());
                        self.went_down(text);
                    }
                    happening => {
                        let kind = match happening {
                            Happening::Fault(_) => Kind::Fault,
                            Happening::Damage { .. } => Kind::Damage,
                            _ => Kind::ErrorReported,
                        };
                        let lane = self.path_lane(event.op, &event.path);
                        self.mark(at_ns, lane, kind, || text);
                    }
                }
            }
        }
    }

    /// Appends a mark; its index.
    fn mark(&mut self, at_ns: u64, lane: u32, kind: Kind, text: impl FnOnce() -> String) -> u32 {
        let index = u32::try_from(self.marks.len()).expect("fewer than 2^32 marks");
        // The failure's time was read where it was found: never before the
        // mark in front of it.
        let at_ns = at_ns.max(self.marks.last().map_or(0, |mark| mark.0));
        let incarnation = u32::try_from(self.incarnation).expect("fewer than 2^32 incarnations");
        self.marks.push((at_ns, lane, kind.code(), incarnation, text()));
        if let Some(band) = self.bands.last_mut() {
            band.last_mark = index;
        }
        index
    }

    fn open_span(&mut self, lane: u32, mark: u32, kind: Kind, text: String) {
        if let Some((first, kind, text)) = self.open_spans.remove(&lane) {
            // A step that never ended (the process went down in it).
            self.spans.push((first, mark.saturating_sub(1).max(first), lane, kind.code(), text));
        }
        self.open_spans.insert(lane, (mark, kind, text));
    }

    fn close_span(&mut self, lane: u32, mark: u32, text: &str) {
        if let Some((first, kind, started)) = self.open_spans.remove(&lane) {
            self.spans.push((first, mark, lane, kind.code(), format!("{started} .. {text}")));
        }
    }

    /// A new life of the process starts: the band before it ends.
    fn start_band(&mut self, at_ns: u64, label: String) {
        self.close_incarnation(None);
        self.down = false;
        let text = format!("{label} starts");
        // The band goes first, so that its first mark is its own and not
        // the last of the band before.
        let first = u32::try_from(self.marks.len()).expect("fewer than 2^32 marks");
        self.bands.push(Band {
            index: self.incarnation,
            label,
            first_mark: first,
            last_mark: first,
            ended: None,
            recovery: None,
        });
        let mark = self.mark(at_ns, Self::run_lane(), Kind::Incarnation, || text);
        assert_eq!(mark, first);
    }

    /// The process went down (a crash, then the runner's word of it: both
    /// are told in the band's end).
    fn went_down(&mut self, text: String) {
        self.down = true;
        if let Some(band) = self.bands.last_mut() {
            band.ended = Some(match band.ended.take() {
                Some(before) => format!("{before}; {text}"),
                None => text,
            });
        }
    }

    /// Ends the running incarnation's band and its unfinished steps.
    fn close_incarnation(&mut self, ended: Option<&str>) {
        let Some(last) = self.marks.len().checked_sub(1) else { return };
        let last = u32::try_from(last).expect("fewer than 2^32 marks");
        for (lane, (first, kind, text)) in std::mem::take(&mut self.open_spans) {
            self.spans.push((first, last, lane, kind.code(), format!("{text} .. unfinished")));
        }
        if let Some(band) = self.bands.last_mut()
            && band.ended.is_none()
        {
            band.ended = ended.map(str::to_owned);
        }
    }

    fn lane(&mut self, group: LaneGroup, number: usize, name: String) -> u32 {
        let next = u32::try_from(self.lanes.len()).expect("fewer than 2^32 lanes");
        *self.lanes.entry(LaneKey { group, number, name }).or_insert(next)
    }

    fn run_lane() -> u32 {
        // The run lane is made first (see `TimelineRecorder::new`).
        0
    }

    fn engine_lane(&mut self, name: &str) -> u32 {
        let number = match name {
            "open" => 0,
            "durability" => 1,
            _ => 2,
        };
        self.lane(LaneGroup::Engine, number, name.to_owned())
    }

    fn task_lane(&mut self, task: &str) -> u32 {
        self.lane(LaneGroup::Task, 0, task.to_owned())
    }

    fn client_lane(&mut self, client: usize) -> u32 {
        self.lane(LaneGroup::Client, client, format!("client {client}"))
    }

    fn step_lane(&mut self, step: &Step) -> u32 {
        match step {
            Step::Open => self.engine_lane("open"),
            Step::Durability => self.engine_lane("durability"),
            Step::Task(name) => self.task_lane(name),
        }
    }

    /// The lane of a call's path (a rename's source): a directory's if the
    /// operation is one on directories.
    fn path_lane(&mut self, op: Op, path: &str) -> u32 {
        let path = path.split(" -> ").next().unwrap_or(path);
        let group = match op {
            Op::CreateDir | Op::ListDir | Op::SyncDir => LaneGroup::Dir,
            _ => LaneGroup::File,
        };
        // A path seen first as a file and later as a directory (or back)
        // keeps its first lane.
        let other = match group {
            LaneGroup::Dir => LaneGroup::File,
            _ => LaneGroup::Dir,
        };
        let existing = LaneKey { group: other, number: 0, name: path.to_owned() };
        if let Some(&id) = self.lanes.get(&existing) {
            return id;
        }
        self.lane(group, 0, path.to_owned())
    }
}
