"""X-Request-ID on every response, and in every log line written while serving the request;
a NUL character in an address refused before any view sees it."""
import re
import uuid

from django.http import HttpResponseBadRequest

from ..logfmt import http_request_id
from .errors import json_error

# A client's own id is kept when it is 1..200 visible ASCII characters: nothing that could
# split a log line or a header. Anything else is replaced, not refused: an id never fails a request.
CLIENT_ID = re.compile(r"[\x21-\x7e]{1,200}")


def request_id_of(request) -> str:
    supplied = request.headers.get("X-Request-ID", "")
    return supplied if CLIENT_ID.fullmatch(supplied) else uuid.uuid4().hex


class RequestIdMiddleware:
    """First in MIDDLEWARE, so that even a refused host or a redirect carries the id."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = request_id_of(request)
        token = http_request_id.set(request.request_id)
        try:
            response = self.get_response(request)
        finally:
            http_request_id.reset(token)
        response["X-Request-ID"] = request.request_id
        return response


NUL_REFUSED = "A NUL character is not allowed in the address or the form."


def _has_nul(data) -> bool:
    return any("\x00" in key or any("\x00" in value for value in data.getlist(key)) for key in data)


def _form_has_nul(request) -> bool:
    if request.method != "POST":
        return False
    try:
        return _has_nul(request.POST)
    except OSError:  # the client went away mid-body: the view that reads it will say so, as CSRF's check does
        return False


class NulCharacterMiddleware:
    """400 for a NUL (`%00`) in the path, the query string or a submitted form, for every view at once.

    PostgreSQL's text cannot hold NUL, so a NUL that reaches a query fails it (a 500): an admin
    filter (`?model_used=%00`), a search, an object id in an admin path or an admin action's
    selection, a third-party admin's alike. Nothing we serve has a use for one. API paths answer
    in the API's error shape (their JSON bodies are the parser's to check). After the body-size
    middleware in MIDDLEWARE, so that a form too large is refused before it is read here.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        api = request.path.startswith("/v1/")
        if "\x00" in request.path or _has_nul(request.GET) or (not api and _form_has_nul(request)):
            if api:
                return json_error("invalid_request", NUL_REFUSED)
            return HttpResponseBadRequest(NUL_REFUSED, content_type="text/plain; charset=utf-8")
        return self.get_response(request)
