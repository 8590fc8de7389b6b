"""A burst of plugin clients against one upstream quota, as an operator runs the service.

Run by hand (not in CI), with PostgreSQL and Redis:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sprites_h9 REDIS_URL=redis://127.0.0.1:6379/2 \\
      .venv/bin/python bench/burst.py --clients 15 60

The local OpenAI-compatible upstream allows 5 requests per 12 s (a fixed window, real time,
`retry-after` and `x-ratelimit-*` headers on). Budgets: MAX_WAIT 30 s, 3 retries, 1.0 s delay.
For each client count, every strategy meets a fresh quota with its clients starting at once:

- ours: this branch, 2 gunicorn processes x 2 workers sharing PostgreSQL and Redis;
- before: the same, running main before the pacer (`--before`, default 2279111), whose
  requests each back off on their own;
- seed loop: the seed's in-process loop (3 attempts, 1 s then 2 s, on message substrings);
- SDK: LiteLLM with the OpenAI SDK's default retries (2, honouring Retry-After).

Figures: upstream calls wasted per success (calls that produced no sprite; goal <= 0.05);
answers later than the budget (MAX_WAIT + 1 s for the calls themselves; goal 0); latency of
refusals, p95 (goal < 1 s); the error of Retry-After against the real next slot of the upstream
(goal within 10%); goodput: sprites delivered within the budget, as a fraction of what the
quota allows in it (5 per window x 3 windows started within 30 s).
"""
import argparse
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.service import (MODEL, forget_pacer, percentile, post_generate, prepare,  # noqa: E402
                           service_env, start_gunicorn)
from tests.upstream import FakeOpenAI  # noqa: E402

LIMIT, WINDOW, MAX_WAIT = 5, 12.0, 30.0
BUDGET = MAX_WAIT + 1.0
SETTINGS = {"SPRITE_LITELLM_MAX_WAIT": str(MAX_WAIT), "SPRITE_LITELLM_MAX_RETRIES": "3",
            "SPRITE_LITELLM_RETRY_DELAY": "1.0"}


class Cluster:
    """Two gunicorn processes x 2 workers on one database and one Redis, from `source`."""

    def __init__(self, base_url: str, source: Path):
        self.env = service_env(base_url, GUNICORN_WORKERS="2", **SETTINGS)
        self.source = source

    def __enter__(self):
        self.token = prepare(self.env)
        self.servers = [start_gunicorn(self.env, cwd=self.source) for _ in range(2)]
        self.ports = [server.port for server in self.servers]
        return self

    def __exit__(self, *exc):
        for server in self.servers:
            server.stop()

    def client(self, index: int):
        status, headers, _ = post_generate(self.ports[index % 2], self.token, timeout=600)
        retry_after = headers.get("Retry-After")
        return status, float(retry_after) if retry_after else None


def seed_loop(litellm, base_url: str):
    def client(_):
        for i in range(3):
            try:
                litellm.image_generation(model=MODEL, prompt="slime", api_base=base_url, api_key="sk-bench",
                                         max_retries=0, timeout=30)
                return 200, None
            except Exception as exc:  # the seed's substring match, flaws included
                msg = str(exc).lower()
                if any(k in msg for k in ("rate_limit", "rate limit", "429", "too many requests")) and i < 2:
                    time.sleep(1.0 * 2**i)
                    continue
                return 429, None
        return 429, None

    return client


def sdk_defaults(litellm, base_url: str):
    def client(_):
        try:
            litellm.image_generation(model=MODEL, prompt="slime", api_base=base_url, api_key="sk-bench",
                                     max_retries=2, timeout=30)
            return 200, None
        except Exception:
            return 429, None

    return client


def windows(calls) -> list[list[float]]:
    """The upstream's fixed windows, [start, used], replayed from the calls it accepted."""
    found = []
    for at in sorted(c.at for c in calls if c.status != 429):
        if not found or at >= found[-1][0] + WINDOW:
            found.append([at, 0])
        found[-1][1] += 1
    return found


def next_slot(t: float, found: list[list[float]]) -> float:
    """When the upstream next accepts a call from `t` on, after every call the strategy committed to:
    the end of the last window, when that window is full."""
    if found and found[-1][1] >= LIMIT:
        return max(t, found[-1][0] + WINDOW)
    return t


