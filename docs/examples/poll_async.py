"""Plain Python (standard library only): an async request, polled, honouring Retry-After.

    SPRITE_BASE_URL=http://127.0.0.1:8000 SPRITE_TOKEN=... python docs/examples/poll_async.py sprite.png

`POST /v1/generate` with `"async": true` answers 202 and a Location at once; we poll it, waiting
what each answer's Retry-After says. A 429 or 503 with Retry-After is waited out and asked
again under the same Idempotency-Key, so a retried submit never generates twice.
"""
import base64
import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid

MAX_WAIT = 300.0  # never trust a server's Retry-After beyond this


class SpriteError(Exception):
    def __init__(self, status: int, error: dict):
        super().__init__(f"{status} {error.get('code')}: {error.get('message')}")
        self.status, self.error = status, error


def retry_after(headers, default: float) -> float:
    try:
        seconds = float(headers.get("Retry-After", default))
    except ValueError:
        return default
    return min(max(seconds, 0.0), MAX_WAIT) if seconds == seconds else default


def call(method: str, url: str, token: str, body: dict | None = None, key: str = ""):
    request = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body is not None else None)
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", "application/json")
    if key:
        request.add_header("Idempotency-Key", key)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, json.load(response)
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.headers, json.load(exc)


def generate(base_url: str, token: str, body: dict, *, deadline: float = 300.0,
             sleep=time.sleep, clock=time.monotonic) -> dict:
    """The finished generation (status `succeeded`), or SpriteError."""
    end = clock() + deadline
    key = str(uuid.uuid4())
    url, method, payload = f"{base_url}/v1/generate", "POST", {**body, "async": True}
    while True:
        status, headers, answer = call(method, url, token, payload, key if method == "POST" else "")
        if status in (200, 202) and answer.get("status") == "succeeded":
            return answer
        if status in (200, 202) and answer.get("status") == "failed":
            raise SpriteError(status, answer.get("error") or {})
        if status == 202 or (status == 200 and method == "GET"):
            # queued or running: poll the Location
            url, method, payload = base_url + headers.get("Location", answer_location(answer)), "GET", None
            wait = retry_after(headers, 1.0)
        elif status in (429, 503) and "Retry-After" in headers:
            wait = retry_after(headers, 1.0)  # same url and method: resubmit, or poll again
        else:
            raise SpriteError(status, answer.get("error") or {})
        if clock() + wait > end:
            raise SpriteError(status, {"code": "deadline", "message": f"would wait {wait:.0f} s past the deadline"})
        sleep(wait)


def answer_location(answer: dict) -> str:
    return f"/v1/generations/{answer['id']}"


def main(argv: list[str]) -> int:
    out = argv[1] if len(argv) > 1 else "sprite.png"
    base_url = os.environ.get("SPRITE_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
    try:
        done = generate(base_url, os.environ["SPRITE_TOKEN"], {"prompt": "a blue potion", "size": 48})
    except SpriteError as exc:
        print(exc, file=sys.stderr)
        return 1
    with open(out, "wb") as f:
        f.write(base64.b64decode(done["images"][0]["b64_png"]))
    print(f"{out}: {done['id']} after {done['attempts']} attempt(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
