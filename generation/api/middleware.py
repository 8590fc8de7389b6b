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


class NulCharacterMiddleware:
    """400 for a NUL (`%00`) in the path or the query string, for every view at once.

    PostgreSQL's text cannot hold NUL, so a NUL that reaches a query fails it (a 500): an admin
    filter (`?model_used=%00`), a search, an object id in an admin path, a third-party admin's
    filter alike. Nothing we serve has a use for one. API paths answer in the API's error shape.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        query = request.GET
        if "\x00" in request.path or any("\x00" in key or any("\x00" in v for v in query.getlist(key))
                                          for key in query):
            if request.path.startswith("/v1/"):
                return json_error("invalid_request", "A NUL character is not allowed in the address.")
            return HttpResponseBadRequest("A NUL character is not allowed in the address.",
                                          content_type="text/plain; charset=utf-8")
        return self.get_response(request)
