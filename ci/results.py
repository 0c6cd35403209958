#!/usr/bin/env python3
"""Sweep results (faultline run --format json) for CI systems.

  ci/results.py junit SHARD.json            JUnit XML of one result file
  ci/results.py merge OUT.json IN.json...   merge shard results into one
  ci/results.py summary IN.json...          counts and failures; exit 1 on any failure
"""
import json
import sys
from xml.sax.saxutils import escape, quoteattr


def load(paths):
    return [json.load(open(path)) for path in paths]


def merge(results):
    merged = {"shard": "merged", "wall_s": 0.0, "stopped_by_time": False, "cases": [], "failures": [], "scenarios": {}}
    for result in results:
        merged["wall_s"] = max(merged["wall_s"], result.get("wall_s", 0.0))
        merged["stopped_by_time"] |= bool(result.get("stopped_by_time"))
        merged["cases"] += result.get("cases", [])
        merged["failures"] += result.get("failures", [])
        for name, stats in result.get("scenarios", {}).items():
            into = merged["scenarios"].setdefault(name, {})
            for key, value in stats.items():
                if isinstance(value, dict):
                    sub = into.setdefault(key, {})
                    for k, v in value.items():
                        sub[k] = sub.get(k, 0) + v
                else:
                    into[key] = into.get(key, 0) + value
    return merged


def junit(result):
    failures = {(f["scenario"], f["seed"]): f for f in result["failures"]}
    by_scenario = {}
    for case in result["cases"]:
        by_scenario.setdefault(case["scenario"], []).append(case)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             f'<testsuites name="faultline" tests="{len(result["cases"])}" failures="{len(failures)}" time="{result["wall_s"]:.3f}">']
    for scenario, cases in sorted(by_scenario.items()):
        failed = sum(1 for c in cases if (scenario, c["seed"]) in failures)
        time = sum(c["wall_ms"] for c in cases) / 1e3
        lines.append(f'  <testsuite name={quoteattr(scenario)} tests="{len(cases)}" failures="{failed}" time="{time:.3f}">')
        for case in cases:
            head = f'    <testcase classname={quoteattr("faultline." + scenario)} name={quoteattr("seed " + case["seed"])} time="{case["wall_ms"] / 1e3:.3f}"'
            failure = failures.get((scenario, case["seed"]))
            if failure is None:
                lines.append(head + "/>")
                continue
            body = f'{failure["detail"]}\nfaults fired: {failure["fired"]}\nschedule: {failure["schedule"]}\nrepro: {failure["repro"]}'
            page = failure.get("timeline")
            if page:
                body += f"\ntimeline: {page}"
            lines.append(head + ">")
            lines.append(f'      <failure type={quoteattr(failure["kind"])} message={quoteattr(failure["detail"])}>{escape(body)}</failure>')
            if page:
                # The attachment convention junit readers (Jenkins, GitLab) link.
                lines.append(f"      <system-out>[[ATTACHMENT|{escape(page)}]]</system-out>")
            lines.append("    </testcase>")
        lines.append("  </testsuite>")
    lines.append("</testsuites>")
    return "\n".join(lines) + "\n"


def summary(result):
    print(f'cases={len(result["cases"])} failures={len(result["failures"])} wall={result["wall_s"]:.0f}s')
    for name, stats in sorted(result["scenarios"].items()):
        fired = sum(stats.get("faults", {}).values())
        print(f'  {name}: runs={stats.get("runs", 0)} crashes={stats.get("crashes", 0)} '
              f'recoveries={stats.get("recoveries", 0)} faults={fired}')
    for failure in result["failures"]:
        print(f'FAILED {failure["scenario"]} seed={failure["seed"]} {failure["kind"]}: {failure["detail"]}')
        print(f'  repro: {failure["repro"]}')
        if failure.get("timeline"):
            print(f'  timeline: {failure["timeline"]}')
    return 1 if result["failures"] else 0


def main(argv):
    if len(argv) >= 2 and argv[0] == "junit":
        sys.stdout.write(junit(merge(load(argv[1:]))))
        return 0
    if len(argv) >= 3 and argv[0] == "merge":
        json.dump(merge(load(argv[2:])), open(argv[1], "w"), indent=2)
        return 0
    if len(argv) >= 2 and argv[0] == "summary":
        return summary(merge(load(argv[1:])))
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
