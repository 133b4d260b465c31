#!/usr/bin/env bash
# Runs every fuzz target of fuzz/ for SECONDS each (default 60) on stable Rust, seeded from
# testdata/ (and ../shared/corpus/logs when present). Installs cargo-fuzz if it is missing.
# A crash stops the script with libFuzzer's report and the input under fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install --locked cargo-fuzz
fi

seeds=fuzz/seeds
rm -rf "$seeds"
mkdir -p "$seeds"/{parse_line,logformat,scrub,chunks}
# One line per seed file (split -l 1), from the project's own test data.
logs=(testdata/sample.log testdata/hostile/privacy.log)
if [ -d ../shared/corpus/logs ]; then
  while IFS= read -r f; do logs+=("$f"); done < <(find ../shared/corpus/logs -type f | sort | head -n 200)
fi
for f in "${logs[@]}"; do
  tag=$(echo "$f" | tr '/.' '__')
  head -n 40 "$f" | split -l 1 - "$seeds/parse_line/$tag-"
  head -n 40 "$f" | split -l 1 - "$seeds/scrub/$tag-"
  head -c 4096 "$f" >"$seeds/chunks/$tag"
done
grep -v -e '^#' -e '^=> ' -e '^$' testdata/parse/clf.golden | split -l 1 - "$seeds/parse_line/clf-golden-"
# A W3C header with a line under it.
printf '#Fields: date time c-ip cs-method cs-uri-stem sc-status\n2026-01-01 00:00:00 192.0.2.1 GET / 200\n' \
  >"$seeds/parse_line/w3c"
# Each `@apache`/`@nginx` format of the golden file with the lines under it.
awk -v dir="$seeds/logformat" '
  /^@(apache|nginx) / { n++; f = dir "/fmt-" n; sub(/^@[a-z]+ /, ""); print > f; next }
  /^(#|=> )/ || /^$/ { next }
  n { print >> f }
' testdata/parse/logformat.golden

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/fuzz/target}"
for t in $(cargo fuzz list); do
  mkdir -p "fuzz/corpus/$t"
  echo "fuzz: $t for ${secs}s"
  cargo fuzz run "$t" --sanitizer none "fuzz/corpus/$t" "$seeds/$t" -- \
    -max_total_time="$secs" -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1
done
