//! Rendering results: a failure with its repro line, the sweep's summary
//! table, and JSON and JUnit XML for batch systems (CI matrices, indexed
//! jobs) that collect shards.

use std::fmt::Write;
use std::io;

use faultline_sim::FaultClass;
use serde_json::json;

use crate::case_log::CaseLog;
use crate::outcome::{FailureKind, RunReport, RunStats};
use crate::sweep::SweepReport;

/// How many fault lines a failure shows.
const FIRED_SHOWN: usize = 12;

/// A failure, for people: scenario, seed, the faults that fired, the
/// broken invariant, and the one-line repro command.
pub fn failure_text(report: &RunReport) -> String {
    let mut text = String::new();
    let Some(failure) = report.outcome.failure() else { return text };
    let _ = writeln!(text, "FAILED {} seed={} ({})", report.scenario, report.seed, failure.kind);
    let _ = writeln!(text, "  broken: {failure}");
    let _ = writeln!(text, "  at: {:.3} ms simulated", failure.at_ns as f64 / 1e6);
    if let Some(profile) = report.fs_profile {
        let _ = writeln!(text, "  fs profile: {profile}");
    }
    let fired: Vec<String> =
        report.stats.faults.nonzero().map(|(class, n)| format!("{class}={n}")).collect();
    let _ = writeln!(
        text,
        "  faults fired: {} ; crashes={} poisonings={} recoveries={}",
        if fired.is_empty() { "none".to_owned() } else { fired.join(" ") },
        report.stats.crashes,
        report.stats.poisonings,
        report.stats.recoveries
    );
    for line in report.fired.iter().rev().take(FIRED_SHOWN).rev() {
        let _ = writeln!(text, "    {line}");
    }
    if report.fired.len() > FIRED_SHOWN {
        let _ = writeln!(
            text,
            "    ({} earlier lines not shown; --trace shows all)",
            report.fired.len() - FIRED_SHOWN
        );
    }
    let _ = writeln!(text, "  schedule: {} decisions", report.schedule.len());
    let _ = writeln!(text, "  trace hash: {:#018x}", report.trace_hash);
    let _ = writeln!(text, "  repro: {}", report.repro_command());
    if let Some(page) = &report.timeline_page {
        let _ = writeln!(text, "  timeline: {}", page.display());
    }
    text
}

/// One line for a run: outcome, hash, counters.
pub fn run_line(report: &RunReport) -> String {
    let s = &report.stats;
    format!(
        "{} seed={} outcome={} trace-hash={:#018x} sim-time={:.1}ms txs={} fs-calls={} crashes={} recoveries={} poisonings={} faults={}",
        report.scenario,
        report.seed,
        report.outcome.label(),
        report.trace_hash,
        s.sim_time_ns as f64 / 1e6,
        s.txs_committed,
        s.fs_calls,
        s.crashes,
        s.recoveries,
        s.poisonings,
        s.faults.total()
    )
}

/// The failures of one scenario with one kind (for a broken invariant,
/// the invariant): most of a sweep's failures are one bug found again.
#[derive(Clone, Debug)]
pub struct FailureGroup<'a> {
    /// The scenario.
    pub scenario: &'a str,
    /// The kind.
    pub kind: FailureKind,
    /// How many failing cases.
    pub count: u64,
    /// The first of them (lowest seed; `failures` sorted as a sweep sorts
    /// them): its repro is the group's.
    pub first: &'a RunReport,
}

/// `failures` grouped by (scenario, kind), in order of scenario and kind.
pub fn failure_groups(failures: &[RunReport]) -> Vec<FailureGroup<'_>> {
    let mut groups: std::collections::BTreeMap<(&str, FailureKind), FailureGroup<'_>> =
        std::collections::BTreeMap::new();
    for report in failures {
        let kind = report.outcome.failure().expect("failures fail").kind;
        groups
            .entry((report.scenario.as_str(), kind))
            .and_modify(|group| {
                group.count += 1;
                if report.seed < group.first.seed {
                    group.first = report;
                }
            })
            .or_insert(FailureGroup { scenario: &report.scenario, kind, count: 1, first: report });
    }
    groups.into_values().collect()
}

