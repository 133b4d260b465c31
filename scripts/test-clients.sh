#!/usr/bin/env bash
# The analysts' clients read every report table of a process tree and of a merged tree.
#
#   scripts/test-clients.sh [LINES]      (default 50000; works from any directory)
#
# 1. creates or reuses a venv (${CLIENTS_VENV:-/tmp/logveil-clients-venv}) with
#    scripts/requirements-clients.txt (duckdb, pyarrow, polars);
# 2. builds logveil (release; LOGVEIL_BIN=PATH uses that binary instead);
# 3. scripts/genlog writes a log; `logveil process` runs on it (default suppression), and
#    on its two halves with --k-min 0, which `logveil merge` merges (default suppression);
# 4. scripts/check_clients.py reads both trees with DuckDB, pyarrow.dataset and polars:
#    column types, `date` as the Hive partition column, totals agreeing across the three.
# Ends with `test-clients: N passed, M failed`; exits 1 when a check failed.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
ROOT=$(pwd)
LINES=${1:-50000}
VENV=${CLIENTS_VENV:-/tmp/logveil-clients-venv}
PYTHON=${PYTHON:-python3}
NOW=2026-10-08T00:00:00Z

if ! "$VENV/bin/python" -c 'import duckdb, pyarrow, polars' 2>/dev/null; then
  echo "test-clients: creating venv $VENV"
  "$PYTHON" -m venv "$VENV" && "$VENV/bin/pip" install -q -r scripts/requirements-clients.txt ||
    { echo "test-clients: FAIL could not install the clients"; exit 1; }
fi

if [[ -n ${LOGVEIL_BIN:-} ]]; then
  BIN=$LOGVEIL_BIN
else
  cargo build --release -q || { echo "test-clients: FAIL cargo build"; exit 1; }
  BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/logveil
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/logveil-clients.XXXXXX") || exit 2
trap 'rm -rf "$WORK"' EXIT
passed=0
failed=0
check() { # NAME COMMAND...
  local name=$1
  shift
  if "$@" >"$WORK/$name.log" 2>&1; then
    passed=$((passed + 1))
    echo "PASS  $name"
  else
    failed=$((failed + 1))
    echo "FAIL  $name; last lines of its output:"
    tail -n 30 "$WORK/$name.log" | sed 's/^/        /'
  fi
}

"$PYTHON" scripts/genlog --lines "$LINES" --seed 9 --days 3 --out "$WORK/all.log" >/dev/null
(cd "$WORK" && split -n l/2 -d all.log part.)
printf 'a secret shared by both halves\n' >"$WORK/salt"
chmod 600 "$WORK/salt"
check process "$BIN" -q --now "$NOW" process "$WORK/all.log" --out "$WORK/tree"
for i in 0 1; do
  check "process-half$i" "$BIN" -q --now "$NOW" process "$WORK/part.0$i" --out "$WORK/half$i" \
    --k-min 0 --salt-file "$WORK/salt"
done
check merge "$BIN" -q --now "$NOW" merge "$WORK/half0" "$WORK/half1" --out "$WORK/merged"
check clients-process-tree "$VENV/bin/python" scripts/check_clients.py "$WORK/tree"
check clients-merged-tree "$VENV/bin/python" scripts/check_clients.py "$WORK/merged"
grep -h '^check-clients' "$WORK"/clients-*.log
echo "test-clients: $passed passed, $failed failed"
((failed == 0))
