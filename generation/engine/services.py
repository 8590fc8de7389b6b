"""Taking a generation request, in three steps: find or create its row, decide, dispatch.

1. `find_or_create` (the Idempotency-Key): a repeat finds the first request's row, or a
   new one when that request failed in a way that waiting cures;
2. `decide`: a repeat is answered with its row as it stands; a new row runs now, or is
   queued when the client asked for an async answer;
3. dispatch: run it in this thread (which the process's death finishes, `inflight`), or
   hand it to the job queue (`jobs.enqueue`).

Finishing lost rows is not a step of taking a request: reads and the reaper's schedule do it.
"""
from enum import Enum

from django.db import IntegrityError, transaction
from django.utils import timezone

from ..config import EffectiveSettings, effective_settings
from ..models import ApiToken, GenerationRequest
from . import idempotency, inflight, jobs
from .generator import deadline_of, generator
from .spec import SpriteSpec

Status = GenerationRequest.Status


class Action(str, Enum):
    ANSWER = "answer"  # a repeat: the first request's row, as it stands
    RUN = "run"
    QUEUE = "queue"


def create_generation(*, token: ApiToken, spec: SpriteSpec, idempotency_key: str = "",
                      status: str = Status.RUNNING, config: EffectiveSettings | None = None,
                      ) -> tuple[GenerationRequest, bool]:
    """The generation row, or the earlier one with the same Idempotency-Key: (row, created).

    `idempotency_key` is the key's digest (`idempotency.digest`), as stored. The row's deadline
    counts from now, its arrival, whenever and wherever it is run."""
    if idempotency_key:
        earlier = GenerationRequest.objects.filter(token=token, idempotency_key=idempotency_key).first()
        if earlier:
            return earlier, False
    try:
        with transaction.atomic():
            row = GenerationRequest.objects.create(
                user=token.user, token=token, idempotency_key=idempotency_key, prompt=spec.prompt, style=spec.style,
                size=spec.size, options=spec.options(), status=status,
                deadline=deadline_of(arrival=timezone.now(), config=config or effective_settings(), spec=spec),
                request_fingerprint=idempotency.fingerprint(spec) if idempotency_key else "",
                worker=inflight.ident() if status == Status.RUNNING else "",
            )
    except IntegrityError:  # the same key raced in from a second connection
        return GenerationRequest.objects.get(token=token, idempotency_key=idempotency_key), False
    return row, True


def find_or_create(*, token: ApiToken, spec: SpriteSpec, idempotency_key: str, status: str,
                   config: EffectiveSettings) -> tuple[GenerationRequest, bool]:
    """Step 1: the request's row, and whether it is new.

    A repeat of an Idempotency-Key finds the first request's row, unless that request failed
    in a way that waiting cures: then the key moves to a new row. The same key with a
    different body raises IdempotencyKeyReused."""
    key = idempotency.digest(idempotency_key)
    row, created = create_generation(token=token, spec=spec, idempotency_key=key, status=status, config=config)
    if created:
        return row, True
    if row.request_fingerprint and row.request_fingerprint != idempotency.fingerprint(spec):
        raise idempotency.IdempotencyKeyReused()
    if not idempotency.may_generate_again(row):
        return row, False
    idempotency.release(row)
    # A concurrent repeat may have generated again first: then this is its row.
    return create_generation(token=token, spec=spec, idempotency_key=key, status=status, config=config)


def decide(*, created: bool, run_async: bool) -> Action:
    """Step 2, pure."""
    if not created:
        return Action.ANSWER
    return Action.QUEUE if run_async else Action.RUN


def submit(*, token: ApiToken, spec: SpriteSpec, idempotency_key: str = "", run_async: bool = False) -> GenerationRequest:
    """Record the request and generate: now, or on the job queue when `run_async`."""
    config = effective_settings()
    row, created = find_or_create(token=token, spec=spec, idempotency_key=idempotency_key,
                                  status=Status.QUEUED if run_async else Status.RUNNING, config=config)
    action = decide(created=created, run_async=run_async)
    if action is Action.QUEUE:
        jobs.enqueue(row)
        row.refresh_from_db()
    elif action is Action.RUN:
        with inflight.holding(row.pk, recorded=True):  # so that this process's death finishes it
            generator.run(row, config)
    return row