/// The failure groups, for people: count, scenario, kind, and the first
/// case's detail and repro.
pub fn failure_groups_text(failures: &[RunReport]) -> String {
    let mut text = String::new();
    let groups = failure_groups(failures);
    if groups.is_empty() {
        return text;
    }
    let _ = writeln!(
        text,
        "{} failing case(s) in {} group(s) by scenario and kind:",
        failures.len(),
        groups.len()
    );
    for group in &groups {
        let failure = group.first.outcome.failure().expect("failures fail");
        let _ = writeln!(
            text,
            "  {:>6} x {} {}: first seed={}: {}",
            group.count,
            group.scenario,
            group.kind,
            group.first.seed,
            clip(&failure.detail, DETAIL_SHOWN)
        );
        let _ = writeln!(text, "           repro: {}", group.first.repro_command());
    }
    text
}

/// How much of a failure's detail a group line shows.
const DETAIL_SHOWN: usize = 160;

/// `text`, at most `max` characters of it.
pub(crate) fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text.to_owned(),
    }
}

/// The summary table of a sweep.
pub fn summary_table(sweep: &SweepReport) -> String {
    let mut text = String::new();
    let _ = writeln!(
        text,
        "{:<24} {:>6} {:>6} {:>7} {:>6} {:>11} {:>8} {:>9} {:>8} {:>9} {:>8} {:>7}",
        "scenario",
        "seeds",
        "passed",
        "refused",
        "failed",
        "sim-time",
        "txs",
        "fs-calls",
        "crashes",
        "recovered",
        "poisoned",
        "faults"
    );
    let mut total = RunStats::default();
    let mut totals = [0u64; 3];
    for (scenario, stats) in &sweep.stats {
        let outcomes = &sweep.outcomes[scenario];
        let passed = outcomes.get("passed").copied().unwrap_or(0);
        let refused = outcomes.get("refused").copied().unwrap_or(0);
        let failed = stats.runs - passed - refused;
        totals[0] += passed;
        totals[1] += refused;
        totals[2] += failed;
        row(&mut text, scenario, stats, passed, refused, failed);
        total.add(stats);
    }
    row(&mut text, "total", &total, totals[0], totals[1], totals[2]);
    let _ = write!(text, "faults fired by class:");
    for class in FaultClass::ALL {
        let _ = write!(text, " {}={}", class, total.faults.get(class));
    }
    let _ = writeln!(text);
    if !sweep.profiles.is_empty() {
        let _ = write!(text, "fs profiles (cases, fsync errors, failed):");
        for (profile, tally) in &sweep.profiles {
            let fsync_errors = tally.stats.faults.get(FaultClass::FsyncError);
            let _ = write!(text, " {profile}={}/{fsync_errors}/{}", tally.stats.runs, tally.failed);
        }
        let _ = writeln!(text);
    }
    let _ = writeln!(
        text,
        "wall time {:.1}s{}; {:.1} seeds/s",
        sweep.wall.as_secs_f64(),
        if sweep.stopped_by_time { " (time budget reached)" } else { "" },
        total.runs as f64 / sweep.wall.as_secs_f64().max(1e-9)
    );
    text
}

fn row(text: &mut String, name: &str, s: &RunStats, passed: u64, refused: u64, failed: u64) {
    let _ = writeln!(
        text,
        "{:<24} {:>6} {:>6} {:>7} {:>6} {:>10.1}s {:>8} {:>9} {:>8} {:>9} {:>8} {:>7}",
        name,
        s.runs,
        passed,
        refused,
        failed,
        s.sim_time_ns as f64 / 1e9,
        s.txs_committed,
        s.fs_calls,
        s.crashes,
        s.recoveries,
        s.poisonings,
        s.faults.total()
    );
}

