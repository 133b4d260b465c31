#!/usr/bin/env bash
# The full-size gzip bomb: about 10 MB of gzip that inflates to 10 GiB of one line, processed
# as a stream; the test checks the counts and the peak resident memory of the run.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --release --test hostile gzip_bomb_10_gib -- --ignored --nocapture
