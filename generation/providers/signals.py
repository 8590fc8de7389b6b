"""What a provider's answer says about its quota and about waiting, as one provider-neutral `Signal`.

Each provider speaks differently (README "Providers and their quota signals"):
- OpenAI: `x-ratelimit-limit/remaining/reset-requests` on every answer, `retry-after(-ms)` on a 429.
- Azure OpenAI: `x-ratelimit-limit-requests` and `-remaining-requests` but no reset (its
  quotas are per minute, per deployment); `retry-after-ms` and `retry-after` on a 429.
- Google (Gemini API, Vertex AI): no quota headers; a 429 `RESOURCE_EXHAUSTED` whose error
  body carries `RetryInfo.retryDelay` ("12s"). LiteLLM hands that body over only inside the
  exception's message. A 429 without RetryInfo (or naming a per-day quota) is a daily quota,
  which lasts until midnight Pacific time.
- Replicate: "resets in ~30s" in its error text. Bedrock and the rest: nothing but, maybe,
  HTTP's own `Retry-After`.

One adapter per provider, picked by the provider LiteLLM routes the model to, turns an answer
into a `Signal`; nothing above `providers` parses a provider's header or body.

Pure: no I/O, no clock of its own (callers pass `now`). Everything is hostile input: a value
that is not a finite number of seconds from 0 to `MAX_HINT` counts as absent, header values
longer than 64 characters are ignored, and message text is cut to `MAX_MESSAGE` characters
before any pattern looks at it (the patterns have no nested repetition).
"""
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from email.utils import parsedate_to_datetime

MAX_HINT = 86400.0  # a day: longer is not a hint, it is an outage
MAX_LIMIT = 10**9  # requests per window; anything larger is not a real quota
MAX_MESSAGE = 16 * 1024  # characters of an error message searched for a hint
DAILY_QUOTA = "daily_quota"  # the error code an attempt row shows for a 429 that looks like a per-day quota
SAID_CHARS = 80  # the provider's words kept for an operator (`Signal.said`)
_MAX_TEXT = 64  # a header value longer than this is not a number of seconds

LIMIT, REMAINING, RESET = "x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"

_NUMBER = re.compile(r"\d{1,12}(?:\.\d{1,9})?", re.ASCII)
_INTEGER = re.compile(r"\d{1,12}", re.ASCII)
_DURATION = re.compile(r"(\d{1,12}(?:\.\d{1,9})?)(ms|h|m|s)", re.ASCII)
_SCALE = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}

# Google's error body, as JSON or as a Python repr, possibly escaped once inside a string:
# "retryDelay": "12s", 'retryDelay': '1.5s', \"retryDelay\": \"38s\".
_RETRY_DELAY = re.compile(r"""retryDelay\\?["']\s{0,8}:\s{0,8}\\?["'](\d{1,9}(?:\.\d{1,9})?)s\\?["']""", re.ASCII)
_RESOURCE_EXHAUSTED = "RESOURCE_EXHAUSTED"
_PER_DAY = "PerDay"  # in a QuotaFailure's quotaId: GenerateRequestsPerDayPerProjectPerModel
# Azure's 429 text: "... Please retry after 6 seconds."
_AZURE_RETRY = re.compile(r"retry after (\d{1,6}) second", re.ASCII | re.IGNORECASE)
# Replicate's 429 text: "Request was throttled. Your rate limit resets in ~30s."
_REPLICATE_RESET = re.compile(r"resets in ~?(\d{1,6}(?:\.\d{1,3})?) ?s\b", re.ASCII)


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


def _first_number(pattern: re.Pattern, text: str) -> float | None:
    match = pattern.search(text)
    return bounded(float(match.group(1))) if match else None


@dataclass(frozen=True)
class Signal:
    """One answer's word on the quota, whatever the provider. Any part may be unknown (None).

    `wait` is a wait only on a 429 or a 503 (a 5xx retries on the backoff). `reset` is the
    seconds until the quota is full again; OpenAI says it, Azure does not.
    """

    source: str = ""  # the adapter that read it: openai, azure, google, replicate, http
    limit: int | None = None  # requests per window
    remaining: int | None = None  # requests left in the current window
    reset: float | None = None  # seconds until the window is full again
    wait: float | None = None  # seconds the provider asks us to wait before calling this model again
    throttled: bool = False  # the answer was a rate-limit refusal (429)
    daily_quota: bool = False  # a 429 that looks like a per-day quota: no wait helps before the next day
    # The hint as the provider wrote it, for an operator: printable ASCII, at most SAID_CHARS (escape it
    # where shown). Not part of what the signal means, so two signals that mean the same compare equal.
    said: str = field(default="", compare=False)

    @property
    def known(self) -> bool:
        return self.limit is not None

    @property
    def exhausted_for(self) -> float | None:
        """Seconds until a call can succeed, when the quota says there is none left now."""
        return self.reset if self.remaining == 0 else None


@dataclass(frozen=True)
class Answer:
    """What an adapter reads: the status (None: no answer came), headers, and error text."""

    status: int | None
    headers: Mapping[str, str] | None = None  # case-insensitive (httpx.Headers), as HTTP headers are
    message: str = ""  # the exception's message: the only place LiteLLM keeps some providers' bodies

    @property
    def throttled(self) -> bool:
        return self.status == 429

    @property
    def may_wait(self) -> bool:
        return self.status in (429, 503)


