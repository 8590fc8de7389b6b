"""Where the pacer's state lives: a Redis, shared or in this process, running `scripts`.

`ScriptStore` runs the scripts against any Redis client. The shared store is
the deployment's Redis; `memory_store()` is a Redis inside this process
(fakeredis with its Lua runtime), for a process without REDIS_URL and for an
outage. One algorithm, two places: the in-process store is not a second
implementation that could disagree with the first.

Why not the `limits` library: its moving and fixed windows count calls with a
limit known in advance; this pacer learns the limit and the window from the
provider's headers, books future slots, and holds a probe lease and a pause,
which its storage API has no place for.
"""
from collections.abc import Callable
from dataclasses import dataclass

import fakeredis
import redis

from . import fairness, scripts


@dataclass(frozen=True)
class Raw:
    """One model's state as the store computed it, times relative to the store's `now`."""

    now: float  # the store's clock (epoch seconds): what "paused until" is shown in
    limit: int | None
    source: str
    period: float | None
    remaining: int | None
    paused_for: float
    blocked_for: float  # `remaining` 0 until the provider's reset
    last429: float | None
    why: str
    why_at: float | None
    probing: bool


LEARNING = "learn"  # the hash field of the rules' state (quota/learned.py), beside the scripts' fields


@dataclass(frozen=True)
class TokenShare:
    """One token's place at one model: requests waiting now, holds kept for clients told to come
    back, how long the oldest has waited (seconds), and calls served in the last ten minutes."""

    token: str
    waiting: int
    held: int
    oldest: float
    served: int


def _num(value: bytes) -> float | None:
    return float(value) if value else None


def _arg(value) -> str:
    return "" if value is None else repr(value)


