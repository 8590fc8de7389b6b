"""N plugin clients at once against an upstream that allows `limit` requests per window.

Run by hand (not in CI):

    .venv/bin/python bench/rate_limits.py --clients 15 --limit 5 --window 60 --scale 20

Time is compressed by `--scale`: the upstream's window, every configured delay and the
client deadline are divided by it, and every latency printed is multiplied back, so the
figures read as real seconds. Strategies compared:

- ours: the real service (gunicorn + SQLite) in front of the local upstream, with the
  given budget;
- seed: the seed's loop, in-process: 3 attempts, sleeping 1 s then 2 s, on message
  substrings ("rate_limit", "429", ...);
- sdk: LiteLLM with the OpenAI SDK's default retries (2), which honour Retry-After.
"""
import argparse
import json
import os
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from bench.service import migrate_and_token, percentile, start_gunicorn  # noqa: E402
from tests.upstream import FakeOpenAI  # noqa: E402

MODEL = "openai/gpt-image-2"


def run_clients(n: int, attempt) -> list[tuple[bool, float]]:
    """Start n clients at the same instant; each returns (ok, seconds)."""
    barrier = threading.Barrier(n)

    def one(_):
        barrier.wait()
        started = time.monotonic()
        ok = attempt()
        return ok, time.monotonic() - started

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(one, range(n)))


def naive_seed(litellm, base_url: str, scale: float):
    def attempt() -> bool:
        max_retries, retry_delay = 3, 1.0 / scale
        for i in range(max_retries):
            try:
                litellm.image_generation(model=MODEL, prompt="slime", api_base=base_url, api_key="sk-bench",
                                         max_retries=0, timeout=30)
                return True
            except Exception as exc:  # the seed's substring match, flaws included
                msg = str(exc).lower()
                if any(k in msg for k in ("rate_limit", "rate limit", "429", "too many requests")) and i < max_retries - 1:
                    time.sleep(retry_delay * 2**i)
                    continue
                return False
        return False

    return attempt


def sdk_defaults(litellm, base_url: str):
    def attempt() -> bool:
        try:
            litellm.image_generation(model=MODEL, prompt="slime", api_base=base_url, api_key="sk-bench",
                                     max_retries=2, timeout=30)
            return True
        except Exception:
            return False

    return attempt


class Service:
    """The real backend under gunicorn, configured through the environment only."""

    def __init__(self, base_url: str, *, scale: float, max_wait: float, max_retries: int, retry_delay: float):
        self.dir = tempfile.TemporaryDirectory()
        self.env = {
            **os.environ, "DEBUG": "true", "DATABASE_URL": f"sqlite:///{self.dir.name}/bench.sqlite3",
            "OPENAI_API_KEY": "sk-bench", "OPENAI_BASE_URL": base_url, "SPRITE_LITELLM_MODEL": MODEL,
            "SPRITE_LITELLM_MAX_RETRIES": str(max_retries), "SPRITE_LITELLM_RETRY_DELAY": str(max(retry_delay / scale, 0.1)),
            "SPRITE_LITELLM_MAX_WAIT": str(max_wait / scale), "SPRITE_THROTTLE_RATE": "10000/min",
        }
        self.env.pop("REDIS_URL", None)

    def __enter__(self):
        self.token = migrate_and_token(self.env)
        self.server = start_gunicorn(self.env, "--error-logfile", "/dev/null", workers=1, threads=32)
        self.port = self.server.port
        return self

    def __exit__(self, *exc):
        self.server.stop()
        self.dir.cleanup()

    def attempt(self) -> bool:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/v1/generate", data=json.dumps({"prompt": "slime", "size": 16}).encode(),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=600) as response:
                return response.status == 200
        except urllib.error.HTTPError:
            return False


def measure(name: str, upstream: FakeOpenAI, clients: int, attempt, scale: float, deadline: float) -> dict:
    upstream.reset()
    results = run_clients(clients, attempt)
    ok = [seconds * scale for good, seconds in results if good]
    every = [seconds * scale for _, seconds in results]
    limited = sum(1 for c in upstream.calls if c.status == 429)
    return {
        "strategy": name, "ok": len(ok), "failed": clients - len(ok), "upstream_429s": limited,
        "wasted_per_success": (len(upstream.calls) - len(ok)) / len(ok) if ok else float("inf"),
        "p50_s": percentile(every, 0.5), "p95_s": percentile(every, 0.95),
        "ok_after_deadline": sum(1 for s in ok if s > deadline),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=15)
    parser.add_argument("--limit", type=int, default=5, help="upstream requests allowed per window")
    parser.add_argument("--window", type=float, default=60.0, help="upstream window, real seconds")
    parser.add_argument("--scale", type=float, default=20.0, help="time compression factor")
    parser.add_argument("--deadline", type=float, default=60.0, help="client deadline, real seconds")
    args = parser.parse_args()

    import litellm

    litellm.suppress_debug_info = True
    rows = []
    with FakeOpenAI(limit=args.limit, window=args.window / args.scale) as upstream:
        for label, max_wait, retries, delay in (("ours, Free tier, MAX_WAIT 30", 30, 3, 1.0),
                                                ("ours, Standard tier, MAX_WAIT 180", 180, 5, 2.0)):
            with Service(upstream.base_url, scale=args.scale, max_wait=max_wait, max_retries=retries,
                         retry_delay=delay) as service:
                rows.append(measure(label, upstream, args.clients, service.attempt, args.scale, args.deadline))
                time.sleep(args.window / args.scale)  # let the window reset between strategies
        rows.append(measure("seed loop (1 s, 2 s; substrings)", upstream, args.clients,
                            naive_seed(litellm, upstream.base_url, args.scale), args.scale, args.deadline))
        time.sleep(args.window / args.scale)
        rows.append(measure("OpenAI SDK defaults (2 retries)", upstream, args.clients,
                            sdk_defaults(litellm, upstream.base_url), args.scale, args.deadline))

    print(f"{args.clients} clients at once; upstream allows {args.limit} per {args.window:g} s; "
          f"time compressed x{args.scale:g}; latencies in real seconds\n")
    header = f"{'strategy':38} {'ok':>3} {'fail':>4} {'429s':>5} {'wasted/ok':>9} {'p50 s':>7} {'p95 s':>7} {'ok>60s':>6}"
    print(header)
    for r in rows:
        print(f"{r['strategy']:38} {r['ok']:>3} {r['failed']:>4} {r['upstream_429s']:>5} "
              f"{r['wasted_per_success']:>9.2f} {r['p50_s']:>7.1f} {r['p95_s']:>7.1f} {r['ok_after_deadline']:>6}")


if __name__ == "__main__":
    main()
