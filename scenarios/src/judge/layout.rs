//! The storage layout on the device, checked on the durable disk image
//! after every durable step, every engine task step and every recovery
//! (TigerBeetle's storage checker is the model), with the judge's own
//! reader of the formats ([`super::disk_format`]):
//!
//! - segments are contiguous and named by their first offset, each holding
//!   whole commits only (a crash may leave a torn tail, but a recovery
//!   cuts it durably and a durable step syncs whole commits);
//! - the log on the device holds every offset the engine reported durable;
//! - each of the newest `retain` snapshots (the restore points; see
//!   [`retained`]) still connects to the log (the log holds its offset + 1,
//!   or the snapshot is at the log's end), and every page file its
//!   manifest refers to exists and is the page the manifest describes;
//! - no `*.tmp` snapshot, `manifest.tmp` or `*.rewrite` segment survives a
//!   recovery (on the page cache: what the engine serves from).
//!
//! A file a fault damaged is left out of the checks that need its bytes; a
//! lying fsync voids them all (the device holds less than the engine was
//! told).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use faultline_sim::{DiskImage, FileImage, FsRecord, Happening, NodeId, Op, View};

use super::disk_format::{
    ManifestSummary, PageRef, SegmentEnd, SegmentSummary, page_file_name, parse_segment_name,
    parse_snapshot_dir_name, read_manifest, read_page_header, read_segment, read_segment_after,
};
use super::{Checker, Facts, Inspector, Invariant, RunEvent, Violation};
use crate::plan::TaskStep;
use crate::runner::ROOT;

/// The log directory on the simulated disk.
pub(super) fn log_dir() -> String {
    format!("{ROOT}/log")
}

/// The snapshots directory on the simulated disk.
pub(super) fn snapshots_dir() -> String {
    format!("{ROOT}/snapshots")
}

/// One segment of an image.
#[derive(Debug)]
pub(super) struct Segment {
    /// The offset its name says it starts at.
    pub(super) name_offset: u64,
    pub(super) path: String,
    pub(super) damaged: bool,
    pub(super) summary: Arc<SegmentSummary>,
}

/// What the judge read of files, kept by `(file, version)`: a file whose
/// bytes have not changed since is not read again (sealed segments, page
/// files and manifests never change; the last segment grows). The
/// snapshot list is kept whole while nothing under `snapshots/` changed:
/// most checks follow a durable step, which writes only the log.
#[derive(Debug, Default)]
pub(super) struct Reads {
    segments: BTreeMap<(NodeId, u64), Arc<SegmentSummary>>,
    /// The latest read of each segment file, and the version it read: a
    /// later version that only appended is walked on from where it ended.
    /// (Not the bytes: holding them would make the simulated disk copy the
    /// file on its next write.)
    latest_segment: BTreeMap<NodeId, (u64, Arc<SegmentSummary>)>,
    manifests: BTreeMap<(NodeId, u64), Result<ManifestSummary, String>>,
    pages: BTreeMap<(NodeId, u64, PageRef), Option<String>>,
    snapshots: Option<(Subtree, Arc<Vec<Snapshot>>)>,
}

/// What a directory's subtree holds, as far as reading it goes: each
/// file's path, identity, version and whether a fault damaged it, and each
/// directory's path.
#[derive(Debug, Default, PartialEq, Eq)]
struct Subtree {
    files: Vec<(String, NodeId, u64, bool)>,
    dirs: Vec<String>,
}

impl Subtree {
    fn of(image: &DiskImage, dir: &str) -> Subtree {
        Subtree {
            files: Subtree::files(image, dir)
                .map(|(path, id, version, hurt)| (path.to_owned(), id, version, hurt))
                .collect(),
            dirs: image.dirs_under(dir).cloned().collect(),
        }
    }

