"""The real service under gunicorn for the benchmarks, configured through the environment only,
and started the way the tests start it (tests/processes.py: one launcher)."""
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from tests.processes import Gunicorn

ROOT = Path(__file__).resolve().parent.parent
MODEL = "openai/gpt-image-2"


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def service_env(base_url: str, **extra) -> dict:
    env = {**os.environ, "DEBUG": "false", "SECRET_KEY": "bench-only-secret-key-not-for-production-0123456789",
           "ALLOWED_HOSTS": "127.0.0.1,localhost", "SECURE_SSL_REDIRECT": "false", "OPENAI_API_KEY": "sk-bench",
           "OPENAI_BASE_URL": base_url, "SPRITE_LITELLM_MODEL": MODEL, "SPRITE_THROTTLE_RATE": "1000000/min",
           **extra}
    if not env.get("DATABASE_URL", "").startswith("postgres"):
        raise SystemExit("set DATABASE_URL to a PostgreSQL database (and REDIS_URL): this measures production")
    return env


def forget_pacer(env: dict) -> None:
    """A fresh start: the pacer learns the quota again."""
    if env.get("REDIS_URL"):
        import redis

        client = redis.Redis.from_url(env["REDIS_URL"])
        for key in client.scan_iter("sprite:pacer:*"):
            client.delete(key)


def migrate_and_token(env: dict) -> str:
    """Migrate the database `env` names and make a token for the benchmark."""
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    out = subprocess.run([*manage, "create_api_token", "bench"], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True).stdout
    return out.strip().splitlines()[-1]


def prepare(env: dict) -> str:
    """Migrate, forget earlier pacer state, and make a token."""
    forget_pacer(env)
    return migrate_and_token(env)


def start_gunicorn(env: dict, *args: str, workers: int | None = None, threads: int | None = None,
                   cwd: Path = ROOT) -> Gunicorn:
    """The service on a free port (`.port`), serving once this returns; `.stop()` ends it. Workers and
    threads are gunicorn.conf.py's (GUNICORN_WORKERS, GUNICORN_THREADS) unless given. Its log goes to
    the file BENCH_LOG names, if any."""
    log = open(env["BENCH_LOG"], "a") if env.get("BENCH_LOG") else subprocess.DEVNULL  # noqa: SIM115
    return Gunicorn(env, workers=workers, threads=threads, args=args, cwd=cwd, stdout=subprocess.DEVNULL,
                    stderr=log).start()


def post_generate(port: int, token: str, body: dict | None = None, timeout: float = 900) -> tuple[int, dict, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/generate", data=json.dumps(body or {"prompt": "slime", "size": 16}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read() or b"{}")
