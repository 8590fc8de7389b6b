"""The edge to image models: one LiteLLM call, classified.

Every model, the built-in offline one included, goes through
`litellm.image_generation`, so retries, errors and metrics take one path.
LiteLLM's own retries (and the OpenAI SDK's under it) are off: every upstream
call is ours to count and to wait for.
"""
import base64
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from decimal import Decimal

import httpx
from django.conf import settings
from PIL import Image

from ..models import GenerationAttempt
from ..sprites import PictureRefused, open_picture
from . import pricing, signals, transport
from .adapters import ModelRequest, provider_of
from .runtime import OFFLINE_PROVIDER, answer_headers, load_litellm

Outcome = GenerationAttempt.Outcome


@dataclass(frozen=True)
class Reply:
    """What one upstream call came to, success or failure: the one value the loop judges.

    `headers` are the answer's, on success and failure alike (the quota comes on
    every answer); empty when no answer came (a timeout, a refused connection).
    """

    outcome: str
    image: Image.Image | None = None
    http_status: int | None = None
    code: str = ""
    message: str = ""
    headers: httpx.Headers = field(default_factory=httpx.Headers)
    cost_usd: Decimal | None = None  # what the call was billed; None: LiteLLM's cost map cannot price it
    signal: signals.Signal = field(default_factory=signals.Signal)  # its word on the quota and on waiting

    @property
    def ok(self) -> bool:
        return self.outcome == Outcome.SUCCEEDED


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    try:
        error = response.json().get("error") or {}
        return str(error.get("code") or error.get("type") or "")
    except Exception:  # no response, not JSON, not OpenAI's shape
        return str(getattr(exc, "code", "") or "")


# What a provider's message may carry of a credential: OpenAI-style keys (sk-..., sk-proj-...,
# also when partly masked), bearer tokens, and key=value pairs.
_SECRET = re.compile(r"\bsk-[\w*-]+|\bBearer\s+\S+|\b(api[_-]?key|key|token|secret)(\s*[=:]\s*)[^\s,;&\"']+", re.I)
# LiteLLM's words for an absent credential: it raises before any call, as a 500.
_MISSING_CREDENTIALS = ("missing credentials", "api_key client option must be set", "_api_key is not set")
# LiteLLM's refusal of a model it cannot route (raised before any call).
_UNROUTABLE = "llm provider not provided"


def scrub(text: str) -> str:
    """The text with anything that looks like a credential replaced by ***."""
    text = _SECRET.sub(lambda m: f"{m.group(1)}{m.group(2)}***" if m.group(1) else "***", text)
    for key in (settings.OPENAI_API_KEY, settings.AZURE_API_KEY, settings.GEMINI_API_KEY):
        if key and len(key) >= 8:
            text = text.replace(key, "***")
    return text


def classify(exc: Exception) -> Reply:
    """Map a LiteLLM exception to an outcome, by type and the provider's error code."""
    litellm = load_litellm()
    code = _error_code(exc)
    status = getattr(exc, "status_code", None)
    headers = getattr(exc, "litellm_response_headers", None) or getattr(getattr(exc, "response", None), "headers", None)
    message = scrub(str(getattr(exc, "message", exc))[:2000])[:500]
    lowered = message.lower()
    cost = pricing.cost_of_failure(exc)

    if isinstance(exc, litellm.UnsupportedParamsError) or _UNROUTABLE in lowered:
        outcome = Outcome.MODEL_UNSUPPORTED  # this model, not the request: the next one may take it
        cost, status = pricing.ZERO, None  # refused by LiteLLM before any call: no upstream answered
    elif any(words in lowered for words in _MISSING_CREDENTIALS):
        outcome = Outcome.AUTH_FAILED
        cost, status = pricing.ZERO, None  # LiteLLM's own 500, raised before any call
    elif isinstance(exc, litellm.Timeout):
        outcome = Outcome.TIMEOUT
    elif isinstance(exc, litellm.RateLimitError):
        outcome = Outcome.QUOTA_EXHAUSTED if code == "insufficient_quota" else Outcome.RATE_LIMITED
    elif isinstance(exc, litellm.ContentPolicyViolationError) or code == "content_policy_violation":
        outcome = Outcome.CONTENT_POLICY
    elif isinstance(exc, litellm.NotFoundError) or code == "model_not_found":
        outcome = Outcome.MODEL_NOT_FOUND
    elif isinstance(exc, (litellm.AuthenticationError, litellm.PermissionDeniedError)):
        outcome = Outcome.AUTH_FAILED
    elif isinstance(exc, litellm.APIConnectionError) or "connection error" in message.lower():
        outcome = Outcome.CONNECTION_ERROR
    elif isinstance(exc, litellm.BadRequestError):
        outcome = Outcome.BAD_REQUEST
    else:  # InternalServerError, ServiceUnavailableError, APIError and anything unforeseen
        outcome = Outcome.SERVER_ERROR
    return Reply(outcome, message=message, http_status=status if isinstance(status, int) else None, code=code[:60],
                 headers=httpx.Headers(headers or {}), cost_usd=cost)


