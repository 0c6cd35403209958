#!/usr/bin/env bash
# From a planted bug to a regression case, end to end, as a user would go:
# applies each named planted bug (tests/planted/NN-*.patch) to a scratch
# copy of the tree, sweeps to the first failing batch of seeds, shrinks its
# biggest failure with `faultline shrink --emit`, and checks that
#   - the shrunk case has at most 3 transactions and 2 fault decisions and
#     is shorter in simulated time than the original;
#   - the emitted case, committed as `status fixed`, makes `cargo test`
#     (tests/tests/regression_cases.rs) fail with the bug applied, and
#     passes it without the bug.
# The committed cases that name a planted bug (a `# planted NN` line)
# are checked the same way: each must fail `cargo test` with its bug.
#
#   ci/shrink-planted.sh [BUG...]   default: 11 16
#
# The scratch copy is HEAD: commit what you want checked. Exit 0 when every
# check holds, 1 otherwise (a patch that does not apply or a tree that does
# not build stops it with that tool's error). Everything it builds goes to
# target/planted (shared with ci/planted.sh); the scratch tree is removed on
# any exit.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
bugs=("$@")
[ ${#bugs[@]} -gt 0 ] || bugs=(11 16)
scratch="$root/target/shrink-tree"
work=""
trap 'git -C "$root" worktree remove --force "$scratch" >/dev/null 2>&1 || true; [ -z "$work" ] || rm -rf "$work"' EXIT
work="$(mktemp -d)"
export CARGO_TARGET_DIR="$root/target/planted"
# A scratch tree an earlier run left (killed before its trap) is removed.
git worktree remove --force "$scratch" >/dev/null 2>&1 || true
rm -rf "$scratch"
git worktree prune
git worktree add --detach -q "$scratch" HEAD
faultline="$CARGO_TARGET_DIR/release/faultline"
cases_dir="tests/regressions/cases"
ok=0

fail() { echo "FAIL: $*"; ok=1; }

# Puts the scratch tree at HEAD, with planted bug $1 applied unless it is "-".
tree_at() {
  git -C "$scratch" reset -q --hard HEAD
  git -C "$scratch" clean -qfd
  if [ "$1" != - ]; then
    git -C "$scratch" apply "$root"/tests/planted/"$1"-*.patch
  fi
  (cd "$scratch" && cargo build --release -q --locked -p faultline-scenarios --bin faultline)
}

# Runs the regression-case test in the scratch tree; its exit code.
cases_test() {
  (cd "$scratch" && cargo test --release -q --locked -p faultline-tests \
    --test regression_cases >"$work/cases-test.out" 2>&1)
}

# The biggest failing case (most transactions, then most simulated time:
# the most to shrink) of the first sweep batch from seed 0 that has a
# failure; printed as "scenario seed [--focus F]".
biggest_failure() {
  local first=0 found=""
  while [ "$first" -lt 2000 ]; do
    local code=0
    "$faultline" run --seeds 50 --first-seed "$first" --format json \
      --output "$work/sweep.json" >/dev/null 2>"$work/sweep.err" || code=$?
    if [ "$code" -gt 1 ]; then
      echo "FAIL: the sweep exited $code: $(tail -c 400 "$work/sweep.err")" >&2
      return
    fi
    found="$(python3 -c '
import json, sys
failures = json.load(open(sys.argv[1]))["failures"]
if failures:
    size = lambda f: (f["stats"]["txs_committed"] + f["stats"]["txs_refused"], f["stats"]["sim_time_ns"])
    f = max(failures, key=size)
    focus = ["--focus", f["focus"]] if f["focus"] else []
    print(" ".join([f["scenario"], f["seed"]] + focus))
' "$work/sweep.json")"
    [ -n "$found" ] && { echo "$found"; return; }
    first=$(( first + 50 ))
  done
}

# Reads a field (txs, decisions, sim-time) from a shrink report's line.
field() { sed -n "s/.*$2=\([0-9.]*\).*/\1/p" <<< "$1"; }

# Shrinks the biggest failure of the bug now applied and emits its case into
# the scratch tree's cases, marked `fixed` (as it is committed after the fix,
# so the bug's return fails cargo test); checks the shrunk sizes.
shrink_and_emit() {
  local bug="$1" found before after txs decisions sim_before sim_after
  found="$(biggest_failure)"
  if [ -z "$found" ]; then
    fail "bug $bug: no failing seed in 2000"
    return
  fi
  read -r -a case_args <<< "$found"
  echo "biggest failure of the first failing batch: ${case_args[*]}"
  local emit="$work/emit-$bug"
  mkdir -p "$emit"
  "$faultline" shrink --scenario "${case_args[0]}" --seed "${case_args[1]}" \
    "${case_args[@]:2}" --emit "$emit" | tee "$work/shrink.out" || true
  before="$(grep '^before:' "$work/shrink.out" || true)"
  after="$(grep '^after:' "$work/shrink.out" || true)"
  if [ -z "$after" ]; then
    fail "bug $bug: the shrink did not reproduce the failure"
    return
  fi
  txs="$(field "$after" txs)" decisions="$(field "$after" decisions)"
  sim_before="$(field "$before" sim-time)" sim_after="$(field "$after" sim-time)"
  [ "$txs" -le 3 ] || fail "bug $bug: $txs transactions after shrinking (at most 3)"
  [ "$decisions" -le 2 ] || fail "bug $bug: $decisions decisions after shrinking (at most 2)"
  python3 -c 'import sys; sys.exit(not float(sys.argv[2]) < float(sys.argv[1]))' \
    "$sim_before" "$sim_after" ||
    fail "bug $bug: the shrunk case (${sim_after} ms) is not shorter than the original (${sim_before} ms)"
  local case_file
  case_file="$(ls "$emit"/*.case)"
  sed -i 's/^status open$/status fixed/' "$case_file"
  grep -q '^status fixed$' "$case_file" || fail "bug $bug: the emitted case has no status line"
  # Under a name of its own: a committed case of the same seed is checked
  # beside it, not replaced.
  local committed_as="emitted-$(basename "$case_file")"
  cp "$case_file" "$scratch/$cases_dir/$committed_as"
  emitted+=("$case_file")
  expect_failing+=("$committed_as")
}

# The bugs to apply: those named, and those committed cases name.
declare -A committed=()
for case_file in "$scratch/$cases_dir"/*.case; do
  bug="$(sed -n 's/^# planted \([0-9][0-9]\).*/\1/p' "$case_file")"
  [ -n "$bug" ] && committed[$bug]+=" $(basename "$case_file")"
done
all_bugs="$(printf '%s\n' "${bugs[@]}" "${!committed[@]}" | sort -u)"
emitted=()

for bug in $all_bugs; do
  echo "==> planted bug $bug: $(basename "$root"/tests/planted/"$bug"-*.patch .patch)"
  tree_at "$bug"
  read -r -a expect_failing <<< "${committed[$bug]:-}"
  if [[ " ${bugs[*]} " == *" $bug "* ]]; then
    shrink_and_emit "$bug"
  fi
  if cases_test; then
    fail "bug $bug: cargo test passes with the bug applied (cases: ${expect_failing[*]})"
    continue
  fi
  for name in "${expect_failing[@]}"; do
    if grep -qF "/$name:" "$work/cases-test.out"; then
      echo "with bug $bug: cargo test fails on $name, as it should"
    else
      fail "bug $bug: cargo test does not fail on $name: $(tail -5 "$work/cases-test.out")"
    fi
  done
done

echo "==> without any planted bug, the emitted cases committed"
tree_at -
for case_file in "${emitted[@]}"; do
  cp "$case_file" "$scratch/$cases_dir/emitted-$(basename "$case_file")"
done
if cases_test; then
  echo "cargo test passes with ${#emitted[@]} emitted case(s) committed"
else
  fail "cargo test fails without the bugs: $(tail -5 "$work/cases-test.out")"
fi
exit "$ok"
