#!/usr/bin/env bash
# One shard of a seed sweep, for a CI matrix (or Kubernetes indexed jobs):
#
#   ci/sweep-shard.sh K N [SEEDS] [SECONDS]
#
# runs shard K of N (1-based) of every scenario over seeds 0..SEEDS
# (default 2000), stopping new cases after SECONDS (default 1200), with
# determinism checks, and writes results/shard-K-of-N.{json,xml} (json for
# tools, JUnit for CI test reports), and each failing case's HTML timeline
# in results/timelines/ (the json and JUnit entries name it). A failing
# case also lands in
# tests/regressions/ (collect that file too). Exit 0: all passed; 1: a
# failure; 2: bad usage.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 2 ]; then
  echo "usage: ci/sweep-shard.sh K N [SEEDS] [SECONDS]" >&2
  exit 2
fi
k="$1" n="$2" seeds="${3:-2000}" seconds="${4:-1200}"
mkdir -p results
cargo build --release -p faultline-scenarios --bin faultline
status=0
target/release/faultline run --shard "$k/$n" --seeds "$seeds" --time "$seconds" \
  --check-determinism --corpus "results/corpus-$k-of-$n.tsv" \
  --html-dir results/timelines \
  --format json --output "results/shard-$k-of-$n.json" || status=$?
python3 ci/results.py junit "results/shard-$k-of-$n.json" > "results/shard-$k-of-$n.xml"
exit "$status"
