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

A row is lost when it is past its deadline (stored on it at arrival) plus
SPRITE_INTERRUPT_GRACE, when its job failed, or when it is queued and its job is
gone (expired or never stored). `interrupt` only touches rows still unfinished,
and the loop finishes a row only while it is unfinished (`finishing`), so whoever
comes first keeps the verdict and the other changes nothing.
"""
import logging
from datetime import datetime, timedelta
from enum import Enum

from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone
from rq.worker import Worker

from ..error_codes import message_of, retry_after_of
from ..models import GenerationRequest
from ..tunables import BY_NAME
from . import inflight, jobs
from .finishing import OPEN as UNFINISHED
from .jobs import JobState

logger = logging.getLogger("generation")
Status = GenerationRequest.Status
INTERRUPTED = "interrupted"
# A row made outside the API has no stored deadline: it gets the longest any request may have.
LONGEST_RUN = timedelta(seconds=BY_NAME["total_timeout"].high)
# A queued row whose job is not in Redis yet may be a moment before its enqueue.
ENQUEUE_GRACE = 5.0


class Reason(str, Enum):
    DEADLINE_PASSED = "deadline_passed"
    # Not lost: it waited in the queue past its deadline, so no work may start on it. It is
    # finished at once as a timeout (what a worker reaching it would answer), not as interrupted.
    QUEUED_PAST_DEADLINE = "queued_past_deadline"
    JOB_FAILED = "job_failed"
    JOB_LOST = "job_lost"
    WORK_HORSE_KILLED = "work_horse_killed"
    WORKER_EXIT = "worker_exit"
    WORKER_DIED = "worker_died"


def verdict(*, status: str, age: float, late: float, grace: float, job: JobState,
            enqueue_grace: float) -> Reason | None:
    """Why a row is lost, or None while it may still finish. Pure: `age` in seconds since it was
    taken, `late` in seconds past its deadline (negative before it)."""
    if status not in UNFINISHED:
        return None
    if status == Status.QUEUED and late > 0:
        return Reason.QUEUED_PAST_DEADLINE
    if late > grace:
        return Reason.DEADLINE_PASSED
    if job is JobState.FAILED:
        return Reason.JOB_FAILED
    if status == Status.QUEUED and job is JobState.GONE and age > enqueue_grace:
        return Reason.JOB_LOST
    return None


def interrupt(request_ids, reason: Reason, *, now: datetime | None = None, **fields) -> list[str]:
    """Finish the rows among these that are still unfinished (still queued, for a queue timeout);
    returns their ids."""
    now = now or timezone.now()
    timed_out = reason is Reason.QUEUED_PAST_DEADLINE
    open_states = (Status.QUEUED,) if timed_out else UNFINISHED
    code = "upstream_timeout" if timed_out else INTERRUPTED
    with transaction.atomic():
        # A row another transaction is writing has a live writer: leave it to that writer.
        ids = [str(pk) for pk in GenerationRequest.objects.select_for_update(skip_locked=True).filter(
            pk__in=list(request_ids), status__in=open_states).values_list("pk", flat=True)]
        GenerationRequest.objects.filter(pk__in=ids, status__in=open_states).update(
            status=Status.FAILED, error_code=code, error_message=message_of(code),
            retry_after=None if timed_out else retry_after_of(code), finished_at=now)
    event = "generation_failed" if timed_out else "request_interrupted"
    for pk in ids:
        logger.warning(event, extra={"event": event, "request_id": pk, "reason": reason.value,
                                     **({"error_code": code} if timed_out else {}), **fields})
    return ids


def _timing(created_at: datetime, deadline: datetime | None, now: datetime) -> dict:
    """A row's age and lateness, in seconds, from what is stored on it."""
    return {"age": (now - created_at).total_seconds(),
            "late": (now - (deadline or created_at + LONGEST_RUN)).total_seconds()}


def check(row: GenerationRequest, *, now: datetime | None = None) -> GenerationRequest:
    """The row, finished as interrupted first if it is lost. Cheap for a finished row."""
    if row.status not in UNFINISHED:
        return row
    now = now or timezone.now()
    timing = _timing(row.created_at, row.deadline, now)
    job = jobs.job_states([row.pk])[str(row.pk)] if timing["age"] > ENQUEUE_GRACE else JobState.UNKNOWN
    reason = verdict(status=row.status, **timing, grace=settings.SPRITE_INTERRUPT_GRACE, job=job,
                     enqueue_grace=ENQUEUE_GRACE)
    if reason and interrupt([row.pk], reason, now=now):
        row.refresh_from_db()
    return row


def reap(*, now: datetime | None = None, limit: int = 1000) -> list[str]:
    """Finish every lost row (the oldest `limit` candidates per run); returns their ids."""
    now = now or timezone.now()
    grace = settings.SPRITE_INTERRUPT_GRACE
    candidates = list(GenerationRequest.objects.filter(
        status__in=UNFINISHED, created_at__lt=now - timedelta(seconds=ENQUEUE_GRACE),
    ).order_by("created_at").values_list("pk", "status", "created_at", "deadline")[:limit])
    states = jobs.job_states([pk for pk, *_ in candidates])
    lost: dict[Reason, list] = {}
    for pk, status, created_at, deadline in candidates:
        reason = verdict(status=status, **_timing(created_at, deadline, now), grace=grace, job=states[str(pk)],
                         enqueue_grace=ENQUEUE_GRACE)
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
