#!/usr/bin/env bash
# Renders the HTML report of a hostile log in headless Chromium and checks that nothing in it
# ran: the log's script and image-handler strings show as escaped text, the page title is
# unchanged and the rendered DOM holds no script or img element. Also takes a screenshot and
# checks that it is a real, non-blank picture.
#
# Installs Debian's chromium with apt when it is missing (as root); otherwise prints SKIPPED.
# Usage: scripts/test-html.sh [KEEP_DIR]   (KEEP_DIR receives report.html, dom.html, shot.png)
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "SKIPPED: scripts/test-html.sh needs chromium (install it, or run as root)"
    exit 0
  fi
fi
for tool in python3; do
  command -v "$tool" >/dev/null || { echo "test-html: $tool is needed" >&2; exit 1; }
done

cargo build -q
bin="${CARGO_TARGET_DIR:-target}/debug/logveil"

work=$(mktemp -d)
profile=$(mktemp -d)
trap 'rm -rf "$work" "$profile"' EXIT
keep="${1:-}"

# A Combined log: ordinary lines, and hostile strings where they survive into reports
# (targets and referrer hosts; user agents are published only as classes, but are there too).
python3 - "$work/access.log" <<'EOF'
import sys
lines = []
agents = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
]
ips = ["81.2.69.142", "8.8.8.8", "1.1.1.1", "89.160.20.112", "175.16.199.1", "216.160.83.56"]
for i in range(120):
    day = 5 + i // 40
    lines.append('%s - - [%02d/Oct/2026:%02d:%02d:00 +0000] "GET /%s HTTP/1.1" %d %d "https://www.example.com/" "%s"' % (
        ips[i % len(ips)], day, (i * 7) % 24, i % 60, ["", "about", "products/", "blog/"][i % 4],
        [200, 200, 304, 404, 200, 500][i % 6], 900 + i * 13, agents[i % len(agents)]))
script = "<script>document.title='pwned'</script>"
img = "<img src=x onerror=\\\"document.title='pwned'\\\">"
lines.append('1.1.1.1 - - [06/Oct/2026:10:00:00 +0000] "GET /%s HTTP/1.1" 200 100 "https://%s/" "%s"' % (script, img, script))
lines.append('8.8.8.8 - - [06/Oct/2026:11:00:00 +0000] "GET /x%s HTTP/1.1" 404 100 "https://%s/" "%s"' % (script, script, img))
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
EOF

"$bin" --quiet --now 2026-10-08T00:00:00Z process "$work/access.log" --out "$work/out" --k-min 0
"$bin" --quiet report --out "$work/out" --html "$work/report.html" --top 20

chrome=(chromium --headless --no-sandbox --disable-gpu --no-first-run
  --disable-background-networking --disable-component-update --disable-sync
  --user-data-dir="$profile" --hide-scrollbars)
# A failure here shows in the checks below (no DOM, no picture).
timeout 120 "${chrome[@]}" --window-size=1280,2600 --screenshot="$work/shot.png" \
  "file://$work/report.html" >/dev/null 2>&1 || echo "chromium --screenshot exited $?"
timeout 120 "${chrome[@]}" --dump-dom "file://$work/report.html" >"$work/dom.html" 2>/dev/null \
  || echo "chromium --dump-dom exited $?"

fail=0
check() { # description, command...
  local what="$1"; shift
  if "$@"; then echo "ok: $what"; else echo "FAILED: $what"; fail=1; fi
}
dom="$work/dom.html"
check "the DOM was dumped" test -s "$dom"
check "the title is unchanged" grep -q '<title>Traffic report' "$dom"
check "nothing set the title" bash -c "! grep -q '<title>pwned' '$dom'"
check "no script element in the DOM" bash -c "! grep -qi '<script' '$dom'"
check "no img element in the DOM" bash -c "! grep -qi '<img' '$dom'"
check "the script target shows as text" \
  grep -qF "/&lt;script&gt;document.title='pwned'&lt;/script&gt;" "$dom"
check "the img referrer shows as text" grep -qF "&lt;img" "$dom"
check "the CSP is in the page" \
  grep -qF "default-src 'none'; style-src 'unsafe-inline'; img-src data:" "$work/report.html"
check "the screenshot is a real picture" python3 - "$work/shot.png" <<'EOF'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
w, h = struct.unpack(">II", data[16:24])
assert w >= 800 and h >= 600, (w, h)
idat, pos = b"", 8
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    if kind == b"IDAT":
        idat += data[pos + 8:pos + 8 + n]
    pos += 12 + n
raw = zlib.decompress(idat)
stride = len(raw) // h
rows = {raw[y * stride + 1:(y + 1) * stride] for y in range(h)}
# A blank or single-colour page has a handful of distinct rows; a report has hundreds.
assert len(rows) > 200, "only %d distinct pixel rows" % len(rows)
print("screenshot %dx%d, %d bytes, %d distinct rows" % (w, h, len(data), len(rows)))
EOF

if [ -n "$keep" ]; then
  mkdir -p "$keep" && cp "$work/report.html" "$work/dom.html" "$work/shot.png" "$keep/"
fi
if [ "$fail" != 0 ]; then
  echo "test-html: FAILED" >&2
  exit 1
fi
echo "test-html: all checks passed"
