"""One pacer per model and credentials, shared by every worker and host.

Calls to a model are booked on a schedule before they are sent, so that no
call goes out that the quota is known to refuse (README, "Pacing"):

- The limit is the admin's requests per minute for the model, else the one
  learned from `x-ratelimit-limit-requests`, with the window learned as the
  longest `x-ratelimit-reset-requests` seen (a fixed window reports its full
  length on its first call; a token bucket on its last).
- Every booked call is a time in a log. A new call is booked at the earliest
  time when the log holds fewer than `limit` calls in the window before it:
  a sliding log, which over-spends neither a fixed window wherever it is
  aligned nor a token bucket. Slots are booked ahead, so waiting clients queue
  in order instead of stampeding when a window opens, and a client that
  cannot wait learns the real time of its slot at once.
- `remaining`/`reset` from every answer, successes included, cap the calls
  booked before that reset; a 429 pauses the model for everyone until its hint
  passes.
- While nothing is known about a model, one call (the probe) goes first and
  the others wait for its answer. The probe holds a lease that expires, so a
  crashed prober does not block the model for ever.

State lives in Redis (atomic Lua scripts, `pacer_redis`) when REDIS_URL is
set, else in this process. When Redis does not answer, the pacer falls back
to in-process state, logs `redis_unavailable` once per outage, and goes back
to Redis once it answers again.

Times are wall-clock seconds (`timer`, swappable like DRF's throttle timer)
because they are compared across hosts.
"""
import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from . import hints

logger = logging.getLogger("generation")

MINUTE = 60.0
DEFAULT_PERIOD = MINUTE  # providers quote requests per minute
ADMIN, LEARNED = "admin", "learned"


@dataclass(frozen=True)
class Slot:
    """A booked call: send it at `at`. `probe`: the first call to a model nothing is known about."""

    at: float
    ticket: str
    probe: bool = False


@dataclass(frozen=True)
class Wait:
    """No slot within the deadline: the earliest one is `seconds` from now.

    `reason` is "paused" (after a 429), "quota" (the limit is spent) or "probe"
    (another call is learning the limit; its answer may come sooner).
    """

    seconds: float
    reason: str


@dataclass(frozen=True)
class State:
    """What the admin shows for one model."""

    limit: int | None
    source: str  # ADMIN, LEARNED, or "" when unknown
    period: float | None
    remaining: int | None
    paused_until: float | None
    last_429: float | None
    probing: bool


def key_for(model: str, *, api_key: str = "", api_base: str = "") -> str:
    """The pacer key: the model and a fingerprint of the credentials, never the secret itself.

    Two keys for one provider account share a quota only when they are the same
    key; the base URL tells a proxy or another OpenAI-compatible server apart.
    """
    digest = hashlib.sha256(f"{api_key}\0{api_base}".encode()).hexdigest()[:16]
    return f"{model}#{digest}"


@dataclass
class _Entry:
    limit: int | None = None
    period: float | None = None
    open: bool = False  # answered without quota headers: nothing to pace
    paused: float = 0.0
    probe: float = 0.0  # the probe's lease expires then
    hrem: int | None = None  # the freshest `remaining`, ...
    hreset: float | None = None  # ... valid until then ...
    hsent: float | None = None  # ... counting the calls booked from then on
    last429: float | None = None
    log: dict[str, float] | None = None  # ticket -> booked time


