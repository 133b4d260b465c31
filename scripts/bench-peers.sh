#!/usr/bin/env bash
# Peer benchmark: logveil against GoAccess, anonip and DuckDB on the same generated logs, and
# against the floor of a bare line count, with the page cache warm. Writes BENCHMARKS.md and
# prints it.
#   scripts/bench-peers.sh
# Environment:
#   LINES        lines of the large Combined log (default 10000000, about 2.4 GB)
#   SMALL_LINES  lines of the small log for GoAccess, anonip and anonymise (default 1000000)
#   RUNS         timed runs of each command (default 5); the commands of a group alternate
#   BENCH_DIR    work directory: logs, venv, outputs (default /tmp/logveil-bench)
#   LOGVEIL_BIN  logveil binary to time (default: `cargo build --release` here)
#   BENCH_OUT    where the markdown goes (default BENCHMARKS.md at the top of the repository)
# GoAccess comes from the Debian packages (installed when missing and running as root);
# anonip, duckdb and pyarrow go into a venv from scripts/requirements-peers.txt. A peer that
# cannot be installed is reported as missing.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
lines=${LINES:-10000000}
small_lines=${SMALL_LINES:-1000000}
runs=${RUNS:-5}
dir=${BENCH_DIR:-/tmp/logveil-bench}
out_md=${BENCH_OUT:-$root/BENCHMARKS.md}
now=2026-10-08T00:00:00Z
mmdb=$root/assets/geo/geo-whois-asn-country.mmdb
if [ "$lines" -lt 1000 ] || [ "$small_lines" -lt 1000 ]; then
  echo "bench-peers: LINES=$lines SMALL_LINES=$small_lines is too small (a terminal height?)" >&2
  exit 2
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
work=$dir/peers
mkdir -p "$work"
log() { echo "bench-peers: $*" >&2; }

# ---------------------------------------------------------------- tools
declare -A missing=()
if ! command -v goaccess >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing goaccess (apt-get)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq goaccess; } >"$dir/apt.log" 2>&1 ||
      log "apt-get failed, see $dir/apt.log"
  fi
fi
command -v goaccess >/dev/null || missing[goaccess]="not installed (needs root and the goaccess Debian package)"

venv=$dir/venv
req=scripts/requirements-peers.txt
stamp=$venv/.requirements-peers
if [ ! -x "$venv/bin/python" ]; then
  log "creating venv $venv"
  python3 -m venv "$venv" || log "python3 -m venv failed"
fi
if [ -x "$venv/bin/python" ] && ! cmp -s "$req" "$stamp"; then
  log "installing $(grep -c '==' "$req") Python packages into $venv"
  if "$venv/bin/pip" install -q -r "$req"; then
    cp "$req" "$stamp"
  else
    # one by one, so that one package that cannot be installed leaves the others usable
    grep -o '^[A-Za-z0-9_.-]*==[^ ]*' "$req" | while read -r pin; do
      "$venv/bin/pip" install -q "$pin" || log "pip could not install $pin"
    done
  fi
fi
py=$venv/bin/python
[ -x "$venv/bin/anonip" ] || missing[anonip]="not installed (pip)"
"$py" -c 'import duckdb' 2>/dev/null || missing[duckdb]="not installed (pip)"
"$py" -c 'import pyarrow' 2>/dev/null || missing[pyarrow]="not installed (pip): DuckDB's row count is not checked"

if [ -n "${LOGVEIL_BIN:-}" ]; then
  bin=$LOGVEIL_BIN
