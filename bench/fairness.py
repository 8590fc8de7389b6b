"""The fair share of a scarce quota among API tokens, end to end (docs/FAIRNESS.md).

Run by hand (not in CI), with PostgreSQL and Redis:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sprites_h17 REDIS_URL=redis://127.0.0.1:6379/10 \\
      .venv/bin/python bench/fairness.py

The service: 2 gunicorn processes x 2 workers sharing PostgreSQL and Redis (bench/service.py),
MAX_WAIT 30 s. The local OpenAI-compatible upstream allows 5 requests per 12 s (a fixed window,
real time, `x-ratelimit-*` headers). Scenarios, each on a fresh quota and pacer:

- A+B: token A's 25 clients, each sending again at once after a sprite and after every
  Retry-After; token B sending one request every 2 s (no retries). B's share of the sprites
  served while both wait; with B's weight 1, then 3.
- A alone: the same 25 clients; how much of the quota is used, and the upstream's 429s.
- burst: 60 clients of one token at once; every refused client comes back once, at its
  Retry-After: the share served on return.
Everywhere: upstream calls that produced no sprite, per sprite (goal <= 0.05).
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

from bench.service import (forget_pacer, free_port, migrate_and_token, post_generate,  # noqa: E402
                           service_env, start_gunicorn)
from tests.upstream import FakeOpenAI  # noqa: E402

LIMIT, WINDOW, MAX_WAIT = 5, 12.0, 30.0


class Cluster:
    """Two gunicorn processes x 2 workers on one database and one Redis."""

    def __init__(self, base_url: str):
        self.env = service_env(base_url, GUNICORN_WORKERS="2", SPRITE_LITELLM_MAX_WAIT=str(MAX_WAIT),
                               SPRITE_LITELLM_MAX_RETRIES="3", SPRITE_LITELLM_RETRY_DELAY="1.0")

    def __enter__(self):
        forget_pacer(self.env)
        self.tokens = {"A": migrate_and_token(self.env), "B": migrate_and_token(self.env)}
        self.ports = [free_port(), free_port()]
        self.procs = [start_gunicorn(self.env, port) for port in self.ports]
        self.turn = 0
        return self

    def __exit__(self, *exc):
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            proc.wait(30)

    def weigh(self, name: str, weight: int) -> None:
        prefix = self.tokens[name].split(".")[0]
        subprocess.run([sys.executable, "manage.py", "shell", "-c",
                        "from generation.models import ApiToken; "
                        f"ApiToken.objects.filter(prefix={prefix!r}).update(weight={weight})"],
                       cwd=ROOT, env=self.env, check=True)

    def post(self, name: str) -> tuple[int, float | None]:
        self.turn += 1  # alternate the hosts
        status, headers, _ = post_generate(self.ports[self.turn % 2], self.tokens[name], timeout=600)
        retry_after = headers.get("Retry-After")
        return status, float(retry_after) if retry_after else None


def fresh(upstream: FakeOpenAI, cluster: Cluster) -> None:
    upstream.reset()
    forget_pacer(cluster.env)
    time.sleep(WINDOW)  # the pacer's last bookings age out as well


def wasted(upstream: FakeOpenAI, served: int) -> float:
    return (len(upstream.calls) - served) / served if served else float("inf")


def a_and_b(upstream, cluster, *, seconds: float, weight_b: int, with_b: bool = True) -> dict:
    fresh(upstream, cluster)
    cluster.weigh("B", weight_b)
    stop_at = time.monotonic() + seconds
    served, lock = [], threading.Lock()

    def record(name: str) -> None:
        with lock:
            served.append((time.monotonic(), name))

    def a_client(_):
        while time.monotonic() < stop_at:
            status, retry_after = cluster.post("A")
            if status == 200:
                record("A")
            else:  # at its Retry-After (1 s without one), unless the run ends first
                time.sleep(max(min(retry_after or 1.0, stop_at - time.monotonic()), 0.0))

    def b_one():
        if cluster.post("B")[0] == 200:
            record("B")

    started = time.monotonic()
    threads = [threading.Thread(target=a_client, args=(i,)) for i in range(25)]
    for thread in threads:
        thread.start()
    while with_b and time.monotonic() < stop_at:
        threads.append(threading.Thread(target=b_one))
        threads[-1].start()
        time.sleep(2.0)
    for thread in threads:
        thread.join()
    # While both wait: from the first window's end (both are queued by then) to the run's end.
    steady = [name for at, name in served if started + WINDOW <= at <= stop_at]
    # The quota while clients still asked: the upstream's windows that ended before the run did
    # (the upstream's clock is time.monotonic, like stop_at).
    accepted = [c for c in upstream.calls if c.status == 200]
    ends = {start: start + WINDOW <= stop_at for start, _ in windows(accepted)}
    accepted = [c for c in accepted if ends[max(start for start in ends if start <= c.at)]]
    return {"served": len(served), "b_share": steady.count("B") / len(steady) if steady else 0.0,
            "steady": len(steady), "calls": len(upstream.calls),
            "429s": sum(1 for c in upstream.calls if c.status == 429), "wasted": wasted(upstream, len(served)),
            "quota_used": quota_used(accepted),
            "windows_full": full_windows(accepted), "per_window": [n for _, n in windows(accepted)]}


def quota_used(accepted) -> float:
    """Calls accepted, of what the quota allowed from the first to the last: LIMIT per WINDOW started."""
    if not accepted:
        return 0.0
    times = sorted(c.at for c in accepted)
    return len(times) / (LIMIT * (int((times[-1] - times[0]) // WINDOW) + 1))


def windows(accepted) -> list[list]:
    """The upstream's fixed windows, [start, calls] (each opens at a call after the last one ended)."""
    found = []
    for at in sorted(c.at for c in accepted):
        if not found or at >= found[-1][0] + WINDOW:
            found.append([at, 0])
        found[-1][1] += 1
    return found


