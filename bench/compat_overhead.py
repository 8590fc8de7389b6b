"""What the OpenAI-compatible endpoint costs over /v1/generate, in ms per request.

Run by hand (not in CI):

    .venv/bin/python bench/compat_overhead.py --requests 300

Starts the real service under gunicorn (one worker, SQLite in a temporary folder, the
offline model, no Redis) on a free port, then sends the same sprite request (same prompt,
seed and size) to both endpoints, interleaved and in alternating order so that drift hits
both alike, over one keep-alive connection. Prints a markdown table: the wall time per
request as the client sees it, the generator's own `latency_ms` from the row, and the
official `openai` SDK's time for the same compatible request (the SDK's own cost on top).
"""
import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.service import migrate_and_token, start_gunicorn  # noqa: E402


class Service:
    def __init__(self):
        self.dir = tempfile.TemporaryDirectory()
        self.env = {**os.environ, "DEBUG": "true", "DATABASE_URL": f"sqlite:///{self.dir.name}/bench.sqlite3",
                    "SPRITE_LITELLM_MODEL": "offline/pixel-sprite", "SPRITE_THROTTLE_RATE": "1000000/min",
                    "LOG_FORMAT": "text"}
        for name in ("REDIS_URL", "OPENAI_API_KEY"):
            self.env.pop(name, None)

    def __enter__(self):
        self.token = migrate_and_token(self.env)
        self.server = start_gunicorn(self.env, "--error-logfile", "/dev/null", workers=1, threads=4)
        self.port = self.server.port
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc):
        self.server.stop()
        self.dir.cleanup()


def row(name: str, wall: list[float], server: list[float]) -> str:
    q = statistics.quantiles(wall, n=10)
    return (f"| {name} | {statistics.median(wall):.1f} | {q[8]:.1f} | {statistics.mean(wall):.1f} | "
            f"{statistics.median(server):.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="per endpoint")
    parser.add_argument("--size", type=int, default=32)
    args = parser.parse_args()

    import openai

    prompt, seed = "a green slime", 7
    with Service() as service, httpx.Client(base_url=service.url, timeout=60,
                                            headers={"Authorization": f"Bearer {service.token}"}) as http:
        sdk = openai.OpenAI(base_url=f"{service.url}/v1", api_key=service.token, max_retries=0)
        cases = {
            "POST /v1/generate": lambda: http.post("/v1/generate", json={"prompt": prompt, "seed": seed,
                                                                         "size": args.size}).json(),
            "POST /v1/images/generations": lambda: http.post("/v1/images/generations", json={
                "prompt": prompt, "seed": seed, "size": f"{args.size}x{args.size}"}).json(),
            "the same through the openai SDK": lambda: sdk.images.generate(
                prompt=prompt, size=f"{args.size}x{args.size}", extra_body={"seed": seed}).model_extra,
        }
        wall: dict[str, list[float]] = {name: [] for name in cases}
        server: dict[str, list[float]] = {name: [] for name in cases}
        for send in cases.values():  # warm up: imports, connections, caches
            for _ in range(5):
                send()
        names = list(cases)
        for i in range(args.requests):
            for name in names[i % len(names):] + names[:i % len(names)]:
                started = time.perf_counter()
                body = cases[name]()
                wall[name].append((time.perf_counter() - started) * 1000)
                server[name].append(body["latency_ms"])
        sdk.close()

    print(f"{args.requests} requests per endpoint, {args.size}x{args.size} sprite, offline model, "
          "gunicorn 1 worker, SQLite\n")
    print("| endpoint | median ms | p90 ms | mean ms | generator's latency_ms (median) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name in names:
        print(row(name, wall[name], server[name]))
    base, compat = statistics.median(wall[names[0]]), statistics.median(wall[names[1]])
    print(f"\nOverhead of the compatible endpoint: {compat - base:+.2f} ms per request (median); "
          f"the SDK adds {statistics.median(wall[names[2]]) - compat:+.2f} ms on the client.")


if __name__ == "__main__":
    main()