def _get(answer: Answer, name: str) -> str | None:
    return answer.headers.get(name) if answer.headers else None


def _http_wait(answer: Answer, *, now: datetime) -> float | None:
    """HTTP's explicit wait, most precise header first; a broken one falls through to the next."""
    if not answer.may_wait:
        return None
    if (ms := parse_seconds(_get(answer, "retry-after-ms"))) is not None:
        if (seconds := bounded(ms / 1000)) is not None:
            return seconds
    return parse_retry_after(_get(answer, "retry-after"), now=now)


def _printable(text: str) -> str:
    return "".join(c if " " <= c <= "~" else "?" for c in text[:SAID_CHARS])


def _said(answer: Answer) -> str:
    """HTTP's own hint in the provider's words: the wait header, else an exhausted `remaining` and its reset."""
    if answer.may_wait:
        for name in ("retry-after-ms", "retry-after"):
            if (value := _get(answer, name)) is not None:
                return _printable(f"{answer.status} {name}: {value[:SAID_CHARS]}")
    if _limit_and_remaining(answer)[1] == 0 and (reset := _get(answer, RESET)) is not None:
        prefix = f"{answer.status} " if answer.may_wait else ""
        return _printable(f"{prefix}remaining 0, reset {reset[:SAID_CHARS]}")
    return f"{answer.status} without a hint" if answer.may_wait else ""


def _limit_and_remaining(answer: Answer) -> tuple[int | None, int | None]:
    """`x-ratelimit-limit/remaining-requests`, each validated on its own and against each other."""
    limit = parse_count(_get(answer, LIMIT))
    if limit == 0:
        limit = None  # a quota of nothing is a broken header, not a plan
    remaining = parse_count(_get(answer, REMAINING))
    if remaining is not None and limit is not None and remaining > limit:
        remaining = None  # contradicts the limit: trust neither more than the other
    return limit, remaining


def read_openai(answer: Answer, *, now: datetime) -> Signal:
    """A 429 without `retry-after` still says when the quota is full again: `reset` when `remaining` is 0."""
    limit, remaining = _limit_and_remaining(answer)
    signal = Signal("openai", limit, remaining, parse_duration(_get(answer, RESET)), throttled=answer.throttled)
    wait = _http_wait(answer, now=now)
    if wait is None and answer.throttled:
        wait = signal.exhausted_for
    return replace(signal, wait=wait, said=_said(answer))


def read_azure(answer: Answer, *, now: datetime) -> Signal:
    """Limit and remaining, no reset; the wait from `retry-after-ms`, `retry-after`, else its 429 text."""
    limit, remaining = _limit_and_remaining(answer)
    wait, said = _http_wait(answer, now=now), _said(answer)
    if wait is None and answer.throttled:
        if (wait := _first_number(_AZURE_RETRY, answer.message[:MAX_MESSAGE])) is not None:
            said = f"429 'retry after {wait:g} seconds'"
    return Signal("azure", limit, remaining, wait=wait, throttled=answer.throttled, said=said)


def read_google(answer: Answer, *, now: datetime) -> Signal:
    """`RetryInfo.retryDelay` from the error body in the message; none on a 429 means a daily quota."""
    if not answer.throttled:
        return Signal("google", wait=_http_wait(answer, now=now), said=_said(answer))
    text = answer.message[:MAX_MESSAGE]
    delay = _first_number(_RETRY_DELAY, text)
    wait = delay if delay is not None else _http_wait(answer, now=now)
    daily = _PER_DAY in text or (wait is None and _RESOURCE_EXHAUSTED in text)
    if daily:
        said = "429 RESOURCE_EXHAUSTED without RetryInfo: looks like a daily quota"
    else:
        said = f"429 RetryInfo.retryDelay {delay:g}s" if delay is not None else _said(answer)
    return Signal("google", wait=wait, throttled=True, daily_quota=daily, said=said)


def read_replicate(answer: Answer, *, now: datetime) -> Signal:
    """HTTP's `Retry-After`, else "resets in ~30s" in the error text."""
    wait, said = _http_wait(answer, now=now), _said(answer)
    if wait is None and answer.throttled:
        if (wait := _first_number(_REPLICATE_RESET, answer.message[:MAX_MESSAGE])) is not None:
            said = f"429 'resets in ~{wait:g}s'"
    return Signal("replicate", wait=wait, throttled=answer.throttled, said=said)


def read_http(answer: Answer, *, now: datetime) -> Signal:
    """Any other provider (Bedrock's ThrottlingException says nothing): HTTP's `Retry-After`, and
    OpenAI-style quota headers where an OpenAI-compatible gateway sends them."""
    return replace(read_openai(answer, now=now), source="http")


READERS: dict[str, Callable[..., Signal]] = {
    "openai": read_openai,
    "azure": read_azure,
    "gemini": read_google,
    "vertex_ai": read_google,
    "vertex_ai_beta": read_google,
    "replicate": read_replicate,
}


def read(provider: str, answer: Answer, *, now: datetime) -> Signal:
    """The Signal in `answer`, read the way `provider` (as LiteLLM names it) speaks."""
    return READERS.get(provider, read_http)(answer, now=now)
