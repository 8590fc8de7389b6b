"""The production sizing holds together: threads for 200+ generations in flight, database
connections under PostgreSQL's default 100, and no gunicorn timeout inside a request's budget."""
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from generation.tunables import BY_NAME

ROOT = Path(__file__).resolve().parent.parent
TOTAL_TIMEOUT_MAX = BY_NAME["total_timeout"].high
POSTGRES_MAX_CONNECTIONS = 100


def gunicorn_conf(monkeypatch, **env) -> dict:
    for name in ("GUNICORN_WORKERS", "GUNICORN_THREADS", "GUNICORN_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(ROOT / "gunicorn.conf.py"))


def test_gunicorn_never_cuts_a_request_inside_its_total_budget(monkeypatch):
    assert gunicorn_conf(monkeypatch)["timeout"] > TOTAL_TIMEOUT_MAX


def test_the_default_sizing_keeps_200_generations_in_flight_with_threads_to_spare(monkeypatch):
    conf = gunicorn_conf(monkeypatch)

    assert conf["worker_class"] == "gthread"
    assert conf["workers"] * conf["threads"] >= 200 + 2 * conf["workers"]


def test_the_database_pools_stay_under_postgresqls_connection_limit(monkeypatch):
    conf = gunicorn_conf(monkeypatch)
    database = settings.DATABASES["default"]
    if not database["ENGINE"].endswith("postgresql"):
        pytest.skip("SQLite: no server connections to count")
    pool = database["OPTIONS"]["pool"]

    assert database["CONN_MAX_AGE"] == 0
    assert conf["workers"] * pool["max_size"] < POSTGRES_MAX_CONNECTIONS


@pytest.mark.parametrize(("value", "message"), [("abc", "not a plain whole number"), ("201", "outside 0..200")])
@pytest.mark.process
def test_a_bad_pool_size_stops_start_up_naming_it(value, message):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "sprite_backend.settings", "DEBUG": "true",
           "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/unused", "DB_POOL_SIZE": value}
    started = subprocess.run([sys.executable, "-c", "import django; django.setup()"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=60)

    assert started.returncode != 0
    assert f"DB_POOL_SIZE={value!r} is {message}" in started.stderr
