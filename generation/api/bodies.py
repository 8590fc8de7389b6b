"""Request bodies: refused by their declared size before any of them is read, read only once the
request is worth reading, and never waited for past REQUEST_BODY_TIMEOUT (10 s) after the headers.

When a body is read:
- API views that take one (`TakesBody`) read it after DRF's authentication, permissions and
  throttles: a request without a valid token costs no read at all.
- The admin's forms are read before their view, since Django's CSRF check reads them first.
- No other route takes a body: one sent anyway is never read.
A body not read in full by the time the answer goes out is refused (`refuse_rest`): gunicorn
would otherwise drain it on the same thread to reuse the connection, at the client's pace.

The wall clock: gunicorn's wsgi.input calls recv() until a read is full, so socket timeouts
cannot bound it; the watchdog (watchdog.py) shuts the socket's read side at the deadline and the
read ends at once: 408 `request_timeout`. A client that drops the connection, or breaks the
chunked framing, mid-body gets 400 `invalid_request`. Either is one log line, never a traceback.

At most half of a worker's threads wait on bodies at once (`readers`, sized by gunicorn.conf.py).
When they all are, another body gets IN_FLIGHT_GRACE to arrive (a body in flight does), else 503
`server_busy`: slow clients never hold every thread, and /healthz keeps answering. Behind the
proxy (deploy/nginx.conf) bodies arrive whole and this never triggers. Outside gunicorn
(runserver, the test client) there is no socket to cut: the deadline is checked between reads.
"""
import io
import logging
import threading
import time

from django.conf import settings
from django.http import JsonResponse

from ..error_codes import retry_after_of
from .errors import CatalogueError, error_body
from .watchdog import Watchdog, end_after_answer, refuse_rest

logger = logging.getLogger("generation")
watchdog = Watchdog(clock=time.monotonic)
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
READ_STEP = 64 * 1024
DEADLINE, BUSY = "deadline", "busy"  # why a read was cut
# Seconds to read a body that is already on its way or in the socket's buffer: granted without a
# slot when every slot is taken, and past the deadline when the read starts late (a slow database
# during authentication must not turn a body that came in time into a 408).
IN_FLIGHT_GRACE = 0.5


class Readers:
    """How many threads of this process may wait on a request body at once (None: no limit)."""

    def __init__(self, limit: int | None = None):
        self.limit = limit
        self.busy = 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self.limit is not None and self.busy >= self.limit:
                return False
            self.busy += 1
            return True

    def give_back(self) -> None:
        with self._lock:
            self.busy -= 1


readers = Readers()


class RequestBody:
    """The body as Django reads it (request.body, request.POST, DRF's parsers): fetched from the
    client at most once, whole, within its size and its deadline, then served from memory."""

    def __init__(self, environ: dict, *, length: int | None, deadline: float, limit: int):
        self.environ = environ
        self.length, self.deadline, self.limit = length, deadline, limit  # length None: chunked
        self.data: io.BytesIO | None = None
        self.failure: CatalogueError | None = None

    @property
    def complete(self) -> bool:
        return self.data is not None

    def read(self, size: int = -1) -> bytes:
        self.load()
        return self.data.read(size)

    def readline(self, size: int = -1) -> bytes:
        self.load()
        return self.data.readline(size)

    def close(self) -> None:  # Django closes its stream once it holds the body
        pass

    def load(self) -> None:
        """Fetch the whole body, or raise (and remember) the error the client gets for it."""
        if self.failure is not None:
            raise self.failure
        if self.data is not None:
            return
        chunks, received, ended, cut = self._receive()
        if received > self.limit:
            self._fail(CatalogueError("payload_too_large", f"The request body is over {self.limit // 1024} KB."))
        if received == self.length or (self.length is None and ended):
            self.data = io.BytesIO(b"".join(chunks))
            self.environ["CONTENT_LENGTH"] = str(received)  # a chunked body has none; DRF reads it
            return
        if cut == BUSY:
            self._fail(CatalogueError("server_busy", wait=retry_after_of("server_busy")), "request_body_refused_busy", received)
        if cut == DEADLINE:
            seconds = settings.REQUEST_BODY_TIMEOUT
            self._fail(CatalogueError("request_timeout", f"The request body did not arrive within {seconds:g} s "
                                                         "of its headers."), "request_body_timeout", received)
        self._fail(CatalogueError("invalid_request", "The request body ended before it was complete."),
                   "request_body_incomplete", received)

    def _receive(self) -> tuple[list[bytes], int, bool, str | None]:
        """(chunks, bytes received, whether the body ended, None or why it was cut: DEADLINE, BUSY)."""
        source, sock = self.environ["wsgi.input"], self.environ.get("gunicorn.socket")
        want = self.limit + 1 if self.length is None else self.length
        chunks, received, ended = [], 0, False
        now = watchdog.clock()
        deadline = max(self.deadline, now + IN_FLIGHT_GRACE)
        ticket = holds = None
        if sock is not None:
            holds = readers.take()
            ticket = watchdog.arm(sock, deadline, checkpoint=None if holds else now + IN_FLIGHT_GRACE,
                                  may_go_on=readers.take)
        try:
            while received < want and watchdog.clock() < deadline:
                try:
                    data = source.read(min(want - received, READ_STEP))
                except Exception:  # noqa: BLE001 - the client's bytes: broken chunk framing, a reset connection
                    break
                if not data:
                    ended = True
                    break
                chunks.append(data)
                received += len(data)
        finally:
            cut = None
            if ticket is not None:
                if watchdog.disarm(ticket):
                    cut = DEADLINE if holds or ticket.went_on else BUSY
                if holds or ticket.went_on:
                    readers.give_back()
        if cut is None and not ended and received < want and watchdog.clock() >= deadline:
            cut = DEADLINE  # no socket to shut (not gunicorn): the deadline, checked between reads
        return chunks, received, ended and not cut, cut

    def _fail(self, error: CatalogueError, event: str | None = None, received: int = 0):
        self.failure = error
        if event:
            logger.warning(event, extra={"event": event, "received_bytes": received,
                                         "content_length": "chunked" if self.length is None else self.length})
        raise error


