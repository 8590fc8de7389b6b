"""How long `manage.py check` takes (every manage.py command runs the system checks first).

Run by hand (not in CI):

    .venv/bin/python bench/manage_check.py [runs]

Each run is a fresh `manage.py check` process in development mode (DEBUG on, SQLite in a temporary
folder, the settings a `make run` .env gives), timed from spawn to exit (wall) and by the CPU time it
used; the table shows the medians and the slowest wall time. Twice: with no OPENAI_API_KEY (the offline model) and with one
(`openai/gpt-image-2`); neither needs LiteLLM, whose import alone takes seconds.
"""
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed_check(env: dict) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one `manage.py check`. CPU time is what the process itself
    needed; wall time is what a developer waits, and grows with whatever else the cores are doing."""
    before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, check=True, capture_output=True)
    wall, after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(runs: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="check-bench-"))
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SPRITE_", "OPENAI_", "DJANGO_"))}
    base.update(DEBUG="true", DATABASE_URL=f"sqlite:///{folder / 'bench.sqlite3'}")
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    print("| configuration | runs | wall median s | wall slowest s | CPU median s |\n| --- | --- | --- | --- | --- |")
    for label, extra in [("offline model (no key)", {}), ("openai/gpt-image-2 (key set)", {"OPENAI_API_KEY": "sk-x"})]:
        env = {**base, **extra}
        timed_check(env)  # warms the file cache and writes .pyc files
        walls, cpus = zip(*(timed_check(env) for _ in range(runs)))
        print(f"| {label} | {runs} | {statistics.median(walls):.2f} | {max(walls):.2f} | {statistics.median(cpus):.2f} |")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
