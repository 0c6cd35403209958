#!/usr/bin/env bash
# The nightly job, with a time budget:
#   1. a sweep of every scenario with --check-determinism for SWEEP_SECONDS
#      (default 1800), results in results/nightly.{json,xml}; it fails,
#      naming the situation, if a scenario's must-reach situation (a power
#      loss inside a rotation, a crash between a commit's write and its
#      sync, ...) was never reached (`faultline run --must-reach`);
#   2. each fuzz target for FUZZ_SECONDS (default 600), crashes kept in
#      fuzz/artifacts/ (cargo-fuzz and a nightly toolchain are needed;
#      cargo-fuzz is installed if missing).
#
#   SWEEP_SECONDS=60 FUZZ_SECONDS=30 ci/nightly.sh      a quick run
#
#   3. ci/shrink-planted.sh: planted bugs 11 and 16 taken from a failing
#      seed through shrink and emit to a regression case that cargo test
#      fails with the bug and passes without.
#   4. ci/lazyfs.sh: real power cuts and torn writes on LazyFS for
#      LAZYFS_CYCLES cycles (default 1000) or LAZYFS_SECONDS (default 900),
#      when a LazyFS source is at LAZYFS_SOURCE (default ../shared/lazyfs,
#      beside the repo); skipped, saying so, when there is none.
#
# Failing cases go to results/corpus.tsv (one per scenario, kind and first
# invariant), never into the source tree; a CI system collects results/ and
# fuzz/artifacts/. Exit 1 if the sweep failed, a fuzz target found a crash,
# the shrink check failed, or the LazyFS loop failed.
set -euo pipefail
cd "$(dirname "$0")/.."
sweep_seconds="${SWEEP_SECONDS:-1800}"
fuzz_seconds="${FUZZ_SECONDS:-600}"
mkdir -p results
status=0

if [ "$sweep_seconds" -gt 0 ]; then
  cargo build --release -p faultline-scenarios --bin faultline
  target/release/faultline run --time "$sweep_seconds" --check-determinism --must-reach \
    --corpus results/corpus.tsv --format json --output results/nightly.json || status=1
  python3 ci/results.py junit results/nightly.json > results/nightly.xml
  python3 ci/results.py summary results/nightly.json || status=1
fi

if [ "$fuzz_seconds" -gt 0 ]; then
  command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz
  for target in $(cargo +nightly fuzz list); do
    mkdir -p "fuzz/target/work-corpus/$target"
    if ! cargo +nightly fuzz run "$target" "fuzz/target/work-corpus/$target" "fuzz/corpus/$target" \
        -- -max_total_time="$fuzz_seconds" -print_final_stats=1 > "results/fuzz-$target.log" 2>&1; then
      echo "fuzz target $target found a crash: see results/fuzz-$target.log and fuzz/artifacts/$target/" >&2
      status=1
    fi
    grep -E "^Done" "results/fuzz-$target.log" | sed "s/^/fuzz $target: /" || true
  done
fi
bash ci/shrink-planted.sh 11 16 || status=1

lazyfs_source="${LAZYFS_SOURCE:-../shared/lazyfs}"
if [ -d "$lazyfs_source" ]; then
  bash ci/lazyfs.sh "$lazyfs_source" "${LAZYFS_CYCLES:-1000}" "${LAZYFS_SECONDS:-900}" || status=1
else
  echo "nightly: no LazyFS source at $lazyfs_source: the LazyFS power-loss loop is skipped"
fi
exit "$status"
