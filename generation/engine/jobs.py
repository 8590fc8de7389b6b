"""Async generation (`"async": true` or `Prefer: respond-async`) on RQ.

With REDIS_URL set, the request is queued on Redis and a worker
(`manage.py rqworker default`, any number of them, on any host) runs it.
Without Redis (a laptop), there is no job engine to hand it to: the request
runs before the answer, which is still a 202 with its Location.
"""
import logging

from django.conf import settings
from redis.exceptions import RedisError

from ..models import GenerationRequest
from .generator import generator

logger = logging.getLogger("generation")


def run_generation(generation_id: str) -> None:
    row = GenerationRequest.objects.get(pk=generation_id)
    if row.status == GenerationRequest.Status.QUEUED:
        generator.run(row)


def enqueue(row: GenerationRequest) -> None:
    if not settings.REDIS_URL:
        run_generation(str(row.id))
        return
    import django_rq

    try:
        django_rq.get_queue("default").enqueue(run_generation, str(row.id), job_id=f"generation-{row.id}")
    except RedisError:
        # The client's request must not be lost because the queue is down: serve it here.
        logger.error("queue_unavailable", extra={"event": "queue_unavailable", "request_id": str(row.id)})
        run_generation(str(row.id))
