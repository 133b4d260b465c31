#!/usr/bin/env bash
# How logveil's speed and memory scale with input size, threads and cardinality.
#
#   scripts/bench-scale.sh            (SIZES="1000000 10000000 50000000", STRESS=10000000, RUNS=3)
#
# 1. generates a Combined log of the largest size up to 10M lines with scripts/genlog (seed
#    21); a larger size repeats that log (so it has the same cardinalities);
# 2. runs `logveil process` with every report, diagnostics of errors and an anonymised copy,
#    on each size: 2 threads over mmap, 2 threads over read() (--no-mmap), and 1 thread over
#    mmap for the sizes up to 10M;
# 3. runs it on a stress log of STRESS lines in which every line has its own path and every
#    two lines their own user agent (aggregation must stay bounded by its sketches);
# 4. writes SCALING.md (a table: wall, CPU, lines/s, peak RSS; machine, date, commands) and
#    docs/scaling.svg (lines/s and peak RSS against input size).
#
# Each run is timed by /usr/bin/time after the log was read once with cat (warm cache) and a
# sync; each row gives the medians of RUNS runs (wall time, CPU, peak RSS) and every run's.
# Environment: BENCH_DIR (default /tmp/logveil-scale; needs about 30 GB for 50M lines),
# SIZES, STRESS, LOGVEIL (binary; default target/release/logveil, built when missing).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
SIZES=${SIZES:-"1000000 10000000 50000000"}
STRESS=${STRESS:-10000000}
RUNS=${RUNS:-3}
BENCH_DIR=${BENCH_DIR:-/tmp/logveil-scale}
BIN=${LOGVEIL:-$ROOT/target/release/logveil}
NOW=2026-10-08T00:00:00Z
mkdir -p "$BENCH_DIR" docs
if [ ! -x "$BIN" ]; then
  cargo build --release --quiet
  BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/logveil
fi

base=10000000
max=0
for n in $SIZES; do [ "$n" -gt "$max" ] && max=$n; done
gen=$(( max < base ? max : base ))
if [ ! -s "$BENCH_DIR/gen-$gen.log" ]; then
  echo "bench-scale: generating $gen lines"
  python3 scripts/genlog --lines "$gen" --seed 21 --start 2026-10-05 --days 3 --out "$BENCH_DIR/gen-$gen.log"
fi
for n in $SIZES; do
  f=$BENCH_DIR/combined-$n.log
  [ -s "$f" ] && continue
  if [ "$n" -le "$gen" ]; then
    head -n "$n" "$BENCH_DIR/gen-$gen.log" > "$f"
  else
    : > "$f"
    left=$n
    while [ "$left" -gt 0 ]; do
      take=$(( left < gen ? left : gen ))
      head -n "$take" "$BENCH_DIR/gen-$gen.log" >> "$f"
      left=$(( left - take ))
    done
  fi
done
if [ "$STRESS" -gt 0 ] && [ ! -s "$BENCH_DIR/stress-$STRESS.log" ]; then
  echo "bench-scale: generating the stress log ($STRESS lines)"
  python3 - "$STRESS" "$BENCH_DIR/stress-$STRESS.log" <<'EOF'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as f:
    for i in range(n):
        a = i // 2
        f.write(
            f"198.51.{(i >> 8) & 255}.{i & 255} - - [05/Oct/2026:{(i // 3600) % 24:02d}:{(i // 60) % 60:02d}:{i % 60:02d} +0000] "
            f"\"GET /catalogue/item-{i:x}/detail HTTP/1.1\" 200 {i % 5000} \"https://ref{i % 1000}.example/\" "
            f"\"ScaleBot/{a % 97}.{a} (+https://bot{a}.example/)\"\n"
        )
EOF
fi

