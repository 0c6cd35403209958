#!/usr/bin/env bash
# Mutation testing of the engine's commitlog, snapshot, bootstrap and
# durability code against the whole engine test suite (cargo-mutants).
#
#   ci/mutants.sh                 every mutant (hours on 2 cores)
#   ci/mutants.sh --shard 3/10    one shard of ten, for a CI matrix
#   ci/mutants.sh --list          just list the mutants
#
# Prints caught / missed / unviable / timeout and each missed mutant,
# marked explained if tests/planted/README.md lists it as equivalent
# ("Surviving mutants"); results are in mutants.out/ (not checked in).
# Exits 0 when at least 90% of viable mutants were caught and every missed
# one is explained, 1 otherwise, 2 on a tool failure.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo-mutants >/dev/null 2>&1 || cargo install --locked cargo-mutants

files=(
  --file 'engine/src/commitlog/*.rs'
  --file 'engine/src/snapshot/*.rs'
  --file 'engine/src/db/*.rs'
  --file 'engine/src/datastore/state.rs'
  --file 'engine/src/datastore/mvcc.rs'
)
if [ "${1:-}" = "--list" ]; then
  exec cargo mutants --list --package faultline-engine "${files[@]}"
fi

status=0
cargo mutants --package faultline-engine "${files[@]}" --timeout 60 --build-timeout 300 --jobs 1 "$@" || status=$?
# cargo-mutants: 0 all caught, 2 some missed, 3 some timed out; others are failures.
case "$status" in 0|2|3) ;; *) echo "cargo-mutants failed: exit $status" >&2; exit 2 ;; esac

python3 - <<'PY'
import json, re, sys
data = json.load(open("mutants.out/outcomes.json"))
counts = {"caught": 0, "missed": 0, "unviable": 0, "timeout": 0}
missed = []
for outcome in data.get("outcomes", []):
    summary = outcome.get("summary", "")
    key = {"CaughtMutant": "caught", "MissedMutant": "missed", "Unviable": "unviable", "Timeout": "timeout"}.get(summary)
    if key is None:
        continue
    counts[key] += 1
    if key == "missed":
        scenario = outcome.get("scenario", {})
        missed.append(scenario.get("Mutant", {}).get("name", str(scenario)) if isinstance(scenario, dict) else str(scenario))
viable = counts["caught"] + counts["missed"] + counts["timeout"]
# A timeout is a mutant that made the suite hang: the tests noticed it.
rate = 100.0 * (counts["caught"] + counts["timeout"]) / viable if viable else 100.0
strict = 100.0 * counts["caught"] / viable if viable else 100.0
print(f"caught={counts['caught']} missed={counts['missed']} unviable={counts['unviable']} "
      f"timeout={counts['timeout']} caught-of-viable={rate:.1f}% (timeouts not counted: {strict:.1f}%)")
# Survivors explained as equivalent in tests/planted/README.md, by name
# without the line and column (`file: replace ... in ...`).
explained = set(re.findall(r"^- `([^`]+)`", open("tests/planted/README.md").read(), re.M))
unexplained = 0
for name in missed:
    key = re.sub(r":\d+:\d+:", ":", name, count=1)
    if key in explained:
        print(f"missed (explained): {name}")
    else:
        print(f"missed (UNEXPLAINED): {name}")
        unexplained += 1
sys.exit(0 if rate >= 90.0 and unexplained == 0 else 1)
PY