def error_response(error: CatalogueError) -> JsonResponse:
    response = JsonResponse(error_body(code=error.code, message=str(error.detail), retry_after=error.wait),
                            status=error.status_code)
    if error.wait is not None:
        response["Retry-After"] = str(error.wait)
    return response


class TakesBody:
    """For API views that take a body: it is read once the request has passed authentication,
    permissions and throttles (the end of DRF's initial()), and only for a method the view serves."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        body = getattr(request, "bounded_body", None)
        if body is not None and request.method in BODY_METHODS and hasattr(self, request.method.lower()):
            body.load()


class RequestBodyMiddleware:
    """Refuses a body by its declared size, bounds the reading of the rest, and refuses whatever
    was not read once the answer is ready."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        arrived = watchdog.clock()
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
        declared = request.META.get("CONTENT_LENGTH") or "0"
        if chunked:
            length = None
        elif not declared.isascii() or not declared.isdigit():
            return self._refuse(request, CatalogueError("invalid_request", "Content-Length is not a number."))
        else:
            length = int(declared)
            if length > limit:
                return self._refuse(request, CatalogueError(
                    "payload_too_large", f"The request body is over {limit // 1024} KB."))
        if length == 0:
            return self.get_response(request)
        body = RequestBody(request.META, length=length, deadline=arrived + settings.REQUEST_BODY_TIMEOUT, limit=limit)
        request.bounded_body = body
        request._stream = body  # Django's own reader of the body; ours bounds it (size and time)
        response = self.get_response(request)
        if body.failure is not None and response.status_code == body.failure.status_code:
            response._has_been_logged = True  # our event says it, with the bytes received; Django would repeat it
        if not body.complete:
            self._refuse_rest(request, response)
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        body = getattr(request, "bounded_body", None)
        if body is None or "admin" not in request.resolver_match.app_names:
            return None
        try:
            body.load()
        except CatalogueError as error:
            return error_response(error)
        return None

    def process_exception(self, request, exception):
        """A Django view that read its body past the deadline: the client's error, not a 500."""
        body = getattr(request, "bounded_body", None)
        if body is not None and exception is body.failure:
            return error_response(exception)
        return None

    def _refuse(self, request, error: CatalogueError) -> JsonResponse:
        return self._refuse_rest(request, error_response(error))

    @staticmethod
    def _refuse_rest(request, response):
        """The body's rest is never read, and the connection ends once `response` is written (Django
        closes a response after gunicorn has sent it, before gunicorn would read the next request)."""
        sock = request.META.get("gunicorn.socket")
        if sock is not None:
            refuse_rest(sock)
            response._resource_closers.append(lambda: end_after_answer(sock))
        return response
