"""The deployment's files, checked without Docker: the compose file's shape, the Docker build
context (with Docker's own .dockerignore matcher, from the `docker` package), and the locks.

Docker's rules are not gitignore's (a .dockerignore pattern is anchored at the top of the context
unless it starts with `**/`), so the context is computed with docker-py's `exclude_paths`, the
matcher `docker build` through docker-py uses to decide what it sends, not with a gitignore library.
"""
import re
import shutil
import subprocess

import pytest
import yaml
from docker.utils.build import exclude_paths

from tests.processes import ROOT

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
OURS = ("migrate", "backend", "worker", "reaper")

# What must never be sent to the Docker daemon, let alone end up in the image.
NEVER_SENT = [".env", ".env.production", "generation/.env", ".venv/bin/python", "venv/lib/site.py",
              "db.sqlite3", "db.sqlite3-wal", "data/db.sqlite3", "generation/__pycache__/models.cpython-311.pyc",
              "tests/__pycache__/conftest.cpython-311.pyc", ".pytest_cache/v/cache/nodeids", ".git/config",
              ".git/objects/ab/cdef", "staticfiles/admin/css/base.css", "node_modules/x/index.js", "gunicorn.log",
              "certs/server.key"]
# What the image needs.
SENT = ["manage.py", "gunicorn.conf.py", "requirements.lock", "generation/models.py", "generation/api/bodies.py",
        "generation/static/generation/admin.css",
        "sprite_backend/settings.py", "sprite_backend/process_healthcheck.py"]


def dockerignore_patterns() -> list[str]:
    """Read as docker-py's APIClient.build reads the file: one pattern a line, no blanks or comments."""
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def test_the_build_context_leaves_out_secrets_venvs_databases_and_caches(tmp_path):
    for name in NEVER_SENT + SENT:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")

    sent = exclude_paths(str(tmp_path), dockerignore_patterns())

    assert sorted(set(NEVER_SENT) & sent) == []
    assert sorted(set(SENT) - sent) == []


def test_nothing_in_this_checkout_that_dockerignore_matches_would_be_sent():
    sent = exclude_paths(str(ROOT), dockerignore_patterns())

    leaked = [path for path in sent
              if re.search(r"(^|/)(\.env(\..*)?|\.venv|venv|__pycache__|\.git|\.pytest_cache|node_modules)(/|$)"
                           r"|\.sqlite3|\.pyc$", path)]
    assert leaked == []
    copied = {line.split()[1] for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("COPY")}
    assert copied <= sent | {"."}  # what the Dockerfile copies by name is in the context


def test_the_image_installs_the_hashed_lock_and_runs_no_migration():
    dockerfile = (ROOT / "Dockerfile").read_text()

    assert "pip install --no-cache-dir --require-hashes --no-deps -r requirements.lock" in dockerfile
    assert "migrate" not in dockerfile.split("CMD", 1)[1]


def test_one_image_is_built_once_and_runs_every_service_of_ours():
    built = [name for name, service in SERVICES.items() if "build" in service]

    assert built == ["migrate"]
    assert {SERVICES[name]["image"] for name in OURS} == {"sprite-backend:local"}
    assert all(SERVICES[name]["pull_policy"] == "never" for name in OURS if name != "migrate")


def test_migrations_run_once_in_a_one_off_service_that_the_others_wait_for():
    assert SERVICES["migrate"]["command"] == ["python", "manage.py", "migrate", "--no-input"]
    assert SERVICES["migrate"]["restart"] == "no"
    for name in ("backend", "worker", "reaper"):
        assert SERVICES[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
        assert "migrate" not in " ".join(SERVICES[name].get("command", []))
    assert SERVICES["proxy"]["depends_on"] == {"backend": {"condition": "service_healthy"}}


def test_only_the_proxy_publishes_a_port():
    published = {name for name, service in SERVICES.items() if service.get("ports")}

    assert published == {"proxy"}
    assert SERVICES["proxy"]["ports"] == ["${HTTP_PORT:-8000}:80"]
    assert "./deploy/nginx.conf:/etc/nginx/nginx.conf:ro" in SERVICES["proxy"]["volumes"]


def test_every_long_running_service_has_a_healthcheck():
    checks = {name: service["healthcheck"]["test"] for name, service in SERVICES.items() if "healthcheck" in service}

    assert checks["worker"] == ["CMD", "python", "-m", "sprite_backend.process_healthcheck", "worker"]
    assert checks["reaper"] == ["CMD", "python", "-m", "sprite_backend.process_healthcheck", "reaper"]
    assert checks["redis"] == ["CMD", "redis-cli", "ping"]
    assert {"postgres", "backend"} <= set(checks)
    assert all(SERVICES[name]["depends_on"]["redis"] == {"condition": "service_healthy"} for name in OURS[1:])


def has_compose() -> bool:
    return shutil.which("docker") is not None and subprocess.run(
        ["docker", "compose", "version"], capture_output=True).returncode == 0


@pytest.mark.skipif(not has_compose(), reason="no Docker Compose here: the parse above stands in for it")
def test_docker_compose_accepts_the_file():
    done = subprocess.run(["docker", "compose", "-f", str(ROOT / "docker-compose.yml"), "config", "--quiet"],
                          cwd=ROOT, env={"SECRET_KEY": "x" * 50, "PATH": "/usr/bin:/bin:/usr/local/bin"},
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def pins(path) -> dict[str, str]:
    """name -> version of every `name==version` line (requirements files and locks alike)."""
    found = {}
    for line in path.read_text().splitlines():
        if match := re.match(r"([A-Za-z0-9_.\-]+)(\[[^\]]*\])?==([^\s;\\]+)", line):
            found[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(3)
    return found


@pytest.mark.parametrize(("direct", "lock"), [("requirements.txt", "requirements.lock"),
                                              ("requirements-dev.txt", "requirements-dev.lock")])
def test_the_lock_holds_every_direct_pin_with_hashes(direct, lock):
    locked = pins(ROOT / lock)

    missing = {name: version for name, version in pins(ROOT / direct).items() if locked.get(name) != version}
    assert missing == {}, f"{direct} pins what {lock} lacks: run `make lock`"
    entries = re.split(r"\n(?=[A-Za-z0-9])", (ROOT / lock).read_text().split("\n", 2)[2])
    assert all("--hash=sha256:" in entry for entry in entries if "==" in entry)


def test_production_and_development_install_the_same_versions():
    production, development = pins(ROOT / "requirements.lock"), pins(ROOT / "requirements-dev.lock")

    assert {name: (v, development.get(name)) for name, v in production.items() if development.get(name) != v} == {}
