"""X-Request-ID on every response, and in every log line written while serving the request."""
import re
import uuid

from ..logfmt import http_request_id

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