fn stats_json(s: &RunStats) -> serde_json::Value {
    let faults: serde_json::Map<String, serde_json::Value> =
        FaultClass::ALL.iter().map(|c| (c.name().to_owned(), json!(s.faults.get(*c)))).collect();
    json!({
        "runs": s.runs,
        "sim_time_ns": s.sim_time_ns,
        "txs_committed": s.txs_committed,
        "txs_refused": s.txs_refused,
        "durability_steps": s.durability_steps,
        "fs_calls": s.fs_calls,
        "fs_mutations": s.fs_mutations,
        "crashes": s.crashes,
        "poisonings": s.poisonings,
        "recoveries": s.recoveries,
        "incarnations": s.incarnations,
        "reads_checked": s.reads_checked,
        "faults": faults,
    })
}

/// The fault-site coverage of a sweep: for each site called, its calls,
/// the strikes that reached it, and those in play that never did; then
/// the timed crashes, each scenario's situations, and how fast the pairs
/// were reached.
pub fn coverage_table(sweep: &SweepReport) -> String {
    let coverage = &sweep.coverage;
    let mut text = String::new();
    let (reached, universe) = coverage.reached_of();
    let _ = writeln!(
        text,
        "fault-site coverage: {reached} of {universe} (site, strike) pairs reached; \
         {} cases aimed by directed search",
        sweep.focused
    );
    let _ = writeln!(text, "  {:<58} {:>8}  reached / never reached", "site", "calls");
    for (site, calls) in &coverage.calls {
        let mut hit = Vec::new();
        let mut never = Vec::new();
        for strike in coverage.in_play.iter().filter(|s| s.applies_to(site.op)) {
            match coverage.hits(&(*site, *strike)) {
                0 => never.push(strike.name().to_owned()),
                n => hit.push(format!("{strike}={n}")),
            }
        }
        let hit = if hit.is_empty() { "-".to_owned() } else { hit.join(" ") };
        let never =
            if never.is_empty() { String::new() } else { format!(" / never: {}", never.join(" ")) };
        let _ = writeln!(text, "  {:<58} {:>8}  {hit}{never}", site.to_string(), calls);
    }
    if !coverage.timed_crashes.is_empty() {
        let timed: Vec<String> = coverage
            .timed_crashes
            .iter()
            .map(|((gap, mode), n)| format!("{} {}={n}", gap.name(), mode.name()))
            .collect();
        let _ = writeln!(text, "  crashes on a timer: {}", timed.join("; "));
    }
    for (scenario, coverage) in &sweep.coverage_by_scenario {
        for (situation, n) in &coverage.situations {
            let state = if *n == 0 { "NEVER REACHED".to_owned() } else { format!("reached {n}x") };
            let _ = writeln!(text, "  situation {scenario}: {situation}: {state}");
        }
    }
    text
}

fn coverage_json(sweep: &SweepReport) -> serde_json::Value {
    let coverage = &sweep.coverage;
    let pairs: Vec<_> = coverage
        .universe()
        .into_iter()
        .map(|pair| {
            json!({
                "site": pair.0.to_string(),
                "strike": pair.1.name(),
                "hits": coverage.hits(&pair),
            })
        })
        .collect();
    let calls: serde_json::Map<String, serde_json::Value> =
        coverage.calls.iter().map(|(site, n)| (site.to_string(), json!(n))).collect();
    let timed: serde_json::Map<String, serde_json::Value> = coverage
        .timed_crashes
        .iter()
        .map(|((gap, mode), n)| (format!("{} {}", gap.name(), mode.name()), json!(n)))
        .collect();
    let situations: serde_json::Map<String, serde_json::Value> = sweep
        .coverage_by_scenario
        .iter()
        .filter(|(_, c)| !c.situations.is_empty())
        .map(|(scenario, c)| (scenario.clone(), json!(c.situations)))
        .collect();
    let (reached, universe) = coverage.reached_of();
    json!({
        "reached": reached,
        "universe": universe,
        "focused_cases": sweep.focused,
        "calls": calls,
        "pairs": pairs,
        "unreached": coverage.unreached().iter().map(|(site, strike)| format!("{site}={strike}")).collect::<Vec<_>>(),
        "timed_crashes": timed,
        "situations": situations,
        "growth": sweep.growth.iter().map(|(cases, pairs)| json!([cases, pairs])).collect::<Vec<_>>(),
    })
}