    /// Whether `image` holds this under `dir`, without copying a path.
    fn matches(&self, image: &DiskImage, dir: &str) -> bool {
        let files = self
            .files
            .iter()
            .map(|(path, id, version, hurt)| (path.as_str(), *id, *version, *hurt));
        Subtree::files(image, dir).eq(files) && image.dirs_under(dir).eq(self.dirs.iter())
    }

    fn files<'a>(
        image: &'a DiskImage,
        dir: &str,
    ) -> impl Iterator<Item = (&'a str, NodeId, u64, bool)> + use<'a> {
        image
            .files_under(dir)
            .map(|(path, file)| (path.as_str(), file.id, file.version, !file.damaged.is_empty()))
    }
}

impl Reads {
    fn segment(&mut self, file: &FileImage) -> Arc<SegmentSummary> {
        let key = (file.id, file.version);
        if let Some(summary) = self.segments.get(&key) {
            return Arc::clone(summary);
        }
        let summary = Arc::new(match self.latest_segment.remove(&file.id) {
            Some((version, earlier)) => {
                // An image shows one version of a file: the earlier one's
                // entry is dead, and without it the walk extends the
                // earlier list of commits in place instead of copying it.
                self.segments.remove(&(file.id, version));
                let earlier = Arc::unwrap_or_clone(earlier);
                read_segment_after(&file.bytes, earlier, file.unchanged_below(version))
            }
            None => read_segment(&file.bytes),
        });
        self.segments.insert(key, Arc::clone(&summary));
        self.latest_segment.insert(file.id, (file.version, Arc::clone(&summary)));
        summary
    }

    /// The snapshots of `image` as [`snapshots`] reads them with nothing
    /// counted as damaged beyond what the image marks.
    fn snapshots(&mut self, image: &DiskImage) -> Arc<Vec<Snapshot>> {
        let dir = snapshots_dir();
        if let Some((subtree, snapshots)) = &self.snapshots
            && subtree.matches(image, &dir)
        {
            return Arc::clone(snapshots);
        }
        let snapshots = Arc::new(snapshots_read(image, &BTreeSet::new(), self));
        self.snapshots = Some((Subtree::of(image, &dir), Arc::clone(&snapshots)));
        snapshots
    }

    fn manifest(&mut self, file: &FileImage) -> Result<ManifestSummary, String> {
        let key = (file.id, file.version);
        self.manifests.entry(key).or_insert_with(|| read_manifest(&file.bytes)).clone()
    }

    fn page(&mut self, file: &FileImage, page: &PageRef) -> Option<String> {
        let key = (file.id, file.version, *page);
        self.pages.entry(key).or_insert_with(|| page_mismatch(&file.bytes, page)).clone()
    }

    /// Forgets what was read of files `image` no longer holds as they were.
    fn keep_only(&mut self, image: &DiskImage) {
        let live: BTreeSet<(NodeId, u64)> =
            image.files.values().map(|file| (file.id, file.version)).collect();
        self.segments.retain(|key, _| live.contains(key));
        let files: BTreeSet<NodeId> = image.files.values().map(|file| file.id).collect();
        self.latest_segment.retain(|id, _| files.contains(id));
        self.manifests.retain(|key, _| live.contains(key));
        self.pages.retain(|(id, version, _), _| live.contains(&(*id, *version)));
    }
}

/// The segments of an image, by name; `damaged` says which files count as
/// damaged (beyond what the image itself marks).
pub(super) fn segments(image: &DiskImage, damaged: &BTreeSet<NodeId>) -> Vec<Segment> {
    segments_read(image, damaged, &mut Reads::default())
}

fn segments_read(image: &DiskImage, damaged: &BTreeSet<NodeId>, reads: &mut Reads) -> Vec<Segment> {
    let dir = log_dir();
    let mut segments: Vec<Segment> = image
        .files_under(&dir)
        .filter_map(|(path, file)| {
            // A file deeper down has a `/` in its name: not a segment name.
            let name_offset = parse_segment_name(&path[dir.len() + 1..])?;
            Some(Segment {
                name_offset,
                damaged: !file.damaged.is_empty() || damaged.contains(&file.id),
                summary: reads.segment(file),
                path: path.clone(),
            })
        })
        .collect();
    segments.sort_by_key(|s| s.name_offset);
    segments
}

