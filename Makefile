VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test migrate token worker reaper clean

# Reinstall whenever requirements.txt changes.
$(STAMP): requirements.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

run: $(STAMP)
	DEBUG=$${DEBUG:-true} $(PY) manage.py migrate --no-input
	DEBUG=$${DEBUG:-true} $(PY) manage.py demo_token
	DEBUG=$${DEBUG:-true} $(VENV)/bin/gunicorn sprite_backend.wsgi:application -c gunicorn.conf.py --bind 127.0.0.1:8000

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

worker: $(STAMP)
	$(PY) manage.py rqworker default

# Finishes requests lost to a crash or a kill as `interrupted` every 30 s (RQ's cron).
# Optional: reading a request finishes it too.
reaper: $(STAMP)
	$(PY) manage.py rqcron generation.engine.cron

clean:
	rm -rf $(VENV) staticfiles .pytest_cache
