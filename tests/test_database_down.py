"""The database unreachable: the API answers 503 `service_unavailable` in its own shape, /healthz 503.

The test's own connection is pointed at a port nobody listens on, as a database host that
is down looks to the service: every query raises psycopg's OperationalError."""
import pytest
from django.db import connection
from django.test import Client

from tests.markers import needs_postgres
from tests.test_redis_optional import closed_port_url

pytestmark = [needs_postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def database_down():
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update(HOST="127.0.0.1", PORT=closed_port_url().split(":")[2].split("/")[0])
    pool = connection.settings_dict.get("OPTIONS", {}).get("pool")
    if pool:  # a pool keeps its connections: make a new one, to the dead port, that gives up in 0.25 s
        connection.close_pool()
        connection.settings_dict["OPTIONS"] = {**connection.settings_dict["OPTIONS"], "pool": {**pool, "timeout": 0.25}}
    yield
    connection.close()
    if pool:
        connection.close_pool()
    connection.settings_dict.clear()
    connection.settings_dict.update(saved)


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
