#!/usr/bin/env bash
# The HTML timeline in a real browser: applies a planted bug
# (tests/planted/NN-*.patch, default 03: a retried fsync, so the case has faults, crashes and clients to show) to a scratch copy of HEAD, sweeps
# until a case fails, with `faultline run --html-dir`, renders the first
# failing case's page in headless Chromium, takes a screenshot, and checks
# through the DOM the viewer built (ci/timeline-dom.py) that the lanes, the
# fault marks, the crash marks and the highlighted first broken invariant
# are all there, with counts equal to the run's own stats in the sweep's
# json (which names the page); then clicks every fault and crash mark and
# the violation's "show" button (ci/timeline-clicks.js, run after the
# viewer in a copy of the page) and checks each shows its event's details.
#
#   ci/timeline-check.sh [BUG]
#   TIMELINE_BENCH=1 ci/timeline-check.sh   also renders a 100,000-event
#                                           page and prints how long its
#                                           first draw, a redraw and a click
#                                           take (figures for BENCHMARKS.md,
#                                           not a pass/fail)
#
# Chromium comes from Debian's packages (apt-get install chromium) when the
# machine has none. Everything lands in target/timeline-check: the sweep's
# json, the pages, the DOM as Chromium left it, the screenshot
# (timeline.png; scenarios/docs/timeline.png is a copy of one). Exit 0 when
# every check holds, 1 otherwise, 3 when this machine cannot run a browser
# (none, and no apt-get as root or password-less sudo to install one:
# ci/test.sh fails on that in CI and warns elsewhere).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
bug="${1:-03}"
out="$root/target/timeline-check"
scratch="$root/target/timeline-tree"
rm -rf "$out"
mkdir -p "$out"

# --- a browser --------------------------------------------------------------
find_browser() {
  command -v chromium || command -v chromium-browser || command -v google-chrome || true
}
chromium="$(find_browser)"
if [ -z "$chromium" ]; then
  echo "==> installing chromium (Debian package)"
  sudo_=""
  # Never a password prompt: root, or sudo that needs none.
  [ "$(id -u)" = 0 ] || sudo_="sudo -n"
  if ! command -v apt-get >/dev/null || { [ -n "$sudo_" ] && ! sudo -n true 2>/dev/null; }; then
    echo "CANNOT: no browser, and no apt-get as root (or sudo without a password) to install chromium" >&2
    exit 3
  fi
  $sudo_ apt-get update -q >"$out/apt.log" 2>&1 || true
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -q chromium >>"$out/apt.log" 2>&1 || {
    tail -20 "$out/apt.log" >&2
    echo "CANNOT: apt-get install chromium failed (the log above)" >&2
    exit 3
  }
  chromium="$(find_browser)"
  [ -n "$chromium" ] || { echo "CANNOT: chromium installed, but not on PATH" >&2; exit 3; }
fi
# Headless, and quiet on a machine without a network: no background
# connections, no first-run work, a fresh profile each time. The page is
# the last argument, a path: passed as a file:// URL.
profiles=()
trap 'git -C "$root" worktree remove --force "$scratch" >/dev/null 2>&1 || true; rm -rf "${profiles[@]}"' EXIT
browse() {
  local profile url
  profile="$(mktemp -d)"
  profiles+=("$profile")
  url="$(python3 -c 'import pathlib, sys; print(pathlib.Path(sys.argv[1]).resolve().as_uri())' "${@: -1}")"
  "$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --hide-scrollbars --user-data-dir="$profile" "${@:1:$#-1}" "$url" 2>>"$out/chromium.log" || {
    echo "FAIL: chromium failed on $url (its log: $out/chromium.log)" >&2
    exit 1
  }
}

# PAGE with the script PROBE run after its viewer, written to OUT.
with_probe() {
  python3 - "$1" "$2" "$3" <<'PY'
import sys
page = open(sys.argv[1], encoding="utf-8").read()
probe = open(sys.argv[2], encoding="utf-8").read()
assert page.count("</body>") == 1, "one body"
with open(sys.argv[3], "w", encoding="utf-8") as out:
    out.write(page.replace("</body>", "<script>\n" + probe + "</script>\n</body>"))
PY
}

# The body's data-NAME attribute in a dumped DOM.
body_data() {
  python3 -c '
import re, sys
body = re.search(r"<body([^>]*)>", open(sys.argv[1], encoding="utf-8").read())
found = body and re.search(r"data-" + sys.argv[2] + r"=\"([^\"]*)\"", body.group(1))
print(found.group(1) if found else "(not set: the probe did not run)")
' "$1" "$2"
}

