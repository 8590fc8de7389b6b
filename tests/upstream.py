"""A local, OpenAI-compatible image upstream for tests and benchmarks.

``FakeOpenAI`` is a real HTTP server (stdlib ``ThreadingHTTPServer`` in a
daemon thread) on 127.0.0.1 with a random free port.  It answers
``POST /v1/images/generations`` the way OpenAI's Images API does, including
OpenAI's error bodies and rate-limit headers, so that LiteLLM (or any OpenAI
client) can be pointed at ``server.base_url`` and exercised for real.

It has no dependency beyond the standard library and does not import Django,
so it can be used from pytest (``from tests.upstream import FakeOpenAI``) and
from a benchmark script that puts the repository root on ``sys.path``::

    with FakeOpenAI(limit=5, window=60) as server:
        litellm.image_generation(model="openai/gpt-image-2", prompt="a cat",
                                 api_base=server.base_url, api_key="sk-test")
        assert server.calls[0].status == 200

Every setting is a plain attribute and may be changed between requests
(``server.limit = 1``); the server reads them on each request.

Order in which a request is judged (the first that applies answers it):

1. not ``POST /v1/images/generations``       -> 404 JSON (not recorded in ``calls``)
2. body is not a JSON object                 -> 400 invalid_request_error
3. model in ``unauthorized``                 -> 401 invalid_api_key
4. model in ``not_found``                    -> 404 model_not_found
5. model in ``insufficient_quota``           -> 429 insufficient_quota
6. ``limit`` reached in the current window   -> 429 rate_limit_exceeded
7. ``fail_first`` not yet used up, or the seeded ``error_rate`` draw hits
                                             -> ``error_status`` (server_error)
8. prompt contains ``policy_word``           -> 400 content_policy_violation
9. prompt contains ``bad_request_word``      -> 400 invalid_value
10. success: 200, or 200 with an invalid JSON body while ``malformed_first``
    is not used up; ``"data": []`` when ``empty_data``.  A success carries
    gpt-image's ``usage`` (text tokens = words in the prompt, 272 output
    tokens per image) unless ``usage=False``.

Rate limiting is a *fixed window*: the window opens at the first request
that reaches step 6 and lasts ``window`` seconds of ``clock``; when a request
arrives at or after its end, a new window opens at that request.  Every
request that passes step 6 uses one slot, whatever it is answered after
that (a 500 or a 400 counts, like at OpenAI); a request refused with
rate_limit_exceeded does not use one.  ``limit=None`` means unlimited, and then
no ``x-ratelimit-*`` headers are sent (there is no limit to report).
OpenAI really behaves more like a token bucket that refills continuously;
a fixed window is simpler to reason about in tests.

``fail_first`` and ``malformed_first`` count since ``start()``/``reset()``:
``fail_first=2`` makes the next two requests reaching step 7 fail.  Raising
the attribute later adds more failures.

``latency`` is slept (with ``sleep``) after the answer is decided and the
call recorded, before anything is sent, so ``calls`` shows the request at once
even if the client times out.

Hostile answers, for the bounds on what we read:

- ``trickle``: seconds between the body's bytes (the status line and headers go
  at once), so a per-read timeout never fires; a client must cut it on the wall
  clock. ``trickle_bytes`` sends that many bytes at once before trickling.
- ``answer_bytes``: a success answer of this many bytes (a JSON body whose
  ``b64_json`` is that long), streamed in 1 MB chunks with its Content-Length,
  never held whole in the server's memory.
- ``png``: the image bytes a success carries instead of ``make_png(image_size)``
  (e.g. a header declaring 100000 x 100000 pixels).


even if the client times out. ``in_flight`` counts the calls inside that
sleep or their answer's sending right now, ``max_in_flight`` the most at once
since ``start()``/``reset()``: how many calls a worker really runs together.
"""

from __future__ import annotations

import base64
import json
import math
import random
import struct
import threading
import time
import zlib
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

__all__ = ["Call", "FakeOpenAI", "format_duration", "make_png"]

IMAGES_PATH = "/v1/images/generations"
ORGANIZATION = "org-test"


