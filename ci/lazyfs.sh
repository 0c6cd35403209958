#!/usr/bin/env bash
# Real power cuts: the real-process crash driver runs the engine with its
# database inside a LazyFS mount (a FUSE filesystem with its own page cache
# that drops everything not fsynced on `lazyfs::clear-cache`). Each cycle
# SIGKILLs the driver at a seeded moment (aimed at rotations and snapshot
# persists, as ci/crash.sh does), clears LazyFS's cache (the power cut),
# reopens, and checks that every acknowledged transaction is there and the
# state equals the model of a prefix. One cycle in five instead tears the
# next write to the segment being appended (LazyFS's torn-op), and one in
# five arms a torn-seq on it; both make LazyFS crash itself, which is a
# power cut too. The loop is target/release/lazyfs_sweep (tests/src/bin).
#
#   ci/lazyfs.sh SOURCE [CYCLES] [SECONDS]   defaults: 1000 cycles, 900 s
#   LAZYFS_DRIVER=PATH ci/lazyfs.sh ...       another crash_driver (a planted bug's)
#   LAZYFS_SEED=X                             the seed (default: drawn, and printed)
#   LAZYFS_PROFILE=debug                      the debug build (what `cargo test` built)
#
# SOURCE is a LazyFS source tree (NOTES.md in ../shared/lazyfs says what
# this one is); it is copied to target/lazyfs/src and built there (Debian
# build dependencies installed with apt-get if missing), and not rebuilt
# while the source is unchanged. With no SOURCE, or one that does not exist,
# it says so and exits 0 without claiming a result. Everything it mounts or
# starts is unmounted and stopped on any exit.
#
# Exit codes: 0 every cycle kept its promises (or skipped), 1 an
# acknowledged transaction was lost or a recovery failed its checks, 2 bad
# usage, 3 LazyFS or the machine failed (build, mount, a LazyFS that does
# not answer).
set -euo pipefail
source_arg="${1:-}"
cycles="${2:-1000}"
seconds="${3:-900}"
if [ -z "$source_arg" ] || [ ! -d "$source_arg" ]; then
  echo "lazyfs: no LazyFS source directory${source_arg:+ at $source_arg}: skipped, nothing was tested"
  exit 0
fi
if [ ! -c /dev/fuse ]; then
  echo "lazyfs: no /dev/fuse on this machine: skipped, nothing was tested"
  exit 0
fi
source_dir="$(cd "$source_arg" && pwd)"
case "$cycles$seconds" in *[!0-9]*) echo "usage: ci/lazyfs.sh SOURCE [CYCLES] [SECONDS]" >&2; exit 2 ;; esac
driver="${LAZYFS_DRIVER:+$(cd "$(dirname "$LAZYFS_DRIVER")" && pwd)/$(basename "$LAZYFS_DRIVER")}"
cd "$(dirname "$0")/.."
root="$(pwd)"
work="$root/target/lazyfs"
run="$work/run"
mnt="$work/mnt"
backing="$work/backing"
lazyfs_bin="$work/src/lazyfs/build/lazyfs"
start=$(date +%s)

say() { printf 'lazyfs: %s\n' "$*"; }

# --- build dependencies -----------------------------------------------------
deps=(fuse3 libfuse3-dev cmake g++ pkg-config libtoml11-dev libspdlog-dev)
missing=()
for package in "${deps[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' ||
    missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}" >/dev/null ||
    { echo "lazyfs: apt-get install ${missing[*]} failed" >&2; exit 3; }
fi
say "dependencies ready after $(( $(date +%s) - start )) s"

# --- LazyFS, built once per source tree --------------------------------------
# The hash covers every file's name and content, build output excluded.
source_hash="$(cd "$source_dir" && find . -type f -not -path '*/build/*' -not -path './.git/*' -print0 |
  LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)"
if [ -x "$lazyfs_bin" ] && [ "$(cat "$work/source.sha256" 2>/dev/null)" = "$source_hash" ]; then
  say "LazyFS already built from this source ($source_hash)"
