"""How long `manage.py check` takes (every manage.py command runs the system checks first).

Run by hand (not in CI):

    .venv/bin/python bench/manage_check.py [runs]

Each run is a fresh `manage.py check` process in development mode (DEBUG on, SQLite in a temporary
folder, the settings a `make run` .env gives), timed from spawn to exit; the table shows the
median and the slowest. Twice: with no OPENAI_API_KEY (the offline model) and with one
(`openai/gpt-image-2`); neither needs LiteLLM, whose import alone takes seconds.
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed_check(env: dict) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def main(runs: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="check-bench-"))
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SPRITE_", "OPENAI_", "DJANGO_"))}
    base.update(DEBUG="true", DATABASE_URL=f"sqlite:///{folder / 'bench.sqlite3'}")
    print("| configuration | runs | median s | slowest s |\n| --- | --- | --- | --- |")
    for label, extra in [("offline model (no key)", {}), ("openai/gpt-image-2 (key set)", {"OPENAI_API_KEY": "sk-x"})]:
        env = {**base, **extra}
        timed_check(env)  # warms the file cache and writes .pyc files
        times = [timed_check(env) for _ in range(runs)]
        print(f"| {label} | {runs} | {statistics.median(times):.2f} | {max(times):.2f} |")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