RESULTS=$BENCH_DIR/results.tsv
: > "$RESULTS"
median() { sort -g | awk '{a[NR] = $1} END { print a[int((NR + 1) / 2)] }'; }
run() { # label size log args...: RUNS runs; the medians of wall, CPU and peak RSS
  local label=$1 size=$2 log=$3
  shift 3
  local out=$BENCH_DIR/out i t walls="" rsss="" users="" syss=""
  cat "$log" > /dev/null
  for i in $(seq 1 "$RUNS"); do
    rm -rf "$out" "$BENCH_DIR/copy"
    mkdir -p "$BENCH_DIR/copy"
    # The previous run's copy goes to disk first: no run waits for another's writeback.
    sync
    t=$( { /usr/bin/time -f '%e %M %U %S' "$BIN" --now "$NOW" process "$log" --out "$out" -q \
            --diagnostics errors --anonymised-log "$BENCH_DIR/copy" "$@" 2>&1 >/dev/null; } | tail -n 1)
    read -r wall rss user sys <<<"$t"
    echo "bench-scale: $label, $size lines, run $i/$RUNS: ${wall}s, peak RSS $((rss / 1024)) MiB"
    walls+="$wall "; rsss+="$rss "; users+="$user "; syss+="$sys "
  done
  wall=$(tr ' ' '\n' <<<"$walls" | grep . | median)
  rss=$(tr ' ' '\n' <<<"$rsss" | grep . | median)
  user=$(tr ' ' '\n' <<<"$users" | grep . | median)
  sys=$(tr ' ' '\n' <<<"$syss" | grep . | median)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$size" "$(stat -c %s "$log")" "$wall" "$user" "$sys" "$rss" "${walls% }" "${rsss% }" >> "$RESULTS"
  rm -rf "$out" "$BENCH_DIR/copy"
}
for n in $SIZES; do
  log=$BENCH_DIR/combined-$n.log
  run "2 threads, mmap" "$n" "$log"
  run "2 threads, read()" "$n" "$log" --no-mmap
  if [ "$n" -le 10000000 ]; then run "1 thread, mmap" "$n" "$log" --threads 1; fi
done
if [ "$STRESS" -gt 0 ]; then
  run "stress: a path per line, an agent per 2 lines" "$STRESS" "$BENCH_DIR/stress-$STRESS.log"
fi

python3 - "$RESULTS" "$BIN" "$SIZES" "$STRESS" "$RUNS" <<'EOF'
import datetime, os, platform, subprocess, sys
results, binary, sizes, stress, runs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
rows = [l.rstrip("\n").split("\t") for l in open(results) if l.strip()]
def mib(kb): return int(kb) / 1024
cpu = "?"
for l in open("/proc/cpuinfo"):
    if l.startswith("model name"):
        cpu = l.split(":", 1)[1].strip(); break
ver = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.strip()
out = ["# Scaling: speed and memory against input size", "",
       f"Generated by `scripts/bench-scale.sh` on {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC "
       f"with SIZES=\"{sizes}\" STRESS={stress} RUNS={runs}; {ver}.", "",
       f"**Machine:** {os.cpu_count()} cores, {cpu}, Linux {platform.release()}. "
       f"Load average before the report: {' '.join(open('/proc/loadavg').read().split()[:3])}.", "",
       "**Job:** `logveil process LOG --out OUT -q --diagnostics errors --anonymised-log DIR` (every report, "
       "diagnostics of error lines, an anonymised copy), plus the options in the first column. "
       "Logs from `scripts/genlog` (seed 21, 3 days, Combined); sizes above 10M repeat the 10M log. "
       "The stress log gives every line its own path and every two lines their own user agent "
       "(10M distinct paths, 5M distinct agents at 10M lines). "
       f"Page cache warm, a sync before each run; {runs} runs of each row, whose medians are shown "
       "(wall time, CPU user and system, peak RSS), then every run's wall time and peak RSS.", "",
       "| run | lines | MB | wall | CPU user+sys | lines/s | peak RSS | runs: wall (s) | runs: peak RSS (MiB) |",
       "|---|---|---|---|---|---|---|---|---|"]
for label, n, size, wall, user, sys_, rss, walls, rsss in rows:
    lps = int(int(n) / float(wall)) if float(wall) > 0 else 0
    each = ", ".join(f"{mib(x):.0f}" for x in rsss.split())
    out.append(f"| {label} | {int(n):,} | {int(size)/1e6:.0f} | {float(wall):.2f} s | {float(user)+float(sys_):.2f} s "
               f"| {lps:,} | {mib(rss):.0f} MiB | {walls.replace(' ', ', ')} | {each} |")
