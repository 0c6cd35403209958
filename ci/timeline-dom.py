#!/usr/bin/env python3
"""Checks a timeline page's DOM, as headless Chromium left it after the
viewer ran (`chromium --dump-dom`), against the run's own counters (the
failure entry of `faultline run --format json`): the lanes, the fault
marks, the crash marks and the highlighted first broken invariant are all
there, with counts equal to the run's stats.

    ci/timeline-dom.py DOM.html SWEEP.json PAGE.html

Exit 0 when every check holds; 1 (each broken check named) otherwise.
"""

import json
import re
import sys
from html.parser import HTMLParser


class Elements(HTMLParser):
    """Every element's tag, attributes and class list, in document order,
    the text inside the element with id `violation`, and the plan's text."""

    def __init__(self):
        super().__init__()
        self.elements = []
        self.violation_text = []
        self._in_violation = 0
        self.plan_text = []
        self._in_plan = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        attrs["class"] = (attrs.get("class") or "").split()
        self.elements.append((tag, attrs))
        if tag == "details" and attrs.get("id") == "plan":
            self._in_plan = True
        if attrs.get("id") == "violation":
            self._in_violation = 1
        elif self._in_violation and tag not in ("br", "img", "input"):
            self._in_violation += 1

    def handle_endtag(self, tag):
        if self._in_violation:
            self._in_violation -= 1
        if tag == "details":
            self._in_plan = False

    def handle_data(self, data):
        if self._in_violation:
            self.violation_text.append(data)
        if self._in_plan:
            self.plan_text.append(data)

    def having(self, *classes):
        return [a for _, a in self.elements if all(c in a["class"] for c in classes)]

    def by_id(self, name):
        return next((a for _, a in self.elements if a.get("id") == name), None)


def page_lanes(path):
    """How many lanes the page's data (written by the Rust side) has."""
    page = open(path, encoding="utf-8").read()
    found = re.search(r'<script id="timeline-data" type="application/json">(.*?)</script>', page, re.S)
    return len(json.loads(found.group(1))["lanes"]) if found else -1


def main():
    dom_path, sweep_path, page_path = sys.argv[1:4]
    dom = Elements()
    dom.feed(open(dom_path, encoding="utf-8").read())
    sweep = json.load(open(sweep_path, encoding="utf-8"))
    failure = next(f for f in sweep["failures"] if f.get("timeline") == page_path)
    stats = failure["stats"]
    problems = []

    def expect(what, seen, wanted):
        status = "ok" if seen == wanted else "MISMATCH"
        print(f"  {what}: page {seen}, run {wanted} {status}")
        if seen != wanted:
            problems.append(f"{what}: the page shows {seen}, the run counted {wanted}")

    body = dom.by_id("timeline")
    ready = next((a for t, a in dom.elements if t == "body"), {})
    if ready.get("data-ready") != "1":
        problems.append("the viewer did not finish its first draw (body data-ready is not 1)")
    print(f"timeline of {failure['scenario']} seed={failure['seed']} ({failure['kind']}), "
          f"first draw {ready.get('data-render-ms', '?')} ms")
    if body is None:
        problems.append("no #timeline element")
        body = {}
    lanes = [a for t, a in dom.elements if "lane" in a["class"] and "data-group" in a]
    groups = {}
    for lane in lanes:
        groups[lane["data-group"]] = groups.get(lane["data-group"], 0) + 1
    print(f"  lanes: {len(lanes)} ({', '.join(f'{g} {n}' for g, n in sorted(groups.items()))})")
    # The viewer draws every lane of the page's data...
    expect("lanes drawn, against the page's data", len(lanes), page_lanes(page_path))
    # ...and the data has one per client of the run's plan (the plan as the
    # Rust side printed it in the static header).
    clients = re.search(r"\bclients=(\d+)", "".join(dom.plan_text))
    if clients is None:
        problems.append("the plan in the header names no clients=")
    else:
        expect("client lanes, against the plan", groups.get("client", 0), int(clients.group(1)))
    for group in ("run", "offsets", "engine", "file"):
        if groups.get(group, 0) == 0:
            problems.append(f"no {group} lane")
    lane_calls = sum(int(lane.get("data-calls", 0)) for lane in lanes)
    expect("filesystem calls on the lanes", lane_calls, stats["fs_calls"])
    expect("filesystem calls on the timeline", int(body.get("data-calls", -1)), stats["fs_calls"])
    faults = sum(stats["faults"].values()) if isinstance(stats["faults"], dict) else stats["faults"]
    expect("fault marks", len(dom.having("mark", "fault")), faults)
    expect("crash marks", len(dom.having("mark", "crash")), stats["crashes"])
    expect("violation marks", len(dom.having("mark", "violation")), 1)
    highlighted = dom.by_id("violation")
    if highlighted is None or "highlight" not in highlighted["class"]:
        problems.append("no highlighted #violation")
    else:
        text = " ".join("".join(dom.violation_text).split())
        print(f"  highlighted: {text[:160]}")
        if failure["kind"] not in text:
            problems.append(f"the highlighted invariant does not name {failure['kind']}")
        if " ".join(failure["detail"].split())[:60] not in text:
            problems.append("the highlighted invariant does not show the failure's message")
    if dom.by_id("repro") is None or dom.by_id("plan") is None:
        problems.append("no plan or repro line at the top")
    for problem in problems:
        print(f"FAIL: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