else
  cargo build --release --quiet
  bin=${CARGO_TARGET_DIR:-$root/target}/release/logveil
  case $bin in /*) ;; *) bin=$root/$bin ;; esac
fi

memchr_bin=$dir/memchr-count
if ! { command -v cc >/dev/null && cc -O2 -o "$memchr_bin" scripts/memchr-count.c; }; then
  missing[memchr]="no C compiler"
fi

command -v taskset >/dev/null || missing[lvnc]="taskset not found (util-linux)"

# ---------------------------------------------------------------- inputs
big=$dir/combined-$lines.log
small=$dir/combined-$small_lines-utf8.log
if [ ! -s "$big" ]; then
  log "generating $lines lines into $big"
  scripts/genlog --lines "$lines" --seed 1 --days 3 --out "$big" --truth "$big.truth.json"
fi
if [ ! -s "$small" ]; then
  # anonip stops at the first byte that is not UTF-8: the small log has no malformed lines
  log "generating $small_lines lines into $small"
  scripts/genlog --lines "$small_lines" --seed 1 --days 3 --malformed-rate 0 --out "$small" --truth "$small.truth.json"
fi
big_size=$(stat -L -c %s "$big")
small_size=$(stat -L -c %s "$small")
ipv6_share() { "${py:-python3}" -c 'import json,sys; d=json.load(open(sys.argv[1])); print("%.1f" % (100 * d["ipv6_lines"] / d["lines"]))' "$1" 2>/dev/null || echo "?"; }

# ---------------------------------------------------------------- jobs
# versions, read whole (a reader that stops early would kill the writer with SIGPIPE)
wc_version=$(wc --version | sed -n '1s/.* //p')
goaccess_version= anonip_version= duckdb_version=
[ -z "${missing[goaccess]:-}" ] && goaccess_version=$(goaccess --version 2>/dev/null | sed -n '1s/^GoAccess - \([0-9.]*[0-9]\).*/\1/p' || true)
[ -z "${missing[anonip]:-}" ] && anonip_version=$("$venv/bin/anonip" --version 2>&1 | sed -n '1s/^[^0-9]*\([0-9][0-9.]*\).*/\1/p' || true)
[ -z "${missing[duckdb]:-}" ] && duckdb_version=$("$py" -c 'import duckdb; print(duckdb.__version__)' 2>/dev/null || true)
# job_<key> fills cmd (the command, run from the repository) after clearing its outputs.
declare -A label=() input=() ref=() out=()
q() { # a command line as it would be typed
  local a s=""
  for a in "$@"; do
    if [[ $a =~ ^[A-Za-z0-9_./:=,+@%-]+$ ]]; then s+="$a "; else s+="'${a//\'/\'\\\'\'}' "; fi
  done
  printf '%s' "${s% }"
}
job() { # KEY [dry]: sets cmd, label, input, ref; clears the job's outputs unless dry
  local k=$1 o=$work/$1
  if [ "${2:-}" != dry ]; then
    rm -rf "$o"
    mkdir -p "$o"
  fi
  out[$k]=$o
  case $k in
    lv | lv1 | lvs | lvn | lvn1 | lvnc | lvsn)
      # lv*: every report, diagnostics of errors and the anonymised copy; lvn*: the same
      # without the copy (every report, scrubbing, visitors and diagnostics). lvnc is lvn1
      # with every thread of the run (the diagnostics writer, the uap rule compilation and the
      # publishing included) confined to one core: with --threads 1 alone those run on the
      # other core, so that run has more than one core's worth of CPU.
      local f=$big t=() c=(--anonymised-log "$o/anon") what="all reports + anonymised copy" on=() where=
      case $k in lvs | lvsn) f=$small ;; esac
      case $k in lv1 | lvn1 | lvnc) t=(--threads 1) ;; esac
      case $k in lvn | lvn1 | lvnc | lvsn) c=() what="all reports, no copy" ;; esac
      case $k in lvnc) on=(taskset -c 0) where=" on one core (taskset -c 0)" ;; esac
      cmd=("${on[@]}" "$bin" --now "$now" process "$f" --out "$o/tree" -q --diagnostics errors "${c[@]}" "${t[@]}")
      label[$k]="logveil process, $what${t:+, --threads 1}$where"
      input[$k]=$f
      case $k in lvs | lvsn) ref[$k]=lvs ;; *) ref[$k]=lv ;; esac ;;
    lvg)
      # geo_daily alone (with its visitors and the diagnostics): the baseline of the
      # all-reports pipeline
      cmd=("$bin" --now "$now" process "$big" --out "$o/tree" -q --diagnostics errors --reports geo_daily)
      label[$k]="logveil process, geo_daily only, no copy"
      input[$k]=$big ref[$k]=lv ;;
    duckdb)
      cmd=("$py" scripts/peers_duckdb.py "$big" "$o")
      label[$k]="DuckDB $duckdb_version: regexp parse, /24 /48, rows + day×status Parquet"
      input[$k]=$big ref[$k]=lv ;;
    memchr | memchrs)
      local f=$big r=lv
      [ "$k" = memchrs ] && f=$small r=lvs
      cmd=("$memchr_bin" "$f")
      label[$k]="floor: memchr line count over mmap (C, 1 thread)"
      input[$k]=$f ref[$k]=$r ;;
    wc)
      cmd=(wc -l "$big")
      label[$k]="floor: wc -l (read(), coreutils $wc_version)"
      input[$k]=$big ref[$k]=lv ;;
    goaccess)
      cmd=(goaccess "$small" --no-global-config --no-progress --log-format=COMBINED --geoip-database "$mmdb" -o "$o/report.json")
      label[$k]="GoAccess $goaccess_version: JSON report with geo"
      input[$k]=$small ref[$k]=lvs ;;
    anon)
      cmd=("$bin" anonymise "$small" -o "$o/copy.log" -q)
      label[$k]="logveil anonymise (/24, /48)"
      input[$k]=$small ref[$k]=anon ;;
    anonip)
      cmd=("$venv/bin/anonip" -4 8 -6 80 --input "$small" --output "$o/copy.log")
      label[$k]="anonip $anonip_version (-4 8 -6 80: /24, /48)"
      input[$k]=$small ref[$k]=anon ;;
  esac
}
# what each job produced (after its last run), as a short text
output_of() {
  local k=$1 o=${out[$1]}
  case $k in
    lv | lv1 | lvs) printf '%s lines in the anonymised copy' "$(cat "$o"/anon/* 2>/dev/null | wc -l)" ;;
    lvn | lvn1 | lvnc | lvsn | lvg) printf '%s report files' "$(find "$o/tree/reports" -name '*.parquet' 2>/dev/null | wc -l)" ;;
    duckdb)
      "$py" -c 'import pyarrow.parquet as pq, sys
