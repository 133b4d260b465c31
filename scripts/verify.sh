#!/usr/bin/env bash
# End-to-end verification of logveil against an independent recomputation.
#
#   scripts/verify.sh [LINES]        (default 200000; works from any directory)
#
# 1. creates or reuses a Python venv (${VERIFY_VENV:-/tmp/logveil-verify-venv}) with
#    scripts/requirements-verify.txt (pyarrow, duckdb, maxminddb, datasketches);
# 2. cargo build --release;
# 3. scripts/genlog --lines LINES --seed 7 --xff into a temporary directory;
# 4. logveil process with the embedded geo database;
# 5. scripts/check_truth.py --truth --reports --log --geoip (the embedded database's source
#    file, assets/geo/geo-whois-asn-country.mmdb) --duckdb;
# 5b. a run with suppression on: scripts/check_sketches.py (visitor sketches within 3% of the
#    exact distinct visitors, per day and merged over two days; no small published row);
# 6. diagnostics files are mode 0600 and their directories 0700; a run manifest exists;
# 7. the same log with its client fields rewritten into other forms logveil must unwrap
#    (a.b.c.d:port, ::ffff:a.b.c.d, ::a.b.c.d, 6to4, both NAT64 prefixes, [v6]:port, [v6],
#    hostnames) is processed and checked again per (date, country).
#
# Ends with the line `verify: N passed, M failed` and exits 1 when any check failed
# (2 on a usage error). Environment: VERIFY_VENV (venv path), PYTHON (interpreter that
# creates the venv, default python3), VERIFY_KEEP=1 keeps the temporary directory.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || { echo "verify: cannot cd to the repository root" >&2; exit 2; }
ROOT=$(pwd)

