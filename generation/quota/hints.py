"""What an upstream answer's headers say about waiting and about the quota.

Pure: no I/O, no clock of its own (callers pass `now`). Every header is
hostile input: a value that is not a finite number of seconds from 0 to
`MAX_HINT` counts as absent, so no header, however broken, fails a request or
overflows a stored integer.

The rules (README, "How a request survives rate limits"):
- `retry-after-ms` / `retry-after` on a 429 or 503 say how long to wait.
- `x-ratelimit-*-requests` describe the quota on every answer; `reset` is a
  wait only when `remaining` is 0.
- Any other 5xx retries on the backoff whatever quota headers it carries.
"""
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime

from .scripts import CAP

MAX_HINT = 86400.0  # a day: longer is not a hint, it is an outage
MAX_LIMIT = 10**9  # requests per window; anything larger is not a real quota
_MAX_TEXT = 64  # a header value longer than this is not a number of seconds

LIMIT, REMAINING, RESET = "x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"

_NUMBER = re.compile(r"\d{1,12}(?:\.\d{1,9})?", re.ASCII)
_INTEGER = re.compile(r"\d{1,12}", re.ASCII)
_DURATION = re.compile(r"(\d{1,12}(?:\.\d{1,9})?)(ms|h|m|s)", re.ASCII)
_SCALE = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def bounded(seconds: float | None) -> float | None:
    """`seconds` if it is a finite number from 0 to MAX_HINT, else None (absent)."""
    if seconds is None or not math.isfinite(seconds) or not 0 <= seconds <= MAX_HINT:
        return None
    return seconds


def parse_seconds(text: str | None) -> float | None:
    """A plain decimal number of seconds ('12', '0.5'); no sign, exponent, nan or inf."""
    if text is None or len(text) > _MAX_TEXT:
        return None
    text = text.strip()
    return bounded(float(text)) if _NUMBER.fullmatch(text) else None


def parse_duration(text: str | None) -> float | None:
    """OpenAI's reset format: '12ms', '6s', '1m30s', '1m0.5s', '2h3m' -> seconds."""
    if text is None or len(text) > _MAX_TEXT:
        return None
    text = text.strip()
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return bounded(sum(float(n) * _SCALE[u] for n, u in parts))


def parse_retry_after(text: str | None, *, now: datetime) -> float | None:
    """`Retry-After`: delay-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if text is None or len(text) > _MAX_TEXT:
        return None
    if (seconds := parse_seconds(text)) is not None:
        return seconds
    try:
        when = parsedate_to_datetime(text.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        return None
    return bounded(max((when - now).total_seconds(), 0.0))


def parse_count(text: str | None) -> int | None:
    if text is None or len(text) > _MAX_TEXT or not _INTEGER.fullmatch(text.strip()):
        return None
    value = int(text.strip())
    return value if value <= MAX_LIMIT else None


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
    """The `x-ratelimit-*-requests` headers, each one validated on its own.

    `headers` must be case-insensitive (httpx.Headers), as HTTP headers are.
    """
    if not headers:
        return Quota()
    limit = parse_count(headers.get(LIMIT))
    if limit == 0:
        limit = None  # a quota of nothing is a broken header, not a plan
    remaining = parse_count(headers.get(REMAINING))
    if remaining is not None and limit is not None and remaining > limit:
        remaining = None  # contradicts the limit: trust neither more than the other
    return Quota(limit=limit, remaining=remaining, reset=parse_duration(headers.get(RESET)))


def retry_after(headers: Mapping[str, str] | None, *, now: datetime) -> float | None:
    """The explicit wait, most precise header first; a broken one falls through to the next."""
    if not headers:
        return None
    if (ms := parse_seconds(headers.get("retry-after-ms"))) is not None:
        if (seconds := bounded(ms / 1000)) is not None:
            return seconds
    return parse_retry_after(headers.get("retry-after"), now=now)


def wait_hint(headers: Mapping[str, str] | None, *, status: int | None, now: datetime) -> float | None:
    """Seconds the upstream asks us to wait before trying this model again, or None.

    Only a 429 or a 503 carries a wait. A 429 without `retry-after` still says
    when the quota is full again, through `reset`, when `remaining` is 0. At most `scripts.CAP`.
    """
    if status not in (429, 503):
        return None
    seconds = retry_after(headers, now=now)
    if seconds is None and status == 429:
        seconds = quota(headers).exhausted_for
    # Believed for at most the pacer's cap: a day's claim pauses an hour, then one call probes.
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
