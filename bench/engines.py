"""The job engines weighed for the async worker (docs/WORKER.md), on this service's workload alone.

Jobs that wait on a provider: each makes one HTTP call to the local upstream (tests/upstream.py),
which takes `--latency` seconds, and does nothing else, so the engine is all that differs. Run by
hand in a venv of its own (Celery is not one of the project's dependencies), with a Redis
database this benchmark may empty:

    python3 -m venv /tmp/proto && /tmp/proto/bin/pip install celery==5.7.0 dramatiq==2.2.1 redis==8.1.0
    REDIS_URL=redis://127.0.0.1:6379/3 /tmp/proto/bin/python bench/engines.py [--jobs 60] [--delayed 10000]

For each engine, one worker process with 100 threads (Celery: `-P threads -c 100`; Dramatiq:
`--processes 1 --threads 100`) starts; then `--jobs` jobs are sent at once and the time until
the last one ends is measured, with the most calls the upstream had in flight; then `--delayed`
jobs are sent for 10 minutes from now (Celery's countdown, Dramatiq's delay), as requests
waiting for a pacer slot would be, and after 15 s the worker's RSS and Redis's memory are read:
what waiting costs, and where.
"""
import argparse
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
REDIS_URL = os.environ.get("REDIS_URL", "")
DONE = "engines-bench:done"

# --- The two apps, imported by their worker processes too ---------------------------------------
if REDIS_URL:
    import dramatiq
    from celery import Celery
    from dramatiq.brokers.redis import RedisBroker

    celery_app = Celery("engines", broker=REDIS_URL)
    celery_app.conf.update(worker_prefetch_multiplier=1, task_acks_late=True, broker_connection_retry_on_startup=True)
    dramatiq.set_broker(RedisBroker(url=REDIS_URL, namespace="engines-bench"))

    def call_upstream(url: str) -> None:
        request = urllib.request.Request(url, data=b'{"model": "gpt-image-1", "prompt": "slime"}',
                                         headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=120).read()
        redis.Redis.from_url(REDIS_URL).incr(DONE)

    celery_call = celery_app.task(name="call")(call_upstream)
    dramatiq_call = dramatiq.actor(actor_name="call", max_retries=0)(call_upstream)


def tree_rss_mb(pid: int) -> float:
    """RSS of a process and its descendants, MB."""
    total, stack = 0.0, [pid]
    while stack:
        p = stack.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
            stack += [int(c) for c in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
        except OSError:
            pass
    return total


ENGINES = {
    "Celery 5.7, threads pool": (
        [sys.executable, "-m", "celery", "-A", "bench.engines:celery_app", "worker", "-P", "threads", "-c", "100",
         "--without-gossip", "--without-mingle", "-l", "info"], "ready",
        lambda url: celery_call.delay(url), lambda url: celery_call.apply_async((url,), countdown=600)),
    "Dramatiq 2.2, 1 process x 100 threads": (
        [sys.executable, "-m", "dramatiq", "bench.engines", "--processes", "1", "--threads", "100"],
        "Worker process is ready", lambda url: dramatiq_call.send(url),
        lambda url: dramatiq_call.send_with_options(args=(url,), delay=600_000)),
}


def measure(name, command, ready, send, send_later, upstream, jobs: int, delayed: int) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    log = Path(f"/tmp/engines-bench-{name.split()[0].lower()}.log")
    worker = subprocess.Popen(command, cwd=ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        while ready not in log.read_text(errors="replace"):
            if worker.poll() is not None:
                raise SystemExit(log.read_text())
            time.sleep(0.1)
        time.sleep(1)
        idle_rss = tree_rss_mb(worker.pid)
        upstream.reset()
        url = f"{upstream.base_url}/images/generations"
        started = time.monotonic()
        for _ in range(jobs):
            send(url)
        while int(client.get(DONE) or 0) < jobs and time.monotonic() - started < 600:
            time.sleep(0.05)
        took = time.monotonic() - started
        busy_rss = tree_rss_mb(worker.pid)
        before = client.info("memory")["used_memory"]
        for _ in range(delayed):
            send_later(url)
        time.sleep(15)
        after = client.info("memory")["used_memory"]
        waiting_rss = tree_rss_mb(worker.pid)
    finally:
        worker.terminate()
        worker.wait(60)
        client.flushdb()
    print(f"{name}: {jobs} jobs of {upstream.latency:g} s: all done in {took:.1f} s, at most {upstream.max_in_flight} "
          f"calls in flight; worker RSS idle {idle_rss:.0f} MB, busy {busy_rss:.0f} MB; with {delayed} jobs "
          f"delayed 10 min: worker RSS {waiting_rss:.0f} MB (+{waiting_rss - busy_rss:.0f}), Redis "
          f"+{(after - before) / 2**20:.1f} MB ({(after - before) / max(delayed, 1):.0f} bytes a job)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=60)
    parser.add_argument("--latency", type=float, default=5.0)
    parser.add_argument("--delayed", type=int, default=10_000)
    args = parser.parse_args()
    if not REDIS_URL:
        raise SystemExit("set REDIS_URL to a Redis database this benchmark may empty")
    from tests.upstream import FakeOpenAI

    with FakeOpenAI(latency=args.latency) as upstream:
        for name, (command, ready, send, send_later) in ENGINES.items():
            measure(name, command, ready, send, send_later, upstream, args.jobs, args.delayed)


if __name__ == "__main__":
    main()