def _cut(bounds: transport.Bounds, failure: Reply) -> Reply:
    """A call our transport cut: by its deadline a timeout, by its size a malformed answer, whatever
    LiteLLM made of the dropped connection. Billing unknown: the provider may have drawn it."""
    if bounds.cut == transport.DEADLINE:
        return replace(failure, outcome=Outcome.TIMEOUT, http_status=None, code="",
                       message=f"no full answer within the call's {bounds.timeout:g} s", cost_usd=None)
    if bounds.cut == transport.TOO_LARGE:
        return replace(failure, outcome=Outcome.MALFORMED, http_status=None, code="", cost_usd=None,
                       message=f"the answer passed {bounds.max_bytes} bytes and was not read further")
    return failure


def call_model(request: ModelRequest, *, timeout: float) -> Reply:
    """One upstream call, classified. Never raises for anything the provider answers.

    Bounded below LiteLLM (transport.py): cut at `timeout` seconds of wall clock however its
    bytes trickle, and at MAX_ANSWER_BYTES read."""
    litellm = load_litellm()
    provider = provider_of(request.model)
    offline = provider == OFFLINE_PROVIDER
    try:
        with transport.bounded(timeout=timeout) as bounds, answer_headers() as seen:
            response = litellm.image_generation(
                model=request.model, prompt=request.prompt, timeout=timeout, max_retries=0, **request.params
            )
    except Exception as exc:  # LiteLLM maps every provider error to its own types
        failure = _cut(bounds, classify(exc))
        # Google's error body reaches us only in the message: read it whole (bounded), before scrubbing.
        answer = signals.Answer(failure.http_status, failure.headers,
                                str(getattr(exc, "message", exc))[:signals.MAX_MESSAGE])
        signal = signals.read(provider, answer, now=datetime.now(timezone.utc))
        failure = replace(failure, signal=signal)
        if signal.daily_quota and failure.outcome == Outcome.RATE_LIMITED:
            # Like OpenAI's insufficient_quota: no wait within a request's budget brings it back.
            failure = replace(failure, outcome=Outcome.QUOTA_EXHAUSTED, code=signals.DAILY_QUOTA)
        return replace(failure, cost_usd=pricing.ZERO) if offline else failure
    cost = pricing.ZERO if offline else pricing.cost_of_answer(response, model=request.model)
    headers = httpx.Headers((response._hidden_params or {}).get("additional_headers") or (seen[0] if seen else {}))
    signal = signals.read(provider, signals.Answer(200, headers), now=datetime.now(timezone.utc))
    data = response.data or []
    b64 = getattr(data[0], "b64_json", None) if data else None
    if not b64:  # an answer without a usable image is still billed by its usage
        return Reply(Outcome.MALFORMED, message="the model returned no image", http_status=200, headers=headers,
                     cost_usd=cost, signal=signal)
    return replace(decode_image(b64, headers=headers), cost_usd=cost, signal=signal)


# A PNG of 4096 x 4096 that compresses badly is still well under 24 MB; its base64 is 4/3 of that.
MAX_BASE64_CHARS = 32 * 1024 * 1024


def decode_image(b64: str, *, headers: httpx.Headers | None = None) -> Reply:
    """The upstream's base64 image, decoded within the bounds of `sprites.open_picture`; else MALFORMED."""
    headers = headers if headers is not None else httpx.Headers()

    def malformed(message: str) -> Reply:
        return Reply(Outcome.MALFORMED, message=message[:500], http_status=200, headers=headers)

    if len(b64) > MAX_BASE64_CHARS:
        return malformed(f"the model returned an image of {len(b64)} base64 characters, over {MAX_BASE64_CHARS}")
    try:
        data = base64.b64decode(b64)
    except (ValueError, TypeError) as exc:  # binascii.Error is a ValueError
        return malformed(f"the model returned an unreadable image: {exc}")
    try:
        image = open_picture(data)
    except PictureRefused as exc:
        return malformed(f"the model returned {exc}")
    return Reply(Outcome.SUCCEEDED, image=image, http_status=200, headers=headers)
