"""How long /healthz and /metrics take when the database is down, under the real gunicorn.

Two ways a database is down: its port refuses connections (the server stopped), or its host
accepts them and never answers (a network partition, a hung server). The service starts with
DATABASE_URL pointing there (PostgreSQL, the pool at its default size and 10 s timeout).

    .venv/bin/python bench/health_db_down.py --requests 20 [--root OTHER_CHECKOUT]
"""
import argparse
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.service import ROOT, free_port, percentile  # noqa: E402


def timed_get(url: str) -> tuple[int, float]:
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=120) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    return status, time.perf_counter() - start


def serve(database_port: int, root: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {**os.environ, "DEBUG": "false", "SECRET_KEY": "bench-only-secret-key-not-for-production-0123456789",
           "ALLOWED_HOSTS": "127.0.0.1", "SECURE_SSL_REDIRECT": "false", "REDIS_URL": "",
           "DATABASE_URL": f"postgres://postgres@127.0.0.1:{database_port}/sprites"}
    proc = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "sprite_backend.wsgi:application",
                             "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}", "--workers", "1",
                             "--access-logfile", "/dev/null"], cwd=root, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(600):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError:
            time.sleep(0.1)
    proc.terminate()
    raise RuntimeError("the service did not start")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout to serve (to compare with another)")
    args = parser.parse_args()
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(512)
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            refused_port = closed.getsockname()[1]  # nothing listens once closed
        print("| database | path | status | p50 s | max s |")
        print("| --- | --- | --- | --- | --- |")
        for name, port in (("port refuses", refused_port), ("host never answers", silent.getsockname()[1])):
            proc, http_port = serve(port, args.root)
            try:
                for path in ("/healthz", "/metrics"):
                    results = [timed_get(f"http://127.0.0.1:{http_port}{path}") for _ in range(args.requests)]
                    statuses = sorted({status for status, _ in results})
                    seconds = [elapsed for _, elapsed in results]
                    print(f"| {name} | {path} | {', '.join(map(str, statuses))} | {percentile(seconds, 0.5):.2f} "
                          f"| {max(seconds):.2f} |")
            finally:
                proc.terminate()
                proc.wait()


if __name__ == "__main__":
    main()
