#!/usr/bin/env bash
# Diagnostics query benchmark: builds a store of N diagnostics rows (`process --diagnostics all`
# on a generated Combined log), then times `logveil diag --ip` for one address and for its /24,
# RUNS times each, and prints every time and the median.
#   scripts/bench-diag.sh [LINES]        (default 10000000 lines, ~2.4 GB of log)
# Environment: BENCH_DIR (default /tmp/logveil-bench), RUNS (default 5), CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
lines=${1:-10000000}
dir=${BENCH_DIR:-/tmp/logveil-bench}
runs=${RUNS:-5}
now=2026-10-08T00:00:00Z
mkdir -p "$dir"
log="$dir/combined-$lines.log"
if [ ! -s "$log" ]; then
  echo "generating $lines lines into $log" >&2
  scripts/genlog --lines "$lines" --seed 1 --days 3 --out "$log" --truth "$log.truth.json"
fi
cargo build --release --quiet
bin=${CARGO_TARGET_DIR:-target}/release/logveil
out="$dir/diag-out-$lines"
if [ ! -d "$out/diagnostics" ]; then
  echo "building the diagnostics store in $out" >&2
  "$bin" --now "$now" process "$log" --out "$out" --diagnostics all --reports geo_daily -q
fi
rows=$("$bin" --now "$now" audit --out "$out" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["total_rows"])')
# A rare client (once among the first 200k lines) and its /24 (/120 for IPv6); and the client
# of the middle line, which the generator's Zipf popularity makes a frequent one.
rare=$(head -n 200000 "$log" | cut -d' ' -f1 | sort | uniq -c | awk '$1 == 1 && !found { print $2; found = 1 }')
hot=$(sed -n "$((lines / 2))p" "$log" | cut -d' ' -f1)
case "$rare" in
  *:*) net="$rare/120" ;;
  *) net="${rare%.*}.0/24" ;;
esac
echo "store: $out ($rows diagnostics rows, $(du -sh "$out/diagnostics" | cut -f1)); $runs runs each"

median() { sort -n | awk '{ a[NR] = $1 } END { m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.3f", m }'; }

# Each query as a user types it (default --limit 100, a table), and for every matching row
# (--limit 0, JSON lines); the frequent client only as typed (it has over a million rows).
bench() {
  local times=()
  for _ in $(seq 1 "$runs"); do
    start=$(date +%s.%N)
    "$bin" --now "$now" diag --out "$out" "$@" > "$dir/diag.txt" 2> "$dir/diag.err"
    end=$(date +%s.%N)
    times+=("$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f", e - s }')")
  done
  echo "diag $*: $(cat "$dir/diag.err"); times ${times[*]} s; median $(printf '%s\n' "${times[@]}" | median) s"
}
bench --ip "$rare"
bench --ip "$rare" --limit 0 --json
bench --ip "$net"
bench --ip "$net" --limit 0 --json
bench --ip "$hot"