class MemoryStore:
    """The pacer state of this process (threads share it); the same rules as the Lua scripts."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}

    def _entry(self, key: str) -> _Entry:
        return self._entries.setdefault(key, _Entry(log={}))

    def acquire(self, key, *, now, deadline, rpm, lease, margin, ticket):
        with self._lock:
            e = self._entry(key)
            limit, period = (rpm, MINUTE) if rpm else (e.limit, e.period or DEFAULT_PERIOD)
            t = max(now, e.paused)
            probe = False
            if limit is None and not e.open:
                if e.probe > now:
                    return "wait", e.probe - now, "probe"
                probe = True
            elif limit is not None:
                for old in [k for k, at in e.log.items() if at < now - period - margin]:
                    del e.log[old]
                booked = sorted(e.log.values())
                if len(booked) >= limit:
                    t = max(t, booked[len(booked) - limit] + period + margin)
                if booked:
                    t = max(t, booked[-1])
                if e.hrem is not None and t < e.hreset:
                    used = sum(1 for at in booked if e.hsent <= at < e.hreset) - 1
                    if e.hrem - max(used, 0) <= 0:
                        t = max(t, e.hreset + margin)
            if t > deadline:
                return "wait", t - now, "paused" if t <= e.paused else "quota"
            if probe:
                e.probe = t + lease
            if probe or limit is not None:
                e.log[ticket] = t
            return "slot", t, "probe" if probe else ""

    def release(self, key, *, ticket, probe, now):
        with self._lock:
            e = self._entry(key)
            e.log.pop(ticket, None)
            if probe:
                e.probe = 0.0

    def observe(self, key, *, ticket, limit, remaining, reset, answered, booked_at, sent_at, tolerance):
        with self._lock:
            e = self._entry(key)
            e.probe = 0.0
            if e.log.get(ticket, sent_at) < sent_at:
                e.log[ticket] = sent_at  # the window opened when the call went out, not when it was booked
            if limit is None:
                if answered and e.limit is None:
                    e.open = True
                return
            e.limit, e.open = limit, False
            if reset is None:
                return
            e.period = max(e.period or 0.0, reset)
            if remaining is None:
                return
            new_reset = sent_at + reset
            if e.hreset is None or new_reset > e.hreset + tolerance:  # a newer window
                e.hrem, e.hreset, e.hsent = remaining, new_reset, booked_at
            elif new_reset >= e.hreset - tolerance and remaining < e.hrem:  # the same window, later
                e.hrem, e.hsent = remaining, booked_at

    def pause(self, key, *, until, now):
        with self._lock:
            e = self._entry(key)
            e.paused, e.last429 = max(e.paused, until), now
            if e.limit is None:
                e.open = False  # a 429 from an unpaced model: the next call after the pause probes again

    def state(self, key, *, now):
        with self._lock:
            e = self._entry(key)
            return {"limit": e.limit, "period": e.period, "paused": e.paused, "probe": e.probe,
                    "hrem": e.hrem, "hreset": e.hreset, "hsent": e.hsent, "last429": e.last429,
                    "log": sorted(e.log.values())}


class Pacer:
    """The facade the generation loop uses: book, observe, pause, report."""

    timer = staticmethod(time.time)
    margin = 0.25  # seconds after a computed window edge, for clock skew and network latency
    recheck = 2.0  # seconds between attempts to reach Redis again during an outage
    probe_lease = 30.0  # default; callers pass the call's own timeout

    def __init__(self, redis_url: str = "", *, prefix: str = "sprite:pacer:") -> None:
        self.local = MemoryStore()
        self.remote = None
        if redis_url:
            from .pacer_redis import RedisStore

            self.remote = RedisStore(redis_url, prefix=prefix)
        self._down_since: float | None = None  # monotonic, while Redis is unreachable
        self._outage_lock = threading.Lock()

    # -- the store of the moment ------------------------------------------------
    def _call(self, method: str, key: str, **kwargs):
        if self.remote is not None and self._redis_worth_trying():
            from redis.exceptions import RedisError

            try:
                result = getattr(self.remote, method)(key, **kwargs)
            except RedisError as exc:
                self._redis_failed(exc)
            else:
                self._redis_answered()
                return result
        return getattr(self.local, method)(key, **kwargs)

    def _redis_worth_trying(self) -> bool:
        down = self._down_since
        return down is None or time.monotonic() - down >= self.recheck

    def _redis_failed(self, exc: Exception) -> None:
        with self._outage_lock:
            first = self._down_since is None
            self._down_since = time.monotonic()
        if first:
            logger.error("redis_unavailable", extra={"event": "redis_unavailable", "component": "pacer",
                                                     "error": type(exc).__name__})

    def _redis_answered(self) -> None:
        if self._down_since is None:
            return
        with self._outage_lock:
            was_down, self._down_since = self._down_since is not None, None
        if was_down:
            logger.warning("redis_available", extra={"event": "redis_available", "component": "pacer"})

    # -- the interface ----------------------------------------------------------
    def acquire(self, key: str, *, deadline: float, now: float | None = None, rpm: int | None = None,
                lease: float | None = None) -> Slot | Wait:
        """Book the earliest slot at or before `deadline`, or say how far away the earliest one is.

        `rpm`: the admin's limit for the model, requests per minute (None: learn it).
        `lease`: how long a probe may take before another call may probe instead.
        """
        now = self.timer() if now is None else now
        ticket = uuid.uuid4().hex
        kind, at, reason = self._call("acquire", key, now=now, deadline=deadline, rpm=rpm or 0,
                                      lease=lease or self.probe_lease, margin=self.margin, ticket=ticket)
        if kind == "wait":
            return Wait(seconds=max(float(at), 0.0), reason=reason)
        return Slot(at=float(at), ticket=ticket, probe=reason == "probe")

    def release(self, key: str, slot: Slot, *, now: float | None = None) -> None:
        """Give back a booked slot whose call will not be sent (a probe's lease included)."""
        now = self.timer() if now is None else now
        self._call("release", key, ticket=slot.ticket, probe=slot.probe, now=now)

    def observe(self, key: str, headers: Mapping[str, str] | None, *, status: int | None, slot: Slot | None,
                sent_at: float) -> None:
        """Learn from one answer, success or failure. `status` None: no answer came (timeout, refused).
        `slot` None: a call that went out unbooked (it could not wait for a probe)."""
        slot = slot or Slot(at=sent_at, ticket="")
        q = hints.quota(headers)
        period = q.reset or DEFAULT_PERIOD
        self._call("observe", key, ticket=slot.ticket, limit=q.limit, remaining=q.remaining, reset=q.reset, answered=status is not None
                   and 200 <= status < 300, booked_at=slot.at, sent_at=sent_at, tolerance=min(1.0, period / 4))

    def pause(self, key: str, *, until: float, now: float | None = None) -> None:
        """No call to this model before `until`, from any worker (after a 429)."""
        now = self.timer() if now is None else now
        self._call("pause", key, until=until, now=now)

    def paused_until(self, key: str, *, now: float | None = None) -> float:
        now = self.timer() if now is None else now
        return float(self._call("state", key, now=now)["paused"] or 0.0)

    def state(self, key: str, *, rpm: int | None = None, now: float | None = None) -> State:
        now = self.timer() if now is None else now
        raw = self._call("state", key, now=now)
        limit, source, period = (rpm, ADMIN, MINUTE) if rpm else (raw["limit"], LEARNED, raw["period"])
        remaining = None
        if limit is not None:
            window = period or DEFAULT_PERIOD
            remaining = limit - sum(1 for at in raw["log"] if at > now - window)
            if raw["hrem"] is not None and raw["hreset"] > now:
                used = sum(1 for at in raw["log"] if raw["hsent"] <= at < raw["hreset"]) - 1
                remaining = min(remaining, raw["hrem"] - max(used, 0))
            remaining = max(remaining, 0)
        paused = raw["paused"] if raw["paused"] and raw["paused"] > now else None
        return State(limit=limit, source=source if limit is not None else "", period=period, remaining=remaining,
                     paused_until=paused, last_429=raw["last429"], probing=bool(raw["probe"] and raw["probe"] > now))
