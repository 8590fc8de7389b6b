"""The database unreachable: the API answers 503 `service_unavailable` in its own shape, /healthz 503.

The test's own connection is pointed at a port nobody listens on, as a database host that
is down looks to the service: every query raises psycopg's OperationalError."""
import contextlib
import socket
import threading

import pytest
from django.db import connection
from django.test import Client

from generation.api import health
from tests.markers import needs_postgres
from tests.test_redis_optional import closed_port_url

pytestmark = [needs_postgres, pytest.mark.django_db(transaction=True)]


@contextlib.contextmanager
def database_at(port: int, *, pool_timeout: float):
    """Every connection, in every thread, goes to 127.0.0.1:`port`; a pool gives up after `pool_timeout`."""
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update(HOST="127.0.0.1", PORT=str(port))
    pool = connection.settings_dict.get("OPTIONS", {}).get("pool")
    if pool:  # a pool keeps its connections: make a new one, to that port
        connection.close_pool()
        connection.settings_dict["OPTIONS"] = {**connection.settings_dict["OPTIONS"],
                                               "pool": {**pool, "timeout": pool_timeout}}
    try:
        yield
    finally:
        connection.close()
        if pool:
            connection.close_pool()  # a probe still waiting on it gets its error and ends
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)


@pytest.fixture
def database_down():
    with database_at(int(closed_port_url().split(":")[2].split("/")[0]), pool_timeout=0.25):
        yield


@pytest.fixture
def database_hangs():
    """A host that accepts the connection and never says a word, behind a pool that would wait
    10 minutes for it: only the probe's own bound can answer in time."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        with database_at(silent.getsockname()[1], pool_timeout=600):
            yield silent


@pytest.mark.parametrize(("method", "path"), [("post", "/v1/generate"), ("get", "/v1/metrics"),
                                              ("get", "/v1/generations/00000000-0000-0000-0000-000000000000")])
def test_the_api_answers_503_service_unavailable(api, database_down, caplog, method, path):
    response = getattr(api, method)(path, {"prompt": "slime"} if method == "post" else None, format="json")

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "service_unavailable"
    assert int(response["Retry-After"]) == response.json()["error"]["retry_after"] == 5
    assert set(response.json()) == {"error", "request_id"}
    assert "database_unavailable" in [getattr(r, "event", "") for r in caplog.records]


def test_healthz_answers_503_naming_the_database(database_down, settings):
    settings.REDIS_URL = ""

    response = Client().get("/healthz")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "down", "redis": "not configured",
                               "workers": 0}


def answer_in_thread(path: str) -> dict:
    """GET `path` from a thread, so that a server that hangs fails the test instead of stalling it."""
    outcome = {}
    thread = threading.Thread(target=lambda: outcome.update(response=Client().get(path)), daemon=True)
    thread.start()
    thread.join(timeout=60)
    assert "response" in outcome, f"{path} did not answer while the database hung"
    return outcome


def test_healthz_and_metrics_answer_while_the_database_hangs(database_hangs, settings, monkeypatch):
    settings.REDIS_URL = ""
    monkeypatch.setattr(health, "PROBE_TIMEOUT", 0.5)

    healthz = answer_in_thread("/healthz")["response"]
    metrics = answer_in_thread("/metrics")["response"]

    assert healthz.status_code == 503
    assert healthz.json() == {"status": "unavailable", "database": "down", "redis": "not configured",
                               "workers": 0}
    assert metrics.status_code == 200 and b"sprite_requests_total" in metrics.content