else
  build_start=$(date +%s)
  rm -rf "$work/src" "$work/source.sha256"
  mkdir -p "$work"
  cp -a "$source_dir" "$work/src"
  # The source may be read-only (shared/ is in CI); the build writes build/ dirs.
  chmod -R u+w "$work/src"
  export CMAKE_BUILD_PARALLEL_LEVEL="${LAZYFS_BUILD_JOBS:-2}"
  if ! (cd "$work/src/libs/libpcache" && sh build.sh && cd "$work/src/lazyfs" && sh build.sh) \
      >"$work/build.log" 2>&1; then
    echo "lazyfs: the LazyFS build failed; the end of $work/build.log:" >&2
    tail -20 "$work/build.log" >&2
    exit 3
  fi
  echo "$source_hash" > "$work/source.sha256"
  say "built LazyFS in $(( $(date +%s) - build_start )) s (log: target/lazyfs/build.log)"
fi

# --- the sweep ----------------------------------------------------------------
# LAZYFS_PROFILE=debug reuses what `cargo test` built (ci/test.sh).
profile="${LAZYFS_PROFILE:-release}"
case "$profile" in
  release) cargo build --release -q -p faultline-tests --bins ;;
  debug) cargo build -q -p faultline-tests --bins ;;
  *) echo "lazyfs: LAZYFS_PROFILE is release or debug, not $profile" >&2; exit 2 ;;
esac
sweep="${CARGO_TARGET_DIR:-target}/$profile/lazyfs_sweep"
sweep_pid=""
# LazyFS names files by their backing path in commands it reads 100 bytes at
# a time, so it is given the backing directory through a short symlink (and
# the database is d/): a torn-op's command is then at most 98 bytes.
link=""
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  [ -z "$sweep_pid" ] || kill "$sweep_pid" 2>/dev/null || true
  [ -z "$sweep_pid" ] || wait "$sweep_pid" 2>/dev/null || true
  if grep -qs " $mnt fuse" /proc/self/mounts; then
    fusermount3 -u "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true
  fi
  local pid
  pid="$(cat "$run/lazyfs.pid" 2>/dev/null || true)"
  if [ -n "$pid" ] && [ -d "/proc/$pid" ] && grep -qs lazyfs "/proc/$pid/comm"; then
    kill -KILL "$pid" 2>/dev/null || true
  fi
  if grep -qs " $mnt fuse" /proc/self/mounts; then
    echo "lazyfs: $mnt is still mounted" >&2
  fi
  [ -z "$link" ] || rm -f "$link"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A mount an earlier run left (killed before its trap) goes first.
if grep -qs " $mnt fuse" /proc/self/mounts; then
  fusermount3 -u "$mnt" 2>/dev/null || umount -l "$mnt"
fi
rm -rf "$run" "$backing"
mkdir -p "$run" "$mnt" "$backing"
link="$(mktemp -u /tmp/lzXXXX)"
ln -s "$backing" "$link"
cat > "$run/config.toml" <<EOF
[faults]
fifo_path="$run/faults.fifo"
fifo_path_completed="$run/faults_done.fifo"

[cache]
apply_eviction=false

[cache.simple]
# Well above the working set: a full cache silently writes through.
custom_size="256mb"
blocks_per_page=1

[filesystem]
log_all_operations=false
logfile="$run/lazyfs.log"
EOF

# The sweep mounts LazyFS itself (it remounts after every torn fault, which
# crashes LazyFS); `timeout` is a backstop past the sweep's own budget.
timeout --kill-after=30 $(( seconds + 300 )) "$sweep" \
  --lazyfs "$lazyfs_bin" --config "$run/config.toml" --mount "$mnt" --backing "$link" \
  --fifo "$run/faults.fifo" --fifo-done "$run/faults_done.fifo" --log "$run/lazyfs.log" \
  --output "$run/lazyfs.out" --pid-file "$run/lazyfs.pid" --dir "$mnt/d" \
  --cycles "$cycles" --seconds "$seconds" ${LAZYFS_SEED:+--seed "$LAZYFS_SEED"} \
  ${driver:+--driver "$driver"} &
sweep_pid=$!
status=0
wait "$sweep_pid" || status=$?
sweep_pid=""
if [ "$status" = 124 ] || [ "$status" = 137 ]; then
  echo "lazyfs: the sweep overran its budget by 300 s and was stopped" >&2
  status=3
fi
say "total $(( $(date +%s) - start )) s (dependencies, build and sweep)"
exit "$status"
