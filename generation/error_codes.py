"""The error catalogue: every code a client can see, its HTTP status, default message, when it is
answered and the Retry-After it carries when nothing better is known.

Written once and read by everything that answers, records or describes an error: the
engine stores codes and messages on the row, the API turns a code into its status and
Retry-After, the OpenAPI schema (`api/schema.py`) describes each status by its codes'
`when`, and the README's error table is held to this one by tests/test_error_catalogue.py.
Pure data, no imports, so any layer may read it.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorKind:
    status: int
    message: str
    when: str  # for clients: the README's error table and the schema's description of the status
    # A failure that waiting can cure: a repeated Idempotency-Key generates again.
    transient: bool = False
    # Seconds for Retry-After when the answer has no better figure of its own (a provider's hint, a
    # throttle's window); None: this answer carries no Retry-After of its own.
    retry_after: int | None = None


ERRORS: dict[str, ErrorKind] = {
    "invalid_request": ErrorKind(400, "The request is malformed.",
                                 "malformed JSON, JSON that is not UTF-8, or bad fields (the message names them)"),
    "unauthorized": ErrorKind(401, "Unknown or revoked token.", "missing, unknown or revoked token"),
    "forbidden": ErrorKind(403, "You do not have permission to perform this action.",
                           "`/v1/metrics` without a staff token, or a token whose weight is 0 (paused by an administrator)"),
    "not_found": ErrorKind(404, "No such endpoint.", "an unknown path under `/v1/`, or a generation that is not yours"),
    "method_not_allowed": ErrorKind(405, "Method not allowed.",
                                    "a method the endpoint does not take (the `Allow` header lists those it does)"),
    "not_acceptable": ErrorKind(406, "This endpoint answers JSON only.", "an `Accept` header that excludes JSON"),
    "request_timeout": ErrorKind(408, "The request body did not arrive in time.",
                                 "the body did not arrive within 10 s of the headers (slow clients never hold the "
                                 "service; `REQUEST_BODY_TIMEOUT`)"),
    # /v1/images/generations only: OpenAI clients cannot poll a 202, and their SDKs retry a 409.
    "request_in_progress": ErrorKind(
        409, "A request with this Idempotency-Key is still running.",
        "`/v1/images/generations` only: the first request with this `Idempotency-Key` still runs; ask again "
        "after `Retry-After`", retry_after=1),
    "payload_too_large": ErrorKind(413, "The request body is too large.",
                                   "a body over 64 KB, refused before it is read"),
    "idempotency_key_reused": ErrorKind(422, "This Idempotency-Key was already used with a different body.",
                                        "an `Idempotency-Key` already used with another body"),
    "content_policy_violation": ErrorKind(
        422, "The image provider refused this prompt under its content policy; rephrase it and try again.",
        "the provider refused the prompt (no retry, no fallback)"),
    "throttled": ErrorKind(429, "Too many requests for this token.",
                           "this token went past its allowance (`SPRITE_THROTTLE_RATE`)"),
    "rate_limit_exceeded": ErrorKind(
        429, "The image provider is rate-limiting us; retries, fallbacks and the wait budget ran out.",
        "the provider's rate limits outlasted retries, fallbacks and the wait budget", transient=True, retry_after=1),
    "internal_error": ErrorKind(500, "The service failed; it has been logged.", "a bug of ours, logged with its trace"),
    "upstream_error": ErrorKind(502, "The image provider failed.", "provider errors outlasted retries and fallbacks",
                                transient=True),
    "upstream_unavailable": ErrorKind(
        503, "No image model is available (out of quota, retired, or credentials rejected).",
        "every model is out of quota, retired, or rejected our credentials (the message says which)"),
    "interrupted": ErrorKind(
        503, "The server stopped while working on this request; retrying is safe.",
        "the server stopped (a crash, a kill, a deploy) while working on this request; retrying is safe",
        transient=True, retry_after=10),
    # Half of a worker's threads are already waiting on request bodies; the others stay free.
    "server_busy": ErrorKind(503, "Too many request bodies are arriving at once; retry shortly.",
                             "half of a server's threads already wait on slow request bodies", retry_after=1),
    "service_unavailable": ErrorKind(503, "The service's database is unreachable; try again shortly.",
                                     "our database is unreachable", retry_after=5),
    "upstream_timeout": ErrorKind(504, "The image provider did not answer in time.",
                                  "provider timeouts outlasted retries, fallbacks and the wait budget", transient=True),
}

# The Retry-After of a 202 (an async request, or a repeat while the first runs): seconds until a
# poll of its Location is worth it; most sprites take about a second.
POLL_AFTER_SECONDS = 1


def status_of(code: str) -> int:
    """The HTTP status of a code; an unknown one (an old row, say) is the provider's failure."""
    kind = ERRORS.get(code)
    return kind.status if kind else ERRORS["upstream_error"].status


def message_of(code: str) -> str:
    kind = ERRORS.get(code)
    return kind.message if kind else ERRORS["upstream_error"].message


def retry_after_of(code: str) -> int | None:
    """The Retry-After a code carries by default, or None."""
    kind = ERRORS.get(code)
    return kind.retry_after if kind else None


def described(status: int) -> str:
    """What a status means, by its codes: "`a`: when." or "`a` (when) or `b` (when)."."""
    kinds = [(code, kind) for code, kind in ERRORS.items() if kind.status == status]
    if len(kinds) == 1:
        return f"`{kinds[0][0]}`: {kinds[0][1].when}."
    return " or ".join(f"`{code}` ({kind.when})" for code, kind in kinds) + "."
