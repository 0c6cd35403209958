#!/usr/bin/env bash
# The long real-crash run: SIGKILL a driver running the engine on the real
# filesystem hundreds of times (aimed at rotations and snapshot persists
# too), reopen after each kill, and check that every acknowledged
# transaction survived and the state equals the model of some prefix.
#
#   ci/crash.sh [KILLS] [SECONDS]      defaults: 500 kills, 600 s budget
#
# Scratch files go under target/ (the real disk), not /tmp.
set -euo pipefail
cd "$(dirname "$0")/.."
kills="${1:-500}"
seconds="${2:-600}"
cargo build --release -p faultline-tests --bins
scratch="target/crash-scratch"
rm -rf "$scratch" && mkdir -p "$scratch"
exec target/release/crash_sweep --kills "$kills" --seconds "$seconds" --dir "$scratch/db"
