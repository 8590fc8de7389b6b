"""Every answer under /v1/ carries X-Request-ID, and every error there is the contract's JSON with a request id."""
import json
import logging
import uuid

import pytest
from django.test import Client
from rest_framework.test import APIClient

from generation.api.middleware import CLIENT_ID
from generation.logfmt import EventFormatter, JsonFormatter, RequestIdFilter, http_request_id
from generation.models import GenerationRequest

pytestmark = pytest.mark.django_db


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert body["request_id"] == response["X-Request-ID"]
    return body


@pytest.mark.parametrize("debug", [True, False], ids=["debug", "production"])
@pytest.mark.parametrize(("method", "path"), [
    ("get", "/v1/nothing-here"),
    ("post", "/v1/nothing-here"),
    ("get", "/v1/generations/not-a-uuid"),
    ("get", "/v1/generations/"),
    ("delete", "/v1/generations/12345"),
    ("get", "/v1/generate/extra"),
])
def test_it_answers_unknown_paths_under_v1_with_json_404(api, settings, debug, method, path):
    settings.DEBUG = debug

    assert_error(getattr(api, method)(path), 404, "not_found")


def test_it_answers_json_404_for_an_unknown_path_without_a_token_or_csrf_token():
    client = Client(enforce_csrf_checks=True)

    assert_error(client.post("/v1/nothing", "{}", content_type="application/json"), 404, "not_found")


def test_it_answers_json_404_for_someone_elses_generation(api, staff_api):
    theirs = staff_api.post("/v1/generate", {"prompt": "coin", "size": 16}, format="json").json()["id"]

    assert_error(api.get(f"/v1/generations/{theirs}"), 404, "not_found")
    assert_error(api.get(f"/v1/generations/{uuid.uuid4()}"), 404, "not_found")


@pytest.mark.parametrize(("method", "path"), [("get", "/v1/generate"), ("put", "/v1/generate"),
                                              ("post", "/v1/styles"), ("delete", "/v1/metrics")])
def test_it_answers_405_as_json(staff_api, method, path):
    response = getattr(staff_api, method)(path)

    assert_error(response, 405, "method_not_allowed")
    assert response["Allow"]


def test_it_answers_401_with_a_request_id():
    anonymous = APIClient()
    assert_error(anonymous.post("/v1/generate", {"prompt": "x"}, format="json"), 401, "unauthorized")


def test_it_names_the_generation_in_a_failed_generations_body(api, configure):
    configure(model="openai/gpt-image-2")  # the tests' OpenAI base URL is a closed port: upstream_error

    response = api.post("/v1/generate", {"prompt": "coin", "max_wait": 0}, format="json")

    assert response.status_code >= 500
    row = GenerationRequest.objects.get()
    assert response.json()["request_id"] == str(row.id)
    assert response["X-Request-ID"] != str(row.id)


def test_it_keeps_a_clients_own_request_id(api):
    response = api.get("/v1/styles", HTTP_X_REQUEST_ID="plugin-42.abc_DEF~!")

    assert response["X-Request-ID"] == "plugin-42.abc_DEF~!"


@pytest.mark.parametrize("supplied", ["", "has space", "x" * 201, "tab\there", "caf\u00e9"])
def test_it_replaces_a_request_id_that_is_not_1_to_200_visible_ascii(supplied):
    response = Client().get("/v1/styles", HTTP_X_REQUEST_ID=supplied)

    assert response.status_code == 200
    made = response["X-Request-ID"]
    assert made != supplied and len(made) == 32 and int(made, 16) >= 0


def test_it_puts_a_request_id_on_every_response_even_outside_v1():
    for path in ("/healthz", "/admin/login/", "/metrics", "/nowhere"):
        assert CLIENT_ID.fullmatch(Client().get(path)["X-Request-ID"])


def test_a_202_says_when_to_poll(api):
    response = api.post("/v1/generate", {"prompt": "coin", "async": True}, format="json")

    assert response.status_code == 202
    assert response["Location"].startswith("/v1/generations/")
    assert int(response["Retry-After"]) >= 1


def test_log_lines_carry_the_http_request_id_beside_the_generations(api, caplog):
    caplog.handler.addFilter(RequestIdFilter())
    caplog.set_level(logging.INFO, logger="generation")

    response = api.post("/v1/generate", {"prompt": "coin", "size": 16}, format="json", HTTP_X_REQUEST_ID="req-7")

    done = next(r for r in caplog.records if getattr(r, "event", "") == "generation_succeeded")
    assert done.request_id == response.json()["id"]
    assert done.http_request_id == "req-7"
    text = EventFormatter().format(done)
    assert f"request_id={response.json()['id']}" in text and "http_request_id=req-7" in text


def test_a_log_line_without_a_generation_takes_the_http_request_id():
    outside = logging.makeLogRecord({"msg": "Not Found: /v1/x", "name": "django.request"})
    inside = logging.makeLogRecord({"msg": "Not Found: /v1/x", "name": "django.request"})

    RequestIdFilter().filter(outside)
    token = http_request_id.set("req-9")
    try:
        RequestIdFilter().filter(inside)
    finally:
        http_request_id.reset(token)

    assert not hasattr(outside, "request_id")
    assert inside.request_id == "req-9" and not hasattr(inside, "http_request_id")


def test_json_log_lines_parse_with_the_same_fields_as_text_lines():
    record = logging.makeLogRecord({"msg": "rate_limited_retrying", "levelname": "WARNING", "name": "generation",
                                    "event": "rate_limited_retrying", "request_id": "abc", "attempt": 2,
                                    "delay": "1.500", "hint": None, "detail": 'quote " and\nnewline'})

    line = JsonFormatter().format(record)

    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["event"] == "rate_limited_retrying" and parsed["level"] == "WARNING"
    assert {k: parsed[k] for k in ("request_id", "attempt", "delay", "hint", "detail")} == {
        "request_id": "abc", "attempt": 2, "delay": "1.500", "hint": None, "detail": 'quote " and\nnewline'}
    assert "request_id=abc attempt=2" in EventFormatter().format(record)
