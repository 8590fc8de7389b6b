"""The shared quota in the field: hosts whose clocks disagree, and Redis unreachable.

Run by hand (not in CI), with PostgreSQL and Redis, and Debian's faketime:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sprites_h15a REDIS_URL=redis://127.0.0.1:6379/1 \\
      .venv/bin/python bench/pacer_field.py --rounds 3

Two gunicorn processes x 2 workers share PostgreSQL and the quota of the local upstream (5
requests per 12 s, a fixed window on real time, bench/burst.py's). Each round, 15 clients start
at once against a fresh upstream window and a pacer that knows nothing:

- skew: the second process runs under libfaketime, its clock 1.5 s ahead (FAKETIME="+1.5s"),
  both on REDIS_URL;
- outage: both processes with REDIS_URL on a port where nothing listens: each paces on its own.

Figures: served, upstream calls, upstream 429s, wasted upstream calls per success (calls that
produced no sprite), refusals' latency p95.
"""
import argparse
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.burst import LIMIT, SETTINGS, WINDOW  # noqa: E402
from bench.service import (forget_pacer, free_port, percentile, post_generate, prepare, service_env,  # noqa: E402
                           start_gunicorn)
from tests.upstream import FakeOpenAI  # noqa: E402

LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
CLIENTS = 15


def burst(ports: list[int], token: str) -> list[tuple[int, float]]:
    barrier = threading.Barrier(CLIENTS)

    def one(index):
        barrier.wait()
        started = time.monotonic()
        status, _, _ = post_generate(ports[index % len(ports)], token, timeout=600)
        return status, time.monotonic() - started

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        return list(pool.map(one, range(CLIENTS)))


def measure(mode: str, upstream: FakeOpenAI, rounds: int) -> list[dict]:
    redis_url = os.environ["REDIS_URL"] if mode == "skew" else f"redis://127.0.0.1:{free_port()}/0"
    env = service_env(upstream.base_url, GUNICORN_WORKERS="2", **SETTINGS, REDIS_URL=redis_url,
                      BENCH_LOG=f"/tmp/bench-pacer-field-{mode}.log", DB_POOL_SIZE="4")  # a shared PostgreSQL
    token = prepare({**env, "REDIS_URL": os.environ.get("REDIS_URL", "")})
    envs = [env, {**env, "LD_PRELOAD": LIBFAKETIME, "FAKETIME": "+1.5s"} if mode == "skew" else env]
    ports = [free_port(), free_port()]
    procs = [start_gunicorn(e, port) for e, port in zip(envs, ports)]
    rows = []
    try:
        for _ in range(rounds):
            upstream.reset()
            if mode == "skew":
                forget_pacer(env)
            time.sleep(WINDOW)  # processes on their own forget nothing: let what they learned expire
            results = burst(ports, token)
            served = sum(1 for status, _ in results if status == 200)
            rows.append(row := {"mode": mode, "served": served, "calls": len(upstream.calls),
                         "429s": sum(1 for c in upstream.calls if c.status == 429),
                         "wasted_per_ok": (len(upstream.calls) - served) / served if served else float("inf"),
                         "refusal_p95": percentile([s for status, s in results if status != 200], 0.95),
                         "other": sorted({status for status, _ in results} - {200, 429})})
            print(row, file=sys.stderr, flush=True)  # as it comes: a long run keeps what it measured
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(120)  # a loaded host stops slowly
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--modes", nargs="+", default=["skew", "outage"])
    args = parser.parse_args()
    rows = []
    with FakeOpenAI(limit=LIMIT, window=WINDOW) as upstream:
        for mode in args.modes:
            rows += measure(mode, upstream, args.rounds)
    print(f"upstream: {LIMIT} requests per {WINDOW:g} s; {CLIENTS} clients at once; 2 processes x 2 workers\n")
    print("| mode | served | upstream calls | upstream 429s | wasted per success | refusal p95 s | other statuses |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for r in rows:
        p95 = "–" if r["refusal_p95"] != r["refusal_p95"] else f"{r['refusal_p95']:.2f}"
        print(f"| {r['mode']} | {r['served']} | {r['calls']} | {r['429s']} | {r['wasted_per_ok']:.2f} | {p95} | "
              f"{', '.join(map(str, r['other'])) or '–'} |")


if __name__ == "__main__":
    main()
