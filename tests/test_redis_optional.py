"""Redis is optional at run time: the throttle, the queue and /healthz on a Redis that is up,
on one whose port is closed, and with none configured. Real Redis (REDIS_URL) where it is up."""
import os
import socket
import threading
from types import SimpleNamespace

import pytest
from django.test import Client

from generation import redis_link
from generation.api.throttle import LocalWindows, TokenRateThrottle
from generation.models import ApiToken, GenerationRequest
from tests.markers import needs_redis
from tests.test_resilience import events, names

pytestmark = pytest.mark.django_db


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"  # nothing listens there once the socket is closed


@pytest.fixture
def fresh_links(monkeypatch):
    """Each test has its own in-process windows (conftest already believes Redis up)."""
    monkeypatch.setattr(TokenRateThrottle, "local", LocalWindows())


@pytest.fixture
def redis_down(settings, fresh_links):
    settings.REDIS_URL = closed_port_url()
    return settings.REDIS_URL


@pytest.fixture
def redis_up(settings, fresh_links):
    settings.REDIS_URL = os.environ["REDIS_URL"]
    return redis_link.client()


def hit(throttle_token: str, n: int) -> list[bool]:
    """n requests from one token straight through the throttle, each in its own thread, all at once."""
    request = SimpleNamespace(auth=SimpleNamespace(pk=throttle_token))
    barrier, results = threading.Barrier(n), []
    lock = threading.Lock()

    def one():
        barrier.wait()
        allowed = TokenRateThrottle().allow_request(request, None)
        with lock:
            results.append(allowed)

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@needs_redis
def test_it_admits_exactly_the_allowance_of_50_concurrent_requests_in_redis(redis_up, settings):
    settings.SPRITE_THROTTLE_RATE = "10/min"
    redis_up.delete("sprite:throttle:concurrent-token")

    results = hit("concurrent-token", 50)

    assert results.count(True) == 10
    assert int(redis_up.get("sprite:throttle:concurrent-token")) == 50
    assert 0 < redis_up.pttl("sprite:throttle:concurrent-token") <= 60_000


@needs_redis
def test_it_answers_429_throttled_with_the_rest_of_the_window_as_retry_after(api, redis_up, settings):
    settings.SPRITE_THROTTLE_RATE = "2/min"

    responses = [api.post("/v1/generate", {"prompt": "x", "size": 8}, format="json") for _ in range(3)]

    assert [r.status_code for r in responses] == [200, 200, 429]
    response = responses[2]
    assert response.json()["error"]["code"] == "throttled"
    retry_after = response.json()["error"]["retry_after"]
    assert int(response["Retry-After"]) == retry_after
    key = f"sprite:throttle:{ApiToken.objects.get().pk}"
    assert 0 < redis_up.pttl(key) <= retry_after * 1000 <= 60_000  # what is left of the window, rounded up
    assert int(redis_up.get(key)) == 3
    assert GenerationRequest.objects.count() == 2


def test_it_throttles_in_process_when_redis_is_down_and_logs_the_outage_once(api, redis_down, settings, caplog):
    settings.SPRITE_THROTTLE_RATE = "3/min"

    responses = [api.post("/v1/generate", {"prompt": "x", "size": 8}, format="json") for _ in range(5)]

    assert [r.status_code for r in responses] == [200, 200, 200, 429, 429]
    assert responses[3].json()["error"]["code"] == "throttled"
    assert int(responses[3]["Retry-After"]) == responses[3].json()["error"]["retry_after"] > 0
    outages = [fields for name, fields in events(caplog) if name == "redis_unavailable"]
    assert [o["component"] for o in outages] == ["throttle"]
    assert outages[0]["error"] == "ConnectionError"


