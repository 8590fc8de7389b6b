#!/bin/sh
# Provide what the suite runs besides Python, as `make test` provides the venv: Node.js (the admin's
# script is tested under it), nginx (deploy/nginx.conf is tested in front of gunicorn), libfaketime
# (a host whose clock is ahead), and the browser that the admin's and the docs page's browser tests
# drive. Debian's packages when we may install them; else Playwright's own Chromium where its
# download works; else stop at once naming the one command that fixes it. Tests never skip for it.
# Usage: provision.sh VENV_PYTHON CHROMIUM_PATH
set -u
PY="$1"
CHROMIUM="$2"

# Playwright drives the browser through its bundled Node.js build, which needs libatomic
# (absent from a minimal Debian: seen on a fresh debootstrap of Debian 12).
driver_runs() {
  "$PY" -c 'from playwright.sync_api import sync_playwright; sync_playwright().start().stop()' >/dev/null 2>&1
}
playwright_has_its_own() {
  driver_runs && "$PY" - <<'PYEOF' 2>/dev/null
import os, sys
from playwright.sync_api import sync_playwright
with sync_playwright() as p:
    sys.exit(0 if os.path.exists(p.chromium.executable_path) else 1)
PYEOF
}
browser_ready() { driver_runs && { [ -x "$CHROMIUM" ] || playwright_has_its_own; }; }
# The pacer's field tests run one gunicorn under libfaketime (Debian's faketime).
LIBFAKETIME=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1
nginx_ready() { command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; }
all_ready() { command -v node >/dev/null 2>&1 && nginx_ready && browser_ready && [ -e "$LIBFAKETIME" ]; }

all_ready && exit 0

packages=""
command -v node >/dev/null 2>&1 || packages="$packages nodejs"
nginx_ready || packages="$packages nginx"
driver_runs || packages="$packages libatomic1"
[ -x "$CHROMIUM" ] || playwright_has_its_own || packages="$packages chromium"
[ -e "$LIBFAKETIME" ] || packages="$packages faketime"

if command -v apt-get >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "make test: the suite needs$packages. Run: sudo apt-get install -y$packages" >&2
    exit 1
  fi
  echo "make test: installing Debian's$packages for the tests (apt-get)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $packages >/dev/null
  all_ready && exit 0
  echo "make test: still missing after apt-get: check node, Playwright's driver and $CHROMIUM" >&2
  exit 1
fi

command -v node >/dev/null 2>&1 || { echo "make test: the suite needs Node.js. Install it (e.g. brew install node)" >&2; exit 1; }
[ -e "$LIBFAKETIME" ] || { echo "make test: the suite needs Debian's libfaketime at $LIBFAKETIME (apt-get install faketime)" >&2; exit 1; }
nginx_ready || { echo "make test: the suite needs nginx. Install it (e.g. brew install nginx)" >&2; exit 1; }
echo "make test: no $CHROMIUM; downloading Playwright's own Chromium"
"$PY" -m playwright install chromium && browser_ready && exit 0
echo "make test: the browser tests need Chromium. Run: $PY -m playwright install --with-deps chromium" >&2
exit 1
