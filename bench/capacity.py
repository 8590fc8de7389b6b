"""How many generations one machine keeps in flight, with the project's own gunicorn.conf.py.

Run by hand (not in CI), with PostgreSQL and Redis as in production:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sprites_h9 REDIS_URL=redis://127.0.0.1:6379/2 \\
      .venv/bin/python bench/capacity.py --clients 220 --latency 10

One gunicorn (gunicorn.conf.py: its workers, threads and timeout) in front of the local
OpenAI-compatible upstream, which takes `--latency` seconds per image and has no rate limit.
After one warm-up request (the pacer's probe of a model it knows nothing about), `--clients`
plugin clients start at the same instant. Meanwhile a prober asks `GET /v1/styles` and
`/healthz` every 0.5 s, and PostgreSQL's connections to the database and each worker's RSS
are sampled. Printed: the most upstream calls in flight, client latency p50/p95/max and
statuses, /v1/styles and /healthz latency, RSS per worker, and the most PostgreSQL connections.
"""
import argparse
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.service import percentile, post_generate, prepare, service_env, start_gunicorn  # noqa: E402
from tests.upstream import FakeOpenAI  # noqa: E402

def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pg_connections(database_url: str) -> int:
    name = urllib.parse.urlparse(database_url).path.lstrip("/")
    out = subprocess.run(["psql", database_url, "-Atc",
                          f"select count(*) from pg_stat_activity where datname = '{name}'"],
                         capture_output=True, text=True)
    return int(out.stdout.strip() or 0)


def max_in_flight(calls, latency: float) -> int:
    """Calls overlap while each is held `latency` seconds after it arrives."""
    edges = sorted([(c.at, 1) for c in calls] + [(c.at + latency, -1) for c in calls])
    most = now = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


class Sampler(threading.Thread):
    """/v1/styles and /healthz latency, PostgreSQL connections and worker RSS, every 0.5 s."""

    def __init__(self, port: int, token: str, master: int, database_url: str):
        super().__init__(daemon=True)
        self.port, self.token, self.master, self.database_url = port, token, master, database_url
        self.styles, self.health, self.connections, self.rss = [], [], [], {}
        self.stop = threading.Event()

    def timed_get(self, path: str) -> float:
        started = time.monotonic()
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}",
                                         headers={"Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()
        return time.monotonic() - started

    def run(self):
        while not self.stop.is_set():
            self.styles.append(self.timed_get("/v1/styles"))
            self.health.append(self.timed_get("/healthz"))
            self.connections.append(pg_connections(self.database_url))
            for pid in children(self.master):
                self.rss[pid] = max(self.rss.get(pid, 0.0), rss_mb(pid))
            self.stop.wait(0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=220)
    parser.add_argument("--latency", type=float, default=10.0, help="seconds the upstream takes per image")
    args = parser.parse_args()

    with FakeOpenAI(latency=args.latency) as upstream:
        env = service_env(upstream.base_url)
        token = prepare(env)
        server = start_gunicorn(env)
        port = server.port
        try:
            assert post_generate(port, token)[0] == 200  # warm-up: the pacer's probe learns "no quota headers"
            upstream.reset()
            sampler = Sampler(port, token, server.proc.pid, env["DATABASE_URL"])
            sampler.start()
            barrier = threading.Barrier(args.clients)

            def client(_):
                barrier.wait()
                started = time.monotonic()
                status = post_generate(port, token)[0]
                return status, time.monotonic() - started

            with ThreadPoolExecutor(max_workers=args.clients) as pool:
                results = list(pool.map(client, range(args.clients)))
            sampler.stop.set()
            sampler.join()
        finally:
            server.stop()

    latencies = [s for _, s in results]
    statuses = {}
    for status, _ in results:
        statuses[status] = statuses.get(status, 0) + 1
    print(f"{args.clients} clients at once, upstream {args.latency:g} s per image, gunicorn.conf.py as shipped\n")
    print(f"statuses: {statuses}")
    arrivals = sorted(c.at for c in upstream.calls)
    spread = [round(a - arrivals[0], 1) for a in arrivals]
    print(f"upstream calls: {len(upstream.calls)}; most in flight: {max_in_flight(upstream.calls, args.latency)}; "
          f"arrivals after the first, s: p50 {percentile(spread, 0.5)}, p95 {percentile(spread, 0.95)}, "
          f"max {spread[-1]}")
    print(f"client latency s: p50 {percentile(latencies, 0.5):.1f}, p95 {percentile(latencies, 0.95):.1f}, "
          f"max {max(latencies):.1f}")
    for name, values in (("/v1/styles", sampler.styles), ("/healthz", sampler.health)):
        print(f"{name} meanwhile ms: p50 {percentile(values, 0.5) * 1000:.0f}, p95 "
              f"{percentile(values, 0.95) * 1000:.0f}, max {max(values) * 1000:.0f} ({len(values)} samples)")
    print(f"RSS per worker MB (peak): {', '.join(f'{v:.0f}' for v in sampler.rss.values())}")
    print(f"PostgreSQL connections to the database (peak, sampled): {max(sampler.connections)}")


if __name__ == "__main__":
    main()
