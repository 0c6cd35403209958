#!/usr/bin/env bash
# Memory over a long sweep: runs `faultline run` (2 jobs, supervised
# workers) for CASES cases (a case is one seed of one scenario) or until
# BUDGET seconds, and samples every 5 s the resident memory of the sweep
# process and of its worker processes. Prints the peak at the first sample
# past 10k, 100k and 1M cases (and at the end), so that flat memory shows
# as flat numbers. Samples go to target/memory/samples.tsv.
#
#   ci/memory.sh [CASES] [BUDGET_SECONDS]   default 1000000 cases, 3600 s
set -euo pipefail
cd "$(dirname "$0")/.."
cases="${1:-1000000}"
budget="${2:-3600}"
out=target/memory
mkdir -p "$out"
cargo build --release -q -p faultline-scenarios --bin faultline
# GNU time (Debian's `time` package) for the peak at exit.
[ -x /usr/bin/time ] || { apt-get install -y -q time >/dev/null || sudo apt-get install -y -q time >/dev/null; }
scenarios=$(./target/release/faultline list | grep -c '^[a-z]')
seeds=$(( (cases + scenarios - 1) / scenarios ))
echo "memory: $seeds seeds x $scenarios scenarios (>= $cases cases), budget $budget s"

# --verbose prints one line per passing case: their count is the cases
# done (a failure is printed in full instead: failures are few, and the
# json has every one).
# GNU time reports, at exit, the largest peak RSS of the sweep process and
# of the workers it waited for: a 5 s sample can miss the json's writing,
# this cannot.
/usr/bin/time -f '%M' -o "$out/max_rss_kb" \
  ./target/release/faultline run --seeds "$seeds" --jobs 2 --time "$budget" --verbose \
  --format json --output "$out/sweep.json" 2>"$out/stderr.log" >/dev/null &
timer=$!
trap 'kill "$timer" 2>/dev/null; pkill -P "$timer" 2>/dev/null || true' EXIT
sweep=""
while [ -z "$sweep" ] && kill -0 "$timer" 2>/dev/null; do
  sleep 0.1
  sweep=$(pgrep -P "$timer" || true)
done

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
# The kernel's high-water mark of the sweep process: its peak so far,
# between samples too.
hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

printf 'seconds\tcases\tsweep_rss_kb\tworkers_rss_kb\ttotal_rss_kb\tsweep_hwm_kb\n' >"$out/samples.tsv"
start=$(date +%s)
while kill -0 "$sweep" 2>/dev/null; do
  sleep 5
  done_cases=$(grep -c ' outcome=' "$out/stderr.log" || true)
  main=$(rss_kb "$sweep")
  hwm=$(hwm_kb "$sweep")
  workers=0
  for child in $(pgrep -P "$sweep" || true); do
    workers=$((workers + $(rss_kb "$child")))
  done
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$(( $(date +%s) - start ))" "$done_cases" "$main" "$workers" \
    "$((main + workers))" "$hwm" >>"$out/samples.tsv"
done
trap - EXIT
wait "$timer" || echo "memory: the sweep exited with $? (failures are in $out/sweep.json)"

awk -F'\t' 'NR > 1 {
    if ($5 > peak) peak = $5
    if ($3 > peak_main) peak_main = $3
    if ($4 > peak_workers) peak_workers = $4
    if ($6 > hwm) hwm = $6
    for (i = 0; i < 3; i++) {
      if (!said[i] && $2 >= mark[i]) {
        printf "past %8d cases (%7d done, %5d s): peak RSS %7.1f MiB (sweep %6.1f, workers %6.1f; sweep high-water %6.1f)\n",
          mark[i], $2, $1, peak / 1024, peak_main / 1024, peak_workers / 1024, hwm / 1024
        said[i] = 1
      }
    }
    last = $2; secs = $1
  }
  BEGIN { mark[0] = 10000; mark[1] = 100000; mark[2] = 1000000 }
  END {
    printf "end: %d cases in %d s: peak RSS %.1f MiB (sweep %.1f, workers %.1f; sweep high-water %.1f)\n",
      last, secs, peak / 1024, peak_main / 1024, peak_workers / 1024, hwm / 1024
  }' "$out/samples.tsv"
awk '{ printf "largest peak RSS of the sweep process or one worker, at exit (json written): %.1f MiB\n", $1 / 1024 }' \
  "$out/max_rss_kb"
