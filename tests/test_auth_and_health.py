import logging
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import serializers
from django.core.cache import cache
from django.core.management import call_command
from django.db import DatabaseError, connections
from django.utils import timezone
from rest_framework.test import APIClient

from generation.models import ApiToken, GenerationAttempt, GenerationRequest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer not-a-token", "Bearer abc.def", "Token something", "Basic dXNlcjpwYXNz"],
    ids=["missing", "empty-bearer", "unknown", "unknown-prefixed", "wrong-scheme", "basic"],
)
def test_it_answers_401_without_a_valid_token(header):
    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)

    response = client.post("/v1/generate", {"prompt": "x"}, format="json")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert response["WWW-Authenticate"] == "Bearer"
    assert not GenerationRequest.objects.exists()


def test_it_answers_401_for_a_revoked_token(api, token_key):
    token = ApiToken.objects.get()
    token.revoked = True
    token.save()

    response = api.post("/v1/generate", {"prompt": "x"}, format="json")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


def test_it_refuses_the_token_of_a_deactivated_user(api, user):
    user.is_active = False
    user.save()

    response = api.post("/v1/generate", {"prompt": "x"}, format="json")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert not GenerationRequest.objects.exists()


def test_it_refuses_an_expired_token(api):
    ApiToken.objects.update(expiry_date=timezone.now() - timedelta(seconds=1))

    response = api.post("/v1/generate", {"prompt": "x"}, format="json")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


def test_it_keeps_the_token_out_of_every_row_and_log_line(api, token_key, caplog):
    caplog.set_level(logging.DEBUG)
    api.post("/v1/generate", {"prompt": "x", "size": 8}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    wrong = APIClient()
    wrong.credentials(HTTP_AUTHORIZATION=f"Bearer {token_key}x")
    assert wrong.post("/v1/generate", {"prompt": "x"}, format="json").status_code == 401

    secret = token_key.split(".", 1)[1]
    rows = serializers.serialize("json", [*ApiToken.objects.all(), *GenerationRequest.objects.all(),
                                          *GenerationAttempt.objects.all()])
    assert GenerationRequest.objects.count() == 1
    assert secret not in rows
    assert secret not in caplog.text and secret not in "".join(map(str, caplog.records))


def test_it_records_when_a_token_was_last_used(api):
    assert ApiToken.objects.get().last_used_at is None

    api.get("/v1/metrics")

    assert ApiToken.objects.get().last_used_at is not None


def test_it_forbids_metrics_to_a_non_staff_token(api):
    response = api.get("/v1/metrics")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


def test_it_reports_metrics_to_staff(staff_api, api):
    api.post("/v1/generate", {"prompt": "slime"}, format="json")
    api.post("/v1/generate", {"prompt": "bat", "size": 16}, format="json")

    body = staff_api.get("/v1/metrics").json()

    assert body["total_requests"] == 2
    assert body["successful_requests"] == 2
    assert body["failed_requests"] == 0
    assert body["retries"] == 0 and body["fallbacks_used"] == 0
    assert body["total_latency_ms"] == sum(GenerationRequest.objects.values_list("latency_ms", flat=True))


def test_it_throttles_a_token_past_its_allowance(api, settings):
    settings.SPRITE_THROTTLE_RATE = "2/min"
    cache.clear()

    responses = [api.post("/v1/generate", {"prompt": "x", "size": 8}, format="json") for _ in range(3)]

    assert [r.status_code for r in responses] == [200, 200, 429]
    assert responses[2].json()["error"]["code"] == "throttled"
    assert int(responses[2]["Retry-After"]) == responses[2].json()["error"]["retry_after"] > 0
    assert GenerationRequest.objects.count() == 2


def test_healthz_answers_200_when_the_database_answers(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_healthz_answers_503_when_the_database_is_down(client, monkeypatch):
    def refuse(*args, **kwargs):
        raise DatabaseError("connection refused")

    # On the class: the probe queries from a thread of its own (generation/api/health.py).
    monkeypatch.setattr(type(connections["default"]), "cursor", refuse)

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["database"] == "down"


def test_create_api_token_prints_a_working_token_on_its_last_line(capsys):
    call_command("create_api_token", "alice", "--staff")
    key = capsys.readouterr().out.strip().splitlines()[-1]

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert client.get("/v1/metrics").status_code == 200
    token = ApiToken.objects.get()
    assert token.user.username == "alice" and token.user.is_staff


def test_create_api_token_reuses_an_existing_user(capsys):
    call_command("create_api_token", "bob")
    call_command("create_api_token", "bob")

    assert ApiToken.objects.filter(user__username="bob").count() == 2
    assert get_user_model().objects.filter(username="bob").count() == 1
    assert not get_user_model().objects.get(username="bob").is_staff
