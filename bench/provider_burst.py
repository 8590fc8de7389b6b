"""A burst of plugin clients against one quota, for each provider's way of stating it.

Run by hand (not in CI), with PostgreSQL and Redis:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sprites_h20b REDIS_URL=redis://127.0.0.1:6379/9 \\
      .venv/bin/python bench/provider_burst.py --clients 15
    ... bench/provider_burst.py --steady 180 --only silent   # the silent provider after its first minute
    ... bench/provider_burst.py --chain                      # Azure -> Google -> offline under a burst

Each local upstream allows 5 requests per 12 s (a fixed window, real time) and answers as its
provider does (tests/upstream.py, tests/upstream_providers.py):
- openai: `x-ratelimit-limit/remaining/reset-requests`, `retry-after` on a 429;
- azure: limit and remaining, no reset; `retry-after-ms` and `retry-after` on a 429;
- google: Imagen's `:predict`, no headers; a 429 with `RetryInfo.retryDelay` in its body;
- silent: OpenAI's shape with no header and no hint at all.
The service (2 gunicorn processes x 2 workers, sharing PostgreSQL and Redis) reaches each through
its provider's own variables (OPENAI_BASE_URL, AZURE_API_BASE, GEMINI_API_BASE), MAX_WAIT 30 s,
3 retries, 1.0 s delay; the clients start at once against a fresh quota and a pacer that knows
nothing of it. Figures: served, refused, upstream calls, upstream 429s, wasted calls per success.

`--steady S`: the clients go on sending, each again as soon as it is answered (or after the
Retry-After it was given), for S seconds; the wasted calls per success are also counted over the
upstream's calls after the first minute. `--chain`: the model is Azure, then Google, then the
offline model, each upstream 5 per 12 s; every request's time to its answer against its budget.
"""
import time
import argparse
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.service import free_port, post_generate, prepare, service_env, start_gunicorn  # noqa: E402
from tests.upstream import FakeOpenAI  # noqa: E402
from tests.upstream_providers import FakeAzure, FakeGoogle  # noqa: E402

LIMIT, WINDOW = 5, 12.0
KEY = "bench-key-0123456789"
SETTINGS = {"SPRITE_LITELLM_MAX_WAIT": "30", "SPRITE_LITELLM_MAX_RETRIES": "3", "SPRITE_LITELLM_RETRY_DELAY": "1.0"}


def providers():
    """(name, upstream, service environment, statuses of the upstream's calls) for each provider."""
    openai = FakeOpenAI(limit=LIMIT, window=WINDOW)
    yield "openai", openai, lambda: {"SPRITE_LITELLM_MODEL": "openai/gpt-image-2", "OPENAI_BASE_URL": openai.base_url}, \
        lambda: [c.status for c in openai.calls]
    azure = FakeAzure(limit=LIMIT, window=WINDOW, api_key=KEY)
    yield "azure", azure, lambda: {"SPRITE_LITELLM_MODEL": "azure/sprites-gpt-image", "AZURE_API_BASE": azure.api_base,
                                   "AZURE_API_KEY": KEY, "AZURE_API_VERSION": "2025-04-01-preview"}, azure.statuses
    google = FakeGoogle(limit=LIMIT, window=WINDOW, api_key=KEY)
    yield "google", google, lambda: {"SPRITE_LITELLM_MODEL": "gemini/imagen-4.0-generate-001",
                                     "GEMINI_API_BASE": google.gemini_base, "GEMINI_API_KEY": KEY}, google.statuses
    silent = FakeOpenAI(limit=LIMIT, window=WINDOW, retry_after=False, ratelimit_headers=False)
    yield "silent", silent, lambda: {"SPRITE_LITELLM_MODEL": "openai/gpt-image-2", "OPENAI_BASE_URL": silent.base_url}, \
        lambda: [c.status for c in silent.calls]


