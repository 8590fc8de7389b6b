"""Local image upstreams that answer as Azure OpenAI and as Google's Imagen do, for tests and benches.

Real HTTP servers on 127.0.0.1 (a random free port, a daemon thread each), reached by LiteLLM
for real, so its routing, its error mapping and what it keeps of each provider's answer are
exercised (README "Providers and their quota signals"):

- ``FakeAzure``: ``POST /openai/deployments/<deployment>/images/generations?api-version=...``
  with the key in ``api-key``; OpenAI's body and answer; ``x-ratelimit-limit-requests`` and
  ``x-ratelimit-remaining-requests`` on every answer (no reset), and on a 429
  ``retry-after-ms``, ``retry-after`` and Azure's "Please retry after N seconds." text.
- ``FakeGoogle``: ``POST .../models/<model>:predict`` (Gemini API; Vertex posts to its whole
  ``api_base``, also ending in ``:predict``) with the key in ``x-goog-api-key``; the answer is
  ``{"predictions": [{"bytesBase64Encoded", "mimeType"}]}``; no quota header ever; a 429 is
  ``RESOURCE_EXHAUSTED`` with a ``QuotaFailure`` and a ``RetryInfo.retryDelay``, or, with
  ``daily=True``, a per-day ``QuotaFailure`` and no ``RetryInfo``.

A provider that sends no hint at all is ``tests.upstream.FakeOpenAI(limit=..., retry_after=False,
ratelimit_headers=False)``.

Both limit requests with a fixed window on ``clock`` (as ``FakeOpenAI`` does): ``limit`` calls
per ``window`` seconds, the window opening at the first call; ``limit=None`` never refuses.
"""
from __future__ import annotations

import base64
import json
import math
import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qs, urlsplit

from tests.upstream import make_png

__all__ = ["FakeAzure", "FakeGoogle", "ProviderCall"]


@dataclass
class ProviderCall:
    """One request received on the image route."""

    path: str
    status: int
    key: str  # the credential the request carried
    at: float  # server clock time at arrival


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - stdlib signature
        pass

    def do_POST(self):  # noqa: N802 - stdlib naming
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        status, payload, headers = self.server.fake.answer(self.path, self.headers, body)  # type: ignore[attr-defined]
        raw = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(raw)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def handle_error(self, request, client_address):  # quiet on client hang-ups
        pass


class _FakeProvider:
    """The server, the fixed window and the call log; a dialect answers in `_route`."""

    name = "fake"

    def __init__(self, *, limit: int | None = None, window: float = 60.0, api_key: str = "test-key",
                 image_size: int = 64, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window, self.api_key, self.image_size, self.clock = limit, window, api_key, image_size, clock
        self.calls: list[ProviderCall] = []
        self._lock = threading.Lock()
        self._window_start: float | None = None
        self._used = 0
        self._server: _Server | None = None
        self.port: int | None = None

    def __enter__(self):
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self  # type: ignore[attr-defined]
        self._server, self.port = server, server.server_address[1]
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
                         name=f"{self.name}:{self.port}").start()
        return self

    def __exit__(self, *exc) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def statuses(self) -> list[int]:
        with self._lock:
            return [call.status for call in self.calls]

    def _book(self, now: float) -> tuple[bool, int, float]:
        """(allowed, remaining after this call, seconds until the window resets), under the lock."""
        if self.limit is None:
            return True, 0, 0.0
        if self._window_start is None or now >= self._window_start + self.window:
            self._window_start, self._used = now, 0
        reset = max(self._window_start + self.window - now, 0.0)
        if self._used >= self.limit:
            return False, 0, reset
        self._used += 1
        return True, self.limit - self._used, reset

    def answer(self, raw_path: str, headers, body: bytes) -> tuple[int, dict, dict]:
        url = urlsplit(raw_path)
        with self._lock:
            now = self.clock()
            status, payload, out = self._route(url.path, parse_qs(url.query), headers, now)
            self.calls.append(ProviderCall(url.path, status, self._key(headers), now))
        return status, payload, out

    def _png_b64(self) -> str:
        return base64.b64encode(make_png(self.image_size)).decode("ascii")

    def _key(self, headers) -> str:
        raise NotImplementedError

    def _route(self, path: str, query: dict, headers, now: float) -> tuple[int, dict, dict]:
        raise NotImplementedError


