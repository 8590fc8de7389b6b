"""After `make run`'s set-up, the worker and every manage.py command work in the same development
configuration with no variables; each run's demo token replaces the last one."""
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from tests.dev_processes import ROOT, manage, project_env, stop

VENV = Path(sys.executable).parent.parent
needs_redis = pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (CI sets it; .ci/run runs this)")


def demo_token(capsys) -> str:
    call_command("demo_token")
    return re.search(r"export TOKEN=(\S+)", capsys.readouterr().out).group(1)


@pytest.mark.django_db
def test_each_demo_token_replaces_the_last(capsys, settings):
    settings.DEBUG = True
    first, second = demo_token(capsys), demo_token(capsys)

    def status(token: str) -> int:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        return client.get("/v1/metrics").status_code

    assert first != second
    assert (status(first), status(second)) == (401, 200)


@pytest.fixture
def fresh_checkout(tmp_path) -> Path:
    """The project's files in a folder of their own, using this venv, as a developer's clone would be."""
    project = tmp_path / "project"
    shutil.copytree(ROOT, project, ignore=shutil.ignore_patterns(
        ".venv", ".git", ".env", "*.sqlite3*", "__pycache__", ".pytest_cache", "staticfiles", "docs", "bench"))
    return project


def make(*targets: str, cwd: Path, env: dict, timeout: float = 300) -> str:
    done = subprocess.run(["make", *targets, f"VENV={VENV}"], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_make_setup_writes_env_once_and_manage_py_then_needs_no_variables(fresh_checkout):
    env = project_env()
    env.pop("REDIS_URL", None)

    out = make("setup", cwd=fresh_checkout, env=env)

    assert "export TOKEN=" in out
    assert (fresh_checkout / ".env").read_text() == (fresh_checkout / ".env.example").read_text()
    (fresh_checkout / ".env").write_text((fresh_checkout / ".env").read_text() + "# mine\n")
    make(".env", cwd=fresh_checkout, env=env)
    assert (fresh_checkout / ".env").read_text().endswith("# mine\n")  # a developer's edits stay
    assert "no issues" in manage("check", env=env, cwd=fresh_checkout)


def test_make_worker_without_redis_says_what_to_set(fresh_checkout):
    env = project_env()
    env.pop("REDIS_URL", None)
    make("setup", cwd=fresh_checkout, env=env)

    done = subprocess.run(["make", "worker", f"VENV={VENV}"], cwd=fresh_checkout, env=env, capture_output=True,
                          text=True, timeout=120)

    assert done.returncode != 0
    assert "REDIS_URL is not set" in done.stderr


ENQUEUE = """
from generation.engine import services
from generation.engine.spec import SpriteSpec
from generation.models import ApiToken
token = ApiToken.objects.filter(revoked=False).first()
spec = SpriteSpec(prompt="blue potion", style="pixel", size=32, transparent=True, colors=8, outline=True)
print(services.submit(token=token, spec=spec, run_async=True).id)
"""


@needs_redis
def test_make_worker_runs_a_job_after_make_runs_setup(fresh_checkout):
    env = project_env()
    redis_url = env.pop("REDIS_URL")
    make("setup", cwd=fresh_checkout, env=env)
    # As the README says: to use a worker, give both the web process and the worker a Redis.
    with (fresh_checkout / ".env").open("a") as dotenv:
        dotenv.write(f"REDIS_URL={redis_url}\n")
    manage("shell", "-c", "from generation.engine import jobs; jobs.flush()", env=env,
           cwd=fresh_checkout)

    worker = subprocess.Popen(["make", "worker", f"VENV={VENV}"], cwd=fresh_checkout, env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        generation_id = manage("shell", "-c", ENQUEUE, env=env, cwd=fresh_checkout).strip().splitlines()[-1]
        status = wait_for_status(fresh_checkout / "db.sqlite3", generation_id, worker)
    finally:
        stop(worker)
    log = worker.stdout.read()
    assert status == "succeeded", log
    assert "generation_succeeded" in log and generation_id in log


def wait_for_status(database: Path, generation_id: str, worker: subprocess.Popen, limit: float = 120) -> str:
    deadline = time.monotonic() + limit
    status = None
    while time.monotonic() < deadline and worker.poll() is None:
        with sqlite3.connect(database) as db:
            status = db.execute("SELECT status FROM generation_generationrequest WHERE id = ?",
                                (generation_id.replace("-", ""),)).fetchone()[0]
        if status in ("succeeded", "failed"):
            return status
        time.sleep(0.2)
    return status
