"""Every row finishes: a request the server lost is finished as failed `interrupted`.

A row stays `queued` or `running` forever when whoever held it is gone: a
gunicorn worker killed mid-request, a deploy's SIGTERM past the graceful
timeout, a killed RQ work-horse, a job that expired with no worker to take it.
Nobody else will finish such a row, so it is finished here, by

- `check(row)` on read (GET /v1/generations/<id>, an Idempotency-Key repeat),
  so that it works with no worker and no scheduler running;
- `reap()` on a schedule (`manage.py reap_generations`, and every 30 s under
  `manage.py rqcron generation.engine.cron`);
- RQ itself: a failed job or a dead work-horse marks its row at once.

A row is lost when it is past its request's deadline plus SPRITE_INTERRUPT_GRACE,
when its job failed, or when it is queued and its job is gone (expired or never
stored). `interrupt` only touches rows still unfinished, so a request that
finishes at the last moment keeps its own outcome.
"""
import logging
from datetime import datetime, timedelta
from enum import Enum

from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone
from rq.worker import Worker

from ..config import effective_settings
from ..error_codes import message_of, retry_after_of
from ..models import GenerationRequest
from . import inflight, jobs
from .jobs import JobState

logger = logging.getLogger("generation")
Status = GenerationRequest.Status
UNFINISHED = (Status.QUEUED, Status.RUNNING)
INTERRUPTED = "interrupted"
# A queued row whose job is not in Redis yet may be a moment before its enqueue.
ENQUEUE_GRACE = 5.0


class Reason(str, Enum):
    DEADLINE_PASSED = "deadline_passed"
    JOB_FAILED = "job_failed"
    JOB_LOST = "job_lost"
    WORK_HORSE_KILLED = "work_horse_killed"
    WORKER_EXIT = "worker_exit"
    WORKER_DIED = "worker_died"


def verdict(*, status: str, age: float, deadline: float, grace: float, job: JobState,
            enqueue_grace: float) -> Reason | None:
    """Why a row is lost, or None while it may still finish. Pure: ages in seconds."""
    if status not in UNFINISHED:
        return None
    if age > deadline + grace:
        return Reason.DEADLINE_PASSED
    if job is JobState.FAILED:
        return Reason.JOB_FAILED
    if status == Status.QUEUED and job is JobState.GONE and age > enqueue_grace:
        return Reason.JOB_LOST
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
            retry_after=retry_after_of(INTERRUPTED), finished_at=now)
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
    age = _age(row.created_at, now)
    job = jobs.job_states([row.pk])[str(row.pk)] if age > ENQUEUE_GRACE else JobState.UNKNOWN
    reason = verdict(status=row.status, age=age, deadline=effective_settings().deadline_seconds,
                     grace=settings.SPRITE_INTERRUPT_GRACE, job=job, enqueue_grace=ENQUEUE_GRACE)
    if reason and interrupt([row.pk], reason, now=now):
        row.refresh_from_db()
    return row


def reap(*, now: datetime | None = None, limit: int = 1000) -> list[str]:
    """Finish every lost row (the oldest `limit` candidates per run); returns their ids."""
    now = now or timezone.now()
    deadline, grace = effective_settings().deadline_seconds, settings.SPRITE_INTERRUPT_GRACE
    candidates = list(GenerationRequest.objects.filter(
        status__in=UNFINISHED, created_at__lt=now - timedelta(seconds=ENQUEUE_GRACE),
    ).order_by("created_at").values_list("pk", "status", "created_at")[:limit])
    states = jobs.job_states([pk for pk, _, _ in candidates])
    lost: dict[Reason, list] = {}
    for pk, status, created_at in candidates:
        reason = verdict(status=status, age=_age(created_at, now), deadline=deadline, grace=grace,
                         job=states[str(pk)], enqueue_grace=ENQUEUE_GRACE)
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


def _request_id_of(job) -> str | None:
    if job.func_name == f"{jobs.run_generation.__module__}.{jobs.run_generation.__name__}" and job.args:
        return str(job.args[0])
    return None


def on_job_failure(job, connection, exc_type, exc_value, traceback) -> None:
    """RQ's on_failure callback (in the work-horse): an exception escaped the job, a timeout included."""
    request_id = _request_id_of(job)
    if request_id:
        interrupt([request_id], Reason.JOB_FAILED, error=exc_type.__name__ if exc_type else "")


class ReapingWorker(Worker):
    """RQ's worker, which also finishes the row of a work-horse that died (SIGKILL, OOM):
    RQ runs no failure callback then, only this handler, in the worker process."""

    def handle_work_horse_killed(self, job, retpid, ret_val, rusage):
        super().handle_work_horse_killed(job, retpid, ret_val, rusage)
        request_id = _request_id_of(job)
        if request_id:
            try:
                interrupt([request_id], Reason.WORK_HORSE_KILLED, exit_status=ret_val)
            finally:
                # The next work-horse is forked from this process: it must not inherit a live connection.
                connections.close_all()
