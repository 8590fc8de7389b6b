"""`/healthz`: is this instance able to serve? For load balancers and orchestrators.

200 while the database answers, 503 when it does not; Redis is reported but
optional (README, "When things break"), so Redis down alone keeps 200. `workers` counts the async
workers whose heartbeat is live (docs/WORKER.md). Probes send GET or HEAD
with no cookie and no token, so the view is CSRF-exempt and needs no auth;
any other method gets the API's JSON 405, not Django's HTML CSRF page.
"""
from django.db import Error as DatabaseError, connection
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from redis.exceptions import RedisError

from .. import redis_link
from ..engine import heartbeats
from .errors import error_body

OK, DOWN, NOT_CONFIGURED = "ok", "down", "not configured"


def database_state() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return DOWN
    return OK


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
