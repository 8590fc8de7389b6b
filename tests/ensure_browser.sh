#!/bin/sh
# Provide the browser that the admin's and the docs page's browser tests drive, as `make test`
# provides the venv: Debian's packages when we may install them, else Playwright's own build where
# its download works, else stop at once naming the one command that fixes it. Tests never skip.
# Usage: ensure_browser.sh VENV_PYTHON CHROMIUM_PATH
set -u
PY="$1"
CHROMIUM="$2"

can_apt() { command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; }
apt_install() {
  echo "make test: installing Debian's $* for the browser tests (apt-get)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
fail() { echo "make test: the browser tests need $1. Run: $2" >&2; exit 1; }

# Playwright drives the browser through its bundled Node.js, which needs libatomic
# (absent from a minimal Debian: seen on a fresh debootstrap).
driver_runs() {
  "$PY" -c 'from playwright.sync_api import sync_playwright; sync_playwright().start().stop()' >/dev/null 2>&1
}
if ! driver_runs; then
  if can_apt; then
    apt_install libatomic1
    driver_runs || fail "Playwright's driver, which does not start" "$PY -c 'from playwright.sync_api import sync_playwright; sync_playwright().start()'"
  elif command -v apt-get >/dev/null 2>&1; then
    fail "Playwright's driver, which needs libatomic" "sudo apt-get install -y libatomic1"
  else
    fail "Playwright's driver, which does not start" "$PY -m playwright install-deps"
  fi
fi

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

if can_apt; then
  apt_install chromium
  [ -x "$CHROMIUM" ] && exit 0
  fail "Chromium at $CHROMIUM, which apt-get did not provide" "apt-get install -y chromium"
elif command -v apt-get >/dev/null 2>&1; then
  fail "Chromium at $CHROMIUM" "sudo apt-get install -y chromium"
fi

echo "make test: no $CHROMIUM; downloading Playwright's own Chromium"
"$PY" -m playwright install chromium && playwright_has_its_own && exit 0
fail "Chromium" "$PY -m playwright install --with-deps chromium"