/// The offset after the log's last whole commit (its first offset if it
/// holds none), if it has a segment.
pub(super) fn log_end(segments: &[Segment]) -> Option<u64> {
    let last = segments.last()?;
    Some(last.summary.next_offset().unwrap_or(last.name_offset))
}

/// Whether snapshot `offset` connects to the log: the log holds
/// `offset + 1`, or ends right after it.
pub(super) fn connects(offset: u64, segments: &[Segment]) -> bool {
    segments.iter().any(|s| s.summary.holds(offset + 1)) || log_end(segments) == Some(offset + 1)
}

/// The segments from the one that holds (or would hold) `offset` to the
/// end.
pub(super) fn suffix_from(offset: u64, segments: &[Segment]) -> &[Segment] {
    let start = segments.iter().rposition(|s| s.name_offset <= offset).unwrap_or(0);
    &segments[start..]
}

/// One retained snapshot of an image.
#[derive(Debug)]
pub(super) struct Snapshot {
    pub(super) offset: u64,
    /// Whether a fault damaged a file it needs (its own, or a page it
    /// refers to).
    pub(super) damaged: bool,
    pub(super) manifest: Result<ManifestSummary, String>,
    /// Page files its manifest refers to that the image lacks, or holds
    /// other than the manifest says (length, checksum, table and index),
    /// each with why.
    pub(super) missing: Vec<String>,
}

/// Why page file `bytes` is not the page `page` of the manifest says.
fn page_mismatch(bytes: &[u8], page: &PageRef) -> Option<String> {
    if bytes.len() as u64 != u64::from(page.len) {
        return Some(format!("length={} manifest-says={}", bytes.len(), page.len));
    }
    let stored = bytes.last_chunk::<4>().map(|crc| u32::from_le_bytes(*crc));
    if stored != Some(page.crc) {
        return Some(format!("crc={stored:?} manifest-says={}", page.crc));
    }
    match read_page_header(bytes) {
        Ok((table, index, _)) if (table, index) == (page.table_id, page.index) => None,
        Ok((table, index, _)) => Some(format!("holds table={table} page={index}")),
        Err(why) => Some(why),
    }
}

/// The snapshots of an image (not `*.tmp`, not `*.rejected`), oldest first.
pub(super) fn snapshots(image: &DiskImage, damaged: &BTreeSet<NodeId>) -> Vec<Snapshot> {
    snapshots_read(image, damaged, &mut Reads::default())
}

fn snapshots_read(
    image: &DiskImage,
    damaged: &BTreeSet<NodeId>,
    reads: &mut Reads,
) -> Vec<Snapshot> {
    let dir = snapshots_dir();
    let is_damaged = |path: &str| {
        image.file(path).is_some_and(|f| !f.damaged.is_empty() || damaged.contains(&f.id))
    };
    let mut snapshots: Vec<Snapshot> = image
        .list(&dir)
        .into_iter()
        .filter_map(|name| {
            let offset = parse_snapshot_dir_name(&name)?;
            let own = format!("{dir}/{name}");
            let mut hurt = image.list(&own).iter().any(|f| is_damaged(&format!("{own}/{f}")));
            let manifest = match image.file(&format!("{own}/manifest")) {
                Some(file) => reads.manifest(file),
                None => Err("no manifest".to_owned()),
            };
            let mut missing = Vec::new();
            if let Ok(manifest) = &manifest {
                for table in &manifest.tables {
                    for page in &table.pages {
                        let path = format!(
                            "{dir}/{:020}/{}",
                            page.source,
                            page_file_name(page.table_id, page.index)
                        );
                        hurt |= is_damaged(&path);
                        let why = match image.file(&path) {
                            None => Some("missing".to_owned()),
                            Some(file) => reads.page(file, page),
                        };
                        if let Some(why) = why {
                            missing.push(format!("{path} ({why})"));
                        }
                    }
                }
            }
            Some(Snapshot { offset, damaged: hurt, manifest, missing })
        })
        .collect();
    snapshots.sort_by_key(|s| s.offset);
    snapshots
}

