"""Which async workers are alive: each sends a heartbeat, a Redis key that expires unless renewed.

A worker command (`manage.py worker`) sets `sprite:worker:<name>` every `INTERVAL`
seconds with a time to live of `TTL`; a worker killed outright (SIGKILL, OOM, a lost
host) stops renewing it, and the key is gone `TTL` seconds later. Readers:

- `/healthz` and the admin count the live keys (`"workers": N`);
- the reaper finishes the rows an async worker was running once its key is gone.

A worker's name is `async:<host>:<pid>` (`name_of`), and a row it runs records that name
in `worker`, so that the reaper tells those rows from a gunicorn process's (whose death
its master sees) and finds the worker's heartbeat.
"""
import json
import time

from redis.exceptions import RedisError

from ..redis_link import RedisLink

KEY_PREFIX = "sprite:worker:"
# The reaper loop's own heartbeat, for its container healthcheck; not a worker, so not counted.
REAPER_PREFIX = "sprite:reaper:"
ROW_PREFIX = "async:"
INTERVAL = 5.0  # seconds between heartbeats
TTL = 15  # seconds a heartbeat lasts: three missed beats and the worker counts as gone
link = RedisLink("workers")


def name_of(ident: str) -> str:
    """The async worker in process `ident` (`inflight.ident()`), as its rows and heartbeat name it."""
    return f"{ROW_PREFIX}{ident}"[:100]


def is_async_worker(name: str) -> bool:
    """Whether a row's `worker` names an async worker (else a web process, or nobody)."""
    return name.startswith(ROW_PREFIX)


def beat(name: str, *, threads: int, started: float, prefix: str = KEY_PREFIX, ttl: int = TTL) -> bool:
    """One heartbeat of the worker `name` (of the reaper, with REAPER_PREFIX); False when Redis did
    not take it."""
    connection = link.client()
    if connection is None:
        return False
    value = json.dumps({"threads": threads, "started": started, "beat": time.time()})
    try:
        connection.set(prefix + name, value, ex=ttl)
    except RedisError as exc:
        link.failed(exc)
        return False
    link.succeeded()
    return True


def forget(name: str) -> None:
    """A worker that stops cleanly takes its heartbeat with it, so it stops counting at once."""
    connection = link.client()
    if connection is None:
        return
    try:
        connection.delete(KEY_PREFIX + name)
    except RedisError as exc:
        link.failed(exc)


def alive() -> set[str] | None:
    """The names of the workers whose heartbeat is live; None when Redis cannot say."""
    connection = link.client()
    if connection is None:
        return None
    try:
        keys = list(connection.scan_iter(match=KEY_PREFIX + "*", count=1000))
    except RedisError as exc:
        link.failed(exc)
        return None
    link.succeeded()
    return {(k.decode() if isinstance(k, bytes) else k)[len(KEY_PREFIX):] for k in keys}


def count() -> int | None:
    """How many workers listen now; None when Redis is not configured or does not answer."""
    live = alive()
    return None if live is None else len(live)
