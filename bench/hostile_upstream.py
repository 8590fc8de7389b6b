"""A hostile upstream against the real service: an answer that trickles, and a 200 MB answer.

    DATABASE_URL=postgres://... REDIS_URL=redis://.../N .venv/bin/python bench/hostile_upstream.py

The service runs under gunicorn (one worker process, so its memory is one number) against the
local OpenAI-compatible upstream (tests/upstream.py), with SPRITE_LITELLM_TOTAL_TIMEOUT 20 s,
SPRITE_LITELLM_TIMEOUT 120 s and 3 retries.

- trickle: the upstream sends its status and headers at once, then its body one byte every
  0.5 s (a per-read timeout never fires). Reported: the client's wall time to its answer.
- 200 MB: the upstream streams a 200 MB success answer. Reported: the client's status and
  code, and the gunicorn worker's peak RSS (VmHWM, reset after start-up and one warm-up
  request) over its RSS just before the request.
- the heaviest picture within the bounds: a 4096 x 4096 RGBA PNG whose top quarter is noise
  (so that its answer is as large as the 32 MB bound lets through), measured the same way.

`--code DIR` serves another checkout of the repository (e.g. a `git worktree` of an older
commit) with the same settings, for a before/after comparison; the client gives up after
`--client-timeout` seconds.
"""
import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.service import free_port, post_generate, prepare, service_env, start_gunicorn  # noqa: E402
from tests.upstream import FakeOpenAI  # noqa: E402


def kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for {pid}")


def worker_pid(master: int) -> int:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    if len(children) != 1:
        raise RuntimeError(f"expected one gunicorn worker, found {children}")
    return int(children[0])


def heavy_png(side: int = 4096) -> bytes:
    """An RGBA picture at the side ceiling whose answer stays under the byte bound: noise on top."""
    import io

    import numpy as np
    from PIL import Image

    pixels = np.full((side, side, 4), 255, np.uint8)
    pixels[: side // 4] = np.random.default_rng(3).integers(0, 256, (side // 4, side, 4), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels, "RGBA").save(out, format="PNG", compress_level=1)
    return out.getvalue()


def measured(pid: int, port: int, token: str, label: str) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM := the RSS now
    before = kb(pid, "VmRSS")
    started = time.monotonic()
    status, _, body = post_generate(port, token)
    took = time.monotonic() - started
    growth = kb(pid, "VmHWM") - before
    code = (body.get("error") or {}).get("code", "ok")
    print(f"| {label} | {status} {code} | {took:.2f} | {before / 1024:.0f} | {growth / 1024:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--answer-mb", type=int, default=200)
    parser.add_argument("--trickle", type=float, default=0.5, help="seconds between the trickled body's bytes")
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout to serve")
    parser.add_argument("--client-timeout", type=float, default=120.0)
    args = parser.parse_args()

    with FakeOpenAI() as upstream:
        env = service_env(upstream.base_url, GUNICORN_WORKERS="1", SPRITE_LITELLM_TOTAL_TIMEOUT="20",
                          SPRITE_LITELLM_TIMEOUT="120", SPRITE_LITELLM_MAX_RETRIES="3")
        token = prepare(env)
        port = free_port()
        proc = start_gunicorn(env, port, cwd=args.code)
        try:
            pid = worker_pid(proc.pid)
            status, _, _ = post_generate(port, token)  # warm-up: LiteLLM's first call
            assert status == 200, status

            print("| upstream answer | client got | client wall time s | worker RSS before MiB "
                  "| worker peak growth MiB |\n| --- | --- | --- | --- | --- |")
            upstream.trickle = args.trickle
            started = time.monotonic()
            try:
                status, _, body = post_generate(port, token, timeout=args.client_timeout)
                code = (body.get("error") or {}).get("code", "ok")
            except TimeoutError:
                status, code = "none:", f"the client gave up after {args.client_timeout:g} s"
            took = time.monotonic() - started
            upstream.trickle = 0.0
            print(f"| body trickled, a byte every {args.trickle:g} s | {status} {code} | {took:.2f} | | |")

            upstream.answer_bytes = args.answer_mb * 1024 * 1024
            measured(pid, port, token, f"{args.answer_mb} MB success answer")
            upstream.answer_bytes, upstream.png = None, heavy_png()
            measured(pid, port, token, f"4096 x 4096 RGBA PNG, {len(upstream.png) * 4 / 3 / 2**20:.0f} MiB of base64")
        finally:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
