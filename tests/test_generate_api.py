"""The plugin API end to end through the real view, on the built-in offline model."""
import base64
import io
import json

import pytest
from PIL import Image

from generation.models import GenerationAttempt, GenerationRequest

pytestmark = pytest.mark.django_db


def png_of(body: dict) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(body["images"][0]["b64_png"])))


def test_it_returns_a_png_of_the_requested_size(api):
    response = api.post("/v1/generate", {"prompt": "green slime", "size": 48}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "succeeded"
    assert body["model"] == "offline/pixel-sprite"
    assert (body["attempts"], body["retries"], body["fallback_used"]) == (1, 0, False)
    assert body["images"][0]["width"] == body["images"][0]["height"] == 48
    image = png_of(body)
    assert image.format == "PNG" and image.size == (48, 48)
    assert response["Location"] == f"/v1/generations/{body['id']}"


def test_it_records_one_row_and_one_attempt(api, user):
    body = api.post("/v1/generate", {"prompt": "red dragon"}, format="json").json()

    row = GenerationRequest.objects.get()
    assert str(row.id) == body["id"]
    assert (row.user, row.status, row.model_used, row.attempts) == (user, "succeeded", "offline/pixel-sprite", 1)
    assert row.latency_ms is not None and row.finished_at is not None
    attempt = GenerationAttempt.objects.get()
    assert (attempt.request, attempt.outcome, attempt.http_status, attempt.wait_before_ms) == (row, "succeeded", 200, 0)


def test_it_gives_the_same_bytes_for_the_same_prompt_and_seed(api):
    first = api.post("/v1/generate", {"prompt": "blue potion", "seed": 7, "size": 32}, format="json").json()
    again = api.post("/v1/generate", {"prompt": "blue potion", "seed": 7, "size": 32}, format="json").json()
    other = api.post("/v1/generate", {"prompt": "blue potion", "seed": 8, "size": 32}, format="json").json()

    assert first["seed"] == 7
    assert first["images"][0]["b64_png"] == again["images"][0]["b64_png"]
    assert first["images"][0]["b64_png"] != other["images"][0]["b64_png"]


def test_it_shows_a_generation_to_its_owner_only(api, staff_api):
    body = api.post("/v1/generate", {"prompt": "coin"}, format="json").json()

    mine = api.get(f"/v1/generations/{body['id']}")
    theirs = staff_api.get(f"/v1/generations/{body['id']}")

    assert mine.status_code == 200
    assert mine.json()["status"] == "succeeded" and mine.json()["images"][0]["b64_png"]
    assert theirs.status_code == 404
    assert theirs.json()["error"]["code"] == "not_found"


def test_it_lists_styles_with_their_defaults(client):
    body = client.get("/v1/styles").json()

    assert body["default"] == "pixel"
    pixel = next(s for s in body["styles"] if s["name"] == "pixel")
    assert pixel["colors"] == 16 and pixel["transparent"] is True


BAD_BODIES = [
    ({}, "prompt"),
    ({"prompt": ""}, "prompt"),
    ({"prompt": "x" * 1001}, "prompt"),
    ({"prompt": 12}, "prompt"),
    ({"prompt": "ok", "size": 7}, "size"),
    ({"prompt": "ok", "size": 257}, "size"),
    ({"prompt": "ok", "size": "64"}, "size"),
    ({"prompt": "ok", "size": 64.5}, "size"),
    ({"prompt": "ok", "size": True}, "size"),
    ({"prompt": "ok", "style": "watercolour"}, "style"),
    ({"prompt": "ok", "colors": 1}, "colors"),
    ({"prompt": "ok", "colors": 65}, "colors"),
    ({"prompt": "ok", "transparent": "yes"}, "transparent"),
    ({"prompt": "ok", "outline": 1}, "outline"),
    ({"prompt": "ok", "seed": "abc"}, "seed"),
    ({"prompt": "ok", "seed": 2**70}, "seed"),
    ({"prompt": "ok", "max_wait": -1}, "max_wait"),
    ({"prompt": "ok", "max_wait": "soon"}, "max_wait"),
    ({"prompt": "ok", "async": "true"}, "async"),
]


@pytest.mark.parametrize(("body", "field"), BAD_BODIES)
def test_it_rejects_a_bad_body_naming_the_field(api, body, field):
    response = api.post("/v1/generate", body, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert field in error["message"]
    assert response.json()["request_id"] == response["X-Request-ID"]  # no generation was recorded
    assert not GenerationRequest.objects.exists()


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b'"a string"', b"null", b"\xff\xfe"])
def test_it_rejects_malformed_json_with_400(api, raw):
    response = api.generic("POST", "/v1/generate", raw, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


def test_it_names_the_valid_styles_for_an_unknown_one(api):
    message = api.post("/v1/generate", {"prompt": "ok", "style": "nope"}, format="json").json()["error"]["message"]

    assert "pixel" in message and "retro" in message


def test_it_rejects_form_encoded_bodies_in_the_error_shape(api):
    response = api.post("/v1/generate", {"prompt": "ok"})  # multipart, not JSON

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


def test_it_answers_unknown_paths_in_the_error_shape(api):
    response = api.get("/v1/nothing-here")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_it_answers_a_wrong_method_in_the_error_shape(api):
    response = api.get("/v1/generate")

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_it_returns_the_first_request_for_a_repeated_idempotency_key(api):
    first = api.post("/v1/generate", {"prompt": "chest"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = api.post("/v1/generate", {"prompt": "chest"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert first.status_code == again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    assert GenerationRequest.objects.count() == 1


def test_it_answers_202_with_location_for_async(api):
    response = api.post("/v1/generate", {"prompt": "orange fox", "async": True}, format="json")

    assert response.status_code == 202
    body = response.json()
    assert response["Location"] == f"/v1/generations/{body['id']}"
    assert GenerationRequest.objects.count() == 1


def test_it_honours_prefer_respond_async(api):
    response = api.post("/v1/generate", {"prompt": "orange fox"}, format="json", HTTP_PREFER="respond-async")

    assert response.status_code == 202


def test_it_rejects_a_json_body_that_is_not_an_object_naming_it(api):
    response = api.generic("POST", "/v1/generate", json.dumps(["prompt"]), content_type="application/json")

    assert response.status_code == 400
    assert "dictionary" in response.json()["error"]["message"]


@pytest.mark.parametrize(("style", "colors", "outline"), [("pixel", 4, False), ("retro", 8, True), ("detailed", 2, True)])
def test_it_returns_sprites_with_transparent_corners_and_at_most_the_colours_asked(api, style, colors, outline):
    body = api.post("/v1/generate", {"prompt": "purple mushroom", "size": 40, "style": style, "colors": colors,
                                     "outline": outline}, format="json").json()

    image = png_of(body).convert("RGBA")
    assert image.size == (40, 40)
    corners = [(0, 0), (39, 0), (0, 39), (39, 39)]
    assert all(image.getpixel(xy)[3] == 0 for xy in corners)
    opaque = {px[:3] for px in image.get_flattened_data() if px[3] == 255}
    assert 2 <= len(opaque) <= colors


def test_an_opaque_sprite_keeps_its_background(api):
    body = api.post("/v1/generate", {"prompt": "golden sword", "size": 32, "transparent": False}, format="json").json()

    image = png_of(body).convert("RGBA")
    assert all(px[3] == 255 for px in image.get_flattened_data())


# --- the per-request budgets: bounded by the settings table, stored with the request ---------------

@pytest.mark.parametrize("raw", [
    '{"prompt": "ok", "timeout": 0.9}', '{"prompt": "ok", "timeout": 900.5}', '{"prompt": "ok", "timeout": -1}',
    '{"prompt": "ok", "timeout": "soon"}', '{"prompt": "ok", "timeout": 1e400}', '{"prompt": "ok", "max_wait": 1e400}',
    '{"prompt": "ok", "max_wait": 600.5}',
])
def test_it_rejects_a_budget_outside_the_settings_bounds_naming_it(api, raw):
    response = api.generic("POST", "/v1/generate", raw, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"
    assert ("timeout" if "timeout" in raw else "max_wait") in response.json()["error"]["message"]
    assert not GenerationRequest.objects.exists()


def test_it_keeps_the_requests_own_budgets_with_it(api):
    response = api.post("/v1/generate", {"prompt": "ok", "size": 8, "timeout": 30, "max_wait": 2.5}, format="json")

    assert response.status_code == 200
    row = GenerationRequest.objects.get()
    assert (row.options["timeout"], row.options["max_wait"]) == (30.0, 2.5)


@pytest.mark.parametrize("prompt, matched", [("a red car", True), ("green slime", True), ("a flying teapot", False)])
def test_the_offline_model_says_whether_it_knew_the_subject(api, prompt, matched):
    response = api.post("/v1/generate", {"prompt": prompt, "size": 16}, format="json")

    assert response.status_code == 200
    assert response.json()["subject_matched"] is matched
    assert api.get(f"/v1/generations/{response.json()['id']}").json()["subject_matched"] is matched


def test_subject_matched_is_null_for_a_real_image_model(api, upstream, configure):
    configure(model="openai/gpt-image-2")

    response = api.post("/v1/generate", {"prompt": "a flying teapot", "size": 16}, format="json")

    assert response.status_code == 200
    assert response.json()["subject_matched"] is None
