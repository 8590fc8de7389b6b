"""What an async generation costs over the same request served inline, on `manage.py worker`.

Run by hand (not in CI), with a Redis database of your own:

    REDIS_URL=redis://127.0.0.1:6379/4 .venv/bin/python bench/worker_overhead.py [jobs]

A real `manage.py worker` process (Dramatiq threads) serves the queue; this process
queues one request at a time (the offline model, 64 px) and polls its row until it is
finished. "async" is enqueue-to-finished as a client polling the row would see it (the 2 ms
poll included); "inline" is the same request run in this process. Both use one SQLite file.
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TMP = Path(tempfile.mkdtemp(prefix="worker-bench-"))
os.environ.update(DEBUG="true", DATABASE_URL=f"sqlite:///{TMP / 'bench.sqlite3'}",
                  DJANGO_SETTINGS_MODULE="sprite_backend.settings")
if not os.environ.get("REDIS_URL"):
    sys.exit("Set REDIS_URL to a Redis database this benchmark may empty, e.g. redis://127.0.0.1:6379/4")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402

from generation.engine import jobs, services  # noqa: E402
from generation.engine.generator import generator  # noqa: E402
from generation.engine.spec import SpriteSpec  # noqa: E402
from generation.models import ApiToken, GenerationRequest  # noqa: E402
from generation.providers import load_litellm  # noqa: E402

# (The RQ worker classes this bench measured before the move to Dramatiq: docs/BENCHMARKS.md.)
WORKERS = {"manage.py worker (Dramatiq threads, app preloaded)": ["manage.py", "worker", "--concurrency", "4"]}
SPEC = SpriteSpec(prompt="green slime", style="pixel", size=64, transparent=True, colors=16, outline=True)


def new_row(token, status) -> GenerationRequest:
    row, _ = services.create_generation(token=token, spec=SPEC, status=status)
    return row


def wait_finished(row_id, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if GenerationRequest.objects.filter(pk=row_id, status__in=["succeeded", "failed"]).exists():
            return
        time.sleep(0.002)
    raise TimeoutError(f"job {row_id} not finished after {limit} s")


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def run_async(token, command: list[str], jobs_count: int) -> list[float]:
    jobs.flush()
    worker = subprocess.Popen([sys.executable, *command], cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env={**os.environ, "SPRITE_WORKER_METRICS_PORT": "0"})
    try:
        warm = new_row(token, GenerationRequest.Status.QUEUED)  # the worker's own start-up is not a job's cost
        jobs.enqueue(warm)
        wait_finished(warm.id, limit=120)
        times = []
        for _ in range(jobs_count):
            row = new_row(token, GenerationRequest.Status.QUEUED)
            started = time.perf_counter()
            jobs.enqueue(row)
            wait_finished(row.id)
            times.append(time.perf_counter() - started)
        return times
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def run_inline(token, count: int) -> list[float]:
    generator.run(new_row(token, GenerationRequest.Status.RUNNING))  # warm-up
    times = []
    for _ in range(count):
        row = new_row(token, GenerationRequest.Status.RUNNING)
        started = time.perf_counter()
        generator.run(row)
        times.append(time.perf_counter() - started)
    return times


def main(count: int) -> None:
    call_command("migrate", verbosity=0)
    load_litellm()
    user = get_user_model().objects.create_user("bench")
    token, _ = ApiToken.objects.create_key(user=user, name="bench")
    inline = median_ms(run_inline(token, count))
    print(f"{count} jobs each, medians; inline {inline:.1f} ms")
    print(f"{'worker':60} {'async ms':>9} {'over inline ms':>15}")
    for label, command in WORKERS.items():
        async_ms = median_ms(run_async(token, command, count))
        print(f"{label:60} {async_ms:9.1f} {async_ms - inline:15.1f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
