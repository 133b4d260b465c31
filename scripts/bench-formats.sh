#!/usr/bin/env bash
# Format benchmark: the same generated Combined log read as the named format, through an
# Apache LogFormat string and through an nginx log_format string, alternately (A B C A B C …),
# then as .gz and .zst against single-threaded decompression alone. Prints medians and ratios.
#   scripts/bench-formats.sh [LINES]        (default 2000000)
set -euo pipefail
cd "$(dirname "$0")/.."
lines=${1:-2000000}
runs=${RUNS:-5}
dir=${BENCH_DIR:-/tmp/logveil-bench}
mkdir -p "$dir"
log="$dir/combined-$lines.log"
[ -s "$log" ] || scripts/genlog --lines "$lines" --seed 1 --days 3 --out "$log" --truth "$log.truth.json"
[ -s "$log.gz" ] || gzip -1 -c "$log" > "$log.gz"
if [ ! -s "$log.zst" ]; then
  if command -v zstd >/dev/null; then zstd -q -3 -c "$log" > "$log.zst"; else rm -f "$log.zst"; fi
fi
cargo build --release --quiet
bin=target/release/logveil
cat "$log" "$log.gz" > /dev/null
apache='%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"'
nginx='$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"'
t() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A times
for i in $(seq 1 "$runs"); do
  for kind in named apache nginx; do
    rm -rf "$dir/fo"
    case $kind in
      named) args=(--format combined) ;;
      apache) args=(--log-format "$apache") ;;
      nginx) args=(--nginx-format "$nginx") ;;
    esac
    times[$kind]+="$(t "$bin" --now 2026-10-08T00:00:00Z process "$log" --out "$dir/fo" -q --diagnostics off "${args[@]}") "
  done
done
for kind in gz zst; do
  f="$log.$kind"; [ -s "$f" ] || continue
  for i in $(seq 1 "$runs"); do
    rm -rf "$dir/fo"
    times[$kind]+="$(t "$bin" --now 2026-10-08T00:00:00Z process "$f" --out "$dir/fo" -q --diagnostics off) "
    if [ "$kind" = gz ]; then times[zcat]+="$(t sh -c "gzip -dc '$f' > /dev/null") "; else times[zstdcat]+="$(t sh -c "zstd -dc '$f' > /dev/null") "; fi
  done
done
rm -rf "$dir/fo"
size=$(stat -c %s "$log")
echo "input: $log ($lines lines, $size bytes); $(nproc) cores; median of $runs runs"
printf '%-28s %8s %10s %8s\n' what median_s MB_per_s ratio
ref=$(echo "${times[named]}" | tr ' ' '\n' | grep . | median)
for kind in named apache nginx gz zcat zst zstdcat; do
  [ -n "${times[$kind]:-}" ] || continue
  m=$(echo "${times[$kind]}" | tr ' ' '\n' | grep . | median)
  case $kind in
    named) label="--format combined" ;; apache) label="--log-format (Apache)" ;; nginx) label="--nginx-format" ;;
    gz) label="process .gz" ;; zcat) label="gzip -dc alone" ;; zst) label="process .zst" ;; zstdcat) label="zstd -dc alone" ;;
  esac
  awk -v l="$label" -v m="$m" -v s="$size" -v r="$ref" 'BEGIN { printf "%-28s %8.2f %10.1f %8.2f\n", l, m, s / m / 1e6, r / m }'
done
echo "(ratio: speed relative to --format combined; for .gz/.zst compare with the decompressor alone)"