print("%d rows, %d day×status rows" % (pq.ParquetFile(sys.argv[1]).metadata.num_rows, pq.ParquetFile(sys.argv[2]).metadata.num_rows))' \
        "$o/rows.parquet" "$o/day_status.parquet" 2>/dev/null || printf 'rows not counted' ;;
    memchr | memchrs | wc) printf '%s lines' "$(awk '{print $1; exit}' "$o/stdout")" ;;
    goaccess)
      "$py" -c 'import json, sys
d = json.load(open(sys.argv[1])); g = d.get("geolocation", {}).get("data", [])
print("%d valid requests; countries: %s" % (d["general"]["valid_requests"], ", ".join(x["data"] for x in g[:3]) or "none"))' \
        "$o/report.json" 2>/dev/null || printf 'no report' ;;
    anon | anonip) printf '%s lines' "$(wc -l < "$o/copy.log")" ;;
  esac
}

big_keys=(lv lvn lvg lv1 lvn1 lvnc duckdb memchr wc)
small_keys=(lvs lvsn goaccess anon anonip memchrs)
# Run once, untimed, before the timed rounds: the jobs that write gigabytes. On a virtual
# machine the first writes into memory never touched since boot cost several times more
# system time than later ones (dd of 2.3 GB: 6.8 s, then 1.4 s), whichever job comes first.
warm_keys=(lv lvn lvg lvs anon memchr memchrs)
available() {
  case $1 in
    duckdb) [ -z "${missing[duckdb]:-}" ] ;;
    goaccess) [ -z "${missing[goaccess]:-}" ] ;;
    anonip) [ -z "${missing[anonip]:-}" ] ;;
    lvnc) [ -z "${missing[lvnc]:-}" ] ;;
    memchr | memchrs) [ -z "${missing[memchr]:-}" ] ;;
    *) true ;;
  esac
}

