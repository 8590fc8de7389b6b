"""Taking a generation request: one row per request, run now or handed to the job queue."""
from django.db import IntegrityError, transaction
from django.utils import timezone

from ..config import EffectiveSettings, effective_settings
from ..models import ApiToken, GenerationRequest
from . import idempotency, inflight, jobs, reaper
from .generator import deadline_of, generator
from .spec import SpriteSpec

Status = GenerationRequest.Status


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


def submit(*, token: ApiToken, spec: SpriteSpec, idempotency_key: str = "", run_async: bool = False) -> GenerationRequest:
    """Record the request and generate: now, or on the job queue when `run_async`.

    A repeat of an Idempotency-Key returns the first request's row as it stands, unless it
    failed in a way that waiting cures: then it generates again under the same key. The
    same key with a different body raises IdempotencyKeyReused.
    """
    key = idempotency.digest(idempotency_key)
    status = Status.QUEUED if run_async else Status.RUNNING
    config = effective_settings()
    row, created = create_generation(token=token, spec=spec, idempotency_key=key, status=status, config=config)
    if not created:
        if row.request_fingerprint and row.request_fingerprint != idempotency.fingerprint(spec):
            raise idempotency.IdempotencyKeyReused()
        row = reaper.check(row)  # a repeat must not wait forever on a row its worker lost
        if not idempotency.may_generate_again(row):
            return row
        idempotency.release(row)
        row, created = create_generation(token=token, spec=spec, idempotency_key=key, status=status, config=config)
        if not created:  # a concurrent repeat generated again first: this is its row
            return row
    if run_async:
        jobs.enqueue(row)
        row.refresh_from_db()
    else:
        with inflight.holding(row.pk, recorded=True):  # so that this worker's death finishes it
            generator.run(row, config)
    return row
