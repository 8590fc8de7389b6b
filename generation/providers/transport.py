"""Upstream calls bounded on the wall clock and in bytes, below the SDKs.

LiteLLM hands `litellm.client_session` (an httpx.Client) to the OpenAI SDK for every
OpenAI-compatible call. The SDK's `timeout` reaches httpx as a timeout per socket
operation: an upstream sending a byte every 0.5 s never trips it and held a request
75 s against a 20 s budget. And the SDK reads and parses the whole answer before we
see it: a 200 MB answer took a worker from 590 MB to 1.5 GB.

So the client's transport runs its sockets through `BoundedBackend`: while a call
runs inside `bounded(timeout=...)`, every connect, read and write on its connection
waits at most until the call's wall-clock deadline, and the bytes read are counted
against MAX_ANSWER_BYTES. Past either bound the socket operation fails like a
network error (the connection is dropped, never reused), and the call's `Bounds`
says which bound cut it, so the edge can classify the failure without reading
LiteLLM's wording. Outside `bounded` (LiteLLM's own start-up fetches, if any) the
sockets behave as httpx's own.

Hand-written on httpcore's public network-backend interface: httpx's transport
takes no backend, and neither httpx nor the SDK bounds a call's total time or an
answer's size.
"""
import contextvars
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpcore
import httpx

# An image answer is one base64 PNG (a 1536 x 1024 picture is a few MB); 32 MB is generous.
MAX_ANSWER_BYTES = 32 * 1024 * 1024
DEADLINE, TOO_LARGE = "deadline", "too_large"


@dataclass
class Bounds:
    """One call's bounds and what it used of them, on the monotonic clock."""

    timeout: float
    deadline: float
    max_bytes: int
    read: int = 0
    cut: str = ""  # DEADLINE or TOO_LARGE once a bound cut the call

    def wait(self, asked: float | None, error: type[Exception]) -> float:
        """How long the next socket operation may block: what httpx asked, cut to the deadline."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            self.cut = DEADLINE
            raise error("the call's wall-clock deadline passed")
        return left if asked is None else min(asked, left)

    def count(self, size: int) -> None:
        self.read += size
        if self.read > self.max_bytes:
            self.cut = TOO_LARGE
            raise httpcore.ReadError(f"the answer passed {self.max_bytes} bytes")


_current: contextvars.ContextVar[Bounds | None] = contextvars.ContextVar("upstream_bounds", default=None)


@contextmanager
def bounded(*, timeout: float, max_bytes: int | None = None) -> Iterator[Bounds]:
    """Bound the calls made in this block (in this thread or task): `timeout` seconds of wall clock
    from now, and `max_bytes` read (MAX_ANSWER_BYTES unless given)."""
    bounds = Bounds(timeout=timeout, deadline=time.monotonic() + timeout,
                    max_bytes=MAX_ANSWER_BYTES if max_bytes is None else max_bytes)
    token = _current.set(bounds)
    try:
        yield bounds
    finally:
        _current.reset(token)


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        bounds = _current.get()
        if bounds is None:
            return self._inner.read(max_bytes, timeout)
        try:
            data = self._inner.read(max_bytes, bounds.wait(timeout, httpcore.ReadTimeout))
        except httpcore.ReadTimeout:
            if time.monotonic() >= bounds.deadline:
                bounds.cut = DEADLINE
            raise
        bounds.count(len(data))
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        bounds = _current.get()
        self._inner.write(buffer, bounds.wait(timeout, httpcore.WriteTimeout) if bounds else timeout)

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        bounds = _current.get()
        timeout = bounds.wait(timeout, httpcore.ConnectTimeout) if bounds else timeout
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str):
        return self._inner.get_extra_info(info)


class BoundedBackend(httpcore.NetworkBackend):
    """httpcore's own sockets, each operation bounded by the current call's `Bounds`."""

    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        bounds = _current.get()
        timeout = bounds.wait(timeout, httpcore.ConnectTimeout) if bounds else timeout
        return _Stream(self._inner.connect_tcp(host, port, timeout, local_address, socket_options))

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        bounds = _current.get()
        timeout = bounds.wait(timeout, httpcore.ConnectTimeout) if bounds else timeout
        return _Stream(self._inner.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def _httpx_error(exc: Exception) -> Exception:
    """httpcore's exception as httpx's class of the same name (what the SDKs catch)."""
    for kind in type(exc).__mro__:
        mapped = getattr(httpx, kind.__name__, None)
        if isinstance(mapped, type) and issubclass(mapped, httpx.TransportError):
            return mapped(str(exc))
    return httpx.TransportError(str(exc))


@contextmanager
def _as_httpx_errors() -> Iterator[None]:
    try:
        yield
    except httpcore.TimeoutException as exc:  # not a network error: classified as a timeout above us
        raise _httpx_error(exc) from exc
    except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.ProxyError, httpcore.UnsupportedProtocol) as exc:
        raise _httpx_error(exc) from exc


class _Body(httpx.SyncByteStream):
    def __init__(self, stream) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        with _as_httpx_errors():
            yield from self._stream

    def close(self) -> None:
        if hasattr(self._stream, "close"):
            self._stream.close()


class BoundedTransport(httpx.BaseTransport):
    """httpx's HTTP/1.1 transport (no proxy) over `BoundedBackend`."""

    def __init__(self, *, limits: httpx.Limits) -> None:
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(), max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections, keepalive_expiry=limits.keepalive_expiry,
            network_backend=BoundedBackend())

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=request.url.raw_scheme, host=request.url.raw_host, port=request.url.port,
                             target=request.url.raw_path),
            headers=request.headers.raw, content=request.stream, extensions=request.extensions)
        with _as_httpx_errors():
            answer = self._pool.handle_request(core)
        return httpx.Response(status_code=answer.status, headers=answer.headers, stream=_Body(answer.stream),
                              extensions=answer.extensions)

    def close(self) -> None:
        self._pool.close()
