#!/usr/bin/env bash
# The project's test command (README "Quickstart"; .ci/run calls it):
# formatting, clippy with warnings as errors (this also enforces the engine's
# isolation rules in engine/clippy.toml), then the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test"
cargo test --workspace --locked
