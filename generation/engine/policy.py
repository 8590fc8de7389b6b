"""Pure retry decisions: what a failure means, how long to wait, what to answer.

No I/O, no clock, no randomness of their own: callers pass `now` and `rand`,
so every rule here is tested exhaustively without sleeping.
"""
import enum
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from ..models import GenerationAttempt
from ..providers.signals import MAX_HINT

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
    """Whole seconds, at least 1, at most a day: a stored or sent integer never overflows."""
    if wait is None or math.isnan(wait):
        return None
    return int(min(max(1, math.ceil(min(wait, MAX_HINT))), MAX_HINT))


def clamp_ms(seconds: float | None) -> int | None:
    """Milliseconds for an integer column, bounded by a day."""
    if seconds is None or not math.isfinite(seconds):
        return None
    return round(min(max(seconds, 0.0), MAX_HINT) * 1000)


# -- what to do next ---------------------------------------------------------------

MIN_CALL = 1.0  # seconds: a wait is not started unless it leaves this much for the call after it
NO_TIME = 0.05  # seconds: a request with less than this left has no time for any call
PROBE_POLL = 0.1  # seconds between looks at the pacer while another call learns a model's quota


def request_budgets(*, max_wait: float, total_timeout: float, requested_wait: float | None,
                    requested_timeout: float | None) -> tuple[float, float]:
    """(wait budget, total seconds from arrival) of one request: its own values shorten the
    settings', never lengthen them."""
    return (max_wait if requested_wait is None else min(max_wait, requested_wait),
            total_timeout if requested_timeout is None else min(total_timeout, requested_timeout))


def call_timeout(*, timeout: float, time_left: float) -> float | None:
    """The timeout of the next upstream call: TIMEOUT cut to what remains of the request, or None
    when no time remains for one."""
    return None if time_left < NO_TIME else min(timeout, time_left)


class Step(enum.Enum):
    CALL = "call"  # call this model, after `delay` seconds
    ASK_AGAIN = "ask_again"  # wait `delay` seconds, then ask the pacer again
    NEXT_MODEL = "next_model"  # this model cannot serve within the budgets; try the next one
    STOP = "stop"  # answer now with the final error of the outcomes so far
    REJECT = "reject"  # answer now: 429 rate_limit_exceeded, Retry-After `retry_after`


@dataclass(frozen=True)
class Decision:
    step: Step
    delay: float = 0.0  # CALL: seconds to wait first
    retry_after: float | None = None  # what a client would have to wait for this model (rate limits only)
    at_admission: bool = False  # REJECT: decided before calling (the pacer's slot lay beyond a budget)


def fits(wait: float, *, wait_left: float, time_left: float) -> bool:
    """A wait is started only within the wait budget and when it leaves time for a call."""
    return wait <= wait_left + 1e-9 and time_left - wait >= MIN_CALL


def _out_of_models(retry_after: float | None, more_models: bool) -> Decision:
    if more_models:
        return Decision(Step.NEXT_MODEL, retry_after=retry_after)
    if retry_after is not None:
        return Decision(Step.REJECT, retry_after=retry_after)
    return Decision(Step.STOP)


def next_step(*, outcome: str, retry: int, max_retries: int, retry_delay: float, hint: float | None, rand: float,
              wait_left: float, time_left: float, more_models: bool) -> Decision:
    """After a failed attempt (`retry`: retries already spent on this model): what now.

    A rate limit that outlasts the retries or the budgets says when it would
    pass (the hint, else the next backoff), so the client can be told.
    """
    action = action_for(outcome)
    if action is Action.STOP:
        return Decision(Step.STOP)
    rate_limited = outcome == Outcome.RATE_LIMITED
    if action is Action.RETRY:
        delay = backoff_delay(retry, retry_delay, hint=hint, rand=rand)
        if retry < max_retries and fits(delay, wait_left=wait_left, time_left=time_left):
            return Decision(Step.CALL, delay=delay)
        if rate_limited:
            return _out_of_models(hint if hint is not None else backoff_cap(retry, retry_delay), more_models)
    return Decision(Step.NEXT_MODEL) if more_models else Decision(Step.STOP)


def admission(slot_wait: float, *, wait_left: float, time_left: float, more_models: bool) -> Decision:
    """The pacer's next slot for a model is `slot_wait` seconds away: wait for it, or not."""
    if fits(slot_wait, wait_left=wait_left, time_left=time_left):
        return Decision(Step.CALL, delay=slot_wait)
    decision = _out_of_models(slot_wait, more_models)
    return replace(decision, at_admission=True) if decision.step is Step.REJECT else decision


def while_probing(probe_left: float, *, wait_left: float, time_left: float) -> Decision:
    """Another call is learning this model's quota and will be answered within `probe_left`
    seconds: look again shortly, if the budgets allow a short wait; else go out unbooked now,
    since the probe says nothing about when a slot comes."""
    poll = min(PROBE_POLL, max(probe_left, 0.0))
    if fits(PROBE_POLL, wait_left=wait_left, time_left=time_left):
        return Decision(Step.ASK_AGAIN, delay=poll)
    return Decision(Step.CALL)


def pause_after_rate_limit(*, hint: float | None, decision: Decision) -> float:
    """How long every worker holds a model off after its 429: until the hint passes; without
    one, for as long as this request backs off (or would have told its client to)."""
    if hint is not None:
        return hint
    return decision.delay or decision.retry_after or 0.0
