#!/usr/bin/env bash
# Proves the harness finds real bugs: applies each planted bug in
# tests/planted/ to a scratch copy of the tree, builds the faultline CLI,
# and sweeps every scenario in batches of seeds until the first failure or
# the budget. Prints one row per bug: caught or not, by which scenario and
# invariant, after how many seeds and seconds. A patch that no longer
# applies is reported as such.
#
#   ci/planted.sh [BUDGET_SECONDS] [FILTER]   default 60 s per bug, every bug
#
# Exit 0 when every planted bug was caught, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
budget="${1:-60}"
filter="${2:-}"
root="$(pwd)"
scratch="$root/target/planted-tree"
export CARGO_TARGET_DIR="$root/target/planted"
rm -rf "$scratch"
git worktree prune
git worktree add --detach -q "$scratch" HEAD
trap 'git -C "$root" worktree remove --force "$scratch" >/dev/null 2>&1 || true' EXIT

printf '%-36s %-8s %-24s %-28s %8s %8s\n' bug caught scenario invariant seeds seconds
all_caught=0
for patch in tests/planted/*"$filter"*.patch; do
  name="$(basename "$patch" .patch)"
  git -C "$scratch" reset -q --hard HEAD
  if ! git -C "$scratch" apply "$root/$patch" 2>/dev/null; then
    printf '%-36s %-8s %s\n' "$name" "NO-APPLY" "the patch no longer applies: refresh it"
    all_caught=1
    continue
  fi
  if ! (cd "$scratch" && cargo build --release -q -p faultline-scenarios --bin faultline 2>/dev/null); then
    printf '%-36s %-8s %s\n' "$name" "NO-BUILD" "the patched tree does not build"
    all_caught=1
    continue
  fi
  start=$(date +%s)
  first=0 seeds=0 found=""
  while [ $(( $(date +%s) - start )) -lt "$budget" ]; do
    out="$CARGO_TARGET_DIR/planted-$name.json"
    code=0
    "$CARGO_TARGET_DIR/release/faultline" run --seeds 10 --first-seed "$first" \
      --format json --output "$out" >/dev/null 2>"$out.stderr" || code=$?
    seeds=$(( seeds + 10 ))
    # A sweep that died without its results (exit above 2: a signal) is
    # reported as such, with the end of its stderr, not read as a pass.
    found="$(python3 -c '
import json, sys
try:
    results = json.load(open(sys.argv[1]))
except (OSError, ValueError):
    results = None
if results is None or results.get("partial") or int(sys.argv[2]) > 2:
    print("sweep-died", "exit=" + sys.argv[2])
    sys.exit()
failures = results["failures"]
if failures:
    f = failures[0]
    print(f["scenario"], f["kind"])
' "$out" "$code")"
    [ -n "$found" ] && break
    first=$(( first + 10 ))
  done
  elapsed=$(( $(date +%s) - start ))
  if [ "${found%% *}" = sweep-died ]; then
    printf '%-36s %-8s %s\n' "$name" DIED "the sweep process died ($found): $(tail -c 300 "$out.stderr" | tr '\n' ' ')"
    all_caught=1
  elif [ -n "$found" ]; then
    read -r scenario kind <<< "$found"
    printf '%-36s %-8s %-24s %-28s %8s %8s\n' "$name" yes "$scenario" "$kind" "$seeds" "$elapsed"
  else
    printf '%-36s %-8s %-24s %-28s %8s %8s\n' "$name" NO - - "$seeds" "$elapsed"
    all_caught=1
  fi
done
exit "$all_caught"