LINES=${1:-200000}
if ! [[ $LINES =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: scripts/verify.sh [LINES]   (LINES a positive integer, default 200000)" >&2
  exit 2
fi
VENV=${VERIFY_VENV:-/tmp/logveil-verify-venv}
PYTHON=${PYTHON:-python3}
SEED=7
NOW=2026-10-08T00:00:00Z
DB=assets/geo/geo-whois-asn-country.mmdb
REQS=scripts/requirements-verify.txt
BIN=$ROOT/target/release/logveil

WORK=$(mktemp -d "${TMPDIR:-/tmp}/logveil-verify.XXXXXX") || exit 2
if [[ ${VERIFY_KEEP:-0} == 1 ]]; then
  echo "verify: keeping $WORK"
else
  trap 'rm -rf "$WORK"' EXIT
fi

passed=0
failed=0
T0=$(date +%s.%N)

elapsed() { # seconds since $1, one decimal
  awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'
}

pass() { passed=$((passed + 1)); printf 'PASS  %s\n' "$*"; }
fail() { failed=$((failed + 1)); printf 'FAIL  %s\n' "$*"; }

finish() {
  echo "verify: total time $(elapsed "$T0")s"
  echo "verify: $passed passed, $failed failed"
  if ((failed > 0)); then exit 1; fi
  exit 0
}

# step NAME COMMAND...: runs COMMAND with its output in $WORK/NAME.log; a pass or a fail,
# with the end of the output shown on failure. Returns the command's status.
step() {
  local name=$1 t rc
  shift
  t=$(date +%s.%N)
  "$@" >"$WORK/$name.log" 2>&1
  rc=$?
  if ((rc == 0)); then
    pass "$name ($(elapsed "$t")s)"
  else
    fail "$name (exit $rc, $(elapsed "$t")s); last lines of its output:"
    tail -n 25 "$WORK/$name.log" | sed 's/^/        /'
  fi
  return $rc
}

# --- 1. Python environment -------------------------------------------------
setup_venv() {
  if [[ ! -x $VENV/bin/python ]]; then
    "$PYTHON" -m venv "$VENV" || return 1
  fi
  # Reinstall only when the requirements changed since the last successful install.
  if ! cmp -s "$REQS" "$VENV/.logveil-verify-requirements"; then
    "$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$REQS" || return 1
    cp "$REQS" "$VENV/.logveil-verify-requirements"
  fi
  "$VENV/bin/python" -c 'import pyarrow, duckdb, maxminddb, datasketches, importlib.metadata as m; print("pyarrow", pyarrow.__version__, "duckdb", duckdb.__version__, "maxminddb", maxminddb.__version__, "datasketches", m.version("datasketches"))'
}
echo "verify: $LINES lines, seed $SEED, venv $VENV, work dir $WORK"
step python-env setup_venv || finish
sed 's/^/        /' "$WORK/python-env.log" | tail -n 1
PY=$VENV/bin/python

# --- 2. build --------------------------------------------------------------
step cargo-build-release cargo build --release || finish

# --- 3. log + truth --------------------------------------------------------
LOG=$WORK/access.log
TRUTH=$WORK/truth.json
step genlog "$PY" scripts/genlog --lines "$LINES" --seed "$SEED" --xff --out "$LOG" --truth "$TRUTH" || finish

# --- 4. process with the embedded geo database ----------------------------
OUT=$WORK/out
# Suppression off: check_truth compares exact per-country counts.
step logveil-process "$BIN" --now "$NOW" process "$LOG" --out "$OUT" --k-min 0 -q || finish

# --- 5. reports against the truth and an independent recomputation --------
t=$(date +%s.%N)
"$PY" scripts/check_truth.py --truth "$TRUTH" --reports "$OUT/reports" \
  --log "$LOG" --geoip "$DB" --duckdb 2>&1 | sed 's/^/        /'
rc=${PIPESTATUS[0]}
if ((rc == 0)); then
  pass "check_truth --log --geoip --duckdb ($(elapsed "$t")s)"
else
  fail "check_truth --log --geoip --duckdb (exit $rc)"
fi

# --- 5b. visitor sketches and small-cell suppression -----------------------
# A second run with the default suppression (k = 10): the sketches are read by the
# DataSketches Python package and compared with exact distinct visitors recomputed from the
# log; no small row may be published except (other) rows; every table adds up.
# A fixed shared secret (--salt-file) makes the visitor hashes, hence the estimates, the same
# on every run; with random daily salts the error would be a new draw each time.
check_sketches() {
  printf 'logveil-verify-fixed-secret-0123456789' >"$WORK/salt"
  "$BIN" --now "$NOW" process "$LOG" --out "$WORK/out-k" --salt-file "$WORK/salt" -q || return 1
  "$PY" scripts/check_sketches.py "$WORK/out-k" "$LOG" --truth "$TRUTH"
}
if step visitor-sketches check_sketches; then
  grep -E '^(geo_daily|sketches:)' "$WORK/visitor-sketches.log" | sed 's/^/        /'
fi

# --- 6. diagnostics permissions and the run manifest ----------------------
DIAG=$OUT/diagnostics
if [[ ! -d $DIAG ]]; then
  fail "diagnostics: $DIAG does not exist"
else
  nfiles=$(find "$DIAG" -type f -name '*.parquet' | wc -l)
  badf=$(find "$DIAG" -type f -exec stat -c '%a %n' {} + | awk '$1 != "600"')
  ntotal=$(find "$DIAG" -type f | wc -l)
  if ((nfiles == 0)); then
    fail "diagnostics files 0600: no Parquet file under $DIAG"
  elif [[ -n $badf ]]; then
    fail "diagnostics files 0600: some are not:"
    echo "$badf" | head -n 10 | sed "s|$WORK/||; s/^/        /"
  else
    pass "diagnostics files 0600 ($ntotal files, $nfiles Parquet)"
  fi
  badd=$(find "$DIAG" -type d -exec stat -c '%a %n' {} + | awk '$1 != "700"')
  ndirs=$(find "$DIAG" -type d | wc -l)
  if [[ -n $badd ]]; then
    fail "diagnostics dirs 0700: some are not:"
    echo "$badd" | head -n 10 | sed "s|$WORK/||; s/^/        /"
  else
    pass "diagnostics dirs 0700 ($ndirs dirs, diagnostics/ included)"
  fi
fi
nruns=$(find "$OUT/runs" -maxdepth 1 -type f -name '*.json' 2>/dev/null | wc -l)
if ((nruns == 1)) && "$PY" -c 'import json, sys; json.load(open(sys.argv[1]))' "$OUT"/runs/*.json 2>/dev/null; then
  pass "run manifest written (runs/$(basename "$OUT"/runs/*.json))"
else
  fail "run manifest: expected one readable runs/*.json, found $nruns"
fi

# --- 7. client address forms ----------------------------------------------
# Rewrites the client field of every valid line (malformed ones stay as they are), cycling
# by line number through forms that must give the same country as the plain address
# (IPv4 with a port, IPv4-mapped, IPv4-compatible, 6to4, NAT64 well-known and local-use
# prefixes, bracketed and with a port) and hostnames (country "unknown"); IPv6 clients are
# written as [v6]:443, [v6] or plain. check_truth recomputes (date, country) on this log.
rewrite_clients() {
  "$PY" - "$LOG" "$TRUTH" "$LOG.forms" <<'EOF'
import ipaddress, json, sys
src, truth, dst = sys.argv[1:4]
skip = set(json.load(open(truth))["malformed_line_numbers"])
with open(src, "rb") as fin, open(dst, "wb") as out:
    for no, line in enumerate(fin, 1):
        host, sep, rest = line.partition(b" ")
        try:
            ip = ipaddress.ip_address(host.decode("latin-1"))
        except ValueError:
            ip = None
        if no in skip or ip is None:
            out.write(line)
            continue
        if ip.version == 6 and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        h = str(ip)
        k = no % 10
        if ip.version == 4:
            n = int(ip)
            h = (h, h + ":8080", "::ffff:" + h, "::" + h,
                 str(ipaddress.IPv6Address((0x2002 << 112) | (n << 80) | 0x1234)),
                 str(ipaddress.IPv6Address((0x64FF9B << 96) | n)),
                 str(ipaddress.IPv6Address((0x64FF9B0001 << 80) | (0xABCD << 48) | n)),
                 "[::ffff:%s]:443" % h, "host-%d.example.net" % (n % 97), h)[k]
        else:
            h = ("[%s]:443" % h, "[%s]" % h, h)[k % 3]
        out.write(h.encode("latin-1") + sep + rest)
EOF
}
check_forms() {
  rewrite_clients || return 1
  "$BIN" --now "$NOW" process "$LOG.forms" --out "$WORK/out-forms" --k-min 0 -q || return 1
  "$PY" scripts/check_truth.py --truth "$TRUTH" --reports "$WORK/out-forms/reports" \
    --log "$LOG.forms" --geoip "$DB"
}
if step client-address-forms check_forms; then
  grep -E '^(log:|FAIL|MISMATCH)' "$WORK/client-address-forms.log" | sed 's/^/        /'
fi

finish
