"""Async generations at scale: gunicorn takes them (202), `manage.py worker` commands run them.

Run by hand (not in CI), with PostgreSQL and a Redis database this benchmark may empty:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sprites_h16 REDIS_URL=redis://127.0.0.1:6379/3 \\
      .venv/bin/python bench/async_scale.py --requests 60 --latency 5 --workers 1
    ... --requests 1000 --latency 5 --workers 2
    ... --requests 10000 --latency 5 --workers 1 --quota 5/12 --queue-first

The local upstream takes `--latency` seconds per image; `--quota N/S` makes it a fixed window of
N calls per S seconds (with OpenAI's x-ratelimit-* headers, from which the pacer learns it), and
MAX_WAIT/TOTAL_TIMEOUT are raised to their bounds (600/900 s) so that queued requests wait for
their slots. One warm-up request first (the pacer's probe). Then
`--requests` async requests are posted by 32 client threads, after the workers have started, or
before (`--queue-first`: the queue fills with no worker listening, to measure what a queued
request costs Redis). Sampled every 0.5 s: each worker's RSS, PostgreSQL's connections to the
database, Redis's used memory. Printed: seconds from the last 202 to every row finished, the
rows' outcomes, the most upstream calls in flight, upstream 429s, the peaks sampled.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.capacity import children, rss_mb  # noqa: E402
from bench.service import free_port, post_generate, prepare, service_env, start_gunicorn  # noqa: E402
from tests.upstream import FakeOpenAI  # noqa: E402

MODEL = "openai/gpt-image-2"


def postgres_sockets(pids: list[int], port: int = 5432) -> int:
    """TCP connections to PostgreSQL's port held by these processes (from /proc: no query needed)."""
    inodes = set()
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd) if fd.is_symlink() else ""
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[2].rsplit(":", 1)[1], 16) == port and fields[3] == "01" and fields[9] in inodes:
                count += 1
    return count


class Sampler(threading.Thread):
    def __init__(self, workers: list[subprocess.Popen], database_url: str, redis_client, web: subprocess.Popen):
        super().__init__(daemon=True)
        self.workers, self.database_url, self.redis, self.web = workers, database_url, redis_client, web
        self.rss: list[list[float]] = []  # per sample: each worker's RSS, MB
        self.connections: list[int] = []
        self.worker_connections: list[int] = []  # held by the worker commands
        self.web_connections: list[int] = []  # held by gunicorn's processes
        self.redis_mb: list[float] = []
        self.stop = threading.Event()

    def run(self):
        name = urllib.parse.urlparse(self.database_url).path.lstrip("/")
        with psycopg.connect(self.database_url, autocommit=True) as db:
            while not self.stop.wait(0.5):
                self.rss.append([rss_mb(w.pid) for w in self.workers if w.poll() is None])
                self.connections.append(db.execute(
                    "select count(*) from pg_stat_activity where datname = %s", (name,)).fetchone()[0])
                self.worker_connections.append(postgres_sockets([w.pid for w in self.workers]))
                self.web_connections.append(postgres_sockets([self.web.pid, *children(self.web.pid)]))
                self.redis_mb.append(self.redis.info("memory")["used_memory"] / 2**20)


def start_worker(env: dict, log: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "manage.py", "worker"], cwd=ROOT, env=env,
                            stdout=log.open("w"), stderr=subprocess.STDOUT)
    for _ in range(1200):
        if "worker_started" in log.read_text(errors="replace"):
            return proc
        if proc.poll() is not None:
            raise SystemExit(f"the worker exited:\n{log.read_text()[-2000:]}")
        time.sleep(0.1)
    raise SystemExit("the worker did not start")