/// One case in the json.
#[derive(serde::Serialize)]
struct CaseJson<'a> {
    focus: Option<String>,
    fs_profile: Option<&'static str>,
    outcome: &'a str,
    scenario: &'a str,
    seed: String,
    trace_hash: String,
    wall_ms: f64,
}

/// Every case of the sweep, streamed from its log as the json is written.
struct CasesJson<'a>(&'a CaseLog);

impl serde::Serialize for CasesJson<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeSeq};
        let mut seq = serializer.serialize_seq(usize::try_from(self.0.len()).ok())?;
        for case in self.0.iter() {
            let case = case.map_err(|e| S::Error::custom(format!("reading the case log: {e}")))?;
            seq.serialize_element(&CaseJson {
                focus: case.focus.map(|f| f.to_string()),
                fs_profile: case.fs_profile.map(|p| p.name()),
                outcome: case.label,
                scenario: &case.scenario,
                seed: case.seed.to_string(),
                trace_hash: format!("{:#018x}", case.trace_hash),
                wall_ms: case.wall.as_secs_f64() * 1e3,
            })?;
        }
        seq.end()
    }
}

/// Every failure in full, each rendered as it is written.
struct FailuresJson<'a>(&'a [RunReport]);

impl serde::Serialize for FailuresJson<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|r| {
            let failure = r.outcome.failure().expect("failures fail");
            json!({
                "scenario": r.scenario,
                "seed": r.seed.to_string(),
                "kind": failure.kind.name(),
                "detail": failure.detail,
                "at_ns": failure.at_ns,
                "trace_hash": format!("{:#018x}", r.trace_hash),
                "fired": r.fired,
                "schedule": r.schedule.to_string(),
                "repro": r.repro_command(),
                "focus": r.focus.map(|f| f.to_string()),
                "fs_profile": r.fs_profile.map(|p| p.name()),
                "timeline": r.timeline_page.as_ref().map(|p| p.display().to_string()),
                "stats": stats_json(&r.stats),
            })
        }))
    }
}

/// The sweep's json document. Its fields are in name order, as the keys
/// of every other object in it are.
#[derive(serde::Serialize)]
struct SweepJson<'a> {
    cases: CasesJson<'a>,
    coverage: serde_json::Value,
    failure_groups: Vec<serde_json::Value>,
    failures: FailuresJson<'a>,
    interrupted_by: Option<usize>,
    partial: bool,
    profiles: serde_json::Map<String, serde_json::Value>,
    scenarios: serde_json::Map<String, serde_json::Value>,
    shard: &'a str,
    stopped_by_time: bool,
    wall_s: f64,
}

/// Writes the sweep as JSON: every case, every failure in full, the
/// counters. The cases stream from the sweep's log (a million-case sweep
/// is never one document in memory).
pub fn write_json(sweep: &SweepReport, shard: &str, out: impl io::Write) -> io::Result<()> {
    let document = SweepJson {
        cases: CasesJson(&sweep.cases),
        coverage: coverage_json(sweep),
        failure_groups: failure_groups(&sweep.failures)
            .iter()
            .map(|g| {
                json!({
                    "scenario": g.scenario,
                    "kind": g.kind.name(),
                    "count": g.count,
                    "first_seed": g.first.seed.to_string(),
                    "repro": g.first.repro_command(),
                })
            })
            .collect(),
        failures: FailuresJson(&sweep.failures),
        interrupted_by: sweep.interrupted_by,
        partial: sweep.interrupted_by.is_some(),
        profiles: sweep
            .profiles
            .iter()
            .map(|(profile, tally)| {
                let mut stats = stats_json(&tally.stats);
                stats["failed"] = json!(tally.failed);
                (profile.name().to_owned(), stats)
            })
            .collect(),
        scenarios: sweep
            .stats
            .iter()
            .map(|(name, stats)| (name.clone(), stats_json(stats)))
            .collect(),
        shard,
        stopped_by_time: sweep.stopped_by_time,
        wall_s: sweep.wall.as_secs_f64(),
    };
    let mut out = io::BufWriter::new(out);
    serde_json::to_writer_pretty(&mut out, &document).map_err(io::Error::from)?;
    io::Write::flush(&mut out)
}