class FakeAzure(_FakeProvider):
    """Azure OpenAI's image route (see the module docstring)."""

    name = "fake-azure"
    PATH = re.compile(r"/openai/deployments/([A-Za-z0-9._-]{1,64})/images/generations")

    @property
    def api_base(self) -> str:
        return self.origin

    def _key(self, headers) -> str:
        return headers.get("api-key") or ""

    def _quota(self, remaining: int) -> dict:
        if self.limit is None:
            return {}
        return {"x-ratelimit-limit-requests": str(self.limit), "x-ratelimit-remaining-requests": str(remaining)}

    def _route(self, path, query, headers, now):
        if not self.PATH.fullmatch(path):
            return 404, {"error": {"code": "404", "message": "Resource not found"}}, {}
        if not query.get("api-version"):
            return 404, {"error": {"code": "404", "message": "Resource not found"}}, {}
        if self._key(headers) != self.api_key:
            return 401, {"error": {"code": "401", "message": "Access denied due to invalid subscription key or "
                                   "wrong API endpoint. Make sure to provide a valid key for an active subscription "
                                   "and use a correct regional API endpoint for your resource."}}, {}
        allowed, remaining, reset = self._book(now)
        if not allowed:
            seconds = max(1, math.ceil(reset))
            message = (f"Requests to the Images_Generations Operation under Azure OpenAI API version "
                       f"{query['api-version'][0]} have exceeded call rate limit of your current OpenAI S0 pricing "
                       f"tier. Please retry after {seconds} seconds. Please go here: "
                       "https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit.")
            return 429, {"error": {"code": "429", "message": message}}, {
                **self._quota(0), "retry-after": str(seconds), "retry-after-ms": str(max(1, math.ceil(reset * 1000)))}
        return 200, {"created": int(time.time()), "data": [{"b64_json": self._png_b64()}]}, self._quota(remaining)


class FakeGoogle(_FakeProvider):
    """Google's Imagen `:predict` route, Gemini API or Vertex (see the module docstring)."""

    name = "fake-google"

    def __init__(self, *, daily: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.daily = daily

    @property
    def gemini_base(self) -> str:
        return f"{self.origin}/v1beta"

    def _key(self, headers) -> str:
        return headers.get("x-goog-api-key") or ""

    def _route(self, path, query, headers, now):
        if not path.endswith(":predict"):
            return 404, self._error(404, "NOT_FOUND", "Requested entity was not found."), {}
        if self._key(headers) != self.api_key:
            return 400, self._error(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key."), {}
        allowed, _, reset = self._book(now)
        if self.daily or not allowed:
            return 429, self._exhausted(reset), {}
        return 200, {"predictions": [{"bytesBase64Encoded": self._png_b64(), "mimeType": "image/png"}]}, {}

    @staticmethod
    def _error(code: int, status: str, message: str, details: list | None = None) -> dict:
        return {"error": {"code": code, "message": message, "status": status, **({"details": details} if details else {})}}

    def _exhausted(self, reset: float) -> dict:
        per = "Day" if self.daily else "Minute"
        details = [{"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{
            "quotaMetric": "generativelanguage.googleapis.com/generate_requests_per_model",
            "quotaId": f"GenerateRequestsPer{per}PerProjectPerModel", "quotaValue": str(self.limit or 0)}]}]
        if not self.daily:
            delay = f"{max(reset, 0.001):.3f}".rstrip("0").rstrip(".")
            details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{delay}s"})
        return self._error(429, "RESOURCE_EXHAUSTED", "You exceeded your current quota, please check your plan and "
                           "billing details.", details)
