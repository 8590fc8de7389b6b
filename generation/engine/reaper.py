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

A row is lost when it is past its deadline (stored on it at arrival) plus
SPRITE_INTERRUPT_GRACE, or when the async worker it names has stopped sending
heartbeats (killed: a worker that stops cleanly finishes its rows first). A row
still queued past its deadline is finished at once as a timeout. `interrupt`
only touches rows still unfinished, and the loop finishes a row only while it
is unfinished (`finishing`), so whoever comes first keeps the verdict and the
other changes nothing.
"""
import logging
from datetime import datetime, timedelta
from enum import Enum

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ..error_codes import message_of, retry_after_of
from ..models import GenerationRequest
from ..tunables import BY_NAME
from . import heartbeats, inflight
from .finishing import OPEN as UNFINISHED

logger = logging.getLogger("generation")
Status = GenerationRequest.Status
INTERRUPTED = "interrupted"
# A row made outside the API has no stored deadline: it gets the longest any request may have.
LONGEST_RUN = timedelta(seconds=BY_NAME["total_timeout"].high)


class Reason(str, Enum):
    DEADLINE_PASSED = "deadline_passed"
    # Not lost: it waited in the queue past its deadline, so no work may start on it. It is
    # finished at once as a timeout (what a worker reaching it would answer), not as interrupted.
    QUEUED_PAST_DEADLINE = "queued_past_deadline"
    JOB_FAILED = "job_failed"
    WORKER_EXIT = "worker_exit"
    WORKER_DIED = "worker_died"


def verdict(*, status: str, age: float, late: float, grace: float, worker: str = "",
            alive: set[str] | None = None) -> Reason | None:
    """Why a row is lost, or None while it may still finish. Pure: `age` in seconds since it was
    taken, `late` in seconds past its deadline (negative before it); `alive`: the async workers
    whose heartbeat is live (None when Redis cannot say)."""
    if status not in UNFINISHED:
        return None
    if status == Status.QUEUED and late > 0:
        return Reason.QUEUED_PAST_DEADLINE
    if late > grace:
        return Reason.DEADLINE_PASSED
    # A queued row may name the worker that deferred it: its message, in Redis, does not need it.
    if status == Status.RUNNING and alive is not None and heartbeats.is_async_worker(worker) and worker not in alive:
        return Reason.WORKER_DIED
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
    alive = heartbeats.alive() if row.status == Status.RUNNING and heartbeats.is_async_worker(row.worker) else None
    reason = verdict(status=row.status, **_timing(row.created_at, row.deadline, now),
                     grace=settings.SPRITE_INTERRUPT_GRACE, worker=row.worker, alive=alive)
    if reason and interrupt([row.pk], reason, now=now):
        row.refresh_from_db()
    return row


def reap(*, now: datetime | None = None, limit: int = 1000) -> list[str]:
    """Finish every lost row (the oldest `limit` candidates per run); returns their ids."""
    now = now or timezone.now()
    grace = settings.SPRITE_INTERRUPT_GRACE
    alive = heartbeats.alive()
    # Past its deadline (a queued one at once; a stored deadline, else the longest run), or held
    # by an async worker that may have died.
    overdue = Q(deadline__lt=now) | Q(deadline__isnull=True, created_at__lt=now - LONGEST_RUN)
    held = Q(status=Status.RUNNING, worker__startswith=heartbeats.ROW_PREFIX)
    candidates = list(GenerationRequest.objects.filter(Q(status__in=UNFINISHED) & (overdue | held))
                      .order_by("created_at").values_list("pk", "status", "created_at", "deadline", "worker")[:limit])
    lost: dict[Reason, list] = {}
    for pk, status, created_at, deadline, worker in candidates:
        reason = verdict(status=status, **_timing(created_at, deadline, now), grace=grace,
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
