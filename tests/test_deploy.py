"""What docker compose relies on, checked without Docker: the healthcheck passes under a production
ALLOWED_HOSTS, and the services run the commands that exist."""
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
import yaml

from sprite_backend.healthcheck import probe_host
from tests.processes import ROOT, gunicorn, manage, project_env

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.mark.parametrize(("allowed", "host"), [
    ("sprites.example.com", "sprites.example.com"), (" .example.com, other.org", "example.com"),
    ("*", "localhost"), ("", "localhost"), ("*, api.example.com", "api.example.com"),
])
def test_the_probe_sends_a_host_the_service_answers_to(allowed, host):
    assert probe_host(allowed) == host


def test_the_compose_healthcheck_passes_with_production_allowed_hosts(tmp_path):
    env = project_env(DEBUG="false", SECRET_KEY="x" * 50, ALLOWED_HOSTS="sprites.example.com", REDIS_URL="",
                      DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", GUNICORN_WORKERS="1")
    manage("migrate", "--no-input", env=env)

    with (tmp_path / "log").open("w") as log, gunicorn(env, stdout=log, stderr=log, ready_host="sprites.example.com") as url:
        probe = subprocess.run([sys.executable, "-m", "sprite_backend.healthcheck", f"{url}/healthz"], cwd=ROOT,
                               env=env, capture_output=True, text=True, timeout=60)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{url}/healthz", timeout=10)  # Host: 127.0.0.1, not allowed

    assert probe.returncode == 0, probe.stderr
    assert refused.value.code == 400


def test_compose_runs_the_healthcheck_module_and_the_preloaded_worker():
    services = COMPOSE["services"]

    assert services["backend"]["healthcheck"]["test"] == ["CMD", "python", "-m", "sprite_backend.healthcheck"]
    assert services["worker"]["command"] == ["python", "manage.py", "worker"]
    assert (ROOT / "generation/management/commands/worker.py").exists()
    assert COMPOSE["x-backend"]["environment"]["DEBUG"] == "false"
