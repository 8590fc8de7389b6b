"""After `make run`'s set-up, the worker and every manage.py command work in the same development
configuration with no variables; the demo token is the same on every run."""
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

from generation.models import ApiToken
from tests.markers import needs_redis
from tests.processes import ROOT, manage, project_env, stop

VENV = Path(sys.executable).parent.parent


def demo_token(capsys) -> str:
    call_command("demo_token")
    return re.search(r"export TOKEN=(\S+)", capsys.readouterr().out).group(1)


def status_with(token: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client.get("/v1/metrics").status_code


@pytest.fixture
def demo_settings(settings, tmp_path):
    settings.DEBUG = True
    settings.DEMO_TOKEN_FILE = tmp_path / ".demo_token"
    return settings


@pytest.mark.django_db
def test_the_demo_token_is_the_same_on_every_run(capsys, demo_settings):
    first, second = demo_token(capsys), demo_token(capsys)

    assert first == second
    assert status_with(second) == 200
    assert demo_settings.DEMO_TOKEN_FILE.stat().st_mode & 0o077 == 0  # its owner's alone, like .env


@pytest.mark.django_db
def test_a_revoked_demo_token_is_replaced_by_a_new_one(capsys, demo_settings):
    first = demo_token(capsys)
    ApiToken.objects.filter(prefix=first.partition(".")[0]).update(revoked=True)  # an admin revoked it

    second = demo_token(capsys)

    assert second != first
    assert (status_with(first), status_with(second)) == (401, 200)


@pytest.mark.django_db
def test_the_demo_token_survives_a_fresh_database(capsys, demo_settings):
    first = demo_token(capsys)
    ApiToken.objects.all().delete()

    assert demo_token(capsys) == first
    assert status_with(first) == 200


@pytest.mark.django_db
def test_a_damaged_token_file_gives_a_new_working_token(capsys, demo_settings):
    demo_settings.DEMO_TOKEN_FILE.write_text("not a token\n")

    token = demo_token(capsys)

    assert status_with(token) == 200
    assert demo_settings.DEMO_TOKEN_FILE.read_text().strip() == token


@pytest.fixture
def fresh_checkout(tmp_path) -> Path:
    """The project's files in a folder of their own, using this venv, as a developer's clone would be."""
    project = tmp_path / "project"
    shutil.copytree(ROOT, project, ignore=shutil.ignore_patterns(
        ".venv", ".git", ".env", ".demo_token*", "*.sqlite3*", "__pycache__", ".pytest_cache", "staticfiles", "docs", "bench"))
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


AUTHENTICATES = """
import sys
from django.test import Client
print(Client(HTTP_HOST="127.0.0.1").get("/v1/metrics", HTTP_AUTHORIZATION="Bearer " + sys.stdin.read().strip()).status_code)
"""


def test_make_setup_twice_prints_the_same_working_token(fresh_checkout):
    env = project_env()
    env.pop("REDIS_URL", None)

    outputs = [make("setup", cwd=fresh_checkout, env=env) for _ in range(2)]

    first, second = (re.search(r"export TOKEN=(\S+)", out).group(1) for out in outputs)
    assert first == second
    assert all(out.count(first) == 1 for out in outputs)  # printed once per run, and nowhere else
    done = subprocess.run([sys.executable, "manage.py", "shell", "-c", AUTHENTICATES], cwd=fresh_checkout, env=env,
                          input=second, capture_output=True, text=True, timeout=120)
    assert done.stdout.strip().splitlines()[-1] == "200", done.stderr
    assert second not in done.stderr


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