@dataclass
class Call:
    """One request received on the images endpoint."""

    model: str
    prompt: str
    status: int  # HTTP status we answered
    code: str | None  # error code we answered, None on success
    at: float  # server clock time at arrival


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def format_duration(seconds: float) -> str:
    """Format a duration like OpenAI's ``x-ratelimit-reset-*`` headers.

    OpenAI uses Go's ``time.Duration`` style: ``"120ms"``, ``"6s"``,
    ``"59.8s"``, ``"1m2s"``, ``"1m30.5s"``, ``"1h0m0s"``.
    """
    if seconds <= 0:
        return "0s"
    if seconds < 1:
        ms = max(1, math.ceil(seconds * 1000 - 1e-9))
        return "1s" if ms >= 1000 else f"{ms}ms"
    # round to milliseconds first, so carries (59.9996 -> 1m0s) are right
    total_ms = math.ceil(seconds * 1000 - 1e-9)
    hours, rest = divmod(total_ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs = rest / 1000
    sec_txt = f"{secs:.3f}".rstrip("0").rstrip(".")
    if hours:
        return f"{hours}h{minutes}m{sec_txt}s"
    if minutes:
        return f"{minutes}m{sec_txt}s"
    return f"{sec_txt}s"


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


_PNG_CACHE: dict[int, bytes] = {}
_B64_CACHE: dict[int, str] = {}
_PNG_LOCK = threading.Lock()


def make_png(size: int = 64) -> bytes:
    """A real ``size`` x ``size`` RGBA PNG (a colour gradient), cached per size."""
    with _PNG_LOCK:
        cached = _PNG_CACHE.get(size)
        if cached is not None:
            return cached
        row_pixels = bytearray()
        for x in range(size):
            row_pixels += bytes(((x * 255) // max(1, size - 1), 0, 0, 255))
        raw = bytearray()
        for y in range(size):
            green = (y * 255) // max(1, size - 1)
            row = bytearray(row_pixels)
            row[1::4] = bytes((green,)) * size
            row[2::4] = bytes((128,)) * size
            raw += b"\x00" + row  # filter type 0 (None)
        ihdr = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
        png = (
            b"\x89PNG\r\n\x1a\n"
            + _png_chunk(b"IHDR", ihdr)
            + _png_chunk(b"IDAT", zlib.compress(bytes(raw), 6))
            + _png_chunk(b"IEND", b"")
        )
        _PNG_CACHE[size] = png
        return png


def _png_b64(size: int) -> str:
    cached = _B64_CACHE.get(size)
    if cached is None:
        cached = base64.b64encode(make_png(size)).decode("ascii")
        _B64_CACHE[size] = cached
    return cached


def _error_body(message: str, type_: str, code: str | None, param=None) -> dict:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


_SERVER_ERROR_MESSAGES = {
    500: "The server had an error while processing your request. Sorry about that!",
    502: "Bad gateway.",
    503: "The engine is currently overloaded, please try again later.",
    504: "Gateway timeout.",
}


# --------------------------------------------------------------------------
# the server
# --------------------------------------------------------------------------


class _Answer:
    __slots__ = ("status", "code", "body", "headers", "raw", "chunks", "length")

    def __init__(self, status: int, code: str | None, body=None, headers=None, raw: bytes | None = None):
        self.status = status
        self.code = code
        self.body = body
        self.headers = headers or {}
        self.raw = raw
        self.chunks = None  # an iterable of bytes sent instead of raw/body (``answer_bytes``)
        self.length = 0


_CHUNK = 1024 * 1024


def _padded_answer(total: int):
    """A success body of ``total`` bytes (at least its JSON frame), in 1 MB chunks."""
    head, tail = b'{"created": 1, "data": [{"b64_json": "', b'"}]}'
    filler = max(0, total - len(head) - len(tail))

    def chunks():
        yield head
        left = filler
        block = b"A" * _CHUNK
        while left > 0:
            yield block[:min(left, _CHUNK)]
            left -= _CHUNK
        yield tail

    return chunks(), len(head) + filler + len(tail)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real API

    def version_string(self) -> str:
        return "fake-openai"

    timeout = 60  # idle keep-alive connections are closed after this

    # quiet
    def log_message(self, format, *args):  # noqa: A002 - stdlib signature
        pass

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, answer: _Answer, trickle: float = 0.0, trickle_bytes: int = 0) -> None:
        if answer.chunks is not None:
            chunks, length = answer.chunks, answer.length
        else:
            payload = answer.raw if answer.raw is not None else json.dumps(answer.body).encode()
            chunks, length = [payload], len(payload)
        try:
            self.send_response(answer.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(length))
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.flush()
            for chunk in chunks:
                if trickle > 0:
                    self._trickle(chunk, trickle, trickle_bytes)
                else:
                    self.wfile.write(chunk)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            # the client gave up (e.g. timed out during `latency`, or cut a trickle or a huge answer)
            self.close_connection = True
            fake: FakeOpenAI = self.server.fake  # type: ignore[attr-defined]
            with fake._hung_up:
                fake.cut_short += 1
                fake._hung_up.notify_all()

    def _trickle(self, payload: bytes, pause: float, at_once: int) -> None:
        self.wfile.write(payload[:at_once])
        self.wfile.flush()
        fake: FakeOpenAI = self.server.fake  # type: ignore[attr-defined]
        for i in range(at_once, len(payload)):
            fake.sleep(pause)
            self.wfile.write(payload[i:i + 1])
            self.wfile.flush()

    def _not_found_path(self) -> None:
        self._send(
            _Answer(
                404,
                "unknown_url",
                _error_body(
                    f"Invalid URL ({self.command} {self.path})",
                    "invalid_request_error",
                    None,
                ),
            )
        )

    def do_POST(self):  # noqa: N802 - stdlib naming
        body = self._read_body()
        path = self.path.split("?", 1)[0].rstrip("/")
        if path != IMAGES_PATH:
            self._not_found_path()
            return
        fake: FakeOpenAI = self.server.fake  # type: ignore[attr-defined]
        answer, delay = fake._handle(body)
        fake._entered()
        try:
            if delay > 0:
                fake.sleep(delay)
            self._send(answer, fake.trickle, fake.trickle_bytes)
        finally:
            fake._left()

    def _other(self):
        if self.headers.get("Content-Length"):
            self._read_body()
        self._not_found_path()

    do_GET = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _other


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default listen backlog is 5: a burst of hundreds of calls (bench/capacity.py)
    # would lose SYNs and arrive seconds late on the client's retransmissions.
    request_queue_size = 1024

    def handle_error(self, request, client_address):  # quiet on client hang-ups
        pass


class FakeOpenAI:
    """A fake OpenAI Images API on 127.0.0.1 (see the module docstring)."""

    def __init__(
        self,
        *,
        limit: int | None = None,
        window: float = 60.0,
        retry_after: bool = True,
        ratelimit_headers: bool = True,
        insufficient_quota: set[str] | frozenset[str] = frozenset(),
        not_found: set[str] | frozenset[str] = frozenset(),
        unauthorized: set[str] | frozenset[str] = frozenset(),
        policy_word: str | None = None,
        bad_request_word: str | None = None,
        error_rate: float = 0.0,
        error_status: int = 500,
        fail_first: int = 0,
        latency: float = 0.0,
        malformed_first: int = 0,
        empty_data: bool = False,
        usage: bool = True,
        image_size: int = 64,
        png: bytes | None = None,
        trickle: float = 0.0,
        trickle_bytes: int = 0,
        answer_bytes: int | None = None,
        seed: int = 0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limit = limit
        self.window = window
        self.retry_after = retry_after
        self.ratelimit_headers = ratelimit_headers
        self.insufficient_quota = set(insufficient_quota)
        self.not_found = set(not_found)
        self.unauthorized = set(unauthorized)
        self.policy_word = policy_word
        self.bad_request_word = bad_request_word
        self.error_rate = error_rate
        self.error_status = error_status
        self.fail_first = fail_first
        self.latency = latency
        self.malformed_first = malformed_first
        self.empty_data = empty_data
        self.usage = usage
        self.image_size = image_size
        self.png = png
        self.trickle = trickle
        self.trickle_bytes = trickle_bytes
        self.answer_bytes = answer_bytes
        self.seed = seed
        self.clock = clock
        self.sleep = sleep

        self.calls: list[Call] = []
        self.cut_short = 0  # answers the client hung up on before they were fully sent
        # Calls being answered right now (during `latency`), and the most there ever were at once.
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._hung_up = threading.Condition(self._lock)
        self._rng = random.Random(seed)
        self._window_start: float | None = None
        self._window_used = 0
        self._failed_first = 0
        self._malformed_sent = 0
        self._request_seq = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.port: int | None = None

    # ---------------------------------------------------------------- life

    def start(self) -> "FakeOpenAI":
        if self._server is not None:
            return self
        make_png(self.image_size)  # warm the cache outside request handling
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self  # type: ignore[attr-defined]
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"FakeOpenAI:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> "FakeOpenAI":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("FakeOpenAI is not started")
        return f"http://127.0.0.1:{self.port}/v1"

    # ------------------------------------------------------------- records

    def wait_cut_short(self, count: int = 1, timeout: float = 10.0) -> int:
        """``cut_short`` once it reaches ``count`` (a trickle notices the hang-up at its next byte),
        or as it stands after ``timeout`` seconds."""
        with self._hung_up:
            self._hung_up.wait_for(lambda: self.cut_short >= count, timeout)
            return self.cut_short

    def calls_for(self, model: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.model == model]

    def _entered(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _left(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def reset(self) -> None:
        """Forget calls, the rate-limit window, and fail/malformed counters.

        The ``error_rate`` random sequence restarts from ``seed``.
        """
        with self._lock:
            self.calls.clear()
            self.cut_short = 0
            self.max_in_flight = self.in_flight
            self._window_start = None
            self._window_used = 0
            self._failed_first = 0
            self._malformed_sent = 0
            self._rng = random.Random(self.seed)

    # ------------------------------------------------------------ handling

    def _ratelimit_headers(self, now: float, remaining: int) -> dict[str, str]:
        if not self.ratelimit_headers or self.limit is None:
            return {}
        reset = self._window_reset_in(now)
        return {
            "x-ratelimit-limit-requests": str(self.limit),
            "x-ratelimit-remaining-requests": str(max(0, remaining)),
            "x-ratelimit-reset-requests": format_duration(reset),
        }

    def _window_reset_in(self, now: float) -> float:
        if self._window_start is None:
            return 0.0
        return max(0.0, self._window_start + self.window - now)

    def _handle(self, raw_body: bytes) -> tuple[_Answer, float]:
        """Decide the answer to one images request (called from handler threads)."""
        try:
            payload = json.loads(raw_body or b"null")
        except ValueError:
            payload = None
        with self._lock:
            now = self.clock()
            self._request_seq += 1
            if not isinstance(payload, dict):
                answer = _Answer(
                    400,
                    None,
                    _error_body(
                        "We could not parse the JSON body of your request. (HINT: This likely means "
                        "you aren't using your HTTP library correctly. The OpenAI API expects a JSON "
                        "payload, but what was sent was not valid JSON.)",
                        "invalid_request_error",
                        None,
                    ),
                )
                self.calls.append(Call("", "", 400, None, now))
                return self._finish(answer), self.latency
            model = str(payload.get("model") or "")
            prompt = str(payload.get("prompt") or "")
            answer = self._decide(model, prompt, payload, now)
            self.calls.append(Call(model, prompt, answer.status, answer.code, now))
            return self._finish(answer), self.latency

    def _finish(self, answer: _Answer) -> _Answer:
        answer.headers.setdefault("x-request-id", f"req_fake{self._request_seq:08d}")
        answer.headers.setdefault("openai-organization", ORGANIZATION)
        answer.headers.setdefault("openai-version", "2020-10-01")
        answer.headers.setdefault("openai-processing-ms", str(int(self.latency * 1000)))
        return answer

    def _decide(self, model: str, prompt: str, payload: dict, now: float) -> _Answer:
        if model in self.unauthorized:
            return _Answer(
                401,
                "invalid_api_key",
                _error_body(
                    "Incorrect API key provided: sk-test. You can find your API key at "
                    "https://platform.openai.com/account/api-keys.",
                    "invalid_request_error",
                    "invalid_api_key",
                ),
            )
        if model in self.not_found:
            return _Answer(
                404,
                "model_not_found",
                _error_body(
                    f"The model `{model}` does not exist or you do not have access to it.",
                    "invalid_request_error",
                    "model_not_found",
                ),
            )
        if model in self.insufficient_quota:
            return _Answer(
                429,
                "insufficient_quota",
                _error_body(
                    "You exceeded your current quota, please check your plan and billing details. "
                    "For more information on this error, read the docs: "
                    "https://platform.openai.com/docs/guides/error-codes/api-errors.",
                    "insufficient_quota",
                    "insufficient_quota",
                ),
            )

        # ---- fixed-window request limit
        remaining = 0
        if self.limit is not None:
            if self._window_start is None or now >= self._window_start + self.window:
                self._window_start = now
                self._window_used = 0
            if self._window_used >= self.limit:
                reset = self._window_reset_in(now)
                headers = self._ratelimit_headers(now, 0)
                if self.retry_after:
                    headers["retry-after"] = str(max(1, math.ceil(reset)))
                    headers["retry-after-ms"] = str(max(1, math.ceil(reset * 1000)))
                return _Answer(
                    429,
                    "rate_limit_exceeded",
                    _error_body(
                        f"Rate limit reached for {model} in organization {ORGANIZATION} on requests "
                        f"per min (RPM): Limit {self.limit}, Used {self._window_used}, Requested 1. "
                        f"Please try again in {format_duration(reset)}. Visit "
                        "https://platform.openai.com/account/rate-limits to learn more.",
                        "requests",
                        "rate_limit_exceeded",
                    ),
                    headers,
                )
            self._window_used += 1
            remaining = self.limit - self._window_used
        rl_headers = self._ratelimit_headers(now, remaining)

        # ---- server errors
        fail = False
        if self._failed_first < self.fail_first:
            self._failed_first += 1
            fail = True
        elif self.error_rate > 0 and self._rng.random() < self.error_rate:
            fail = True
        if fail:
            status = self.error_status
            return _Answer(
                status,
                None,
                _error_body(
                    _SERVER_ERROR_MESSAGES.get(status, "The server had an error processing your request."),
                    "server_error",
                    None,
                ),
                rl_headers,
            )

        # ---- prompt checks
        lowered = prompt.lower()
        if self.policy_word and self.policy_word.lower() in lowered:
            return _Answer(
                400,
                "content_policy_violation",
                _error_body(
                    "Your request was rejected as a result of our safety system. Your prompt may "
                    "contain text that is not allowed by our safety system.",
                    "invalid_request_error",
                    "content_policy_violation",
                ),
                rl_headers,
            )
        if self.bad_request_word and self.bad_request_word.lower() in lowered:
            return _Answer(
                400,
                "invalid_value",
                _error_body(
                    "Invalid value in prompt: the prompt was rejected as malformed.",
                    "invalid_request_error",
                    "invalid_value",
                    param="prompt",
                ),
                rl_headers,
            )

        # ---- success
        if self._malformed_sent < self.malformed_first:
            self._malformed_sent += 1
            return _Answer(200, None, None, rl_headers, raw=b'{"created": 1, "data": [{"b64_json": ')

        if self.answer_bytes is not None:
            answer = _Answer(200, None, None, rl_headers)
            answer.chunks, answer.length = _padded_answer(self.answer_bytes)
            return answer

        n = payload.get("n") or 1
        try:
            n = max(1, min(10, int(n)))
        except (TypeError, ValueError):
            n = 1
        image = _png_b64(self.image_size) if self.png is None else base64.b64encode(self.png).decode("ascii")
        data = [] if self.empty_data else [{"b64_json": image} for _ in range(n)]
        text_tokens = max(1, len(prompt.split()))
        output_tokens = 272 * n
        body = {
            "created": int(time.time()),
            "data": data,
            "background": "opaque",
            "output_format": "png",
            "quality": "low",
            "size": f"{self.image_size}x{self.image_size}",
        }
        if self.usage:  # what gpt-image models are priced by; dall-e answers carry none
            body["usage"] = {
                "input_tokens": text_tokens,
                "input_tokens_details": {"image_tokens": 0, "text_tokens": text_tokens},
                "output_tokens": output_tokens,
                "total_tokens": text_tokens + output_tokens,
            }
        return _Answer(200, None, body, rl_headers)
