#!/usr/bin/env bash
# Merging servers' reports with Spark gives what one run over the whole log gives.
#
#   scripts/test-spark.sh [LINES]      (default 60000; works from any directory)
#
# 1. a Java runtime: when `java` is missing, installs Debian's openjdk-17-jre-headless if
#    running as root with apt-get, else prints SKIPPED and exits 0;
# 2. creates or reuses a venv (${SPARK_VENV:-/tmp/logveil-spark-venv}) with
#    scripts/requirements-spark.txt (pyspark 4);
# 3. builds logveil (release; LOGVEIL_BIN=PATH uses that binary instead);
# 4. scripts/genlog writes one log, split in three parts; three `logveil process` runs share
#    a --salt-file with --k-min 0, and one more runs over the whole log;
# 5. scripts/spark_merge.py merges the three geo_daily reports, and `logveil merge` the
#    three trees;
# 6. scripts/check_spark_merge.py compares both with the whole run per (date, country):
#    requests and bytes equal, visitors within 3%.
# Ends with `test-spark: N passed, M failed`; exits 1 when a check failed.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
ROOT=$(pwd)
LINES=${1:-60000}
VENV=${SPARK_VENV:-/tmp/logveil-spark-venv}
PYTHON=${PYTHON:-python3}
NOW=2026-10-08T00:00:00Z

if ! command -v java >/dev/null; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    echo "test-spark: installing openjdk-17-jre-headless"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless) >/dev/null ||
      { echo "test-spark: FAIL could not install a Java runtime"; exit 1; }
  else
    echo "test-spark: SKIPPED (no java, and cannot install one: not root or no apt-get)"
    exit 0
  fi
fi

if ! "$VENV/bin/python" -c 'import pyspark, sys; sys.exit(int(pyspark.__version__.split(".")[0]) < 4)' 2>/dev/null; then
  echo "test-spark: creating venv $VENV"
  "$PYTHON" -m venv "$VENV" && "$VENV/bin/pip" install -q -r scripts/requirements-spark.txt ||
    { echo "test-spark: FAIL could not install pyspark"; exit 1; }
fi

if [[ -n ${LOGVEIL_BIN:-} ]]; then
  BIN=$LOGVEIL_BIN
else
  cargo build --release -q || { echo "test-spark: FAIL cargo build"; exit 1; }
  BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/logveil
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/logveil-spark.XXXXXX") || exit 2
if [[ ${SPARK_KEEP:-0} == 1 ]]; then echo "test-spark: keeping $WORK"; else trap 'rm -rf "$WORK"' EXIT; fi
passed=0
failed=0
check() { # NAME COMMAND...
  local name=$1
  shift
  if "$@" >"$WORK/$name.log" 2>&1; then
    passed=$((passed + 1))
    grep -h -o 'PASS  .*' "$WORK/$name.log" || echo "PASS  $name"
  else
    failed=$((failed + 1))
    echo "FAIL  $name; last lines of its output:"
    tail -n 20 "$WORK/$name.log" | sed 's/^/        /'
  fi
}

"$PYTHON" scripts/genlog --lines "$LINES" --seed 5 --days 2 --clients 20000 --out "$WORK/all.log" >/dev/null
(cd "$WORK" && split -n l/3 -d all.log part.)
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$WORK/salt"
chmod 600 "$WORK/salt"
run() { "$BIN" -q --now "$NOW" process "$1" --out "$2" --k-min 0 --salt-file "$WORK/salt"; }
check process run "$WORK/all.log" "$WORK/whole"
for i in 0 1 2; do
  check "process-part$i" run "$WORK/part.0$i" "$WORK/server$i"
done
check logveil-merge "$BIN" -q --now "$NOW" merge "$WORK/server0" "$WORK/server1" "$WORK/server2" \
  --out "$WORK/merged" --k-min 0
check spark-merge "$VENV/bin/python" scripts/spark_merge.py --out "$WORK/spark" \
  "$WORK/server0/reports" "$WORK/server1/reports" "$WORK/server2/reports"
check compare "$VENV/bin/python" scripts/check_spark_merge.py --whole "$WORK/whole" \
  --spark "$WORK/spark" --merged "$WORK/merged"

echo "test-spark: $passed passed, $failed failed"
((failed == 0))
