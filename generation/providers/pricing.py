"""What an upstream call cost, in USD, from LiteLLM's cost map. Unknown is None, never 0.

- An answer (HTTP 200): LiteLLM's `response_cost`, else `completion_cost(...)`. gpt-image
  models are priced by the answer's `usage` tokens, older ones per image by size and quality.
  LiteLLM prices a token-priced answer *without* usage at 0: that is "unknown", not free.
- A refusal (an error in the provider's own shape: 429, 4xx, 5xx): 0. Providers bill
  generations, not refusals.
- No readable answer (timeout, dropped connection, unreadable body): unknown. The provider
  may have drawn, and billed, an image we never received.
- The built-in offline model: 0, whatever happened.
"""
import math
from collections.abc import Iterable
from decimal import Decimal

from .runtime import load_litellm

ZERO = Decimal(0)
# The database keeps 8 places: a gpt-image token costs 5e-06.
QUANTUM = Decimal("1e-8")


def usd(value) -> Decimal | None:
    """A cost as the database keeps it; None for anything that is not a finite, non-negative number."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number) or number < 0:
        return None
    return Decimal(repr(number)).quantize(QUANTUM)


def _usage_tokens(response) -> int:
    usage = getattr(response, "usage", None)
    try:
        return int(getattr(usage, "total_tokens", 0) or 0)
    except (TypeError, ValueError):
        return 0


def cost_of_answer(response, *, model: str) -> Decimal | None:
    litellm = load_litellm()
    cost = (getattr(response, "_hidden_params", None) or {}).get("response_cost")
    if cost is None:
        try:
            cost = litellm.completion_cost(completion_response=response, model=model, call_type="image_generation")
        except Exception:  # LiteLLM raises when the cost map does not know the model
            return None
    if not cost and not _usage_tokens(response):
        return None  # nothing to price by, not free
    return usd(cost)


def cost_of_failure(exc: Exception) -> Decimal | None:
    response = getattr(exc, "response", None)
    try:
        error = response.json().get("error")
    except Exception:  # no response, or not JSON: we cannot tell what the provider did
        return None
    return ZERO if isinstance(error, dict) else None


def total(costs: Iterable[Decimal | None]) -> Decimal | None:
    """The sum of the known costs; None when none is known."""
    known = [cost for cost in costs if cost is not None]
    return sum(known, ZERO) if known else None
