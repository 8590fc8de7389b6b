"""POST /v1/images/generations and GET /v1/models: OpenAI's shapes over our generator, in process."""
import base64
import io

import pytest
from PIL import Image

from generation.models import GenerationAttempt, GenerationRequest

pytestmark = pytest.mark.django_db
URL = "/v1/images/generations"


def sprite_of(body: dict) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(body["data"][0]["b64_json"])))


def test_it_answers_in_openais_shape_with_one_row_like_v1_generate(api, user):
    response = api.post(URL, {"prompt": "green slime", "size": "48x48", "response_format": "b64_json", "n": 1},
                        format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert isinstance(body["created"], int) and len(body["data"]) == 1
    image = sprite_of(body)
    assert image.format == "PNG" and image.size == (48, 48)
    assert image.getpixel((0, 0))[3] == 0  # the pixel style's transparent background
    row = GenerationRequest.objects.get()
    assert (str(row.id), row.user, row.status, row.size, row.style) == (body["id"], user, "succeeded", 48, "pixel")
    assert (body["model"], body["attempts"], body["retries"]) == ("offline/pixel-sprite", 1, 0)
    assert GenerationAttempt.objects.filter(request=row).count() == 1


def test_it_maps_a_style_name_in_model_and_takes_our_fields_as_extra_body(api):
    body = api.post(URL, {"prompt": "coin", "model": "retro", "size": "32x32", "seed": 5, "colors": 4,
                          "background": "opaque", "quality": "low", "user": "plugin-42", "max_wait": 2, "timeout": 30},
                    format="json").json()

    row = GenerationRequest.objects.get()
    assert (row.style, row.options["seed"], row.options["colors"], row.options["transparent"]) == ("retro", 5, 4, False)
    assert (row.options["max_wait"], row.options["timeout"]) == (2, 30)
    assert (body["style"], body["seed"], body["background"]) == ("retro", 5, "opaque")
    opaque = sprite_of(body).convert("RGBA")
    assert opaque.getpixel((0, 0))[3] == 255
    colors = opaque.getcolors()
    assert colors is not None and len(colors) <= 4


def test_it_ignores_openais_model_names(api):
    body = api.post(URL, {"prompt": "coin", "model": "gpt-image-1"}, format="json").json()

    assert body["style"] == "pixel" and sprite_of(body).size == (64, 64)


def test_it_gives_the_same_sprite_as_v1_generate_for_the_same_seed(api):
    ours = api.post("/v1/generate", {"prompt": "blue potion", "seed": 7, "size": 32}, format="json").json()
    compat = api.post(URL, {"prompt": "blue potion", "seed": 7, "size": "32x32"}, format="json").json()

    assert compat["data"][0]["b64_json"] == ours["images"][0]["b64_png"]


BAD_BODIES = [
    ({}, "prompt"),
    ({"prompt": ""}, "prompt"),
    ({"prompt": "ok", "n": 2}, "n"),
    ({"prompt": "ok", "n": True}, "n"),
    ({"prompt": "ok", "size": "64x32"}, "size"),
    ({"prompt": "ok", "size": "4x4"}, "size"),
    ({"prompt": "ok", "size": "512x512"}, "size"),
    ({"prompt": "ok", "size": 64}, "size"),
    ({"prompt": "ok", "size": 0}, "size"),
    ({"prompt": "ok", "size": ""}, "size"),
    ({"prompt": "ok", "size": "64x64x64"}, "size"),
    ({"prompt": "ok", "response_format": "url"}, "response_format"),
    ({"prompt": "ok", "output_format": "webp"}, "output_format"),
    ({"prompt": "ok", "stream": True}, "stream"),
    ({"prompt": "ok", "style": "vivid"}, "style"),
    ({"prompt": "ok", "model": "retro", "style": "icon"}, "model"),
    ({"prompt": "ok", "model": 3}, "model"),
    ({"prompt": "ok", "background": "transparent", "transparent": False}, "background"),
    ({"prompt": "ok", "colors": 1}, "colors"),
    ({"prompt": "ok", "async": True}, "async"),
    ({"prompt": "ok", "frobnicate": 1}, "frobnicate"),
]


@pytest.mark.parametrize("body, field", BAD_BODIES)
def test_it_refuses_a_bad_field_in_openais_error_shape(api, body, field):
    response = api.post(URL, body, format="json")

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", field, "invalid_request")
    assert field in error["message"]
    assert GenerationRequest.objects.count() == 0


def test_it_refuses_a_body_that_is_not_an_object(api):
    response = api.post(URL, "[1, 2]", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_it_refuses_a_missing_or_unknown_token_in_openais_shape(client):
    missing = client.post(URL, {"prompt": "x"}, content_type="application/json")
    unknown = client.post(URL, {"prompt": "x"}, content_type="application/json", HTTP_AUTHORIZATION="Bearer nope.nope")

    for response in (missing, unknown):
        assert response.status_code == 401
        assert response.json()["error"]["type"] == "authentication_error"
        assert response.json()["error"]["code"] == "unauthorized"


def test_it_answers_a_throttled_token_with_both_retry_headers(api, settings):
    settings.SPRITE_THROTTLE_RATE = "1/min"
    api.post(URL, {"prompt": "coin", "size": "8x8"}, format="json")

    response = api.post(URL, {"prompt": "coin", "size": "8x8"}, format="json")

    assert response.status_code == 429
    assert response.json()["error"]["code"] == "throttled"
    assert response.json()["error"]["type"] == "rate_limit_error"
    assert int(response["retry-after-ms"]) == int(response["Retry-After"]) * 1000 > 0


def test_it_answers_409_with_retry_after_while_the_same_idempotency_key_runs(api, token_key):
    from generation.engine import idempotency, services
    from generation.engine.spec import SpriteSpec
    from generation.models import ApiToken

    token = ApiToken.objects.get_from_key(token_key)
    spec = SpriteSpec(prompt="coin", style="pixel", size=64, transparent=True, colors=16, outline=False)
    services.create_generation(token=token, spec=spec, idempotency_key=idempotency.digest("k1"))  # left running

    response = api.post(URL, {"prompt": "coin"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")

    assert response.status_code == 409
    assert response.json()["error"]["type"] == "conflict_error"
    assert response["Retry-After"] == "1" and response["retry-after-ms"] == "1000"


def test_it_refuses_an_idempotency_key_reused_with_another_body_or_malformed(api):
    first = api.post(URL, {"prompt": "coin"}, format="json", HTTP_IDEMPOTENCY_KEY="k2")
    again = api.post(URL, {"prompt": "coin"}, format="json", HTTP_IDEMPOTENCY_KEY="k2")
    other = api.post(URL, {"prompt": "sword"}, format="json", HTTP_IDEMPOTENCY_KEY="k2")
    bad = api.post(URL, {"prompt": "coin"}, format="json", HTTP_IDEMPOTENCY_KEY="has space")

    assert (first.status_code, again.status_code) == (200, 200) and again.json()["id"] == first.json()["id"]
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "Idempotency-Key"
    assert GenerationRequest.objects.count() == 1


def test_it_lists_the_styles_as_models(api):
    listing = api.get("/v1/models").json()
    one = api.get("/v1/models/retro")
    missing = api.get("/v1/models/gpt-image-1")

    assert listing["object"] == "list"
    assert [m["id"] for m in listing["data"]] == ["pixel", "retro", "icon", "detailed"]
    assert {m["object"] for m in listing["data"]} == {"model"}
    assert one.json()["id"] == "retro"
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found_error"


def test_it_answers_a_wrong_method_in_openais_shape(api):
    response = api.get(URL)

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