impl Snapshot {
    /// Whether it can be restored: undamaged, its manifest readable, every
    /// page it refers to present.
    pub(super) fn is_whole(&self) -> bool {
        !self.damaged && self.manifest.is_ok() && self.missing.is_empty()
    }

    /// Whether it is a snapshot of the history `segments` hold (FORMAT.md,
    /// "Snapshots"): the whole commit that holds its offset ends there and
    /// has the checksum its manifest records. With no readable commit
    /// holding the offset (the log starts after it, or damage hides it)
    /// there is nothing to compare, and it counts as bound.
    pub(super) fn bound_to_log(&self, segments: &[Segment]) -> bool {
        let Ok(manifest) = &self.manifest else { return false };
        let holding = segments
            .iter()
            .flat_map(|segment| &segment.summary.commits)
            .find(|commit| (commit.min_tx_offset..commit.offset_end()).contains(&self.offset));
        holding.is_none_or(|commit| {
            commit.offset_end() == self.offset + 1 && commit.crc == manifest.log_commit_crc
        })
    }
}

/// The offsets of the snapshots the engine keeps as restore points: the
/// newest `retain`, counting those an open set aside (`<O>.rejected`), as
/// the prune that last ran counted them before they were set aside. Older
/// snapshots are kept only as page sources of these (their log may be
/// gone), or are an interrupted prune's leftovers.
fn retained(image: &DiskImage, retain: usize) -> BTreeSet<u64> {
    let mut offsets: Vec<u64> = image
        .list(&snapshots_dir())
        .iter()
        .filter_map(|name| parse_snapshot_dir_name(name.strip_suffix(".rejected").unwrap_or(name)))
        .collect();
    offsets.sort_unstable();
    offsets.dedup();
    offsets.into_iter().rev().take(retain).collect()
}

/// See the module documentation.
#[derive(Debug, Default)]
pub(super) struct LayoutChecker {
    reads: Reads,
    /// `Some(durable)` while the last device check, given `durable`,
    /// passed and nothing has changed the disk since (no mutating call, no
    /// crash, fault or damage in the filesystem's log): the check is a
    /// function of the durable image and `durable`, so it is not repeated.
    passed_unchanged: Option<Option<u64>>,
    /// Whether the machine went down since the last open: the last
    /// segment may then end in a commit written but not synced when the
    /// power went (torn, or partly there), which the next recovery cuts;
    /// every other check still holds.
    down: bool,
}

impl Checker for LayoutChecker {
    fn name(&self) -> &str {
        "layout"
    }

    fn observe(&mut self, event: &RunEvent<'_>, facts: &Facts<'_>) -> Result<(), Violation> {
        let Some(disk) = facts.disk else { return Ok(()) };
        match event {
            RunEvent::Fs(FsRecord::Call(call))
                if !call.op.is_mutation() && call.op != Op::Crash =>
            {
                return Ok(());
            }
            RunEvent::Fs(record) => {
                if let FsRecord::Event(event) = record
                    && matches!(event.happening, Happening::PowerLoss(_) | Happening::ProcessCrash)
                {
                    self.down = true;
                }
                self.passed_unchanged = None;
                return Ok(());
            }
            RunEvent::Opened { .. } => self.down = false,
            _ => {}
        }
        if facts.faults.voided {
            return Ok(());
        }
        match event {
            RunEvent::DurabilityStepped { durable } => self.check(disk, *durable, facts),
            RunEvent::TaskStepped { step: TaskStep::Idle, .. } => Ok(()),
            RunEvent::TaskStepped { .. } => self.check(disk, None, facts),
            RunEvent::Opened { db, .. } => {
                check_leftovers(&disk.image(View::Volatile))?;
                self.check(disk, db.durable_offset(), facts)
            }
            _ => Ok(()),
        }
    }
}

