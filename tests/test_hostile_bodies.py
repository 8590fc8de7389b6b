"""Hostile bodies: too large (413 before reading), nested too deep (400, not a RecursionError).
Chunked bodies through a real gunicorn are in test_process_faults.py."""
import json

import pytest
from django.conf import settings

from generation.api.parsers import MAX_DEPTH, nesting_depth
from generation.models import GenerationRequest

pytestmark = pytest.mark.django_db
LIMIT = 64 * 1024


def post_raw(api, body: bytes, **extra):
    return api.generic("POST", "/v1/generate", body, content_type="application/json", **extra)


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error", "request_id"} and body["error"]["code"] == code
    return body


def test_django_reads_at_most_what_the_middleware_lets_through():
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE == LIMIT


def test_it_answers_413_to_a_body_over_64_kb(api):
    body = json.dumps({"prompt": "x" * LIMIT}).encode()

    response = post_raw(api, body)

    error = assert_error(response, 413, "payload_too_large")["error"]
    assert "64 KB" in error["message"]
    assert not GenerationRequest.objects.exists()


def test_it_answers_413_from_the_content_length_before_reading_the_body(api):
    # The declared length is all it looks at: the 2 bytes actually sent are never read.
    response = post_raw(api, b"{}", CONTENT_LENGTH=str(10 * 1024 * 1024))

    assert_error(response, 413, "payload_too_large")


def test_it_reads_a_body_of_exactly_64_kb(api):
    padding = LIMIT - len(json.dumps({"prompt": "cat", "pad": ""}))
    body = json.dumps({"prompt": "cat", "pad": " " * padding}).encode()
    assert len(body) == LIMIT

    response = post_raw(api, body)

    assert response.status_code == 200, response.content[:300]


def test_it_answers_400_to_a_content_length_that_is_not_a_number(api):
    response = post_raw(api, b"{}", CONTENT_LENGTH="12abc")

    assert_error(response, 400, "invalid_request")


def test_it_answers_400_to_json_nested_950_deep(api):
    body = ("[" * 950 + "]" * 950).encode()  # 1.9 KB: a RecursionError (500) in the stock decoder

    response = post_raw(api, body)

    error = assert_error(response, 400, "invalid_request")["error"]
    assert f"nested deeper than {MAX_DEPTH}" in error["message"]
    assert not GenerationRequest.objects.exists()


def test_it_answers_400_one_level_past_the_depth_limit(api):
    nested = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    too_deep = json.dumps({"prompt": "cat"})[:-1] + ', "x": ' + nested + "}"

    assert_error(post_raw(api, too_deep.encode()), 400, "invalid_request")


def test_it_accepts_nesting_up_to_the_limit(api):
    nested = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)  # the object around it is level 1
    body = json.dumps({"prompt": "cat"})[:-1] + ', "x": ' + nested + "}"

    assert post_raw(api, body.encode()).status_code == 200


def test_it_does_not_count_brackets_inside_strings(api):
    response = api.post("/v1/generate", {"prompt": "[{" * 400 + '\\"]' + "}]" * 10}, format="json")

    assert response.status_code == 200


def test_it_answers_400_to_a_body_that_is_not_utf8(api):
    assert_error(post_raw(api, b'{"prompt": "\xff\xfe"}'), 400, "invalid_request")


@pytest.mark.parametrize(("text", "depth"), [
    ("", 0), ("1", 0), ("{}", 1), ('{"a": [1, {"b": []}]}', 4), ('"[[[["', 0), (r'["\"[[", []]', 2),
    (r'{"a": "\\", "b": [[]]}', 3), ("[" * 5000, 5000),
])
def test_nesting_depth(text, depth):
    assert nesting_depth(text) == depth
