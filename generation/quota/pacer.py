"""One pacer per model and credentials, shared by every worker and host.

Calls to a model are booked on a schedule before they are sent, so that no
call goes out that the quota is known to refuse (README "Pacing"):

- The limit is the admin's requests per minute for the model, else the one
  the provider's answers state (`providers.Signal`: limit, remaining, reset),
  with the window learned as the longest reset seen (a fixed window reports its
  full length on its first call; a token bucket on its last). Where no answer
  states it, a rule learns it (`learned`: Azure's window from refills, Google's
  limit and window from its 429s, AIMD for a provider that says nothing).
- Every booked call is a time in a log. A new call is booked at the earliest
  time when the log holds fewer than `limit` calls in the window before it:
  a sliding log, which over-spends neither a fixed window wherever it is
  aligned nor a token bucket. Slots are booked ahead, so waiting clients queue
  in order instead of stampeding when a window opens, and a client that
  cannot wait learns the real time of its slot at once.
- `remaining`/`reset` from every answer, successes included, cap the calls
  booked before that reset; a 429 pauses the model for everyone until its hint
  passes, then one call probes before the rest.
- While nothing is known about a model, one call (the probe) goes first and
  the others wait for its answer. The probe holds a lease that expires, so a
  crashed prober does not block the model for ever.
- Everything learned from outside is bounded: a pause, a window or a reset is
  believed for at most an hour (`scripts.CAP`); a learned window not seen again
  for two windows shrinks; what no answer confirms for two hours is forgotten;
  an operator clears a model with `forget` (admin, `manage.py pacer_reset`).

The rules are the Lua scripts in `scripts`, run by Redis when REDIS_URL is set
and by an in-process Redis otherwise (`store`). Their times are the store's
own clock (Redis `TIME`): hosts never compare their clocks. This facade speaks
in this host's `timer` (monotonic) only to say when to wake up.

Outage: only a connection error or a timeout is an outage (`redis_link` logs it
once). Meanwhile each process paces in its own store from what every answer
says (`remaining`/`reset` are the provider's own truth) and from a share of the
learned limit (`outage_share`), and goes back to Redis's state once it answers.
Any other Redis error is a bug (`pacer_script_error`), paced the same way.
"""
import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .. import redis_link
from ..providers.signals import Signal
from . import learned, scripts
from .store import ScriptStore, memory_store

logger = logging.getLogger("generation")

ADMIN, LEARNED = "admin", "learned"
OUTAGES = (RedisConnectionError, RedisTimeoutError)


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
class Queued:
    """A place in the model's fair queue (docs/FAIRNESS.md): this request's turn is projected
    `seconds` from now, within its deadline. Ask again then with the same `ticket` (sooner is
    fine: the place is kept until the slot plus `fairness.GRACE`)."""

    seconds: float
    ticket: str
    reason: str = "quota"


@dataclass(frozen=True)
class Claimant:
    """Who asks: an API token's id (digits, letters, '-' or '_') and its fair-share weight (>= 1)."""

    token: str
    weight: int = 1

    def __post_init__(self) -> None:
        if not self.token or len(self.token) > 64 or not all(c.isascii() and (c.isalnum() or c in "-_")
                                                             for c in self.token):
            raise ValueError(f"a claimant's token is 1..64 of [A-Za-z0-9_-], not {self.token!r}")
        if not 1 <= self.weight <= 10_000:
            raise ValueError(f"a claimant's weight is 1..10000, not {self.weight!r}")


@dataclass(frozen=True)
class State:
    """What the admin shows for one model. Times are wall-clock epoch seconds of the store's clock."""

    limit: int | None
    source: str  # ADMIN, LEARNED, or "" when unknown
    period: float | None
    remaining: int | None
    paused_until: float | None  # after a 429, or while `remaining` is 0 until the provider's reset
    last_429: float | None
    probing: bool
    why: str = ""  # the provider's hint behind `paused_until`, as it wrote it (bounded; escape it)
    in_process: bool = False  # Redis unreachable: this process's own view
    learning: learned.Learning = field(default_factory=learned.Learning)  # whose signals, what they taught


def key_for(model: str, *, api_key: str = "", api_base: str = "") -> str:
    """The pacer key: the model and a fingerprint of the credentials, never the secret itself.

    Two keys for one provider account share a quota only when they are the same
    key; the base URL tells a proxy or another OpenAI-compatible server apart.
    """
    digest = hashlib.sha256(f"{api_key}\0{api_base}".encode()).hexdigest()[:16]
    return f"{model}#{digest}"


