"""Every row finishes: a request the server lost is finished as failed `interrupted`.

A row stays `queued` or `running` forever when whoever held it is gone: a
gunicorn worker killed mid-request, a deploy's SIGTERM past the graceful
timeout, an async worker killed outright, a message Redis lost. Nobody else
will finish such a row, so it is finished here, by

- `check(row)` on read (GET /v1/generations/<id>), so that it works with no
  worker and no scheduler running;
- `reap()` on a schedule (`manage.py reap_generations --every 30`, the
  compose `reaper` service);
- the job queue: a message redelivered after its worker died finishes its row
  (`jobs.claim`), and a worker on its way out finishes what it still holds.

A row is lost when it is past its request's deadline plus SPRITE_INTERRUPT_GRACE,
or when the async worker it names has stopped sending heartbeats (killed: a
worker that stops cleanly finishes its rows first). `interrupt` only touches
rows still unfinished, so a request that finishes at the last moment keeps its
own outcome.
"""
import logging
from datetime import datetime, timedelta
from enum import Enum

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ..config import effective_settings
from ..error_codes import message_of
from ..models import GenerationRequest
from . import heartbeats, inflight

logger = logging.getLogger("generation")
Status = GenerationRequest.Status
UNFINISHED = (Status.QUEUED, Status.RUNNING)
INTERRUPTED = "interrupted"


class Reason(str, Enum):
    DEADLINE_PASSED = "deadline_passed"
    JOB_FAILED = "job_failed"
    WORKER_EXIT = "worker_exit"
    WORKER_DIED = "worker_died"


def verdict(*, status: str, age: float, deadline: float, grace: float, worker: str = "",
            alive: set[str] | None = None) -> Reason | None:
    """Why a row is lost, or None while it may still finish. Pure: ages in seconds; `alive`:
    the async workers whose heartbeat is live (None when Redis cannot say)."""
    if status not in UNFINISHED:
        return None
    if age > deadline + grace:
        return Reason.DEADLINE_PASSED
    # A queued row may name the worker that deferred it: its message, in Redis, does not need it.
    if status == Status.RUNNING and alive is not None and heartbeats.is_async_worker(worker) and worker not in alive:
        return Reason.WORKER_DIED
    return None


def interrupt(request_ids, reason: Reason, *, now: datetime | None = None, **fields) -> list[str]:
    """Finish the rows among these that are still unfinished; returns their ids."""
    now = now or timezone.now()
    with transaction.atomic():
        # A row another transaction is writing has a live writer: leave it to that writer.
        ids = [str(pk) for pk in GenerationRequest.objects.select_for_update(skip_locked=True).filter(
            pk__in=list(request_ids), status__in=UNFINISHED).values_list("pk", flat=True)]
        GenerationRequest.objects.filter(pk__in=ids).update(
            status=Status.FAILED, error_code=INTERRUPTED, error_message=message_of(INTERRUPTED),
            retry_after=settings.SPRITE_INTERRUPTED_RETRY_AFTER, finished_at=now)
    for pk in ids:
        logger.warning("request_interrupted", extra={
            "event": "request_interrupted", "request_id": pk, "reason": reason.value, **fields})
    return ids


def _age(row_created_at: datetime, now: datetime) -> float:
    return (now - row_created_at).total_seconds()


def check(row: GenerationRequest, *, now: datetime | None = None) -> GenerationRequest:
    """The row, finished as interrupted first if it is lost. Cheap for a finished row."""
    if row.status not in UNFINISHED:
        return row
    now = now or timezone.now()
    alive = heartbeats.alive() if row.status == Status.RUNNING and heartbeats.is_async_worker(row.worker) else None
    reason = verdict(status=row.status, age=_age(row.created_at, now), deadline=effective_settings().deadline_seconds,
                     grace=settings.SPRITE_INTERRUPT_GRACE, worker=row.worker, alive=alive)
    if reason and interrupt([row.pk], reason, now=now):
        row.refresh_from_db()
    return row


def reap(*, now: datetime | None = None, limit: int = 1000) -> list[str]:
    """Finish every lost row (the oldest `limit` candidates per run); returns their ids."""
    now = now or timezone.now()
    deadline, grace = effective_settings().deadline_seconds, settings.SPRITE_INTERRUPT_GRACE
    alive = heartbeats.alive()
    overdue = Q(created_at__lt=now - timedelta(seconds=deadline + grace))
    held = Q(status=Status.RUNNING, worker__startswith=heartbeats.ROW_PREFIX)
    candidates = list(GenerationRequest.objects.filter(Q(status__in=UNFINISHED) & (overdue | held))
                      .order_by("created_at").values_list("pk", "status", "created_at", "worker")[:limit])
    lost: dict[Reason, list] = {}
    for pk, status, created_at, worker in candidates:
        reason = verdict(status=status, age=_age(created_at, now), deadline=deadline, grace=grace,
                         worker=worker, alive=alive)
        if reason:
            lost.setdefault(reason, []).append(pk)
    return [pk for reason, ids in lost.items() for pk in interrupt(ids, reason, now=now)]


def interrupt_held(reason: Reason = Reason.WORKER_EXIT, **fields) -> list[str]:
    """This process is going away: finish the requests it still works on (gunicorn's exit hooks)."""
    ids = inflight.held()
    return interrupt(ids, reason, **fields) if ids else []


def interrupt_held_by(process: str, **fields) -> list[str]:
    """A process died (SIGKILL, OOM): finish the rows it was working on (gunicorn's child_exit)."""
    ids = list(GenerationRequest.objects.filter(status__in=UNFINISHED, worker=process).values_list("pk", flat=True))
    return interrupt(ids, Reason.WORKER_DIED, worker=process, **fields) if ids else []