def serve(env: dict, clients: int, work):
    """Two gunicorn processes on `env`; `work(index, port, token)` in `clients` threads started at once."""
    token = prepare(env)
    ports, procs = [free_port(), free_port()], []
    try:
        for port in ports:
            procs.append(start_gunicorn(env, port))
        barrier = threading.Barrier(clients)

        def one(index):
            barrier.wait()
            return work(index, ports[index % 2], token)

        with ThreadPoolExecutor(max_workers=clients) as pool:
            return list(pool.map(one, range(clients)))
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def steady(name: str, upstream, extra, seconds: float, clients: int) -> dict:
    """Clients that keep asking for `seconds`; the upstream's calls after the first minute counted apart."""
    with upstream:
        env = service_env("http://127.0.0.1:9/v1", GUNICORN_WORKERS="2", GUNICORN_GRACEFUL_TIMEOUT="5", **SETTINGS,
                          **extra())
        start = upstream.clock()

        def work(index, port, token):
            served = 0
            while upstream.clock() - start < seconds:
                status, headers, _ = post_generate(port, token, timeout=600)
                served += status == 200
                if status != 200:
                    time.sleep(min(float(headers.get("Retry-After") or 1), max(seconds - (upstream.clock() - start), 0)))
            return served

        served = sum(serve(env, clients, work))
        calls = [(c.at - start, c.status) for c in upstream.calls]
    late = [status for at, status in calls if at >= 60.0]
    late_ok = late.count(200)
    return {"provider": name, "served": served, "calls": len(calls), "429s": sum(st == 429 for _, st in calls),
            "late calls": len(late), "late 429s": late.count(429),
            "late wasted": (len(late) - late_ok) / late_ok if late_ok else float("inf")}


def chain(clients: int) -> dict:
    """Azure first, Google next, the offline model last, under one burst: each request's time to its answer."""
    azure = FakeAzure(limit=LIMIT, window=WINDOW, api_key=KEY)
    google = FakeGoogle(limit=LIMIT, window=WINDOW, api_key=KEY)
    with azure, google:
        env = service_env("http://127.0.0.1:9/v1", GUNICORN_WORKERS="2", GUNICORN_GRACEFUL_TIMEOUT="5", **SETTINGS,
                          SPRITE_LITELLM_MODEL="azure/sprites-gpt-image",
                          SPRITE_LITELLM_FALLBACK_MODELS="gemini/imagen-4.0-generate-001,offline/pixel-sprite",
                          AZURE_API_BASE=azure.api_base, AZURE_API_KEY=KEY, AZURE_API_VERSION="2025-04-01-preview",
                          GEMINI_API_BASE=google.gemini_base, GEMINI_API_KEY=KEY)

        def work(index, port, token):
            t0 = time.monotonic()
            status, _, body = post_generate(port, token, timeout=600)
            said = body.get("model") if status == 200 else (body.get("error") or {}).get("code")
            return status, said, time.monotonic() - t0

        answers = serve(env, clients, work)
        azure_calls, google_calls = azure.statuses(), google.statuses()
    by_model = {}
    for status, model, _ in answers:
        by_model[f"{status} {model}"] = by_model.get(f"{status} {model}", 0) + 1
    return {"answers": by_model, "slowest": max(t for *_, t in answers), "budget": float(SETTINGS["SPRITE_LITELLM_MAX_WAIT"]),
            "azure": (len(azure_calls), azure_calls.count(429)), "google": (len(google_calls), google_calls.count(429))}


def burst(name: str, upstream, extra, statuses, clients: int) -> dict:
    with upstream:
        # OpenAI's base URL points nowhere unless the provider is OpenAI's (extra() then sets it).
        env = service_env("http://127.0.0.1:9/v1", GUNICORN_WORKERS="2", GUNICORN_GRACEFUL_TIMEOUT="5", **SETTINGS,
                          **extra())
        answers = serve(env, clients, lambda index, port, token: post_generate(port, token, timeout=600)[0])
        calls = statuses()
    served = answers.count(200)
    return {"provider": name, "served": served, "refused": clients - served, "calls": len(calls),
            "429s": calls.count(429), "wasted": (len(calls) - served) / served if served else float("inf")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=15)
    parser.add_argument("--only", nargs="*", help="provider names to run (default: all)")
    parser.add_argument("--steady", type=float, help="seconds of steady load instead of one burst")
    parser.add_argument("--chain", action="store_true", help="the fallback chain Azure -> Google -> offline")
    args = parser.parse_args()
    if args.chain:
        print(chain(args.clients), flush=True)
        return
    if args.steady:
        for name, upstream, extra, _ in providers():
            if not args.only or name in args.only:
                print(steady(name, upstream, extra, args.steady, args.clients), flush=True)
        return
    print(f"{args.clients} clients at once; upstream {LIMIT} requests per {WINDOW:g} s; MAX_WAIT 30 s\n")
    print("| provider | served | refused | upstream calls | upstream 429s | wasted per success |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |", flush=True)
    for name, upstream, extra, statuses in providers():
        if not args.only or name in args.only:
            r = burst(name, upstream, extra, statuses, args.clients)
            print(f"| {r['provider']} | {r['served']} | {r['refused']} | {r['calls']} | {r['429s']} | "
                  f"{r['wasted']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