# --- a failing planted-bug case, with its page ------------------------------
export CARGO_TARGET_DIR="$root/target/planted"
git worktree remove --force "$scratch" >/dev/null 2>&1 || true
rm -rf "$scratch"
git worktree prune
git worktree add --detach -q "$scratch" HEAD
git -C "$scratch" apply "$root"/tests/planted/"$bug"-*.patch
(cd "$scratch" && cargo build --release -q --locked -p faultline-scenarios --bin faultline)
faultline="$CARGO_TARGET_DIR/release/faultline"
page=""
first=0
while [ -z "$page" ] && [ "$first" -lt 2000 ]; do
  code=0
  (cd "$out" && "$faultline" run --seeds 50 --first-seed "$first" --format json \
    --output sweep.json --html-dir pages --html-max 50 >/dev/null 2>sweep.err) || code=$?
  if [ "$code" -gt 1 ]; then
    echo "FAIL: the sweep exited $code: $(tail -c 400 "$out/sweep.err")" >&2
    exit 1
  fi
  # The richest case: the most faults, crashes and transactions to see.
  page="$(python3 -c '
import json, sys
failures = [f for f in json.load(open(sys.argv[1]))["failures"] if f.get("timeline")]
def size(f):
    s = f["stats"]
    return (sum(s["faults"].values()) > 0, s["crashes"] > 0, s["txs_committed"], f["seed"])
print(max(failures, key=size)["timeline"] if failures else "")
' "$out/sweep.json")"
  first=$((first + 50))
done
if [ -z "$page" ]; then
  echo "FAIL: planted bug $bug: no failing case with a timeline in seeds 0..$first" >&2
  exit 1
fi
echo "==> planted bug $bug: $page"

# --- rendered, photographed, counted ----------------------------------------
browse --window-size=1600,1000 --screenshot="$out/timeline.png" "$out/$page" >/dev/null
browse --window-size=1600,1000 --dump-dom "$out/$page" >"$out/dom.html"
[ -s "$out/timeline.png" ] || { echo "FAIL: chromium wrote no screenshot" >&2; exit 1; }
echo "  screenshot: $out/timeline.png"
status=0
(cd "$out" && python3 "$root/ci/timeline-dom.py" dom.html sweep.json "$page") || status=1

# Clicks: the page again with ci/timeline-clicks.js after its viewer.
with_probe "$out/$page" "$root/ci/timeline-clicks.js" "$out/clicks.html"
browse --window-size=1600,1000 --dump-dom "$out/clicks.html" >"$out/clicks-dom.html"
clicks="$(body_data "$out/clicks-dom.html" clicks)"
echo "  clicks on every fault and crash mark, and on show: $clicks"
case "$clicks" in
  *" clicked, 0 wrong") ;;
  *) echo "FAIL: a click did not show its event's details: $clicks"; status=1 ;;
esac

# --- a 100,000-event page (TIMELINE_BENCH=1) --------------------------------
if [ "${TIMELINE_BENCH:-0}" = 1 ]; then
  unset CARGO_TARGET_DIR
  cargo build --release -q --locked -p faultline-tests --bin timeline_sample
  "$root/target/release/timeline_sample" "$out/big.html" 100000 | tee "$out/big.txt"
  for run in 1 2 3; do
    started=$(date +%s%N)
    browse --window-size=1600,1000 --dump-dom "$out/big.html" >"$out/big-dom.html"
    ended=$(date +%s%N)
    echo "  100k page, run $run: script $(body_data "$out/big-dom.html" render-ms) ms," \
      "navigation start to first draw $(body_data "$out/big-dom.html" load-ms) ms," \
      "$(( (ended - started) / 1000000 )) ms for the whole headless chromium --dump-dom (browser start included)"
  done
  # Redraws and a click, timed in the page (ci/timeline-perf.js).
  with_probe "$out/big.html" "$root/ci/timeline-perf.js" "$out/big-perf.html"
  browse --window-size=1600,1000 --dump-dom "$out/big-perf.html" >"$out/big-perf-dom.html"
  echo "  100k page, medians of 9 (ms): $(body_data "$out/big-perf-dom.html" perf)"
  browse --window-size=1600,1000 --screenshot="$out/big.png" "$out/big.html" >/dev/null
fi
exit "$status"