def unfinished(db, since: float) -> dict[str, int]:
    return dict(db.execute("select status, count(*) from generation_generationrequest "
                           "where created_at >= to_timestamp(%s) group by status", (since,)).fetchall())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--latency", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=1, help="worker commands")
    parser.add_argument("--concurrency", type=int, default=100, help="SPRITE_WORKER_CONCURRENCY")
    parser.add_argument("--quota", default="", help="N/S: the upstream allows N calls per S seconds")
    parser.add_argument("--queue-first", action="store_true", help="post every request before any worker starts")
    parser.add_argument("--limit", type=float, default=900, help="give up after this many seconds")
    args = parser.parse_args()
    if not os.environ.get("REDIS_URL"):
        raise SystemExit("set REDIS_URL to a Redis database this benchmark may empty")
    quota = tuple(map(float, args.quota.split("/"))) if args.quota else None
    extra = {"SPRITE_WORKER_CONCURRENCY": str(args.concurrency), "SPRITE_WORKER_METRICS_PORT": "0",
             "SPRITE_LITELLM_MAX_RETRIES": "0"}
    if quota:
        extra.update(SPRITE_LITELLM_MAX_WAIT="600", SPRITE_LITELLM_TOTAL_TIMEOUT="900")
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    client.flushdb()
    logs = Path(os.environ.get("BENCH_LOGS", "/tmp"))

    with FakeOpenAI(latency=args.latency, limit=int(quota[0]) if quota else None,
                    window=quota[1] if quota else 60.0) as upstream:
        env = service_env(upstream.base_url, **extra)
        token = prepare(env)
        port = free_port()
        web = start_gunicorn(env, port)
        workers: list[subprocess.Popen] = []
        try:
            assert post_generate(port, token)[0] == 200  # warm-up: the pacer's probe
            time.sleep(quota[1] if quota else 0)  # a fresh window for the measured requests
            upstream.reset()
            if not args.queue_first:
                workers = [start_worker(env, logs / f"async-scale-worker-{i}.log") for i in range(args.workers)]
            sampler = Sampler(workers, env["DATABASE_URL"], client, web)
            sampler.start()
            since = time.time() - 1
            redis_before = client.info("memory")["used_memory"]

            def post(i):
                return post_generate(port, token, {"prompt": f"slime {i}", "size": 16, "async": True})[0]

            with ThreadPoolExecutor(max_workers=32) as pool:
                statuses = list(pool.map(post, range(args.requests)))
            last_202 = time.monotonic()
            redis_after = client.info("memory")["used_memory"]
            if args.queue_first:
                workers = [start_worker(env, logs / f"async-scale-worker-{i}.log") for i in range(args.workers)]
                sampler.workers = workers
                last_202 = time.monotonic()  # "finished within" counts from the workers' start
            db = psycopg.connect(env["DATABASE_URL"], autocommit=True)
            while (left := unfinished(db, since)).get("queued", 0) + left.get("running", 0):
                if time.monotonic() - last_202 > args.limit:
                    break
                time.sleep(0.25)
            done_after = time.monotonic() - last_202
            sampler.stop.set()
            sampler.join()
            outcomes = unfinished(db, since)
            db.close()
        finally:
            for proc in [*workers, web]:
                proc.terminate()
            for proc in [*workers, web]:
                proc.wait(60)

    posted = {s: statuses.count(s) for s in set(statuses)}
    print(f"{args.requests} async requests, upstream {args.latency:g} s per image"
          f"{f', quota {args.quota}' if quota else ', no quota'}, {args.workers} worker command(s) x "
          f"{args.concurrency} threads{', queued before any worker started' if args.queue_first else ''}\n")
    print(f"answers to the posts: {posted}")
    print(f"rows: {outcomes}; every row final {done_after:.1f} s after the "
          f"{'workers started' if args.queue_first else 'last 202'}")
    codes = {}
    for call in upstream.calls:
        codes[call.status] = codes.get(call.status, 0) + 1
    print(f"upstream calls by status: {codes}; most in flight at once: {upstream.max_in_flight}")
    if quota:
        arrivals = sorted(c.at for c in upstream.calls)
        window, most = quota[1], 0
        for i, at in enumerate(arrivals):
            most = max(most, sum(1 for a in arrivals[i:] if a < at + window))
        print(f"most calls in any {window:g} s: {most} (quota {int(quota[0])})")
        print(f"Redis memory per queued request: {(redis_after - redis_before) / args.requests:.0f} bytes "
              f"({(redis_after - redis_before) / 2**20:.1f} MB for {args.requests})")
    peaks = [max(col) for col in zip(*[s for s in sampler.rss if len(s) == len(workers)])] or [float("nan")]
    firsts = next((s for s in sampler.rss if len(s) == len(workers)), [])
    print(f"worker RSS MB: first sample {', '.join(f'{v:.0f}' for v in firsts)}; peak "
          f"{', '.join(f'{v:.0f}' for v in peaks)}; total peak {sum(peaks):.0f}")
    print(f"PostgreSQL connections to the database (peak, sampled): {max(sampler.connections)} in all "
          f"(the benchmark's own 2 included); held by the worker commands: peak {max(sampler.worker_connections)}; "
          f"by gunicorn: peak {max(sampler.web_connections)}")
    print(f"Redis used memory MB: peak {max(sampler.redis_mb):.1f}")
    for i in range(len(workers)):
        text = (logs / f"async-scale-worker-{i}.log").read_text(errors="replace")
        problems = len(re.findall(r" (ERROR|CRITICAL) ", text))
        print(f"worker {i}: {problems} ERROR/CRITICAL log lines")
    json.dump({"rss": sampler.rss, "connections": sampler.connections, "redis_mb": sampler.redis_mb},
              (logs / "async-scale-samples.json").open("w"))


if __name__ == "__main__":
    main()
