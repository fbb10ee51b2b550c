#!/usr/bin/env bash
# Regenerates docs/report-demo.png, the screenshot of the demo study's report shown in the README
# and docs/REPORT.md: runs the README's demo in a temporary directory, writes its report, and has
# headless Chromium (Debian's `chromium`: apt-get install -y chromium) photograph the page.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v chromium >/dev/null || { echo "needs chromium (apt-get install -y chromium)" >&2; exit 1; }
cargo build --release --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
./target/release/trialog demo --workers 4 --trials 200 --work-ms 5 "$work/demo.journal" >/dev/null
./target/release/trialog report "$work/demo.journal" --study demo --out "$work/report.html"
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync --hide-scrollbars \
  --user-data-dir="$work/profile" --window-size=1100,1500 --screenshot="$work/shot.png" \
  "file://$work/report.html" 2>/dev/null
cp "$work/shot.png" docs/report-demo.png
echo "wrote docs/report-demo.png"
