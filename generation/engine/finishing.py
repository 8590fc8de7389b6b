"""A row is finished once: by whichever of its actors gets there first.

The request loop, the reaper (on read, on its schedule), RQ's failure hooks and
gunicorn's exit hooks may each finish the same row. Each does it with one
conditional UPDATE that matches only while the row is `queued` or `running`;
PostgreSQL re-checks that condition after waiting for a concurrent writer, so
exactly one wins. The others change nothing, say so in the log
(`finish_lost`), and read the winner's verdict. No actor saves a whole row:
a row's Idempotency-Key may have moved to a repeat meanwhile
(`idempotency.release`), and writing it back would collide with the repeat's.
"""
import logging

from ..models import GenerationRequest

logger = logging.getLogger("generation")
Status = GenerationRequest.Status
OPEN = (Status.QUEUED, Status.RUNNING)
# What finishing may write: a verdict and its figures, never the request's identity or its key.
VERDICT_FIELDS = frozenset({
    "status", "error_code", "error_message", "retry_after", "latency_ms", "finished_at", "image_png", "attempts",
    "retries", "fallback_used", "wait_ms", "model_used", "cost_usd",
})


def claim(row: GenerationRequest, *, model_requested: str) -> bool:
    """The loop starts on this row: `queued` or `running` becomes `running`. False when it is finished
    already (the reaper got there first): then nothing may be generated for it."""
    if GenerationRequest.objects.filter(pk=row.pk, status__in=OPEN).update(
            status=Status.RUNNING, model_requested=model_requested):
        row.status, row.model_requested = Status.RUNNING, model_requested
        return True
    _lost(row, by="claim")
    return False


def finish(row: GenerationRequest, fields: dict, *, by: str) -> bool:
    """Write this verdict if the row is still open; True when it was. Either way `row` ends up
    holding the verdict that stands."""
    unknown = set(fields) - VERDICT_FIELDS
    if unknown:
        raise ValueError(f"finishing may not write {sorted(unknown)}")
    if GenerationRequest.objects.filter(pk=row.pk, status__in=OPEN).update(**fields):
        for name, value in fields.items():
            setattr(row, name, value)
        return True
    _lost(row, by=by, tried=fields.get("status", ""), tried_code=fields.get("error_code", ""))
    return False


def _lost(row: GenerationRequest, *, by: str, **fields) -> None:
    row.refresh_from_db()
    logger.warning("finish_lost", extra={
        "event": "finish_lost", "request_id": str(row.pk), "by": by, "status": row.status,
        "error_code": row.error_code, **fields})
