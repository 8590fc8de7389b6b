"""Redis as an optional helper: one client per process, and each outage noticed once.

Redis is optional at run time (README, "When things break"): whoever uses it (the throttle, the
queue) falls back to in-process behaviour when a call fails. A `RedisLink` tells
its user whether to try Redis at all, and remembers an outage so that

- `redis_unavailable` is logged once per outage per component, not per request;
- while Redis is down, each request does not pay a connection attempt: the link
  stays "down" for `RETRY_INTERVAL` seconds, then lets one call try again.

Short socket timeouts keep a Redis that drops packets (rather than refusing)
from holding a request for the OS's connect timeout.
"""
import functools
import logging
import threading
import time
import weakref

import redis
from django.conf import settings

logger = logging.getLogger("generation")

SOCKET_TIMEOUT = 0.5  # seconds; Redis answers in well under a millisecond when it is up
RETRY_INTERVAL = 5.0  # seconds an outage is assumed to last before the next try


@functools.lru_cache(maxsize=8)
def _client(url: str) -> redis.Redis:
    # redis-py's pool notices a fork (gunicorn preloads the app) and reconnects in the child.
    return redis.Redis.from_url(url, socket_connect_timeout=SOCKET_TIMEOUT, socket_timeout=SOCKET_TIMEOUT)


def client(url: str | None = None) -> redis.Redis | None:
    """This process's client for REDIS_URL, or None when Redis is not configured."""
    url = settings.REDIS_URL if url is None else url
    return _client(url) if url else None


class RedisLink:
    """One component's view of Redis: up, down (since when), and when to try again."""

    clock = staticmethod(time.monotonic)
    _all: "weakref.WeakSet[RedisLink]" = weakref.WeakSet()

    def __init__(self, component: str, *, retry_interval: float = RETRY_INTERVAL):
        self.component = component
        self.retry_interval = retry_interval
        self._lock = threading.Lock()
        self._down_since: float | None = None
        RedisLink._all.add(self)

    @classmethod
    def forget_outages(cls) -> None:
        """Believe Redis up again everywhere in this process (tests start from here)."""
        for link in list(cls._all):
            with link._lock:
                link._down_since = None

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def due(self) -> bool:
        """Worth trying Redis now: up, or down for `retry_interval` since the last failure."""
        with self._lock:
            return self._down_since is None or self.clock() - self._down_since >= self.retry_interval

    def client(self) -> redis.Redis | None:
        """The client to try now, or None: Redis not configured, or down and not yet due a retry."""
        conn = client()
        return conn if conn is not None and self.due() else None

    def failed(self, exc: Exception, **fields) -> None:
        """A call failed: fall back. Logged only when this starts an outage."""
        with self._lock:
            starting = self._down_since is None
            self._down_since = self.clock()  # a failed retry starts the next interval
        if starting:
            logger.error("redis_unavailable", extra={
                "event": "redis_unavailable", "component": self.component, "error": type(exc).__name__, **fields})

    def succeeded(self) -> None:
        with self._lock:
            ending, self._down_since = self._down_since is not None, None
        if ending:
            logger.warning("redis_recovered", extra={"event": "redis_recovered", "component": self.component})
