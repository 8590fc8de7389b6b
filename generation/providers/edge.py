"""The edge to image models: one LiteLLM call, classified.

Every model, the built-in offline one included, goes through
`litellm.image_generation`, so retries, errors and metrics take one path.
LiteLLM's own retries (and the OpenAI SDK's under it) are off: every upstream
call is ours to count and to wait for.
"""
import base64
import io
from dataclasses import dataclass, field

import httpx
from PIL import Image

from ..models import GenerationAttempt
from .adapters import ModelRequest
from .runtime import load_litellm

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


def classify(exc: Exception) -> Reply:
    """Map a LiteLLM exception to an outcome, by type and the provider's error code."""
    litellm = load_litellm()
    code = _error_code(exc)
    status = getattr(exc, "status_code", None)
    headers = getattr(exc, "litellm_response_headers", None) or getattr(getattr(exc, "response", None), "headers", None)
    message = str(getattr(exc, "message", exc))[:500]

    if isinstance(exc, litellm.Timeout):
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
                 headers=httpx.Headers(headers or {}))


def call_model(request: ModelRequest, *, timeout: float) -> Reply:
    """One upstream call, classified. Never raises for anything the provider answers."""
    litellm = load_litellm()
    try:
        response = litellm.image_generation(
            model=request.model, prompt=request.prompt, timeout=timeout, max_retries=0, **request.params
        )
    except Exception as exc:  # LiteLLM maps every provider error to its own types
        return classify(exc)
    headers = httpx.Headers((response._hidden_params or {}).get("additional_headers") or {})
    data = response.data or []
    b64 = getattr(data[0], "b64_json", None) if data else None
    if not b64:
        return Reply(Outcome.MALFORMED, message="the model returned no image", http_status=200, headers=headers)
    try:
        image = Image.open(io.BytesIO(base64.b64decode(b64)))
        image.load()
    except Exception as exc:  # not base64, not an image
        return Reply(Outcome.MALFORMED, message=f"the model returned an unreadable image: {exc}"[:500],
                     http_status=200, headers=headers)
    return Reply(Outcome.SUCCEEDED, image=image, http_status=200, headers=headers)
