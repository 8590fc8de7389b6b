"""Real processes of the project, as a developer or a deployment starts them: gunicorn, manage.py, make."""
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent

# Set by tests/settings.py or pytest-django for this process; a child process of the project
# must configure itself the way it would for a developer.
_NOT_INHERITED = ("DJANGO_SETTINGS_MODULE", "DEBUG", "SECRET_KEY", "DATABASE_URL", "OPENAI_API_KEY",
                  "OPENAI_BASE_URL", "OPENAI_API_BASE", "LOG_FORMAT", "PROMETHEUS_MULTIPROC_DIR",
                  "DJANGO_ALLOW_ASYNC_UNSAFE", "SPRITE_LITELLM_MODEL")


def project_env(**overrides: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in _NOT_INHERITED}
    env.update(overrides)
    return env


def manage(*args: str, env: dict, cwd: Path = ROOT, timeout: float = 120) -> str:
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, done.stderr
    return done.stdout


def wait_for(url: str, *, limit: float = 90.0, proc: subprocess.Popen | None = None, host: str = "") -> None:
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


@contextlib.contextmanager
def gunicorn(env: dict, *, stdout, stderr, ready_host: str = ""):
    """gunicorn.conf.py's own set-up, on a socket this process bound to a free port (fd://)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.set_inheritable(True)
    proc = subprocess.Popen(
        [str(VENV_BIN / "gunicorn"), "sprite_backend.wsgi:application", "-c", "gunicorn.conf.py",
         "--bind", f"fd://{listener.fileno()}"],
        cwd=ROOT, env=env, stdout=stdout, stderr=stderr, pass_fds=[listener.fileno()], start_new_session=True)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    try:
        wait_for(f"{url}/healthz", proc=proc, host=ready_host)
        yield url
    finally:
        stop(proc)
        listener.close()


def stop(proc: subprocess.Popen) -> None:
    """End the process group this test started, politely first."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
