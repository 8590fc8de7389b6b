"""Idempotency-Key (README, `POST /v1/generate`): what makes a repeat the same request, and when it may run again.

The key is stored as its SHA-256, so it is exact whatever its length (1..255, checked by
the API) and a client's key is not kept in the clear. The body is stored as the SHA-256
of what was asked (the validated spec, defaults filled in), so that the same key with a
different body is told apart from a true repeat.
"""
import hashlib
import json
from dataclasses import asdict

from ..error_codes import ERRORS
from ..models import GenerationRequest
from .spec import SpriteSpec


class IdempotencyKeyReused(Exception):
    """The key was used before, by this token, with a different body."""


def digest(key: str) -> str:
    # UTF-8, not ASCII: another caller (the OpenAI-compatible endpoint) may not have checked the charset.
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest() if key else ""


def fingerprint(spec: SpriteSpec) -> str:
    return hashlib.sha256(json.dumps(asdict(spec), sort_keys=True).encode()).hexdigest()


def may_generate_again(row: GenerationRequest) -> bool:
    """A failure that waiting can cure (429 rate limit, 502, 503 interrupted, 504) runs again."""
    kind = ERRORS.get(row.error_code)
    return row.status == GenerationRequest.Status.FAILED and kind is not None and kind.transient


def release(row: GenerationRequest) -> None:
    """The failed row keeps its outcome but gives its key to the next attempt."""
    GenerationRequest.objects.filter(pk=row.pk, idempotency_key=row.idempotency_key).update(idempotency_key="")
