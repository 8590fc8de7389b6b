"""Real processes for fault tests: gunicorn with the project's gunicorn.conf.py, and the job worker.

They run the real settings (not tests.settings) against the test database, so the
tests that use them need committed data (`transactional_db`) and PostgreSQL: an
in-memory SQLite test database is invisible to another process.
"""
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
BOOT_TIMEOUT = 60  # seconds; the master imports LiteLLM (preload_app)

needs_postgres = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith(("postgres:", "postgresql:", "pgsql:")),
    reason="another process must share the test database: needs DATABASE_URL on PostgreSQL (.ci/run sets it)")


def database_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def process_env(**overrides) -> dict:
    """The environment of a real deployment on the test database; SPRITE_* only as given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPRITE_", "GUNICORN_", "OPENAI_"))}
    env.update({"DJANGO_SETTINGS_MODULE": "sprite_backend.settings", "DEBUG": "true",
                "DATABASE_URL": database_url(), "CONN_MAX_AGE": "0", **overrides})
    return {k: v for k, v in env.items() if v is not None}


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


class Process:
    """A child process whose stderr goes to a file that tests can read."""

    def __init__(self, args: list[str], env: dict):
        self.args, self.env = args, env
        self.log_file = tempfile.NamedTemporaryFile(prefix="proc-", suffix=".log", delete=False)
        self.proc: subprocess.Popen | None = None
        self.final_log: str | None = None

    def start(self):
        self.proc = subprocess.Popen(self.args, cwd=ROOT, env=self.env, stdout=self.log_file, stderr=subprocess.STDOUT)
        return self

    def log(self) -> str:
        if self.final_log is not None:
            return self.final_log
        return Path(self.log_file.name).read_text(errors="replace")

    def wait_for_log(self, pattern: str, timeout: float = BOOT_TIMEOUT) -> re.Match:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if match := re.search(pattern, self.log()):
                return match
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.args[2]} exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
            time.sleep(0.05)
        raise AssertionError(f"no {pattern!r} in {timeout} s:\n{self.log()[-3000:]}")

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stop(self) -> None:
        if self.final_log is not None:
            return
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.final_log = self.log()  # still readable by the test's assertions
        os.unlink(self.log_file.name)


class Gunicorn(Process):
    """`gunicorn sprite_backend.wsgi:application -c gunicorn.conf.py` on a free port."""

    def __init__(self, env: dict, *, workers: int = 1, threads: int = 4):
        super().__init__([sys.executable, "-m", "gunicorn", "sprite_backend.wsgi:application", "-c", "gunicorn.conf.py",
                          "--bind", "127.0.0.1:0", "--workers", str(workers), "--threads", str(threads),
                          "--access-logfile", "/dev/null", "--no-control-socket"], env)
        self.port: int | None = None

    def start(self):
        super().start()
        self.port = int(self.wait_for_log(r"Listening at: http://127\.0\.0\.1:(\d+)").group(1))
        self.wait_until_serving()
        return self

    def wait_until_serving(self, timeout: float = BOOT_TIMEOUT) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                if self.request("GET", "/healthz", timeout=5)[0] in (200, 503):
                    return
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"gunicorn did not serve in {timeout} s:\n{self.log()[-3000:]}")

    def workers(self) -> list[int]:
        return children(self.proc.pid)

    def request(self, method: str, path: str, *, body=None, headers=None, timeout: float = 30):
        """(status, headers, parsed JSON or raw bytes)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
            conn.request(method, path, body=data, headers={"Content-Type": "application/json", **(headers or {})})
            response = conn.getresponse()
            raw = response.read()
            try:
                parsed = json.loads(raw) if raw else None
            except ValueError:
                parsed = raw
            return response.status, dict(response.getheaders()), parsed
        finally:
            conn.close()


class JobWorker(Process):
    """`manage.py worker`: one process, SPRITE_WORKER_CONCURRENCY threads on the queue in Redis."""

    def __init__(self, env: dict):
        super().__init__([sys.executable, "manage.py", "worker"], env)
        self.metrics_port: int | None = None

    def start(self):
        super().start()
        port = self.wait_for_log(r"worker_started .*metrics_port=(\w+)").group(1)
        self.metrics_port = int(port) if port.isdigit() else None
        return self
