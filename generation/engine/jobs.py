"""Async generation (`"async": true` or `Prefer: respond-async`) on Dramatiq, with Redis as broker.

With REDIS_URL set, `enqueue` puts a message on the `generations` queue and a worker
(`manage.py worker`: one process, SPRITE_WORKER_CONCURRENCY threads; any number of them,
on any host) runs it. Without Redis (a laptop), or while Redis refuses the message, there
is no queue to hand it to: the request runs before the answer, which is still a 202.

What a message may do, since Redis redelivers the messages of a worker that stopped
beating (docs/WORKER.md):

- it runs its row only if it claims it: `queued` -> `running` in one conditional UPDATE,
  so a message delivered twice never generates twice;
- a row already `running` under a worker whose heartbeat is gone (killed) is finished as
  `interrupted`; under a live worker it is left to that worker; a finished row is left alone;
- a row past its deadline (it queued behind others) ends at once as `upstream_timeout`
  without calling upstream: the loop finds no time left for a call;
- a request whose first pacer slot lies ahead gives its thread back (`Deferred`): the row
  goes back to `queued` and the message is sent again with Dramatiq's delay, on the
  `SLOT_QUEUE`, to be run at its slot. Waiting costs a message in Redis, not a thread.
"""
import dataclasses
import functools
import logging
import math

import dramatiq
import redis
from django.conf import settings
from django.utils import timezone
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import TimeLimit
from dramatiq.errors import DramatiqError
from redis.exceptions import RedisError

from ..logfmt import http_request_id
from ..models import GenerationRequest
from ..redis_link import RedisLink
from . import heartbeats, inflight, reaper
from .generator import Booked, Deferred, generator, release_db_connection

logger = logging.getLogger("generation")
link = RedisLink("queue")
Status = GenerationRequest.Status

QUEUE = "generations"
ACTOR = "run_generation"
# Deferred requests come back on a queue of their own, taken first: on the main queue a request
# due at its slot would wait behind every request queued meanwhile.
SLOT_QUEUE = "generations_at_slot"
SLOT_ACTOR = "run_generation_at_slot"
QUEUES = (QUEUE, SLOT_QUEUE)
NAMESPACE = "sprite-jobs"
# A worker whose broker heartbeat is older than this has its unacknowledged messages put back
# on the queue by the next worker's maintenance, which runs on 5% of its Redis commands.
BROKER_HEARTBEAT_TIMEOUT_MS = 20_000
MAINTENANCE_CHANCE = 50_000  # per million commands
TIME_LIMIT_MARGIN = 30  # seconds past the request's deadline before Dramatiq interrupts a job
# A delayed message reaches a thread up to ~2 s after its time (the delay queue's and the queue's
# polls, 1 s each, when idle), and a call sent late can land in the provider's next window beside
# the calls booked there. So a deferred request comes back this much early and waits out the rest
# in its thread (generator.DEFER_AFTER, 5 s, keeps deferring worth it).
DELIVER_EARLY = 2.0


def run_generation(generation_id: str, request_id: str | None = None, booked: dict | None = None) -> None:
    """The job, in a worker thread. `request_id`: the X-Request-ID of the HTTP request that queued
    it, for the worker's log lines; `booked`: the slot of a deferred request (a `Booked` as a dict)."""
    run(generation_id, request_id, worker=heartbeats.name_of(inflight.ident()), deferrable=True,
        booked=Booked(**booked) if booked else None)


def run(generation_id: str, request_id: str | None, *, worker: str, deferrable: bool = False,
        booked: Booked | None = None) -> None:
    """Claim the row for `worker`, generate, or hand the row back to the queue until its pacer slot."""
    token = http_request_id.set(request_id)
    try:
        row = claim(generation_id, worker=worker)
        if row is None:
            return
        with inflight.holding(row.pk, recorded=True):
            try:
                generator.run(row, deferrable=deferrable, booked=booked)
            except Deferred as deferred:
                if send(row, booked=deferred.booked, delay=deferred.delay - DELIVER_EARLY):
                    return
                row = claim(generation_id, worker=worker)  # no queue to wait on: wait here
                if row is not None:
                    generator.run(row, booked=deferred.booked)
            except BaseException as exc:  # e.g. the database lost before the loop could record anything
                reaper.interrupt([generation_id], reaper.Reason.JOB_FAILED, error=type(exc).__name__)
                if not isinstance(exc, Exception):  # Dramatiq's time limit, a shutdown: let it through
                    raise
    finally:
        http_request_id.reset(token)
        release_db_connection()  # a thread between jobs holds no database connection