class Pacer:
    """The facade the generation loop uses: book, observe, pause, report, forget."""

    timer = staticmethod(time.monotonic)  # this host's clock: for its own sleeps only
    store_time: Callable[[], float] | None = None  # tests: the scripts' clock instead of Redis TIME
    margin = 0.25  # seconds after a computed window edge, for network latency
    outage_margin = 1.0  # the same on a process's own share: its calls are counted from its own sends only
    probe_lease = 30.0  # default; callers pass the call's own timeout
    # During an outage each process may spend this share of the learned limit (at least one call
    # per window): with up to 1 / share processes, an outage wastes no more than one call in five.
    outage_share = 0.25

    def __init__(self, redis_url: str = "", *, prefix: str = "sprite:pacer:") -> None:
        self.local = memory_store(prefix=prefix)
        self.remote = ScriptStore(redis_link.client(redis_url), prefix=prefix) if redis_url else None
        self.link = redis_link.RedisLink("pacer")
        self._lock = threading.Lock()
        # What this process knows from Redis, for an outage: each key's learned (limit, period) and
        # the calls it holds booked there (ticket -> slot time on `timer`), until they are answered.
        self._learned: dict[str, tuple[int, float]] = {}
        self._held: dict[str, dict[str, float]] = {}
        self._adopted: set[str] = set()
        self._rpm: dict[str, int] = {}

    # -- the store of the moment ------------------------------------------------
    def _call(self, key: str | None, name: str, operation: Callable[[ScriptStore, float], object]):
        """`operation(store, share)` on Redis when it answers, else on this process's store."""
        if self.remote is None:
            return operation(self.local, 1.0)
        if self.link.due():
            was_down = self.link.down
            try:
                result = operation(self.remote, 1.0)
            except OUTAGES as exc:
                self.link.failed(exc)
            except RedisError as exc:  # not an outage: a bug in a script or its arguments
                logger.error("pacer_script_error", exc_info=True, extra={
                    "event": "pacer_script_error", "operation": name, "error": type(exc).__name__})
            else:
                if was_down:
                    with self._lock:
                        self._adopted.clear()
                    self.local.forget()  # Redis's state again; the next outage starts afresh
                self.link.succeeded()
                return result
        if key is not None:
            self._adopt(key)
        return operation(self.local, self.outage_share)

    def _adopt(self, key: str) -> None:
        """The first time an outage touches `key`: pace on from what this process knew from Redis."""
        with self._lock:
            if key in self._adopted:
                return
            self._adopted.add(key)
            limit, period = self._learned.get(key, (None, None))
            now = self.timer()
            held = [(ticket, at - now) for ticket, at in self._held.get(key, {}).items() if at > now - scripts.CAP]
        self.local.adopt(key, now=self._now(), limit=limit, period=period, held=held)

    def _remember(self, key: str, ticket: str, at: float | None, learned: tuple | None = None) -> None:
        with self._lock:
            if learned and learned[0] is not None:
                self._learned[key] = learned
            tickets = self._held.setdefault(key, {})
            if at is None:
                tickets.pop(ticket, None)
            elif len(tickets) < 10_000:  # bounded: a leak (a slot never answered) cannot grow it for ever
                tickets[ticket] = at

    def _margin(self, share: float) -> float:
        return self.margin if share >= 1 else self.outage_margin

    def _now(self) -> float | None:
        return None if self.store_time is None else self.store_time()

    # -- the interface, in this host's `timer` ------------------------------------
    def acquire(self, key: str, *, deadline: float, now: float | None = None, rpm: int | None = None,
                lease: float | None = None, claimant: Claimant | None = None, ticket: str | None = None,
                hold: bool = False) -> Slot | Queued | Wait:
        """Book the earliest slot at or before `deadline`, or say how far away the earliest one is.

        `rpm`: the admin's limit for the model, requests per minute (None: learn it).
        `lease`: how long a probe may take before another call may probe instead.
        `claimant`: the API token asking. With one, the model's slots are shared fairly among the
        tokens waiting (docs/FAIRNESS.md): the answer is a Slot now, a Queued place to ask again
        at (with its `ticket`), or a Wait beyond `deadline`, whose `seconds` are the token's next
        fair slot; `hold`: the client will be told to come back then, so keep its place.
        Without one, the earliest free slot is booked, first come, first served.
        This one call is what every path takes (sync requests, async jobs, a queue's delayed
        delivery at the Queued time).
        """
        now = self.timer() if now is None else now
        ticket = ticket or uuid.uuid4().hex
        self._rpm[key] = rpm or 0
        if claimant is None:
            kind, wait, reason, *learned = self._call(key, "acquire", lambda store, share: store.acquire(
                key, now=self._now(), horizon=deadline - now, rpm=rpm or 0, lease=lease or self.probe_lease,
                margin=self._margin(share), ticket=ticket, share=share))
        else:
            kind, wait, reason, *learned = self._call(key, "acquire", lambda store, share: store.acquire_fair(
                key, now=self._now(), horizon=deadline - now, rpm=rpm or 0, lease=lease or self.probe_lease,
                margin=self._margin(share), ticket=ticket, share=share, token=claimant.token,
                weight=claimant.weight, hold=hold))
        if kind == "wait":
            return Wait(seconds=max(wait, 0.0), reason=reason)
        if kind == "queued":
            return Queued(seconds=max(wait, 0.0), ticket=ticket, reason=reason)
        slot = Slot(at=now + wait, ticket=ticket, probe=reason == "probe")
        if self.remote is not None:
            self._remember(key, ticket, slot.at, tuple(learned))
        return slot

    def leave(self, key: str, ticket: str) -> None:
        """Give up a Queued place (the request went elsewhere or ended); it would expire anyway."""
        self._call(key, "leave", lambda store, _: store.leave(key, ticket=ticket))

    def shares(self, key: str) -> tuple[float, list]:
        """Who waits at `key` and each token's calls in the last ten minutes (`store.TokenShare`)."""
        return self._call(key, "shares", lambda store, _: store.shares(key, now=self._now()))

    def release(self, key: str, slot: Slot, *, now: float | None = None) -> None:
        """Give back a booked slot whose call will not be sent (a probe's lease included)."""
        self._remember(key, slot.ticket, None)
        self._call(key, "release", lambda store, _: store.release(key, ticket=slot.ticket, probe=slot.probe))

    def observe(self, key: str, signal: Signal, *, status: int | None, slot: Slot | None, sent_at: float) -> None:
        """Learn from one answer, success or failure, as its provider's adapter read it (`signal`).
        `status` None: no answer came (timeout, refused). `slot` None: a call that went out unbooked
        (it could not wait for a probe). `sent_at`: this host's `timer` when the call went out."""
        slot = slot or Slot(at=sent_at, ticket="")
        now = self.timer()
        answered = status is not None and 200 <= status < 300
        self._remember(key, slot.ticket, None)

        def update(stored, at):
            lesson = learned.step(stored, signal, now=at, sent_at=at - (now - sent_at), answered=answered)
            return lesson.state, lesson

        lesson = self._call(key, "learn", lambda store, _: store.learn(key, now=self._now(), update=update))
        # A stated limit and reset win; a rule fills what the provider leaves out.
        stated = signal.limit is not None and signal.reset is not None
        limit = signal.limit if stated or lesson is None else lesson.limit
        reset = signal.reset if stated or lesson is None else lesson.reset
        period = None if stated or lesson is None else lesson.period
        tolerance = min(1.0, (reset or period or scripts.DEFAULT_PERIOD) / 4)
        self._call(key, "observe", lambda store, _: store.observe(
            key, now=self._now(), ticket=slot.ticket, limit=limit, remaining=signal.remaining, reset=reset,
            answered=answered, status=status, booked_ago=now - slot.at, sent_ago=now - sent_at, tolerance=tolerance,
            why=signal.said[:scripts.WHY_CHARS], period=period, quiet=lesson is not None and lesson.quiet,
            reprobe=lesson is not None and lesson.reprobe))

    def pause(self, key: str, *, until: float, now: float | None = None) -> None:
        """No call to this model before `until` (this host's `timer`), from any worker (after a 429).
        Believed for at most `scripts.CAP`; then one call probes."""
        now = self.timer() if now is None else now
        self._call(key, "pause", lambda store, _: store.pause(key, now=self._now(), seconds=until - now))

    def paused_until(self, key: str, *, now: float | None = None) -> float:
        """When the model's pause ends on this host's `timer`; 0.0 when it is not paused."""
        now = self.timer() if now is None else now
        rpm = self._rpm.get(key, 0)  # the admin's limit this process last booked with bounds the pause
        seconds = self._call(key, "paused_for", lambda store, _: store.paused_for(key, now=self._now(), rpm=rpm))
        return now + seconds if seconds > 0 else 0.0

    def state(self, key: str, *, rpm: int | None = None) -> State:
        raw = self._call(key, "state", lambda store, share: store.state(key, now=self._now(), rpm=rpm or 0,
                                                                        share=share, margin=self._margin(share)))
        held = max(raw.paused_for, raw.blocked_for)
        return State(limit=raw.limit, source=raw.source if raw.limit is not None else "", period=raw.period,
                     remaining=raw.remaining, paused_until=raw.now + held if held > 0 else None,
                     last_429=raw.last429, probing=raw.probing, why=raw.why if held > 0 else "",
                     in_process=self.remote is not None and self.link.down,
                     learning=learned.learning(self._call(key, "learning", lambda store, _: store.learning(key))))

    def forget(self, key: str | None = None) -> int:
        """An operator's hand: clear what was learned about `key` (None: every model), everywhere."""
        with self._lock:
            if key is None:
                self._learned.clear()
            else:
                self._learned.pop(key, None)
        cleared = self.local.forget(key)
        if self.remote is None:
            return cleared
        return cleared + self._call(None, "forget", lambda store, _: store.forget(key) if store is self.remote else 0)
