VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
# The browser tests drive this Chromium (Debian's package); `make test` provides it.
CHROMIUM ?= /usr/bin/chromium
export CHROMIUM

.PHONY: setup run test test-fast worker test-tools reaper clean

# Reinstall whenever a requirements file changes.
$(STAMP): requirements.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

$(DEV_STAMP): $(STAMP) requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(DEV_STAMP)

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
