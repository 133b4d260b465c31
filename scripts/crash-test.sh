#!/usr/bin/env bash
# Crash safety of logveil: a run killed with SIGKILL at random moments, then run again, must
# leave exactly the reports of one clean run, and nothing partial may be visible meanwhile.
#
#   scripts/crash-test.sh [LINES] [KILLS]     (default 1200000 lines, about 280 MB; 20 kills)
#
# 1. generates a log (scripts/genlog) and runs the release binary on it once, cleanly;
# 2. KILLS times: starts the same run, kills it (kill -9) after a random delay (half of them
#    near the end of the run, where it commits), checks what a reader sees
#    (scripts/check_crash.py visible), reruns, and checks the reports, the diagnostics and
#    the ledger equal the clean run's (scripts/check_crash.py same). Three kills in four hit
#    a run on a fresh output tree; every fourth hits a run on a tree that already counted
#    the first 40% of the log (cut inside a day), so the killed run republishes days that
#    are already visible.
#
# Uses target/release/logveil (built by scripts/verify.sh; built here when missing) and a
# venv with pyarrow (${VERIFY_VENV:-/tmp/logveil-verify-venv}, made when missing).
# Ends with `crash-test: N passed, M failed` and exits 1 when any check failed.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
ROOT=$(pwd)
LINES=${1:-1200000}
KILLS=${2:-20}
NOW=2026-10-08T00:00:00Z
VENV=${VERIFY_VENV:-/tmp/logveil-verify-venv}
BIN=${LOGVEIL_BIN:-$ROOT/target/release/logveil}

if [ ! -x "$BIN" ]; then
  echo "crash-test: building the release binary"
  cargo build --release --quiet || exit 2
  BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/logveil
fi
if ! "$VENV/bin/python" -c 'import pyarrow' 2>/dev/null; then
  python3 -m venv "$VENV" && "$VENV/bin/pip" install -q "$(grep -o '^pyarrow==[0-9.]*' scripts/requirements-verify.txt)" || exit 2
fi
PY=$VENV/bin/python

TMP=$(mktemp -d /tmp/logveil-crash.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
python3 scripts/genlog --lines "$LINES" --seed 11 --start 2026-10-05 --days 3 --out "$TMP/access.log" || exit 2
head -c 32 /dev/urandom > "$TMP/salt"
size=$(stat -c %s "$TMP/access.log")
run() { # OUT: the same run every time (a fixed salt, so that sketches compare). `exec`, so
  # that a background `run &` is the logveil process itself and `kill -9 $!` reaches it.
  exec "$BIN" --now "$NOW" -q process "$TMP/access.log" --out "$1" --salt-file "$TMP/salt" --k-min 0 --diagnostics errors
}

t0=$(date +%s%N)
(run "$TMP/clean") || { echo "crash-test: the clean run failed"; exit 1; }
t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
echo "crash-test: $LINES lines ($size bytes), clean run in ${ms} ms"

# A tree that counted the first 40% of the log; the same run on it reads the rest.
head -n $((LINES * 2 / 5)) "$TMP/access.log" > "$TMP/head.log"
"$BIN" --now "$NOW" -q process "$TMP/head.log" --out "$TMP/base" --salt-file "$TMP/salt" --k-min 0 --diagnostics errors \
  || { echo "crash-test: the run over the first 40% failed"; exit 1; }
cp -a "$TMP/base" "$TMP/continued"
t0=$(date +%s%N)
(run "$TMP/continued") || { echo "crash-test: the continued run failed"; exit 1; }
t1=$(date +%s%N)
ms_cont=$(( (t1 - t0) / 1000000 ))
"$PY" scripts/check_crash.py same "$TMP/continued" "$TMP/clean" \
  || { echo "crash-test: two runs over the log do not give the reports of one"; exit 1; }
echo "crash-test: the rest of the log on a tree holding its first 40% in ${ms_cont} ms"

pass=0 fail=0
declare -A states
for i in $(seq 1 "$KILLS"); do
  out=$TMP/crash
  rm -rf "$out"
  span=$ms
  if (( i % 4 == 0 )); then
    cp -a "$TMP/base" "$out"
    span=$ms_cont
  fi
  if (( i % 2 )); then
    delay=$(( RANDOM * 32768 + RANDOM ))
    delay=$(( delay % (span + 1) ))
  else
    delay=$(( span * 85 / 100 + (RANDOM % (span * 20 / 100 + 1)) ))
  fi
  run "$out" & pid=$!
  sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  if state=$("$PY" scripts/check_crash.py visible "$out"); then
    states[$state]=$(( ${states[$state]:-0} + 1 ))
    if (run "$out") && "$PY" scripts/check_crash.py same "$out" "$TMP/clean"; then
      pass=$((pass + 1))
      echo "crash-test: kill $i after ${delay} ms ($state): ok"
    else
      fail=$((fail + 1))
      echo "crash-test: kill $i after ${delay} ms ($state): FAILED after the rerun"
    fi
  else
    fail=$((fail + 1))
    echo "crash-test: kill $i after ${delay} ms: FAILED, a partial state was visible"
  fi
done
for s in "${!states[@]}"; do echo "crash-test: killed while $s: ${states[$s]}"; done
echo "crash-test: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
