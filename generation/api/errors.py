"""Every error a client sees, in one JSON shape, through one handler.

    {"error": {"code": ..., "message": ..., "retry_after": 12}, "request_id": ...}

An exception's `wait` becomes both `retry_after` and the Retry-After header.
"""
import logging
import math

from django import db
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from ..error_codes import ERRORS, retry_after_of
from ..logfmt import http_request_id

logger = logging.getLogger("generation")


class GenerationError(exceptions.APIException):
    """No model produced an image; carries the request row's id."""

    def __init__(self, *, status_code: int, code: str, message: str, request_id=None, wait: int | None = None):
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.code = code
        self.request_id = request_id
        self.wait = wait


class CatalogueError(exceptions.APIException):
    """An error of the catalogue (generation/error_codes.py) by its code: the status comes from
    there, and so does the message unless a more precise one is given."""

    def __init__(self, code: str, message: str | None = None, *, wait: int | None = None):
        kind = ERRORS[code]
        super().__init__(detail=message or kind.message, code=code)
        self.status_code = kind.status
        self.code = code
        self.request_id = None
        self.wait = wait


# DRF's own exceptions, renamed to the contract's codes.
_CODES = {
    exceptions.ValidationError: "invalid_request",
    exceptions.ParseError: "invalid_request",
    exceptions.UnsupportedMediaType: "invalid_request",
    exceptions.NotAuthenticated: "unauthorized",
    exceptions.AuthenticationFailed: "unauthorized",
    exceptions.PermissionDenied: "forbidden",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.Throttled: "throttled",
}


def _flatten(detail, prefix: str = "") -> list[str]:
    """{'size': ['Ensure ...']} -> ['size: Ensure ...'], so the message names the field."""
    if isinstance(detail, dict):
        return [line for key, value in detail.items() for line in _flatten(value, f"{prefix}{key}." if key != "non_field_errors" else prefix)]
    if isinstance(detail, list):
        return [line for item in detail for line in _flatten(item, prefix)]
    field = prefix.rstrip(".")
    return [f"{field}: {detail}" if field else str(detail)]


def error_body(*, code: str, message: str, retry_after: int | None = None, request_id=None) -> dict:
    """`request_id` is the generation's id where one was recorded, else this response's X-Request-ID."""
    error = {"code": code, "message": message}
    if retry_after is not None:
        error["retry_after"] = retry_after
    return {"error": error, "request_id": str(request_id or http_request_id.get() or "")}


def exception_handler(exc, context):
    if isinstance(exc, (db.OperationalError, db.InterfaceError)):
        # The database is unreachable (down, restarting, out of connections): the service
        # cannot answer, which is 503, not a bug (500).
        logger.error("database_unavailable", extra={"event": "database_unavailable", "error": type(exc).__name__})
        # A client should come back after a database outage, not hammer it.
        wait = retry_after_of("service_unavailable")
        return Response(error_body(code="service_unavailable", message=ERRORS["service_unavailable"].message,
                                   retry_after=wait),
                        status=ERRORS["service_unavailable"].status, headers={"Retry-After": str(wait)})
    # Django's own two, as DRF's, so that they have a `detail` like the rest (DRF converts them
    # for its response only; `?format=` naming no renderer raises Http404).
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a bug: Django's handler500 answers in our shape
    if isinstance(exc, (GenerationError, CatalogueError)):
        code, wait, request_id = exc.code, exc.wait, exc.request_id
    else:
        code = next((c for cls, c in _CODES.items() if isinstance(exc, cls)), "error")
        wait = math.ceil(exc.wait) if isinstance(exc, exceptions.Throttled) and exc.wait is not None else None
        request_id = None
    message = "; ".join(_flatten(exc.detail)) if isinstance(exc, exceptions.ValidationError) else str(exc.detail)
    body = error_body(code=code, message=message, retry_after=wait, request_id=request_id)
    # A body that is not JSON is, to this API, malformed JSON: 400 like the rest.
    status_code = 400 if isinstance(exc, exceptions.UnsupportedMediaType) else response.status_code
    headers = {"Retry-After": str(wait)} if wait is not None else {}
    for name in ("WWW-Authenticate", "Allow"):
        if name in response:
            headers[name] = response[name]
    return Response(body, status=status_code, headers=headers)


@csrf_exempt
def not_found(request, exception=None, **kwargs):
    """Django's 404 handler, and the route for every path under /v1/ that no view serves (any method,
    in DEBUG too, where Django would answer its HTML page)."""
    return json_error("not_found")


def server_error(request):
    return json_error("internal_error")


def bad_request(request, exception=None):
    return json_error("invalid_request")


def json_error(code: str, message: str | None = None) -> JsonResponse:
    """An answer in the API's shape, outside DRF (Django's error views, middleware): the catalogue's
    status, and its message unless one is given."""
    kind = ERRORS[code]
    return JsonResponse(error_body(code=code, message=message or kind.message), status=kind.status)
