VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
# The browser tests drive this Chromium (Debian's package); `make test` provides it.
CHROMIUM ?= /usr/bin/chromium
export CHROMIUM

.PHONY: setup run test test-fast worker test-tools reaper clean lock

# Installs come from the locks only: every package of the tree pinned, every file checked
# against its hashes, nothing pulled in that the lock does not name (--no-deps). A swapped or
# republished package fails the install. The locks are made from requirements*.txt by `make lock`.
PIP_LOCKED := -m pip install --quiet --require-hashes --no-deps

# Reinstall whenever a lock changes.
$(STAMP): requirements.lock
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) $(PIP_LOCKED) -r requirements.lock
	touch $(STAMP)

$(DEV_STAMP): $(STAMP) requirements-dev.lock
	$(PY) $(PIP_LOCKED) -r requirements-dev.lock
	touch $(DEV_STAMP)

# After changing a pin in requirements.txt or requirements-dev.txt: re-resolve the whole tree and
# write both locks with every file's hashes. Pins already in a lock are kept unless a requirement
# moves them; `make lock UPGRADE=--upgrade` takes the newest allowed releases. The tool is uv, at
# the version requirements-dev.txt pins; one resolution serves both locks (production's is the
# development one cut down to requirements.txt), so both install the same versions.
UV_PIN := $(shell grep -m1 '^uv==' requirements-dev.txt)
LOCK_WITH := $(VENV)/bin/uv pip compile --quiet --generate-hashes --universal --python-version 3.11 \
	--custom-compile-command "make lock" $(UPGRADE)
lock:
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet "$(UV_PIN)"
	@# After a merge, a lock with conflicts still lists the versions to keep: drop the markers only.
	for f in requirements.lock requirements-dev.lock; do [ ! -f $$f ] || \
		sed -i.bak -e '/^<<<<<<< /d' -e '/^||||||| /d' -e '/^=======$$/d' -e '/^>>>>>>> /d' $$f && rm -f $$f.bak; done
	$(LOCK_WITH) -o requirements-dev.lock requirements-dev.txt
	$(LOCK_WITH) -c requirements-dev.lock -o requirements.lock requirements.txt

# Development mode, written once: make worker and every manage.py command read it too.
# Never overwritten, so a developer's own edits stay.
.env:
	cp .env.example .env
	@echo "Wrote .env from .env.example (development mode); edit it to change settings."

# Everything `make run` does before serving: the venv, .env, the database, a demo token.
setup: $(STAMP) .env
	$(PY) manage.py migrate --no-input
	$(PY) manage.py demo_token

run: setup
	$(VENV)/bin/gunicorn sprite_backend.wsgi:application -c gunicorn.conf.py --bind 127.0.0.1:8000

# Node.js and Chromium for the tests, installed when missing (tests/provision.sh says how).
test-tools: $(DEV_STAMP)
	@sh tests/provision.sh "$(PY)" "$(CHROMIUM)"

test: $(DEV_STAMP) test-tools
	$(PY) -m pytest $(PYTEST_ARGS)

# The edit loop: every test but those that drive Chromium or start real processes (markers
# `browser` and `process`, pytest.ini). Under a minute; `make test` still runs everything.
test-fast: $(DEV_STAMP)
	$(PY) -m pytest -m "not browser and not process" $(PYTEST_ARGS)

# Up to SPRITE_WORKER_CONCURRENCY (100) async generations at once; run it again for more
# (several share the queue in Redis). docs/WORKER.md.
worker: $(STAMP) .env
	$(PY) manage.py worker

# Finishes requests lost to a crash or a kill as `interrupted` every 30 s.
# Optional: reading a request finishes it too.
reaper: $(STAMP)
	$(PY) manage.py reap_generations --every 30

clean:
	rm -rf $(VENV) staticfiles .pytest_cache
