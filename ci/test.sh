#!/usr/bin/env bash
# The project's test command (README "Quickstart"; .ci/run calls it):
# formatting, clippy with warnings as errors (this also enforces the engine's
# isolation rules in engine/clippy.toml), the whole test suite, then one
# planted bug taken from a failing seed through shrink and emit to a
# regression case (ci/shrink-planted.sh; the nightly job takes two).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test"
cargo test --workspace --locked

step "ci/shrink-planted.sh 16 (failing seed -> shrunk, emitted case that cargo test fails with the bug)"
bash ci/shrink-planted.sh 16
