"""Real processes of the project, for tests and benchmarks: the one way to start gunicorn (with the
project's gunicorn.conf.py), the async job worker, `manage.py` and `make`, and to stop them.

Two environments:
- `process_env`: the real settings (not tests.settings) against the test database, so the
  tests that use it need committed data (`transactional_db`) and PostgreSQL (`needs_postgres`):
  an in-memory SQLite test database is invisible to another process.
- `project_env`: the environment a developer's shell would give the project: nothing that
  pytest or tests/settings.py set for this process; each test names what it needs.

Markers: a test that starts one of these is marked `process` (conftest.py also marks every test
in a module that imports a launcher from here); `make test-fast` leaves them out.
"""
import contextlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.markers import needs_postgres, needs_redis  # noqa: F401 (imported from here by tests)

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
BOOT_TIMEOUT = 90  # seconds; the master imports LiteLLM (preload_app), slower on a loaded machine


# Set by tests/settings.py or pytest-django for this process; a child process of the project
# must configure itself the way it would for a developer.
_NOT_INHERITED = ("DJANGO_SETTINGS_MODULE", "DEBUG", "SECRET_KEY", "DATABASE_URL", "OPENAI_API_KEY",
                  "OPENAI_BASE_URL", "OPENAI_API_BASE", "LOG_FORMAT", "PROMETHEUS_MULTIPROC_DIR",
                  "DJANGO_ALLOW_ASYNC_UNSAFE", "SPRITE_LITELLM_MODEL")


def database_url() -> str:
    """The test database this process uses, as a URL another process can open."""
    from django.db import connection

    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def process_env(**overrides) -> dict:
    """The environment of a real deployment on the test database; SPRITE_* only as given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPRITE_", "GUNICORN_", "OPENAI_"))}
    env.update({"DJANGO_SETTINGS_MODULE": "sprite_backend.settings", "DEBUG": "true",
                "DATABASE_URL": database_url(), "CONN_MAX_AGE": "0", **overrides})
    return {k: v for k, v in env.items() if v is not None}


def project_env(**overrides: str) -> dict:
    """A developer's environment: this one, less what pytest and tests/settings.py set."""
    env = {k: v for k, v in os.environ.items() if k not in _NOT_INHERITED}
    env.update(overrides)
    return env


def manage(*args: str, env: dict, cwd: Path = ROOT, timeout: float = 120) -> str:
    """`manage.py ARGS` to completion; its stdout, or AssertionError with its stderr."""
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, done.stderr
    return done.stdout


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def stop(proc: subprocess.Popen, timeout: float = 30) -> None:
    """End a process started in its own session (`start_new_session=True`) and what it started:
    SIGTERM to the process, then, once it has exited or after `timeout`, SIGKILL to its group
    (children a killed master left behind). The group is signalled only while the process is
    not yet reaped, so its id cannot belong to anyone else's process."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
        end = time.monotonic() + timeout
        # WNOWAIT: see the exit but leave the zombie, which keeps the pid (and group id) ours.
        try:
            while os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None \
                    and time.monotonic() < end:
                time.sleep(0.05)
        except ChildProcessError:  # reaped already: its pid is no longer ours to signal
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def wait_for(url: str, *, limit: float = BOOT_TIMEOUT, proc: subprocess.Popen | None = None, host: str = "") -> None:
    """Until `url` answers 2xx (with this Host header, if given); RuntimeError if `proc` exits first."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode} before answering")
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers={"Host": host} if host else {}),
                                        timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {limit} s")