impl LayoutChecker {
    fn check(
        &mut self,
        disk: &Inspector,
        durable: Option<u64>,
        facts: &Facts<'_>,
    ) -> Result<(), Violation> {
        if self.passed_unchanged == Some(durable) {
            return Ok(());
        }
        let image = disk.image(View::Durable);
        let result = check_device_read(&image, durable, self.down, facts, &mut self.reads);
        self.reads.keep_only(&image);
        self.passed_unchanged = result.is_ok().then_some(durable);
        result
    }
}

fn broken(invariant: Invariant, detail: String) -> Result<(), Violation> {
    Err(Violation::new(invariant, detail))
}

/// The durable image's log and snapshots, checked; `durable`: an offset
/// the engine reported durable.
#[cfg(test)]
fn check_device(
    image: &DiskImage,
    durable: Option<u64>,
    facts: &Facts<'_>,
) -> Result<(), Violation> {
    check_device_read(image, durable, false, facts, &mut Reads::default())
}

fn check_device_read(
    image: &DiskImage,
    durable: Option<u64>,
    down: bool,
    facts: &Facts<'_>,
    reads: &mut Reads,
) -> Result<(), Violation> {
    let segments = segments_read(image, &BTreeSet::new(), reads);
    if segments.iter().any(|s| s.damaged) {
        return Ok(());
    }
    check_segments(&segments, down)?;
    if let Some(durable) = durable
        && log_end(&segments).is_none_or(|end| end <= durable)
    {
        return broken(
            Invariant::ACKED_NOT_ON_DISK,
            format!("durable={durable} log-end-on-device={:?}", log_end(&segments)),
        );
    }
    let retained = retained(image, facts.plan.options.snapshots.retain);
    let snapshots = reads.snapshots(image);
    let checked = snapshots.iter().filter(|s| retained.contains(&s.offset) && !s.damaged);
    for snapshot in checked {
        if let Err(why) = &snapshot.manifest {
            return broken(
                Invariant::PAGE_FILE_MISSING,
                format!("snapshot={} manifest unreadable on the device: {why}", snapshot.offset),
            );
        }
        if let Some(path) = snapshot.missing.first() {
            return broken(
                Invariant::PAGE_FILE_MISSING,
                format!("snapshot={} refers to {path} on the device", snapshot.offset),
            );
        }
        if !connects(snapshot.offset, &segments) {
            let first = segments.first().map(|s| s.name_offset);
            return broken(
                Invariant::SNAPSHOT_DISCONNECTED,
                format!(
                    "snapshot={} log-first={first:?} log-end={:?}: the log on the device lacks offset {}",
                    snapshot.offset,
                    log_end(&segments),
                    snapshot.offset + 1
                ),
            );
        }
    }
    Ok(())
}

/// Segments contiguous and named by their first offset, whole commits only
/// (but for the last segment's tail while the machine is `down`).
fn check_segments(segments: &[Segment], down: bool) -> Result<(), Violation> {
    let mut expected_next: Option<u64> = None;
    for (i, segment) in segments.iter().enumerate() {
        let s = &segment.summary;
        let at = |why: String| {
            broken(Invariant::SEGMENTS_BROKEN, format!("segment={} {why}", segment.path))
        };
        if let Err(why) = &s.header {
            return at(format!("header: {why}"));
        }
        if let Some(first) = s.first_offset()
            && first != segment.name_offset
        {
            return at(format!("first-commit-offset={first} differs from its name"));
        }
        if let Some(next) = expected_next
            && next != segment.name_offset
        {
            return at(format!(
                "starts at {} but the segment before ends at {next}",
                segment.name_offset
            ));
        }
        if let SegmentEnd::Tail { pos, reason } = &s.end
            && !(down && i + 1 == segments.len())
        {
            return at(format!("holds bytes that are not a whole commit at byte={pos}: {reason}"));
        }
        expected_next = Some(s.next_offset().unwrap_or(segment.name_offset));
    }
    Ok(())
}

