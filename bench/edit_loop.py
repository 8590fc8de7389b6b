"""How long the edit loop takes: `make test-fast`, run N times, timed from outside.

    DATABASE_URL=postgres://... REDIS_URL=redis://... .venv/bin/python bench/edit_loop.py --runs 3

Prints, for each run, the wall-clock time, the CPU time of the run and its children (pytest,
and the servers it starts in threads), and the machine's load average before and after, since
on a shared machine the wall-clock time depends on what else runs. Extra arguments after `--`
go to make (for example `VENV=/path/to/venv`).
"""
import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_once(make_args: list[str]) -> tuple[float, float, int]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    done = subprocess.run(["make", "test-fast", *make_args], cwd=ROOT, capture_output=True, text=True)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-2000:])
    summary = next((line for line in reversed(done.stdout.splitlines()) if " in " in line and "passed" in line), "")
    print(f"  {summary.strip()}")
    return wall, cpu, done.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("make_args", nargs="*", help="after --: arguments for make")
    args = parser.parse_args()
    for run in range(1, args.runs + 1):
        load_before = os.getloadavg()[0]
        wall, cpu, code = run_once(args.make_args)
        load_after = os.getloadavg()[0]
        print(f"run {run}: {wall:.1f} s wall, {cpu:.1f} s CPU, load average {load_before:.1f} -> {load_after:.1f}"
              f"{'' if code == 0 else f', exit {code}'}")


if __name__ == "__main__":
    main()