class Process:
    """A child process in its own session. Its output goes to the files given, else to a
    temporary file that `log()` reads (still readable after `stop()`)."""

    def __init__(self, args: list[str], env: dict, *, cwd: Path = ROOT, stdout=None, stderr=None,
                 pass_fds: tuple[int, ...] = ()):
        self.args, self.env, self.cwd, self.pass_fds = args, env, cwd, pass_fds
        self.log_file = None
        if stdout is None:
            self.log_file = tempfile.NamedTemporaryFile(prefix="proc-", suffix=".log", delete=False)  # noqa: SIM115
            stdout, stderr = self.log_file, subprocess.STDOUT
        self.stdout, self.stderr = stdout, stderr
        self.proc: subprocess.Popen | None = None
        self.final_log: str | None = None

    @property
    def name(self) -> str:
        return " ".join(self.args[1:3])

    def start(self):
        self.proc = subprocess.Popen(self.args, cwd=self.cwd, env=self.env, stdout=self.stdout, stderr=self.stderr,
                                     pass_fds=self.pass_fds, start_new_session=True)
        return self

    def log(self) -> str:
        if self.final_log is not None:
            return self.final_log
        return Path(self.log_file.name).read_text(errors="replace") if self.log_file else ""

    def wait_for_log(self, pattern: str, timeout: float = BOOT_TIMEOUT) -> re.Match:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if match := re.search(pattern, self.log()):
                return match
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
            time.sleep(0.05)
        raise AssertionError(f"no {pattern!r} in {timeout} s:\n{self.log()[-3000:]}")

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stop(self, timeout: float = 30) -> None:
        if self.final_log is not None:
            return
        if self.proc:
            stop(self.proc, timeout)
        self.final_log = self.log()  # still readable by the test's assertions
        if self.log_file:
            self.log_file.close()
            os.unlink(self.log_file.name)


class Gunicorn(Process):
    """`gunicorn sprite_backend.wsgi:application -c gunicorn.conf.py`, as tests and benchmarks start it.

    It serves on a socket this process binds and hands down (`fd://`): a free port unless one is
    given, known before gunicorn starts and never taken by another test meanwhile. `workers` and
    `threads` of None leave them to gunicorn.conf.py (and GUNICORN_WORKERS/GUNICORN_THREADS).
    `start()` returns once `/healthz` answers (sent with `ready_host` as Host, if given).
    """

    def __init__(self, env: dict, *, workers: int | None = 1, threads: int | None = 4, args: tuple[str, ...] = (),
                 port: int = 0, cwd: Path = ROOT, access_log: bool = False, ready_host: str = "",
                 stdout=None, stderr=None):
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", port))
        self.listener.listen(128)
        self.listener.set_inheritable(True)
        self.port: int = self.listener.getsockname()[1]
        self.ready_host = ready_host
        command = [sys.executable, "-m", "gunicorn", "sprite_backend.wsgi:application", "-c", "gunicorn.conf.py",
                   "--bind", f"fd://{self.listener.fileno()}", "--no-control-socket"]
        if workers is not None:
            command += ["--workers", str(workers)]
        if threads is not None:
            command += ["--threads", str(threads)]
        if not access_log:
            command += ["--access-logfile", "/dev/null"]
        super().__init__([*command, *args], env, cwd=cwd, stdout=stdout, stderr=stderr,
                         pass_fds=(self.listener.fileno(),))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        super().start()
        try:
            self.wait_until_serving()
        except BaseException:
            self.stop()
            raise
        return self

    def wait_until_serving(self, timeout: float = BOOT_TIMEOUT) -> None:
        end = time.monotonic() + timeout
        headers = {"Host": self.ready_host} if self.ready_host else {}
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise AssertionError(f"gunicorn exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
            try:
                status = self.request("GET", "/healthz", headers=headers, timeout=5)[0]
                if status < 500 or status == 503:  # the app answers (503: it answers that its database does not)
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"gunicorn did not serve in {timeout} s:\n{self.log()[-3000:]}")

    def stop(self, timeout: float = 30) -> None:
        super().stop(timeout)
        self.listener.close()

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


@contextlib.contextmanager
def gunicorn(env: dict, *, stdout, stderr, ready_host: str = ""):
    """gunicorn as a deployment runs it (gunicorn.conf.py's workers, threads and access log), for a
    `with` block; yields its base URL."""
    server = Gunicorn(env, workers=None, threads=None, access_log=True, ready_host=ready_host,
                      stdout=stdout, stderr=stderr).start()
    try:
        yield server.url
    finally:
        server.stop()


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
