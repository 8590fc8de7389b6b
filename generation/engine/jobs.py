"""Async generation (`"async": true` or `Prefer: respond-async`) on RQ.

With REDIS_URL set, the request is queued on Redis and a worker
(`manage.py rqworker default`, any number of them, on any host) runs it.
Without Redis (a laptop), or while Redis refuses the job, there is no job
engine to hand it to: the request runs before the answer, which is still a
202 with its Location.

A job that starts past its row's deadline (it queued behind others) ends at
once as `upstream_timeout` without calling upstream: the loop finds no time
left for a call. So the job lives (`ttl`) until the deadline plus
SPRITE_INTERRUPT_GRACE: a worker that reaches it late still finishes its row
at once, and one nobody takes by then is the reaper's (`interrupted`). A job that fails, or whose work-horse dies, marks its row
(generation/engine/reaper.py holds those callbacks).
"""
import logging
import math
from enum import Enum

from redis.exceptions import RedisError
from django.conf import settings
from django.utils import timezone
from rq import Callback

from ..logfmt import http_request_id
from ..models import GenerationRequest
from ..redis_link import RedisLink
from .generator import generator
from .inflight import holding

logger = logging.getLogger("generation")
link = RedisLink("queue")
QUEUE = "default"


class JobState(str, Enum):
    ALIVE = "alive"  # queued, started, scheduled or deferred: someone will run it
    GONE = "gone"  # never enqueued, expired, or cleaned up
    FAILED = "failed"  # failed, stopped or cancelled
    UNKNOWN = "unknown"  # no Redis to ask


_DEAD_STATUSES = {"failed", "stopped", "canceled"}


def job_id(request_id) -> str:
    return f"generation-{request_id}"


def run_generation(generation_id: str, request_id: str | None = None) -> None:
    """`request_id`: the X-Request-ID of the HTTP request that queued it, for the worker's log lines."""
    token = http_request_id.set(request_id)
    try:
        row = GenerationRequest.objects.select_related("token").get(pk=generation_id)  # its fair share
        if row.status == GenerationRequest.Status.QUEUED:
            with holding(row.pk):
                generator.run(row)
    finally:
        http_request_id.reset(token)


def _queue(connection):
    import django_rq

    # Enqueue now, not on commit: the row is already committed, and a refused job must be
    # seen here, where it can still be served in process, not after the answer.
    return django_rq.get_queue(QUEUE, connection=connection, commit_mode="auto")


def enqueue(row: GenerationRequest) -> None:
    connection = link.client()
    if connection is not None:
        ttl = max(1, math.ceil((row.deadline - timezone.now()).total_seconds() + settings.SPRITE_INTERRUPT_GRACE))
        try:
            _queue(connection).enqueue(
                run_generation, str(row.id), http_request_id.get(), job_id=job_id(row.id), ttl=ttl,
                on_failure=Callback("generation.engine.reaper.on_job_failure"),
            )
        except RedisError as exc:
            link.failed(exc)
        else:
            link.succeeded()
            return
    if link.down:
        # The client's request must not be lost because the queue is down: serve it here.
        logger.warning("queue_unavailable", extra={"event": "queue_unavailable", "request_id": str(row.id)})
    run_generation(str(row.id), http_request_id.get())


def job_states(request_ids: list) -> dict[str, JobState]:
    """Each request's job, as far as Redis knows: one round trip for all of them."""
    ids = [str(i) for i in request_ids]
    connection = link.client()
    if connection is None or not ids:
        return dict.fromkeys(ids, JobState.UNKNOWN)
    from rq.job import Job

    try:
        jobs = Job.fetch_many([job_id(i) for i in ids], connection=connection)
    except RedisError as exc:
        link.failed(exc)
        return dict.fromkeys(ids, JobState.UNKNOWN)
    link.succeeded()
    return dict(zip(ids, map(_state, jobs)))


def _state(job) -> JobState:
    if job is None:
        return JobState.GONE
    # JobStatus is a str Enum whose hash is not its value's: compare values.
    status = getattr(job.get_status(refresh=False), "value", None)
    return JobState.FAILED if status in _DEAD_STATUSES else JobState.ALIVE