/// No interrupted snapshot or rewrite survives a recovery.
fn check_leftovers(image: &DiskImage) -> Result<(), Violation> {
    let (snapshots, log) = (snapshots_dir(), log_dir());
    let leftover = image
        .list(&snapshots)
        .into_iter()
        .filter(|name| name.ends_with(".tmp"))
        .map(|name| format!("{snapshots}/{name}"))
        .chain(image.list(&snapshots).into_iter().filter_map(|name| {
            let tmp = format!("{snapshots}/{name}/manifest.tmp");
            (parse_snapshot_dir_name(&name).is_some() && image.file(&tmp).is_some()).then_some(tmp)
        }))
        .chain(
            image
                .list(&log)
                .into_iter()
                .filter(|name| name.ends_with(".rewrite"))
                .map(|name| format!("{log}/{name}")),
        )
        .next();
    match leftover {
        Some(path) => broken(Invariant::SNAPSHOT_LEFTOVER, format!("{path} after recovery")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use faultline_engine::fs::Fs;

    use faultline_sim::{FileImage, Seed};

    use super::*;
    use crate::judge::{FaultRecord, test_disk};
    use crate::model::Model;
    use crate::plan::Plan;

    fn check(image: &DiskImage, durable: Option<u64>) -> Result<(), Violation> {
        let plan = Plan::builder(Seed(7)).options(test_disk::options()).build().unwrap();
        let (model, faults) = (Model::new(), FaultRecord::default());
        let facts =
            Facts { model: &model, plan: &plan, faults: &faults, op_verdict: None, disk: None };
        check_device(image, durable, &facts)
    }

    fn invariant(result: Result<(), Violation>) -> Invariant {
        result.expect_err("the check must fail").invariant
    }

    #[test]
    fn a_healthy_device_passes_and_each_kind_of_breakage_is_named() {
        let (fs, _, durable) = test_disk::disk(60);
        let image = fs.image(View::Durable);
        check(&image, Some(durable)).expect("the engine's own disk is healthy");
        assert_eq!(invariant(check(&image, Some(durable + 1))), Invariant::ACKED_NOT_ON_DISK);

        // The oldest restore point no longer connects: the segments up to
        // the one holding its offset + 1 are gone.
        let oldest = *retained(&image, 3).iter().next().unwrap();
        let segments = segments(&image, &BTreeSet::new());
        let mut cut = image.clone();
        for segment in segments.iter().filter(|s| s.name_offset <= oldest + 1) {
            cut.files.remove(&segment.path);
        }
        assert_eq!(invariant(check(&cut, Some(durable))), Invariant::SNAPSHOT_DISCONNECTED);

        // A page file a retained manifest refers to is missing, or another.
        let page = image.files.keys().rev().find(|p| p.ends_with(".page")).unwrap().clone();
        let mut missing = image.clone();
        missing.files.remove(&page);
        assert_eq!(invariant(check(&missing, Some(durable))), Invariant::PAGE_FILE_MISSING);
        let mut other = image.clone();
        let file = other.files.get_mut(&page).unwrap();
        let mut bytes = (*file.bytes).clone();
        bytes[20] ^= 1;
        *file = FileImage { bytes: Arc::new(bytes), ..file.clone() };
        assert_eq!(invariant(check(&other, Some(durable))), Invariant::PAGE_FILE_MISSING);

        // A sealed segment cut short: the next one no longer continues it.
        let mut short = image.clone();
        let file = short.files.get_mut(&segments[0].path).unwrap();
        let len = file.bytes.len() - 10;
        *file = FileImage { bytes: Arc::new(file.bytes[..len].to_vec()), ..file.clone() };
        assert_eq!(invariant(check(&short, Some(durable))), Invariant::SEGMENTS_BROKEN);

        // The last segment cut inside its last commit: a torn tail, which
        // only a machine that went down (before the recovery that cuts it)
        // may show; a sealed segment's never.
        let mut torn = image.clone();
        let last = &segments.last().unwrap().path;
        let file = torn.files.get_mut(last).unwrap();
        let len = file.bytes.len() - 10;
        *file = FileImage { bytes: Arc::new(file.bytes[..len].to_vec()), ..file.clone() };
        let read = |image: &DiskImage, down| {
            let plan = Plan::builder(Seed(7)).options(test_disk::options()).build().unwrap();
            let (model, faults) = (Model::new(), FaultRecord::default());
            let facts =
                Facts { model: &model, plan: &plan, faults: &faults, op_verdict: None, disk: None };
            check_device_read(image, None, down, &facts, &mut Reads::default())
        };
        assert_eq!(invariant(read(&torn, false)), Invariant::SEGMENTS_BROKEN);
        read(&torn, true).expect("a torn tail after a crash is recovery's to cut");
        assert_eq!(invariant(read(&short, true)), Invariant::SEGMENTS_BROKEN);

        // A file a fault damaged is left out of what needs its bytes.
        let mut damaged = short.clone();
        let first = damaged.files.get_mut(&segments[0].path).unwrap();
        first.damaged = std::iter::once(0..1).collect();
        check(&damaged, Some(durable)).expect("damaged segments are not judged here");
    }

    #[test]
    fn a_check_is_repeated_once_the_filesystem_logged_a_change() {
        let (fs, _, durable) = test_disk::disk(30);
        let _ = fs.take_log();
        let plan = Plan::builder(Seed(7)).options(test_disk::options()).build().unwrap();
        let (model, faults) = (Model::new(), FaultRecord::default());
        let disk = Inspector { sim: fs.clone() };
        let facts = Facts {
            model: &model,
            plan: &plan,
            faults: &faults,
            op_verdict: None,
            disk: Some(&disk),
        };
        let mut checker = LayoutChecker::default();
        let stepped = RunEvent::DurabilityStepped { durable: Some(durable) };
        checker.observe(&stepped, &facts).expect("the engine's own disk is healthy");

        // A segment from the middle of the log removed, durably.
        let image = fs.image(View::Durable);
        let middle = segments(&image, &BTreeSet::new())[1].path.clone();
        fs.remove(Path::new(&middle)).unwrap();
        fs.sync_dir(Path::new(&log_dir())).unwrap();
        // Unchanged as far as the checker was told: not read again.
        checker.observe(&stepped, &facts).expect("nothing logged, nothing re-read");
        // Told (every call reaches the judge before the step's event).
        let log = fs.take_log();
        assert!(log.iter().any(|r| matches!(r, FsRecord::Call(c) if c.op == Op::Remove)));
        for record in &log {
            checker.observe(&RunEvent::Fs(record), &facts).unwrap();
        }
        assert_eq!(invariant(checker.observe(&stepped, &facts)), Invariant::SEGMENTS_BROKEN);
    }

    #[test]
    fn an_interrupted_snapshot_after_a_recovery_is_a_leftover() {
        let (_, image, _) = test_disk::disk(12);
        check_leftovers(&image).expect("none after a clean run");
        let mut tmp = image.clone();
        tmp.dirs.insert(format!("{}/00000000000000000099.tmp", snapshots_dir()));
        assert_eq!(invariant(check_leftovers(&tmp)), Invariant::SNAPSHOT_LEFTOVER);
    }
}
