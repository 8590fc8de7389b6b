"""The error catalogue: every code a client can see, its HTTP status and default message.

Written once and read by everything that answers or records an error: the
engine stores codes and messages on the row, the API turns a code into its
status. Pure data, no imports, so any layer may read it.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorKind:
    status: int
    message: str
    # A failure that waiting can cure: a repeated Idempotency-Key generates again.
    transient: bool = False


ERRORS: dict[str, ErrorKind] = {
    "invalid_request": ErrorKind(400, "The request is malformed."),
    "unauthorized": ErrorKind(401, "Unknown or revoked token."),
    "forbidden": ErrorKind(403, "You do not have permission to perform this action."),
    "not_found": ErrorKind(404, "No such endpoint."),
    "method_not_allowed": ErrorKind(405, "Method not allowed."),
    "not_acceptable": ErrorKind(406, "This endpoint answers JSON only."),
    # The body did not arrive within REQUEST_BODY_TIMEOUT (10 s) of the headers (generation/api/bodies.py).
    "request_timeout": ErrorKind(408, "The request body did not arrive in time.", transient=True),
    "payload_too_large": ErrorKind(413, "The request body is too large."),
    # /v1/images/generations only: OpenAI clients cannot poll a 202, and their SDKs retry a 409.
    "request_in_progress": ErrorKind(409, "A request with this Idempotency-Key is still running."),
    "idempotency_key_reused": ErrorKind(422, "This Idempotency-Key was already used with a different body."),
    "content_policy_violation": ErrorKind(422, "The provider refused this prompt."),
    "throttled": ErrorKind(429, "Too many requests for this token."),
    "rate_limit_exceeded": ErrorKind(
        429, "The image provider is rate-limiting us; retries, fallbacks and the wait budget ran out.", transient=True),
    "internal_error": ErrorKind(500, "The service failed; it has been logged."),
    "upstream_error": ErrorKind(502, "The image provider failed.", transient=True),
    "upstream_unavailable": ErrorKind(
        503, "No image model is available (out of quota, retired, or credentials rejected)."),
    "interrupted": ErrorKind(503, "The server stopped while working on this request; retrying is safe.", transient=True),
    # Half of a worker's threads are already waiting on request bodies; the others stay free.
    "server_busy": ErrorKind(503, "Too many request bodies are arriving at once; retry shortly.", transient=True),
    "service_unavailable": ErrorKind(503, "The service's database is unreachable; try again shortly."),
    "upstream_timeout": ErrorKind(504, "The image provider did not answer in time.", transient=True),
}


def status_of(code: str) -> int:
    """The HTTP status of a code; an unknown one (an old row, say) is the provider's failure."""
    kind = ERRORS.get(code)
    return kind.status if kind else ERRORS["upstream_error"].status


def message_of(code: str) -> str:
    kind = ERRORS.get(code)
    return kind.message if kind else ERRORS["upstream_error"].message
