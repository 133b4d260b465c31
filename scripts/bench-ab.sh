#!/usr/bin/env bash
# Side-by-side comparison of logveil binaries (for example two commits) on one job: runs them
# in turn (A B … A B …), each after a `sync` and with a fresh output tree, under
# `/usr/bin/time`, and prints per binary the median wall time, the median CPU time (user+sys),
# the median peak RSS and every run's CPU time.
#   scripts/bench-ab.sh RUNS BIN_A BIN_B [BIN…] -- logveil arguments…
# Example, the previous commit against this one on the benchmark log:
#   git worktree add /tmp/prev HEAD~1 && (cd /tmp/prev && cargo build --release)
#   cargo build --release
#   scripts/bench-ab.sh 4 /tmp/prev/target/release/logveil target/release/logveil -- \
#     process /tmp/logveil-bench/combined-10000000.log --diagnostics errors
# The output tree (`--out`, added after the arguments) is a temporary directory; the clock is
# pinned with `--now`, so that every binary publishes the same days.
set -euo pipefail
if [ $# -lt 4 ]; then
  sed -n '2,13p' "$0" >&2
  exit 2
fi
runs=$1
shift
bins=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  bins+=("$1")
  shift
done
[ "${1:-}" = "--" ] && shift
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for i in $(seq 1 "$runs"); do
  for k in "${!bins[@]}"; do
    rm -rf "$work/out"
    sync
    /usr/bin/time -f "$k %e %U %S %M" -a -o "$work/times" \
      "${bins[$k]}" --now 2026-10-08T00:00:00Z "$@" --out "$work/out" -q >/dev/null 2>"$work/stderr" ||
      { echo "bench-ab: ${bins[$k]} failed: $(tail -n 3 "$work/stderr")" >&2; exit 1; }
  done
done
python3 - "$work/times" "${bins[@]}" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip() and l.split()[0].isdigit()]
for k, b in enumerate(sys.argv[2:]):
    r = [list(map(float, x[1:])) for x in rows if int(x[0]) == k]
    cpu = [u + s for _, u, s, _ in r]
    print(f"{b}: wall {statistics.median(w for w, *_ in r):.3f} s, "
          f"cpu {statistics.median(cpu):.3f} s, "
          f"peak RSS {statistics.median(m for *_, m in r) / 1024:.0f} MiB, "
          f"cpu per run {[round(c, 2) for c in cpu]}")
PY
