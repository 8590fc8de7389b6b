"""`/healthz`: is this instance able to serve? For load balancers and orchestrators.

200 while the database answers, 503 when it does not; Redis is reported but
optional (README, "When things break"), so Redis down alone keeps 200. `workers` counts the async
workers whose heartbeat is live (docs/WORKER.md). Probes send GET or HEAD
with no cookie and no token, so the view is CSRF-exempt and needs no auth;
any other method gets the API's JSON 405, not Django's HTML CSRF page.

It answers within PROBE_TIMEOUT whatever the database does: the query runs on a thread of its
own and the probe waits for it that long at most. The pool's own wait for a connection (10 s),
a connect to a host that does not answer (libpq waits minutes, and accepts no timeout under
2 s) or a query stuck on a dead connection would each outlast an orchestrator's healthcheck.
"""
import threading

from django.db import Error as DatabaseError, connection, connections
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from redis.exceptions import RedisError

from .. import redis_link
from ..engine import heartbeats
from .errors import error_body

OK, DOWN, NOT_CONFIGURED = "ok", "down", "not configured"


# Seconds a probe waits for the database: /healthz and /metrics answer within 2 s.
PROBE_TIMEOUT = 1.0


class BoundedCheck:
    """Runs `check` on a thread of its own and waits for it `timeout` seconds at most. One run
    at a time: callers that come while one is under way wait for that one, so a database that
    hangs holds one thread, however often it is probed."""

    def __init__(self, check):
        self.check = check
        self._lock = threading.Lock()
        self._current: tuple[threading.Event, dict] | None = None

    def run(self, timeout: float):
        """The check's result, or None when it did not finish in time."""
        with self._lock:
            if self._current is None or self._current[0].is_set():
                self._current = (threading.Event(), {})
                threading.Thread(target=self._fly, args=self._current, name="bounded-check", daemon=True).start()
            done, outcome = self._current
        return outcome.get("result") if done.wait(timeout) else None

    def _fly(self, done: threading.Event, outcome: dict) -> None:
        try:
            outcome["result"] = self.check()
        finally:
            connections.close_all()  # this thread's own connections: returned to the pool, or closed
            done.set()


def _select_one() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return DOWN
    return OK


_database_probe = BoundedCheck(_select_one)


def database_state() -> str:
    return _database_probe.run(PROBE_TIMEOUT) or DOWN


def redis_state() -> str:
    client = redis_link.client()
    if client is None:
        return NOT_CONFIGURED
    try:
        client.ping()
    except RedisError:
        return DOWN
    return OK


@csrf_exempt
def healthz(request):
    if request.method not in ("GET", "HEAD"):
        response = JsonResponse(error_body(code="method_not_allowed", message=f'Method "{request.method}" not allowed.'),
                                status=405)
        response["Allow"] = "GET, HEAD"
        return response
    database = database_state()
    redis = redis_state()
    # Async workers listening, from their heartbeats (0 without Redis: async requests then run in process).
    workers = (heartbeats.count() or 0) if redis == OK else 0
    body = {"status": "ok" if database == OK else "unavailable", "database": database, "redis": redis,
            "workers": workers}
    response = JsonResponse(body, status=200 if database == OK else 503)
    response["Cache-Control"] = "no-store"
    return response