def claim(generation_id: str, *, worker: str) -> GenerationRequest | None:
    """The row, now `running` under `worker`; None when this message must not run it."""
    if GenerationRequest.objects.filter(pk=generation_id, status=Status.QUEUED).update(
            status=Status.RUNNING, worker=worker):
        # A row past its deadline (it queued behind others) is still run: the loop finds no time
        # left for a call and finishes it `upstream_timeout` at once, without calling upstream.
        return GenerationRequest.objects.select_related("token").get(pk=generation_id)  # its fair share
    row = GenerationRequest.objects.filter(pk=generation_id).only("status", "worker").first()
    if row is None or row.status != Status.RUNNING:
        return None  # gone, or finished: a redelivered message of a job that completed
    live = heartbeats.alive()
    if heartbeats.is_async_worker(row.worker) and live is not None and row.worker not in live:
        # Redelivered because its worker died mid-generation: finish it, never run it twice.
        reaper.interrupt([row.pk], reaper.Reason.WORKER_DIED, worker=row.worker)
    else:
        logger.info("job_redelivered_skipped", extra={
            "event": "job_redelivered_skipped", "request_id": str(row.pk), "worker": row.worker})
    return None


@functools.lru_cache(maxsize=4)
def broker_for(url: str) -> RedisBroker:
    """This process's broker for `url`, with the generation actor declared on it."""
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=5)
    broker = RedisBroker(client=client, namespace=NAMESPACE, heartbeat_timeout=BROKER_HEARTBEAT_TIMEOUT_MS,
                         maintenance_chance=MAINTENANCE_CHANCE, middleware=[TimeLimit()])
    # No Retries middleware: a generation that failed has its outcome on the row; running it
    # again is the client's choice (its Idempotency-Key), never the queue's.
    dramatiq.Actor(run_generation, broker=broker, actor_name=ACTOR, queue_name=QUEUE, priority=10, options={})
    # Lower runs first when both wait for a thread.
    dramatiq.Actor(run_generation, broker=broker, actor_name=SLOT_ACTOR, queue_name=SLOT_QUEUE, priority=0,
                   options={})
    return broker


def broker() -> RedisBroker | None:
    return broker_for(settings.REDIS_URL) if settings.REDIS_URL else None


def flush() -> None:
    """Drop every queued and deferred message (tests, benchmarks, a development reset)."""
    for name in QUEUES:
        broker().flush(name)


def send(row: GenerationRequest, *, booked: Booked | None = None, delay: float = 0.0) -> bool:
    """Put the row's job on the queue (`delay` seconds from now); False when Redis did not take it."""
    connection = link.client()
    target = broker()
    if connection is None or target is None:
        return False
    # The job lives until the row's deadline (stored at arrival), then the margin.
    time_limit = max(1, math.ceil((row.deadline - timezone.now()).total_seconds() + TIME_LIMIT_MARGIN)) * 1000
    message = dramatiq.Message(
        queue_name=SLOT_QUEUE if booked else QUEUE, actor_name=SLOT_ACTOR if booked else ACTOR,
        args=(str(row.id), http_request_id.get(),
                                                  dataclasses.asdict(booked) if booked else None),
        kwargs={}, options={"time_limit": time_limit})
    try:
        target.enqueue(message, delay=math.ceil(delay * 1000) if delay > 0 else None)
    except (RedisError, DramatiqError) as exc:
        link.failed(exc)
        return False
    link.succeeded()
    return True


def enqueue(row: GenerationRequest) -> None:
    """Queue a new async request; served here, before the 202, when there is no queue."""
    if send(row):
        return
    if link.down:
        # The client's request must not be lost because the queue is down: serve it here.
        logger.warning("queue_unavailable", extra={"event": "queue_unavailable", "request_id": str(row.id)})
    run(str(row.id), http_request_id.get(), worker=inflight.ident())


def waiting() -> int | None:
    """Messages not yet done on the queues (waiting, deferred, or held by a worker); None without Redis."""
    target = broker()
    if target is None or link.client() is None:
        return None
    try:
        return sum(target.do_qsize(name) for name in QUEUES)
    except RedisError as exc:
        link.failed(exc)
        return None


def unattended() -> int:
    """Async requests waiting on the queue while no worker listens (0 when one does, or no queue)."""
    if broker() is None or heartbeats.count() != 0:
        return 0
    return waiting() or 0