declare -A walls=() rsss=() cpus=() failed=() shown=() produced=()
warm_up() {
  local k
  for k in "${warm_keys[@]}"; do
    available "$k" || continue
    job "$k"
    log "warm-up (untimed): $k"
    "${cmd[@]}" >/dev/null 2>&1 || true
  done
}
run_group() {
  local i k
  for i in $(seq 1 "$runs"); do
    for k in "$@"; do
      available "$k" || continue
      [ -n "${failed[$k]:-}" ] && continue
      job "$k"
      shown[$k]=$(q "${cmd[@]}")
      log "run $i/$runs: $k"
      # What earlier runs wrote (gigabytes of copies) goes to disk first, so that no run pays
      # for another's writeback.
      sync
      if /usr/bin/time -f '%e %M %U %S' -o "$work/time.txt" "${cmd[@]}" >"${out[$k]}/stdout" 2>"${out[$k]}/stderr"; then
        local w m u s
        read -r w m u s < <(tail -n 1 "$work/time.txt")
        walls[$k]+="$w "
        rsss[$k]+="$m "
        cpus[$k]+="$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }') "
      else
        failed[$k]="exit $(grep -o 'status [0-9]*' "$work/time.txt" | awk '{print $2}' || true): $(tail -n 3 "${out[$k]}/stderr" | tr '\n' ' ' | cut -c1-200)"
        log "$k failed: ${failed[$k]}"
      fi
    done
  done
  for k in "$@"; do
    if available "$k" && [ -z "${failed[$k]:-}" ]; then produced[$k]=$(output_of "$k"); fi
  done
}

median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR] = $1} END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
log "warming the page cache"
cat "$big" "$small" > /dev/null
warm_up
run_group "${big_keys[@]}"
cat "$small" > /dev/null
run_group "${small_keys[@]}"

