"""OpenAI's quota headers, for the pacer until it reads `providers.signals.Signal` itself.

Thin wrappers: every rule lives in `providers/signals.py` (README "Providers and their quota
signals"); these keep the pacer's `quota(headers)` and the tests' `wait_hint` working.
"""
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from ..providers.signals import MAX_HINT, RESET, Answer, bounded, parse_duration, read_openai
from .scripts import CAP

__all__ = ["MAX_HINT", "Quota", "bounded", "described", "parse_duration", "quota", "wait_hint"]


@dataclass(frozen=True)
class Quota:
    """The request quota as one answer described it. Any part may be unknown (None)."""

    limit: int | None = None
    remaining: int | None = None
    reset: float | None = None  # seconds until the quota is full again

    @property
    def known(self) -> bool:
        return self.limit is not None

    @property
    def exhausted_for(self) -> float | None:
        """Seconds until a call can succeed, when the quota says there is none left now."""
        return self.reset if self.remaining == 0 else None


def quota(headers: Mapping[str, str] | None) -> Quota:
    """The `x-ratelimit-*-requests` headers (case-insensitive `headers`, e.g. httpx.Headers)."""
    signal = read_openai(Answer(status=None, headers=headers), now=datetime.min)
    return Quota(limit=signal.limit, remaining=signal.remaining, reset=signal.reset)


def wait_hint(headers: Mapping[str, str] | None, *, status: int | None, now: datetime) -> float | None:
    """Seconds an OpenAI answer asks us to wait before trying this model again, or None.
    Believed for at most the pacer's cap: a day's claim pauses an hour, then one call probes."""
    seconds = read_openai(Answer(status=status, headers=headers), now=now).wait
    return None if seconds is None else min(seconds, CAP)


def _printable(text: str, limit: int) -> str:
    return "".join(c if " " <= c <= "~" else "?" for c in text[:limit])


def described(headers: Mapping[str, str] | None, *, status: int | None, limit: int = 80) -> str:
    """The hint that pauses or blocks a model, as the provider wrote it, for an operator to read.

    Printable ASCII only and at most `limit` characters: the value is hostile and is shown
    in the admin (escaped there too). "" when the answer holds nothing back.
    """
    headers = headers or {}
    q = quota(headers)
    if status in (429, 503):
        for name in ("retry-after-ms", "retry-after"):
            if (value := headers.get(name)) is not None:
                return _printable(f"{status} {name}: {value[:limit]}", limit)
    if q.remaining == 0 and (reset := headers.get(RESET)) is not None:
        prefix = f"{status} " if status in (429, 503) else ""
        return _printable(f"{prefix}remaining 0, reset {reset[:limit]}", limit)
    return f"{status} without a hint" if status in (429, 503) else ""
