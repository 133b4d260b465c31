#!/usr/bin/env bash
# Runs every test of the project: unit, property, corpus and end-to-end tests.
# Corpus tests read ../shared/corpus when it exists and say SKIPPED when it does not.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v python3 >/dev/null; then
  echo "python3 is needed by the end-to-end tests (scripts/genlog)" >&2
  exit 1
fi
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --all-targets --no-fail-fast "$@"
else
  cargo test --all-targets --no-fail-fast "$@"
fi