def get(label, n):
    for r in rows:
        if r[0] == label and r[1] == str(n):
            return r
ns = [int(x) for x in sizes.split()]
out.append("")
for label in ["2 threads, mmap", "2 threads, read()"]:
    pts = [get(label, n) for n in ns if get(label, n)]
    if len(pts) >= 2:
        lo, hi = pts[-2], pts[-1]
        growth = (mib(hi[6]) - mib(lo[6])) / mib(lo[6]) * 100
        out.append(f"- {label}: peak RSS {mib(lo[6]):.0f} MiB at {int(lo[1]):,} lines, {mib(hi[6]):.0f} MiB at "
                   f"{int(hi[1]):,} lines ({growth:+.0f}%).")
for n in ns:
    a, b = get("2 threads, mmap", n), get("1 thread, mmap", n)
    if a and b:
        out.append(f"- {int(n):,} lines: 2 threads are {float(b[3]) / float(a[3]):.2f}× as fast as 1.")
out += ["", "![lines/s and peak RSS against input size](docs/scaling.svg)", ""]
open("SCALING.md", "w").write("\n".join(out) + "\n")

# Two small charts: lines/s and peak RSS against lines (log scale), one line per run kind.
import math
W, H, P = 360, 240, 48
colors = {"2 threads, mmap": "#1f77b4", "2 threads, read()": "#ff7f0e", "1 thread, mmap": "#2ca02c"}
def chart(x0, title, value, unit):
    series = {k: [(int(r[1]), value(r)) for r in rows if r[0] == k] for k in colors}
    xs = [x for s in series.values() for x, _ in s]
    ys = [y for s in series.values() for _, y in s]
    if not xs: return ""
    lx0, lx1 = math.log10(min(xs)), math.log10(max(xs)) or 1
    if lx1 == lx0: lx1 = lx0 + 1
    y1 = max(ys) * 1.15
    def px(x): return x0 + P + (math.log10(x) - lx0) / (lx1 - lx0) * (W - 2 * P)
    def py(y): return H - P + 10 - y / y1 * (H - 2 * P)
    g = [f'<text x="{x0 + W/2}" y="18" text-anchor="middle" font-size="13">{title}</text>',
         f'<line x1="{x0+P}" y1="{H-P+10}" x2="{x0+W-P}" y2="{H-P+10}" stroke="#444"/>',
         f'<line x1="{x0+P}" y1="{H-P+10}" x2="{x0+P}" y2="{P-10}" stroke="#444"/>']
    for k in range(5):
        y = y1 * k / 4
        g.append(f'<text x="{x0+P-4}" y="{py(y)+4:.1f}" text-anchor="end" font-size="10">{y:,.0f}</text>')
    for x in sorted(set(xs)):
        g.append(f'<text x="{px(x):.1f}" y="{H-P+24}" text-anchor="middle" font-size="10">{x/1e6:g}M</text>')
    g.append(f'<text x="{x0 + W/2}" y="{H-8}" text-anchor="middle" font-size="11">input lines ({unit})</text>')
    for k, s in series.items():
        if not s: continue
        s.sort()
        pts = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in s)
        g.append(f'<polyline points="{pts}" fill="none" stroke="{colors[k]}" stroke-width="2"/>')
        g += [f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{colors[k]}"/>' for x, y in s]
    return "\n".join(g)
legend = [f'<rect x="{20 + 200*i}" y="{H+6}" width="12" height="12" fill="{c}"/><text x="{36 + 200*i}" y="{H+16}" font-size="11">{k}</text>'
          for i, (k, c) in enumerate(colors.items())]
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{2*W}" height="{H+30}" font-family="sans-serif">',
       '<rect width="100%" height="100%" fill="white"/>',
       chart(0, "throughput (lines/s)", lambda r: int(r[1]) / float(r[3]), "log scale"),
       chart(W, "peak RSS (MiB)", lambda r: mib(r[6]), "log scale")] + legend + ["</svg>"]
open("docs/scaling.svg", "w").write("\n".join(svg) + "\n")
print("bench-scale: wrote SCALING.md and docs/scaling.svg")
EOF