# ---------------------------------------------------------------- report
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
mem_total=$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
cpu_model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
table() { # KEYS...
  local k
  echo "| job | median wall | runs (s) | CPU user+sys | lines/s | MB/s | peak RSS | time ÷ reference | output |"
  echo "|---|---|---|---|---|---|---|---|---|"
  for k in "$@"; do
    job "$k" dry
    local what=${label[$k]:-$k}
    if ! available "$k"; then
      local why
      case $k in memchr | memchrs) why=${missing[memchr]} ;; *) why=${missing[$k]} ;; esac
      echo "| $what | missing: $why | | | | | | | |"
      continue
    fi
    if [ -n "${failed[$k]:-}" ]; then
      echo "| $what | failed (${failed[$k]//|/\\|}) | | | | | | | |"
      continue
    fi
    local f=${input[$k]} n size m c r rm
    if [ "$f" = "$big" ]; then n=$lines size=$big_size; else n=$small_lines size=$small_size; fi
    m=$(echo "${walls[$k]}" | median)
    c=$(echo "${cpus[$k]}" | median)
    r=$(echo "${rsss[$k]}" | median)
    rm=$(echo "${walls[${ref[$k]}]:-}" | median)
    awk -v what="$what" -v m="$m" -v all="${walls[$k]% }" -v c="$c" -v n="$n" -v s="$size" -v r="$r" \
      -v rm="$rm" -v rk="${ref[$k]}" -v k="$k" -v o="${produced[$k]:-}" 'BEGIN {
        gsub(/ /, ", ", all)
        if (m <= 0) m = 0.005
        rel = (rm == "" ? "–" : (k == rk ? "1.00 (reference)" : sprintf("%.2f", m / rm)))
        printf "| %s | %.2f s | %s | %.2f s | %.0f | %.1f | %.0f MiB | %s | %s |\n", what, m, all, c, n / m, s / m / 1e6, r / 1024, rel, o
      }'
  done
}
ratio() { # SLOWER FASTER: median wall of SLOWER over that of FASTER
  awk -v a="$(echo "${walls[$1]:-}" | median)" -v b="$(echo "${walls[$2]:-}" | median)" \
    'BEGIN { if (a > 0 && b > 0) printf "%.2f×", a / b; else print "not measured" }'
}
speedup=$(ratio lv1 lv)
speedup_n=$(ratio lvn1 lvn)
speedup_c=$(ratio lvnc lvn)
{
  echo "# Benchmarks: logveil and its peers"
  echo
  echo "Generated by \`scripts/bench-peers.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC') with"
  echo "LINES=$lines SMALL_LINES=$small_lines RUNS=$runs. Regenerate with"
  echo "\`LINES=$lines SMALL_LINES=$small_lines RUNS=$runs scripts/bench-peers.sh\` (the defaults are 10M, 1M and 5)."
  echo
  if [ "$lines" != 10000000 ] || [ "$small_lines" != 1000000 ] || [ "$runs" != 5 ]; then
    echo "**Reduced sizes:** this is a quick check at LINES=$lines SMALL_LINES=$small_lines RUNS=$runs, not the"
    echo "default benchmark (10M-line and 1M-line logs, 5 runs); fixed start-up costs weigh more here."
    echo
  fi
  echo "**Machine:** $(nproc) cores, $cpu_model, $mem_total RAM, Linux $(uname -r)."
  echo "Load average (1, 5, 15 min) before the timed runs: $load_before; after: $load_after."
  echo "logveil $("$bin" --version | awk '{print $NF}'), Python $("$py" -c 'import sys; print(sys.version.split()[0])' 2>/dev/null)."
  echo
  echo "**Inputs** (made by \`scripts/genlog\`, Combined Log Format, 3 days):"
  echo
  echo "- large: \`$big\`, $lines lines, $big_size bytes, $(ipv6_share "$big.truth.json")% of lines from IPv6 clients (10% of clients), 0.1% malformed lines (some not UTF-8);"
  echo "- small: \`$small\`, $small_lines lines, $small_size bytes, $(ipv6_share "$small.truth.json")% of lines from IPv6 clients, no malformed lines (anonip stops at the first byte that is not UTF-8)."
  echo
  echo "**Method:** the page cache is warmed with \`cat\`, and each logveil job and floor runs once"
  echo "untimed (see \`warm_keys\` in the script); then the commands of each group run in turn"
  echo "(A B C … A B C …), $runs times each, under \`/usr/bin/time -f '%e %M %U %S'\`, each after a \`sync\` (so that"
  echo "no run waits for the writeback of an earlier run's output). The table gives the"
  echo "median wall time, every run's wall time, the median CPU time, and the median peak RSS. lines/s"
  echo "and MB/s are input lines and bytes over the median wall time. \"time ÷ reference\" is the median"
  echo "wall time over that of the reference row of the group (higher is slower)."
  echo
  echo "## Large log: logveil process, DuckDB, the floor"
  echo
  echo "Reference: \`logveil process\` with every report, diagnostics of errors and an anonymised copy."
  echo
  table "${big_keys[@]}"
  echo
  echo "Speed-up of \`logveil process\` from 1 thread to the default ($(nproc) worker threads): $speedup"
  echo "with the anonymised copy, $speedup_n without it. From one core to $(nproc) (the \`--threads 1\` run"
  echo "confined to one core with \`taskset -c 0\`, against the default run, no copy): $speedup_c. The"
  echo "difference: with \`--threads 1\` alone, the diagnostics writer and the copy's writes run on the"
  echo "other core, beside the worker; with $(nproc) workers they share the cores with them."
  echo
  echo "## Small log: GoAccess, anonip"
  echo
  echo "GoAccess is compared with \`logveil process\` (reference) on the small log; anonip with"
  echo "\`logveil anonymise\` (its own reference)."
  echo
  table "${small_keys[@]}"
  echo
  echo "## The ratios, side by side"
  echo
  echo "All from the medians above (one run of this script)."
  echo
  echo "| comparison | with the anonymised copy | without it |"
  echo "|---|---|---|"
  echo "| \`process\`, large log, over the memchr floor | $(ratio lv memchr) | $(ratio lvn memchr) |"
  echo "| DuckDB over \`process\`, large log | $(ratio duckdb lv) | $(ratio duckdb lvn) |"
  echo "| GoAccess over \`process\`, small log | $(ratio goaccess lvs) | $(ratio goaccess lvsn) |"
  echo "| 2 threads against 1, large log | $speedup | $speedup_n |"
  echo "| $(nproc) cores against 1 (\`taskset -c 0 … --threads 1\`), large log | | $speedup_c |"
  echo "| anonip over \`logveil anonymise\`, small log | $(ratio anonip anon) | |"
  echo "| every report over \`geo_daily\` alone, large log | | $(ratio lvn lvg) |"
  echo
  echo "## Commands"
  echo
  echo "Run from the top of the repository:"
  echo
  for k in "${big_keys[@]}" "${small_keys[@]}"; do
    [ -n "${shown[$k]:-}" ] && printf -- '- %s:\n  `%s`\n' "${label[$k]}" "${shown[$k]}"
  done
  echo
  echo "## What differs between the jobs"
  echo
  echo "- \`logveil process\` parses, looks every client up in the embedded country database,"
  echo "  truncates addresses, counts visitors (HLL), scrubs paths and referrers, writes five"
  echo "  Parquet report tables and the diagnostics of error lines; the rows \"all reports +"
  echo "  anonymised copy\" also write an anonymised copy of the log (2.3 GB for the large log)."
  echo "- The \"geo_daily only\" row runs the same \`process\` with \`--reports geo_daily\`: parsing,"
  echo "  geo, visitors of that table, diagnostics and the ledger, but no scrubbing of targets and"
  echo "  referrers, no agent classification (no uap rules compiled) and one table to write."
  echo "- Every logveil row also hashes the whole input (BLAKE3), so that a rotated file is"
  echo "  counted once however it is renamed (the ledger); the peers do not."
  echo "- DuckDB parses with one regexp per line, truncates clients on their text (IPv4 to /24;"
  echo "  IPv6 to its first three groups before any \`::\`, i.e. /48), parses the timestamp, writes"
  echo "  every row to Parquet, then aggregates requests and bytes per day and status from that"
  echo "  file (\`scripts/peers_duckdb.py\`). No geo lookup, no visitors, no scrubbing: a lower bound."
  echo "  Lines that are not UTF-8 are skipped by its CSV reader."
  echo "- GoAccess builds its whole JSON report (visitors, requests, hosts, browsers, OS, referrers,"
  echo "  status codes, geolocation) on one parsing thread. This Debian build has MaxMind DB support"
  echo "  (\`--enable-geoip=mmdb\`) and is given the database file that logveil embeds. That database"
  echo "  has the flat \`country_code\` schema rather than GeoLite2's \`country.iso_code\`, so GoAccess"
  echo "  finds no country in its records and reports every client as Unknown."
  echo "- Threads: logveil and DuckDB use every core by default; GoAccess, anonip and the floors one."
  echo "- anonip and \`logveil anonymise\` both write a copy with IPv4 clients truncated to /24 and IPv6"
  echo "  to /48; \`logveil anonymise\` also blanks users and scrubs targets, referrers and agents."
  echo "- The floors read the file and count newlines, nothing more: \`memchr-count\` is"
  echo "  \`scripts/memchr-count.c\` (built with \`cc -O2\`), memchr over a read-only mmap on one thread;"
  echo "  \`wc -l\` reads with read()."
  echo
  echo "## Scaling and memory"
  echo
  echo "Speed and peak RSS against input size (1M, 10M, 50M lines), 1 and 2 threads, mmap and"
  echo "read(), and a log of 10M distinct paths and 5M distinct agents: [SCALING.md](SCALING.md),"
  echo "made by \`scripts/bench-scale.sh\`."
  if [ ${#missing[@]} -gt 0 ]; then
    echo
    echo "**Missing:**"
    for k in "${!missing[@]}"; do echo "- $k: ${missing[$k]}"; done
  fi
} > "$out_md.tmp"
# The report names no path of this machine: the binary as `logveil`, the work directory as
# `$BENCH_DIR`, the repository as `.`.
sed -e "s#$bin#logveil#g" -e "s#$dir#\$BENCH_DIR#g" -e "s#$root/#./#g" "$out_md.tmp" > "$out_md"
rm -f "$out_md.tmp"
rm -rf "$work"
cat "$out_md"
