"""Each token's own allowance (`SPRITE_THROTTLE_RATE`): a fixed window, exact across workers.

DRF's SimpleRateThrottle reads the history, then writes it: concurrent requests
all read the same history and all pass (34 of 50 at 10/min). Here the count is
one atomic Redis script: INCR, and start the window's expiry on the first hit.
The window starts at a token's first request and lasts the rate's period;
Retry-After is what is left of it.

When Redis is unset or failing, the count moves to this process (per worker,
so looser, but the API keeps answering); `redis_unavailable` is logged once
per outage by the link.
"""
import math
import threading
import time

from django.conf import settings
from redis.exceptions import RedisError
from rest_framework import throttling

from ..redis_link import RedisLink

KEY_PREFIX = "sprite:throttle:"

# KEYS[1] the token's counter, ARGV[1] the window in ms. Returns {count, ms left in the window}.
# A key that somehow lost its expiry gets it back, so a token can never be locked out for good.
COUNT_SCRIPT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local left = redis.call('PTTL', KEYS[1])
if left < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  left = tonumber(ARGV[1])
end
return {n, left}
"""


class LocalWindows:
    """The in-process stand-in for the Redis counters: same fixed windows, one process."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[int, float]] = {}  # key -> (count, window end)

    def hit(self, key: str, duration: float) -> tuple[int, float]:
        with self._lock:
            now = self.clock()
            count, end = self._windows.get(key, (0, 0.0))
            if now >= end:
                count, end = 0, now + duration
                self._drop_expired(now)
            count += 1
            self._windows[key] = (count, end)
            return count, end - now

    def _drop_expired(self, now: float) -> None:
        # Bounded by the number of tokens active in one window.
        for key in [k for k, (_, end) in self._windows.items() if end <= now]:
            del self._windows[key]


class TokenRateThrottle(throttling.SimpleRateThrottle):
    scope = "token"
    link = RedisLink("throttle")
    local = LocalWindows()

    def get_rate(self) -> str:
        return settings.SPRITE_THROTTLE_RATE

    def get_cache_key(self, request, view):
        if request.auth is None:
            return None
        return f"{KEY_PREFIX}{request.auth.pk}"

    def allow_request(self, request, view) -> bool:
        key = self.get_cache_key(request, view)
        if key is None or self.num_requests is None:
            return True
        count, left = self._hit(key)
        self.wait_seconds = left
        return count <= self.num_requests

    def _hit(self, key: str) -> tuple[int, float]:
        """(requests in this window including this one, seconds left in the window)."""
        conn = self.link.client()
        if conn is not None:
            try:
                count, left_ms = conn.eval(COUNT_SCRIPT, 1, key, self.duration * 1000)
            except RedisError as exc:
                self.link.failed(exc)
            else:
                self.link.succeeded()
                return int(count), int(left_ms) / 1000
        return self.local.hit(key, self.duration)

    def wait(self) -> float:
        # Whole seconds, never 0: "retry in 0 s" invites a client to hammer.
        return max(1, math.ceil(self.wait_seconds))