def full_windows(accepted) -> str:
    found = windows(accepted)
    return f"{sum(1 for _, used in found if used >= LIMIT)}/{len(found)}"


def burst(upstream, cluster, *, clients: int) -> dict:
    fresh(upstream, cluster)
    cluster.weigh("B", 1)
    barrier = threading.Barrier(clients)

    def one(_):
        barrier.wait()
        status, retry_after = cluster.post("A")
        if status == 200:
            return "first", retry_after
        if retry_after is None:
            return "refused without Retry-After", None
        time.sleep(retry_after)
        return ("back: served" if cluster.post("A")[0] == 200 else "back: refused"), retry_after

    with ThreadPoolExecutor(max_workers=clients) as pool:
        results = list(pool.map(one, range(clients)))
    outcomes = [r[0] for r in results]
    served = outcomes.count("first") + outcomes.count("back: served")
    told = [r[1] for r in results if r[0] != "first"]
    return {"first": outcomes.count("first"), "back_served": outcomes.count("back: served"),
            "back_refused": outcomes.count("back: refused"), "no_retry_after": outcomes.count(
                "refused without Retry-After"), "distinct_retry_after": len(set(told)),
            "max_same_second": max((told.count(t) for t in set(told)), default=0),
            "429s": sum(1 for c in upstream.calls if c.status == 429), "wasted": wasted(upstream, served)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=120.0, help="length of each A+B and A-alone run")
    parser.add_argument("--burst", type=int, default=60)
    args = parser.parse_args()
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    with FakeOpenAI(limit=LIMIT, window=WINDOW) as upstream, Cluster(upstream.base_url) as cluster:
        rows = [(f"A (25 retrying) + B (1 per 2 s), B weight {w}", a_and_b(upstream, cluster, seconds=args.seconds,
                                                                         weight_b=w)) for w in (1, 3)]
        alone = a_and_b(upstream, cluster, seconds=args.seconds, weight_b=1, with_b=False)
        spike = burst(upstream, cluster, clients=args.burst)
    print(f"upstream: {LIMIT} requests per {WINDOW:g} s (fixed window); MAX_WAIT {MAX_WAIT:g} s; "
          f"2 gunicorn x 2 workers, one Redis\n")
    print("| scenario | sprites | B's share while both wait | upstream calls | 429s | wasted per sprite | "
          "quota used | upstream windows full |")  # of the windows that ended within the run
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, r in [*rows, ("A alone (25 retrying)", alone)]:
        share = f"{r['b_share']:.0%} of {r['steady']}" if "B weight" in name else "–"
        print(f"| {name} | {r['served']} | {share} | {r['calls']} | {r['429s']} | {r['wasted']:.2f} | "
              f"{r['quota_used']:.0%} | {r['windows_full']} |")
    for name, r in [*rows, ("A alone (25 retrying)", alone)]:
        print(f"\n{name}: calls per upstream window that ended within the run: {r['per_window']}")
    back = spike["back_served"] + spike["back_refused"]
    print(f"\nburst of {args.burst}, each refused client back once at its Retry-After: {spike['first']} served "
          f"at first; {spike['back_served']}/{back} served on return ({spike['back_served'] / max(back, 1):.0%}); "
          f"{spike['no_retry_after']} refused without Retry-After; {spike['distinct_retry_after']} distinct "
          f"Retry-After values, at most {spike['max_same_second']} told the same second; "
          f"429s {spike['429s']}; wasted per sprite {spike['wasted']:.2f}")


if __name__ == "__main__":
    main()