/// The sweep as JSON, in memory (see [`write_json`]).
pub fn json(sweep: &SweepReport, shard: &str) -> io::Result<String> {
    let mut bytes = Vec::new();
    write_json(sweep, shard, &mut bytes)?;
    Ok(String::from_utf8(bytes).expect("serde_json writes UTF-8"))
}

pub(crate) fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Writes the sweep as JUnit XML: one test suite per scenario, one test
/// case per seed, streamed from the sweep's case log in one pass (cases and
/// failures are both sorted by scenario then seed).
pub fn write_junit(sweep: &SweepReport, out: impl io::Write) -> io::Result<()> {
    use std::io::Write as _;
    let mut out = io::BufWriter::new(out);
    writeln!(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>")?;
    let failures = sweep.failures.len();
    // A sweep a signal stopped says so where every junit reader shows it.
    let name = if sweep.interrupted_by.is_some() { "faultline (partial)" } else { "faultline" };
    writeln!(
        out,
        "<testsuites name=\"{name}\" tests=\"{}\" failures=\"{failures}\" time=\"{:.3}\">",
        sweep.cases.len(),
        sweep.wall.as_secs_f64()
    )?;
    let mut cases = sweep.cases.iter().peekable();
    let mut failed_runs = sweep.failures.iter().peekable();
    for (scenario, stats) in &sweep.stats {
        let failed = sweep.failures.iter().filter(|r| &r.scenario == scenario).count();
        writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failed}\" time=\"{:.3}\">",
            xml_escape(scenario),
            stats.runs,
            sweep.cases.wall_of(scenario).as_secs_f64()
        )?;
        while let Some(case) =
            cases.next_if(|c| c.as_ref().map_or(true, |c| &c.scenario == scenario))
        {
            let case = case?;
            write!(
                out,
                "    <testcase classname=\"faultline.{}\" name=\"seed {}\" time=\"{:.3}\"",
                xml_escape(scenario),
                case.seed,
                case.wall.as_secs_f64()
            )?;
            let key = (case.scenario.as_str(), case.seed);
            while failed_runs.next_if(|r| (r.scenario.as_str(), r.seed) < key).is_some() {}
            match failed_runs.peek().filter(|r| (r.scenario.as_str(), r.seed) == key) {
                Some(report) => {
                    let failure = report.outcome.failure().expect("failures fail");
                    write!(
                        out,
                        ">\n      <failure type=\"{}\" message=\"{}\">{}</failure>",
                        failure.kind,
                        xml_escape(&failure.to_string()),
                        xml_escape(&failure_text(report))
                    )?;
                    // The attachment convention CI systems' junit readers
                    // (Jenkins, GitLab) turn into a link to the artifact.
                    if let Some(page) = &report.timeline_page {
                        let page = xml_escape(&page.display().to_string());
                        write!(out, "\n      <system-out>[[ATTACHMENT|{page}]]</system-out>")?;
                    }
                    writeln!(out, "\n    </testcase>")?;
                }
                None => writeln!(out, "/>")?,
            }
        }
        writeln!(out, "  </testsuite>")?;
    }
    // Every case's scenario has its counters: no case is left unwritten.
    assert!(cases.next().is_none(), "a logged case of a scenario without counters");
    writeln!(out, "</testsuites>")?;
    out.flush()
}

/// The sweep as JUnit XML, in memory (see [`write_junit`]).
pub fn junit(sweep: &SweepReport) -> io::Result<String> {
    let mut bytes = Vec::new();
    write_junit(sweep, &mut bytes)?;
    Ok(String::from_utf8(bytes).expect("the junit is UTF-8"))
}
