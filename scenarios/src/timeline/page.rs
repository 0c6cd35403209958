//! The HTML page of a run's timeline: one self-contained file (styles,
//! script and data inline, nothing fetched), the same bytes for the same
//! run. Its header (plan, repro line, the failure) is static HTML, readable
//! without the script; the viewer draws the timeline from the data.

use std::fmt::Write as _;

use crate::outcome::{Outcome, RunReport};
use crate::report::xml_escape;

use super::Timeline;

const VIEWER_JS: &str = include_str!("viewer.js");
const VIEWER_CSS: &str = include_str!("viewer.css");

/// The page of `report`'s run, drawn from `timeline` (the run's, kept with
/// [`crate::RunConfig::keep_timeline`]).
pub fn page(report: &RunReport, timeline: &Timeline) -> String {
    page_with_notice(report, timeline, None)
}

/// The page, with `notice` (if any) shown first in its header: what the
/// reader must know about this run (a replay that did not end as the run
/// it stands for).
pub fn page_with_notice(report: &RunReport, timeline: &Timeline, notice: Option<&str>) -> String {
    let mut html = String::with_capacity(4096 + timeline.marks.len() * 128);
    let title = format!("faultline: {} seed {}", report.scenario, report.seed);
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>\n{VIEWER_CSS}</style>\n</head>\n<body>\n",
        xml_escape(&title)
    );
    header(&mut html, report, timeline, notice);
    html.push_str("<main id=\"timeline\"></main>\n<aside id=\"details\"></aside>\n");
    html.push_str("<script id=\"timeline-data\" type=\"application/json\">");
    html.push_str(&script_safe_json(timeline));
    html.push_str("</script>\n<script>\n");
    html.push_str(VIEWER_JS);
    html.push_str("</script>\n</body>\n</html>\n");
    html
}

/// The data as JSON that cannot end its `<script>` element: a `<` can only
/// be inside a JSON string, where `\u003c` means the same.
fn script_safe_json(timeline: &Timeline) -> String {
    let json = serde_json::to_string(timeline).expect("the timeline serializes");
    json.replace('<', "\\u003c")
}

fn header(html: &mut String, report: &RunReport, timeline: &Timeline, notice: Option<&str>) {
    let (class, label) = match &report.outcome {
        Outcome::Passed => ("outcome-passed", "passed".to_owned()),
        Outcome::Refused { .. } => ("outcome-refused", "refused (allowed)".to_owned()),
        Outcome::Failed(failure) => ("outcome-failed", failure.kind.name().to_owned()),
    };
    let _ = writeln!(
        html,
        "<header id=\"run-header\">\n<h1>faultline timeline: <span class=\"scenario\">{}</span> \
         seed <span class=\"seed\">{}</span> <span class=\"outcome {class}\">{}</span></h1>",
        xml_escape(&report.scenario),
        report.seed,
        xml_escape(&label)
    );
    if let Some(notice) = notice {
        let _ = writeln!(html, "<div id=\"notice\">{}</div>", xml_escape(notice));
    }
    if let Outcome::Failed(failure) = &report.outcome {
        // A failure found after the run (a nondeterministic trace) has no
        // mark to jump to: the header says it all the same.
        let (mark, jump) = match &timeline.violation {
            Some(violation) => (
                format!(" data-mark=\"{}\"", violation.mark),
                " <button id=\"jump-to-violation\" type=\"button\">show</button>",
            ),
            None => (String::new(), ""),
        };
        let _ = writeln!(
            html,
            "<div id=\"violation\" class=\"highlight\"{mark}>first broken invariant \
             <b class=\"invariant\">{}</b> at <span class=\"at\">{:.3} ms</span>: \
             <span class=\"message\">{}</span>{jump}</div>",
            xml_escape(failure.kind.name()),
            failure.at_ns as f64 / 1e6,
            xml_escape(&failure.detail)
        );
    }
    if let Outcome::Refused { error } = &report.outcome {
        let _ = writeln!(
            html,
            "<div id=\"refusal\">the engine refused the damaged history, as allowed: {}</div>",
            xml_escape(error)
        );
    }
    let _ = writeln!(
        html,
        "<div class=\"repro\">repro: <code id=\"repro\">{}</code></div>",
        xml_escape(&report.repro_command())
    );
    let _ = writeln!(
        html,
        "<div class=\"identity\">trace hash <code>{:#018x}</code>{}</div>",
        report.trace_hash,
        report
            .fs_profile
            .map_or(String::new(), |p| format!(" · filesystem profile <code>{p}</code>"))
    );
    let _ = writeln!(
        html,
        "<details id=\"plan\" open><summary>plan</summary><pre>{}</pre></details>",
        xml_escape(&report.plan)
    );
    let schedule = if report.schedule.is_empty() {
        "none".to_owned()
    } else {
        report.schedule.to_string().replace(' ', "\n")
    };
    let _ = writeln!(
        html,
        "<details id=\"schedule\"><summary>fault schedule ({} decisions)</summary><pre>{}</pre></details>",
        report.schedule.len(),
        xml_escape(&schedule)
    );
    stats_table(html, report);
    html.push_str("</header>\n");
}

fn stats_table(html: &mut String, report: &RunReport) {
    let s = &report.stats;
    let faults: Vec<String> = s.faults.nonzero().map(|(class, n)| format!("{class}={n}")).collect();
    let rows = [
        ("simulated time", format!("{:.3} ms", s.sim_time_ns as f64 / 1e6)),
        ("incarnations", s.incarnations.to_string()),
        ("transactions committed", s.txs_committed.to_string()),
        ("transactions refused", s.txs_refused.to_string()),
        ("durability steps", s.durability_steps.to_string()),
        ("filesystem calls", s.fs_calls.to_string()),
        ("faults fired", s.faults.total().to_string()),
        ("faults by class", if faults.is_empty() { "none".to_owned() } else { faults.join(" ") }),
        ("crashes", s.crashes.to_string()),
        ("poisonings", s.poisonings.to_string()),
        ("recoveries", s.recoveries.to_string()),
        ("read checks", s.reads_checked.to_string()),
    ];
    html.push_str("<table id=\"stats\">\n");
    for (name, value) in rows {
        let _ = writeln!(html, "<tr><th>{name}</th><td>{}</td></tr>", xml_escape(&value));
    }
    html.push_str("</table>\n");
}