def measure(name: str, upstream: FakeOpenAI, clients: int, client, env: dict | None = None) -> dict:
    upstream.reset()  # a fresh quota, and a pacer that knows nothing of it
    if env:
        forget_pacer(env)
    barrier = threading.Barrier(clients)

    def one(index):
        barrier.wait()
        started = time.monotonic()
        status, retry_after = client(index)
        return status, started, time.monotonic(), retry_after

    with ThreadPoolExecutor(max_workers=clients) as pool:
        results = list(pool.map(one, range(clients)))
    start = min(r[1] for r in results)
    ok = [r for r in results if r[0] == 200]
    refused = [r for r in results if r[0] != 200]
    found = windows(upstream.calls)
    errors = []
    for _, _, answered, retry_after in refused:
        if retry_after is not None:
            slot = next_slot(answered, found)
            errors.append(abs(answered + retry_after - slot) / max(slot - answered, 1.0))
    in_time = sum(1 for r in ok if r[2] - start <= BUDGET)
    quota = LIMIT * math.ceil(MAX_WAIT / WINDOW)
    return {
        "strategy": name, "ok": len(ok), "refused": len(refused), "calls": len(upstream.calls),
        "429s": sum(1 for c in upstream.calls if c.status == 429),
        "wasted_per_ok": (len(upstream.calls) - len(ok)) / len(ok) if ok else float("inf"),
        "late": sum(1 for r in results if r[2] - start > BUDGET),
        "refusal_p95": percentile([r[2] - r[1] for r in refused], 0.95),
        "slowest": max(r[2] - r[1] for r in results),
        "retry_after_error": max(errors) if errors else None,
        "goodput": min(in_time, quota) / min(quota, clients) if clients else 0.0,
    }


def snapshot(commit: str) -> Path:
    """main as it was before the pacer, unpacked beside this checkout (git archive, no worktree)."""
    target = Path(tempfile.mkdtemp(prefix="sprites-before-"))
    archive = subprocess.run(["git", "archive", commit], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, nargs="+", default=[15, 60])
    parser.add_argument("--before", default="2279111", help="the commit to run as 'before'")
    parser.add_argument("--ours-only", action="store_true", help="measure this branch only")
    args = parser.parse_args()

    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm  # the SDK's own defaults for the in-process strategies

    litellm.suppress_debug_info = True
    sources = [("ours", ROOT)] if args.ours_only else [("ours", ROOT), (f"before ({args.before})",
                                                                        snapshot(args.before))]
    rows = []
    with FakeOpenAI(limit=LIMIT, window=WINDOW) as upstream:
        for label, source in sources:
            with Cluster(upstream.base_url, source) as cluster:
                for n in args.clients:
                    rows.append((n, measure(label, upstream, n, cluster.client, cluster.env)))
        for n in [] if args.ours_only else args.clients:
            rows.append((n, measure("seed loop (in process)", upstream, n, seed_loop(litellm, upstream.base_url))))
            rows.append((n, measure("OpenAI SDK defaults", upstream, n, sdk_defaults(litellm, upstream.base_url))))

    print(f"upstream: {LIMIT} requests per {WINDOW:g} s; MAX_WAIT {MAX_WAIT:g} s, 3 retries, 1.0 s; "
          f"budget for an answer {BUDGET:g} s\n")
    print("| clients | strategy | served | refused | upstream calls | 429s | wasted per success | answers after "
          "budget | refusal p95 s | slowest s | Retry-After error | goodput |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for n, r in sorted(rows, key=lambda row: row[0]):
        error = "–" if r["retry_after_error"] is None else f"{r['retry_after_error']:.0%}"
        p95 = "–" if math.isnan(r["refusal_p95"]) else f"{r['refusal_p95']:.2f}"
        print(f"| {n} | {r['strategy']} | {r['ok']} | {r['refused']} | {r['calls']} | {r['429s']} | "
              f"{r['wasted_per_ok']:.2f} | {r['late']} | {p95} | {r['slowest']:.1f} | {error} | {r['goodput']:.0%} |")


if __name__ == "__main__":
    main()
