#!/bin/sh
# Provide the Chromium that the admin's browser tests drive, as `make test` provides the venv:
# Debian's package when we may install it, else Playwright's own build where its download works,
# else stop at once naming the one command that fixes it. Never let the tests skip silently.
# Usage: ensure_browser.sh VENV_PYTHON CHROMIUM_PATH
set -u
PY="$1"
CHROMIUM="$2"

[ -x "$CHROMIUM" ] && exit 0

playwright_has_its_own() {
  "$PY" - <<'PYEOF' 2>/dev/null
import os, sys
from playwright.sync_api import sync_playwright
with sync_playwright() as p:
    sys.exit(0 if os.path.exists(p.chromium.executable_path) else 1)
PYEOF
}
playwright_has_its_own && exit 0

if command -v apt-get >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    echo "make test: installing Debian's chromium for the admin's browser tests (apt-get)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    [ -x "$CHROMIUM" ] && exit 0
    echo "make test: apt-get ran but $CHROMIUM is still missing" >&2
    exit 1
  fi
  echo "make test: the admin's browser tests need Chromium at $CHROMIUM. Run: sudo apt-get install -y chromium" >&2
  exit 1
fi

echo "make test: no $CHROMIUM; downloading Playwright's own Chromium"
"$PY" -m playwright install chromium && playwright_has_its_own && exit 0
echo "make test: the admin's browser tests need Chromium. Run: $PY -m playwright install --with-deps chromium" >&2
exit 1
