#!/usr/bin/env bash
# Makes sure Debian's Chromium is at /usr/bin/chromium for the browser suite (test/browser/),
# which drives it with playwright-core. Idempotent: does nothing when it is already there.
# Never downloads a browser any other way (no `npx playwright install`): if apt cannot install
# it, this fails and says why.
#
#   bash scripts/ensure-chromium.sh      # as root (CI), or with sudo on a Debian/Ubuntu machine
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  cat >&2 <<EOF
ensure-chromium: $CHROMIUM is missing, and installing it needs root.
  Run:  sudo bash scripts/ensure-chromium.sh
  (or:  sudo apt-get update && sudo apt-get install -y chromium)
The browser suite (test/browser/) uses Debian's chromium package and never downloads a browser.
EOF
  exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: $CHROMIUM is missing and apt-get is not available: install Debian's chromium package (or a Chromium at $CHROMIUM) by hand." >&2
  exit 1
fi

echo "ensure-chromium: installing Debian's chromium package (apt-get)..."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq && apt-get install -y -qq chromium; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "ensure-chromium: apt-get could not install chromium (output above)." >&2
  exit 1
fi

if [ ! -x "$CHROMIUM" ]; then
  echo "ensure-chromium: apt-get finished but $CHROMIUM is still missing." >&2
  exit 1
fi
echo "ensure-chromium: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM installed")"
