#!/usr/bin/env bash
# Whole-pipeline benchmark: generates a Combined log of N lines (deterministic), warms the
# page cache, then times `logveil process` on it and prints lines/s, MB/s and peak RSS.
#   scripts/bench.sh [LINES] [extra process options…]     (default 10000000 lines, ~2.4 GB)
# Environment: BENCH_DIR (default /tmp/logveil-bench), RUNS (default 3), THREADS.
set -euo pipefail
cd "$(dirname "$0")/.."
lines=${1:-10000000}
shift || true
dir=${BENCH_DIR:-/tmp/logveil-bench}
runs=${RUNS:-3}
mkdir -p "$dir"
log="$dir/combined-$lines.log"
if [ ! -s "$log" ]; then
  echo "generating $lines lines into $log" >&2
  scripts/genlog --lines "$lines" --seed 1 --days 3 --out "$log" --truth "$log.truth.json"
fi
cargo build --release --quiet
bin=target/release/logveil
size=$(stat -c %s "$log")
cat "$log" > /dev/null   # warm the page cache
threads_opt=()
[ -n "${THREADS:-}" ] && threads_opt=(--threads "$THREADS")
echo "input: $log ($lines lines, $size bytes); $(nproc) cores; $runs runs"
printf '%-4s %10s %12s %10s %12s\n' run wall_s lines_per_s MB_per_s peak_rss_MiB
for i in $(seq 1 "$runs"); do
  out="$dir/out"
  rm -rf "$out"
  /usr/bin/time -f '%e %M' -o "$dir/time.txt" "$bin" --now 2026-10-08T00:00:00Z process "$log" --out "$out" -q "${threads_opt[@]}" "$@"
  read -r wall rss_kb < "$dir/time.txt"
  awk -v i="$i" -v w="$wall" -v n="$lines" -v s="$size" -v r="$rss_kb" \
    'BEGIN { printf "%-4s %10.2f %12.0f %10.1f %12.1f\n", i, w, n / w, s / w / 1e6, r / 1024 }'
done
rm -rf "$dir/out"
