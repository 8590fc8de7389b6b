"""Pure retry decisions: what a failure means, how long to wait, what to answer.

No I/O, no clock, no randomness of their own: callers pass `now` and `rand`,
so every rule here is tested exhaustively without sleeping.
"""
import enum
import math
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime

from ..models import GenerationAttempt

Outcome = GenerationAttempt.Outcome


class Action(enum.Enum):
    RETRY = "retry"  # the same model may answer next time
    NEXT_MODEL = "next_model"  # this model will not answer; try the next one
    STOP = "stop"  # no model will answer this request


_ACTIONS = {
    Outcome.RATE_LIMITED: Action.RETRY,
    Outcome.SERVER_ERROR: Action.RETRY,
    Outcome.TIMEOUT: Action.RETRY,
    Outcome.CONNECTION_ERROR: Action.RETRY,
    Outcome.MALFORMED: Action.RETRY,
    # Billing, a retired model and bad credentials never pass by waiting.
    Outcome.QUOTA_EXHAUSTED: Action.NEXT_MODEL,
    Outcome.MODEL_NOT_FOUND: Action.NEXT_MODEL,
    Outcome.AUTH_FAILED: Action.NEXT_MODEL,
    # LiteLLM cannot route this model or refuses its parameters: another model may do.
    Outcome.MODEL_UNSUPPORTED: Action.NEXT_MODEL,
    # The prompt itself is the problem: every model would refuse it too.
    Outcome.CONTENT_POLICY: Action.STOP,
    Outcome.BAD_REQUEST: Action.STOP,
}


def action_for(outcome: str) -> Action:
    return _ACTIONS[Outcome(outcome)]


def backoff_cap(retry: int, retry_delay: float) -> float:
    """The longest backoff before retry `retry` (0-based) when the upstream gives no hint."""
    return retry_delay * 2**retry


def backoff_delay(retry: int, retry_delay: float, *, hint: float | None, rand: float) -> float:
    """Full jitter (AWS, "Exponential Backoff and Jitter"): uniform in [0, cap).

    Chosen because many plugin clients hit the same upstream limit at once;
    full jitter spreads their retries the most and does the least total work
    in that study. A hint from the upstream is a floor: waiting less than it
    only buys another 429.
    """
    return max(rand * backoff_cap(retry, retry_delay), hint or 0.0)


def worst_case_backoff(max_retries: int, retry_delay: float) -> float:
    """Sum of the caps for one model: retry_delay * (2**max_retries - 1)."""
    return retry_delay * (2**max_retries - 1)


def worst_case_wait(*, max_retries: int, retry_delay: float, models: int, max_wait: float) -> tuple[float, float]:
    """(worst case per model, worst case for the request capped by the budget)."""
    per_model = worst_case_backoff(max_retries, retry_delay)
    return per_model, min(per_model * models, max_wait)


_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)(ms|h|m|s))")


def parse_duration(text: str) -> float | None:
    """OpenAI's reset format: '12ms', '6s', '1m30s', '1m0.5s', '2h3m' -> seconds."""
    text = text.strip()
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    return sum(float(n) * scale[u] for n, u in parts)


def _retry_after(value: str, now: datetime) -> float | None:
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max((when - now).total_seconds(), 0.0)


def rate_limit_hint(headers: Mapping[str, str] | None, *, now: datetime) -> float | None:
    """Seconds the upstream asks us to wait, most precise header first.

    `headers` must be case-insensitive (httpx.Headers), as HTTP headers are.
    """
    if not headers:
        return None
    if (ms := headers.get("retry-after-ms")) is not None:
        try:
            return max(float(ms) / 1000, 0.0)
        except ValueError:
            pass
    if (value := headers.get("retry-after")) is not None:
        if (seconds := _retry_after(value, now)) is not None:
            return seconds
    if (reset := headers.get("x-ratelimit-reset-requests")) is not None:
        return parse_duration(reset)
    return None


# The error code a client sees when no model produced an image, by the last
# outcome of each model tried. Conditions that pass with time come first, so
# that the client learns it is worth coming back. Statuses live in the error
# catalogue (generation.error_codes), not here.
_FINAL = [
    ({Outcome.RATE_LIMITED}, "rate_limit_exceeded"),
    ({Outcome.TIMEOUT}, "upstream_timeout"),
    ({Outcome.SERVER_ERROR, Outcome.CONNECTION_ERROR, Outcome.MALFORMED, Outcome.BAD_REQUEST}, "upstream_error"),
    ({Outcome.CONTENT_POLICY}, "content_policy_violation"),
]


def final_error(last_outcomes: Iterable[str]) -> str:
    seen = set(last_outcomes)
    for outcomes, code in _FINAL:
        if seen & outcomes:
            return code
    return "upstream_unavailable"


_CAUSES = {
    Outcome.AUTH_FAILED: "credentials missing or rejected",
    Outcome.QUOTA_EXHAUSTED: "out of quota",
    Outcome.MODEL_NOT_FOUND: "unknown or retired model",
    Outcome.MODEL_UNSUPPORTED: "LiteLLM cannot route it or refuses its parameters",
}


def unavailable_cause(last_outcomes: Mapping[str, str]) -> str:
    """Why no model was available, model by model: 'openai/x: credentials missing or rejected'."""
    return "; ".join(f"{model}: {_CAUSES.get(outcome, outcome)}" for model, outcome in last_outcomes.items())


def retry_after_seconds(wait: float | None) -> int | None:
    return None if wait is None else max(1, math.ceil(wait))