class ScriptStore:
    """The pacer's operations on one Redis: each one script call, atomic."""

    def __init__(self, client: redis.Redis, *, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self._acquire = client.register_script(scripts.ACQUIRE)
        self._release = client.register_script(scripts.RELEASE)
        self._observe = client.register_script(scripts.OBSERVE)
        self._pause = client.register_script(scripts.PAUSE)
        self._paused_for = client.register_script(scripts.PAUSED_FOR)
        self._state = client.register_script(scripts.STATE)
        self._adopt = client.register_script(scripts.ADOPT)
        self._acquire_fair = client.register_script(fairness.ACQUIRE_FAIR)
        self._leave = client.register_script(fairness.LEAVE)
        self._fair_state = client.register_script(fairness.FAIR_STATE)

    def _keys(self, key: str) -> list[str]:
        # The hash tag keeps both keys of one model in one Redis Cluster slot.
        base = f"{self.prefix}{{{key}}}"
        return [base, f"{base}:log"]

    def _fair_keys(self, key: str) -> list[str]:
        """The fair queue's keys: waiting entries, each token's tag, the calls served (`fairness`)."""
        base = f"{self.prefix}{{{key}}}"
        return [f"{base}:q", f"{base}:tb", f"{base}:sv"]

    def acquire(self, key, *, now, horizon, rpm, lease, margin, ticket, share) -> tuple:
        """(kind, wait, reason, learned limit or None, its period or None)."""
        kind, wait, reason, *learned = self._acquire(keys=self._keys(key), args=[
            _arg(now), repr(max(horizon, 0.0)), rpm, repr(lease), repr(margin), ticket, repr(share)])
        limit, period = learned or (b"", b"")
        return kind.decode(), float(wait), reason.decode(), int(limit) if limit else None, _num(period)

    def acquire_fair(self, key, *, now, horizon, rpm, lease, margin, ticket, share, token, weight, hold) -> tuple:
        """(kind: slot, queued or wait, wait, reason, learned limit or None, its period or None)."""
        kind, wait, reason, *learned = self._acquire_fair(keys=self._keys(key) + self._fair_keys(key), args=[
            _arg(now), repr(max(horizon, 0.0)), rpm, repr(lease), repr(margin), ticket, repr(share), token,
            repr(float(weight)), "1" if hold else "0"])
        limit, period = learned or (b"", b"")
        return kind.decode(), float(wait), reason.decode(), int(limit) if limit else None, _num(period)

    def leave(self, key, *, ticket) -> None:
        """A waiting request gives up its place (it was served by another model, or failed)."""
        self._leave(keys=self._fair_keys(key)[:1], args=[ticket])

    def shares(self, key, *, now) -> tuple[float, list[TokenShare]]:
        """(the store's now, each token waiting at or served by `key` in the last ten minutes)."""
        at, *flat = self._fair_state(keys=self._fair_keys(key)[::2], args=[_arg(now)])
        rows = [TokenShare(token=flat[i].decode(errors="replace"), waiting=int(flat[i + 1]), held=int(flat[i + 2]),
                           oldest=float(flat[i + 3]), served=int(flat[i + 4])) for i in range(0, len(flat), 5)]
        return float(at), sorted(rows, key=lambda r: r.token)

    def adopt(self, key, *, now, limit, period, held: list[tuple[str, float]]) -> None:
        """Take over a learned limit (unless this store knows one) and calls booked elsewhere."""
        args = [_arg(now), "" if limit is None else limit, _arg(period)]
        for ticket, wait in held:
            args += [ticket, repr(wait)]
        self._adopt(keys=self._keys(key), args=args)

    def release(self, key, *, ticket, probe) -> None:
        self._release(keys=self._keys(key), args=[ticket, "1" if probe else "0"])

    def observe(self, key, *, now, ticket, limit, remaining, reset, answered, status, booked_ago, sent_ago,
                tolerance, why, period=None, quiet=False, reprobe=False) -> None:
        self._observe(keys=self._keys(key), args=[
            _arg(now), ticket, "" if limit is None else limit, "" if remaining is None else remaining, _arg(reset),
            "1" if answered else "0", "" if status is None else status, repr(max(booked_ago, 0.0)),
            repr(max(sent_ago, 0.0)), repr(tolerance), why, _arg(period), "1" if quiet else "0",
            "1" if reprobe else "0"])

    def learn(self, key, *, now, update: Callable[[bytes | None, float], tuple[str, object]]) -> object:
        """`update(stored, now)` -> (state to store, result), in one WATCH/MULTI transaction on the
        model's hash: workers that learn at once each see the other's state (a lost race runs again).
        `now` None: the store's own clock (Redis TIME), as the scripts read it."""
        h = self._keys(key)[0]
        with self.client.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(h)
                    stored = pipe.hget(h, LEARNING)
                    if now is None:
                        seconds, micros = pipe.time()
                        at = seconds + micros / 1_000_000
                    else:
                        at = now
                    state, result = update(stored, at)
                    pipe.multi()
                    pipe.hset(h, LEARNING, state)
                    pipe.expire(h, scripts.TTL)
                    pipe.execute()
                    return result
                except redis.WatchError:
                    continue

    def learning(self, key) -> bytes | None:
        """The stored learning state of `key` (quota/learned.py reads it)."""
        return self.client.hget(self._keys(key)[0], LEARNING)

    def pause(self, key, *, now, seconds) -> None:
        self._pause(keys=self._keys(key)[:1], args=[_arg(now), repr(max(seconds, 0.0))])

    def paused_for(self, key, *, now, rpm=0) -> float:
        return float(self._paused_for(keys=self._keys(key)[:1], args=[_arg(now), rpm]))

    def state(self, key, *, now, rpm, share, margin) -> Raw:
        (at, limit, source, period, remaining, paused, blocked, last429, why, why_at, probing) = self._state(
            keys=self._keys(key), args=[_arg(now), rpm, repr(share), repr(margin)])
        return Raw(now=float(at), limit=int(limit) if limit else None, source=source.decode(), period=_num(period),
                   remaining=int(remaining) if remaining else None, paused_for=float(paused),
                   blocked_for=float(blocked), last429=_num(last429), why=why.decode(errors="replace"),
                   why_at=_num(why_at), probing=probing == b"1")

    def forget(self, key: str | None = None) -> int:
        """Clear what was learned about `key` (None: every key under the prefix). Returns keys deleted."""
        if key is not None:
            return self.client.delete(*self._keys(key), *self._fair_keys(key))
        return sum(self.client.delete(k) for k in self.client.scan_iter(f"{self.prefix}*"))


def memory_store(*, prefix: str) -> ScriptStore:
    """This process's own Redis: fakeredis serialises commands under one lock, so threads share it."""
    return ScriptStore(fakeredis.FakeRedis(server=fakeredis.FakeServer()), prefix=prefix)