@needs_redis
def test_it_goes_back_to_redis_when_it_returns_and_says_so(redis_down, settings, caplog, monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(TokenRateThrottle.link, "clock", lambda: clock[0])
    assert hit("returning-token", 1) == [True]  # Redis down: counted in process
    settings.REDIS_URL = os.environ["REDIS_URL"]
    redis_link.client().delete("sprite:throttle:returning-token")

    hit("returning-token", 1)  # within the retry interval: still in process, Redis not tried
    assert redis_link.client().get("sprite:throttle:returning-token") is None
    clock[0] += redis_link.RETRY_INTERVAL
    hit("returning-token", 1)

    assert int(redis_link.client().get("sprite:throttle:returning-token")) == 1
    assert names(caplog) == ["redis_unavailable", "redis_recovered"]


def test_it_counts_in_process_when_redis_is_not_configured(settings, fresh_links, caplog):
    settings.REDIS_URL = ""
    settings.SPRITE_THROTTLE_RATE = "4/min"

    assert hit("local-token", 6).count(True) == 4
    assert "redis_unavailable" not in names(caplog)


def test_local_windows_reopen_when_the_period_is_over():
    now = [0.0]
    windows = LocalWindows(clock=lambda: now[0])

    assert [windows.hit("k", 60)[0] for _ in range(3)] == [1, 2, 3]
    now[0] = 59.5
    assert windows.hit("k", 60) == (4, 0.5)
    now[0] = 60.0
    assert windows.hit("k", 60) == (1, 60.0)


def test_it_serves_an_async_request_in_process_when_the_redis_port_is_closed(api, redis_down, caplog):
    response = api.post("/v1/generate", {"prompt": "coin", "async": True}, format="json")

    assert response.status_code == 202
    assert api.get(response["Location"]).json()["status"] == "succeeded"
    assert "queue_unavailable" in names(caplog)
    assert [f["component"] for n, f in events(caplog) if n == "redis_unavailable"] == ["throttle", "queue"]


@needs_redis
def test_healthz_reports_redis_ok(client, redis_up):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "redis": "ok", "workers": 0}


def test_healthz_stays_200_and_reports_redis_down_on_a_closed_port(client, redis_down):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "redis": "down", "workers": 0}


def test_healthz_reports_redis_not_configured(client, settings):
    settings.REDIS_URL = ""

    assert client.get("/healthz").json()["redis"] == "not configured"


def test_healthz_answers_head_without_a_body(client):
    response = Client().head("/healthz")

    assert response.status_code == 200
    assert response.content == b""


def test_healthz_answers_post_with_a_json_405_not_a_csrf_page():
    response = Client(enforce_csrf_checks=True).post("/healthz", {"x": 1})

    assert response.status_code == 405
    assert response["Content-Type"] == "application/json"
    assert response["Allow"] == "GET, HEAD"
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert set(response.json()) == {"error", "request_id"}


HITTER = """
import os, sys, threading, time
import django
django.setup()
from django.conf import settings
settings.REDIS_URL, settings.SPRITE_THROTTLE_RATE = os.environ["HIT_REDIS_URL"], "10/min"
from types import SimpleNamespace
from generation.api.throttle import TokenRateThrottle
request = SimpleNamespace(auth=SimpleNamespace(pk="multi-process-token"))
allowed = []
def one():
    allowed.append(TokenRateThrottle().allow_request(request, None))
threads = [threading.Thread(target=one) for _ in range(25)]
time.sleep(max(0.0, float(sys.argv[1]) - time.time()))  # every process starts at the same instant
for t in threads: t.start()
for t in threads: t.join()
print(allowed.count(True))
"""


@needs_redis
@pytest.mark.process
def test_it_admits_exactly_the_allowance_across_processes(redis_up):
    """Four processes (as four gunicorn workers would be), 25 requests each at once, one token at 10/min."""
    import subprocess
    import sys
    import time as clock

    from tests.test_configuration import ROOT

    redis_up.delete("sprite:throttle:multi-process-token")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "HIT_REDIS_URL": os.environ["REDIS_URL"]}
    start = str(clock.time() + 8)  # time for four interpreters to start and import Django
    procs = [subprocess.Popen([sys.executable, "-c", HITTER, start], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    counts = [int(p.communicate(timeout=60)[0].strip() or -1) for p in procs]

    assert sum(counts) == 10, counts
    assert int(redis_up.get("sprite:throttle:multi-process-token")) == 100
